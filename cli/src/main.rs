//! The `mediaflow` command: workflows, buckets, jobs and dead letters of a deployment
//! ([`commands`], through the library's admin facade), and the local stack (`mediaflow dev`).
//!
//! Layers: `main` → `commands/*` (one file per group) → `deployment` (which stack) and `output`
//! (tables and JSON). Nothing here builds an adapter.

mod commands;
mod deployment;
mod output;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::commands::Cli;

/// What the SDK says about finding a region or credentials (IMDS on a laptop) stays below the
/// default level: a missing setting is told in one line instead.
const QUIET_SDK: &str = "aws_config=error,aws_smithy_runtime=error,aws_runtime=error";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The demo prints its own progress and then its results: the stack's log only when asked.
    let default = match cli.command.is_demo() {
        true => format!("warn,{QUIET_SDK}"),
        false => format!("warn,{QUIET_SDK},mediaflow=info,mediaflow_local=info,dispatcher=info,worker=info"),
    };
    let filter = EnvFilter::try_from_env("MEDIAFLOW_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    match commands::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
