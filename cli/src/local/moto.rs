//! A moto_server process on a free loopback port: S3, DynamoDB and SQS spoken for real.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// The running server; killed (by pid) when dropped.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    pub endpoint: String,
    pub log: PathBuf,
}

/// The moto_server executable: `MOTO_SERVER`, else `moto_server` on the PATH.
fn executable() -> PathBuf {
    std::env::var_os("MOTO_SERVER").map_or_else(|| PathBuf::from("moto_server"), PathBuf::from)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl MotoServer {
    /// Starts moto_server and waits until it accepts connections; its log goes to `log_dir`.
    pub async fn start(log_dir: &Path) -> anyhow::Result<Self> {
        let port = free_port()?;
        let log = log_dir.join("moto_server.log");
        let log_file = std::fs::File::create(&log)?;
        let child = Command::new(executable())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .context("cannot start moto_server: install it with `pip install 'moto[server]'` (make setup does)")?;
        let mut server = MotoServer { child, endpoint: format!("http://127.0.0.1:{port}"), log };
        server.wait_ready(port).await?;
        Ok(server)
    }

    async fn wait_ready(&mut self, port: u16) -> anyhow::Result<()> {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait()? {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                bail!("moto_server exited with {status}:\n{log}");
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("moto_server did not listen on port {port} within 30 s (log: {})", self.log.display())
    }
}
