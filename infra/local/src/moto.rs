//! A moto_server process on a free loopback port: S3, DynamoDB and SQS spoken for real.
//!
//! moto is started through `moto_server.py`, which handles DynamoDB requests one at a time:
//! moto applies a conditional write in several steps, and without that two concurrent writes
//! could both pass a condition that DynamoDB lets only one pass. It can be restarted, as a
//! storage service is, keeping what it holds (see [`MotoServer::restart`]).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, ChildStdin, Command};

/// The running server; killed (by pid) when dropped. It also stops by itself when this process
/// ends without dropping it (a test binary's shared stack, a killed test): it watches the pipe
/// it reads as standard input, which closes with this process.
#[derive(Debug)]
pub struct MotoServer {
    process: Mutex<Running>,
    /// Set while the server restarts: its exit then is not a failure.
    restarting: AtomicBool,
    port: u16,
    time_zone: Option<String>,
    /// Where the server writes what it holds when it is stopped to be restarted.
    state: PathBuf,
    pub endpoint: String,
    pub log: PathBuf,
}

#[derive(Debug)]
struct Running {
    child: Child,
    /// Held open for the process's lifetime; its end tells the server to stop.
    _lifeline: Option<ChildStdin>,
}

/// The launcher, run by the Python that has moto installed (`MOTO_PYTHON`, else `python3`).
const LAUNCHER: &str = include_str!("moto_server.py");

pub(crate) fn python() -> PathBuf {
    std::env::var_os("MOTO_PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl MotoServer {
    /// Starts moto_server and waits until it accepts connections; its log goes to `log_dir`.
    /// `time_zone` sets its `TZ` (it writes event times in local time; default: inherited).
    pub async fn start(log_dir: &Path, time_zone: Option<&str>) -> anyhow::Result<Self> {
        let port = free_port()?;
        let log = log_dir.join("moto_server.log");
        let state = log_dir.join("moto_server.state");
        std::fs::File::create(&log)?;
        let process = Self::spawn(port, &log, &state, time_zone)?;
        let server = MotoServer {
            process: Mutex::new(process),
            restarting: AtomicBool::new(false),
            port,
            time_zone: time_zone.map(str::to_owned),
            state,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
        };
        server.wait_ready(0).await?;
        Ok(server)
    }

    fn spawn(port: u16, log: &Path, state: &Path, time_zone: Option<&str>) -> anyhow::Result<Running> {
        let log_file = std::fs::File::options().append(true).open(log)?;
        let mut command = Command::new(python());
        if let Some(zone) = time_zone {
            command.env("TZ", zone);
        }
        let mut child = command
            .args(["-c", LAUNCHER, "127.0.0.1", &port.to_string()])
            .arg(state)
            .stdin(Stdio::piped())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .context("cannot start python3 for moto_server: install `pip install 'moto[server]'` (make setup does)")?;
        let lifeline = child.stdin.take();
        Ok(Running { child, _lifeline: lifeline })
    }

    /// Waits until this server (not another process that took the port) says it listens: its
    /// log, from byte `from` on, names the address.
    async fn wait_ready(&self, from: u64) -> anyhow::Result<()> {
        let listening = format!("Running on http://127.0.0.1:{}", self.port);
        for _ in 0..300 {
            self.check()?;
            let log = std::fs::read(&self.log).unwrap_or_default();
            let written = log.get(usize::try_from(from).unwrap_or(usize::MAX)..).unwrap_or_default();
            if String::from_utf8_lossy(written).contains(&listening) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("moto_server did not listen on port {} within 30 s (log: {})", self.port, self.log.display())
    }

    /// Restarts the server as a storage service restarts: it stops taking calls (those that
    /// arrive hang, and their connections close unanswered), finishes the ones in flight, saves
    /// what it holds and exits; for `down`, nothing listens (calls are refused); then a new
    /// process reads what was saved and listens on the same port.
    pub async fn restart(&self, down: Duration) -> anyhow::Result<()> {
        let pid = self.pid().context("moto_server has exited")?;
        self.restarting.store(true, Ordering::SeqCst);
        let mut logged = 0;
        let restarted = async {
            let stopped = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status()?;
            anyhow::ensure!(stopped.success(), "kill -TERM {pid}");
            tracing::warn!(pid, "storage server stopping to restart (SIGTERM)");
            let mut exited = None;
            for _ in 0..600 {
                exited = self.exited_status()?;
                if exited.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let status = exited.context("moto_server did not stop within 30 s of SIGTERM")?;
            anyhow::ensure!(
                status.success(),
                "moto_server could not save what it held ({status}); see {}",
                self.log.display()
            );
            // The port stays ours while nothing listens (calls are refused, as by a server that
            // is down): a stack starting meanwhile must not pick it as a free one.
            let reserved = tokio::net::TcpSocket::new_v4()?;
            reserved.set_reuseaddr(true)?;
            reserved.bind(([127, 0, 0, 1], self.port).into())?;
            tokio::time::sleep(down).await;
            drop(reserved);
            logged = std::fs::metadata(&self.log).map_or(0, |m| m.len());
            let process = Self::spawn(self.port, &self.log, &self.state, self.time_zone.as_deref())?;
            let pid = process.child.id();
            *self.process.lock().map_err(|_| anyhow::anyhow!("moto_server's process handle is poisoned"))? = process;
            tracing::warn!(pid, seconds_down = down.as_secs_f64(), "storage server restarted with what it held");
            Ok(())
        }
        .await;
        self.restarting.store(false, Ordering::SeqCst);
        restarted?;
        self.wait_ready(logged).await
    }

    fn exited_status(&self) -> anyhow::Result<Option<std::process::ExitStatus>> {
        match self.process.lock() {
            Ok(mut process) => Ok(process.child.try_wait()?),
            Err(_) => bail!("moto_server's process handle is poisoned"),
        }
    }

    /// Fails, with the end of its log, once the server has exited (other than to restart).
    pub fn check(&self) -> anyhow::Result<()> {
        if self.restarting.load(Ordering::SeqCst) {
            return Ok(());
        }
        let status = self.exited_status()?;
        if let Some(status) = status {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "moto_server (the local S3/DynamoDB/SQS server) exited with {status}; the local stack cannot go on. \
                 The end of its log ({}):\n{}",
                self.log.display(),
                tail.join("\n")
            );
        }
        Ok(())
    }

    /// Resolves once the server has exited, with why.
    pub async fn exited(&self) -> anyhow::Error {
        loop {
            if let Err(error) = self.check() {
                return error;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Stops the server's process (SIGSTOP) and continues it (SIGCONT) after `pause`, as a
    /// storage service that stops answering and comes back: connections stay open, calls hang.
    pub fn freeze(&self, pause: Duration) -> anyhow::Result<()> {
        let pid = self.pid().context("moto_server has exited")?;
        let signal = move |name: &str| std::process::Command::new("kill").args([name, &pid.to_string()]).status();
        anyhow::ensure!(signal("-STOP")?.success(), "kill -STOP {pid}");
        tracing::warn!(pid, seconds = pause.as_secs_f64(), "storage server stopped (SIGSTOP)");
        std::thread::spawn(move || {
            std::thread::sleep(pause);
            if !signal("-CONT").is_ok_and(|status| status.success()) {
                tracing::error!(pid, "cannot continue the storage server (SIGCONT)");
            }
        });
        Ok(())
    }

    /// The server's process id (for tests that stop it).
    pub fn pid(&self) -> Option<u32> {
        self.process.lock().ok().and_then(|process| process.child.id())
    }
}
