//! `mediaflow console`: the console on this machine, over the deployment the other commands act
//! on, until Ctrl-C.

use std::sync::Arc;

use clap::Args;
use mediaflow_console::Local;

use crate::deployment::DeploymentArgs;

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// The port on 127.0.0.1 (0: a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    #[command(flatten)]
    deployment: DeploymentArgs,
}

impl ConsoleArgs {
    pub async fn run(self) -> anyhow::Result<()> {
        let target = self.deployment.connect().await?;
        let local = Local::bind(self.port).await?;
        println!("console: {}", local.link());
        let shutdown = async {
            let _ = super::dev::shutdown_signal().await;
        };
        mediaflow_console::serve(local, Arc::new(target.admin), shutdown).await?;
        Ok(())
    }
}
