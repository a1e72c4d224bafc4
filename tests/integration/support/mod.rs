//! What every integration test stands on: a local stack (shared, or a test's own) with buckets of
//! the test's own ([`stack`]), workflows written with a builder ([`flows`]), media made and looked
//! at with ffmpeg and ffprobe ([`media`]), S3 events as S3 writes them, and the `mediaflow`
//! command run as a user runs it.

mod flows;
mod media;
mod stack;
pub mod webhook;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use mediaflow::domain::object::ObjectRef;
use serde_json::Value;

pub use self::flows::Flow;
pub use self::media::*;
pub use self::stack::{DISPATCH_TIMEOUT, Harness, JOB_TIMEOUT};

/// An S3 event notification for `object`, as S3 writes it (key form-encoded).
pub fn s3_event(object: &ObjectRef, time: chrono::DateTime<chrono::Utc>, sequencer: &str) -> Value {
    let mut key = String::new();
    for byte in object.key.bytes() {
        match byte {
            b' ' => key.push('+'),
            b if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) => key.push(b as char),
            b => key.push_str(&format!("%{b:02X}")),
        }
    }
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": object.bucket},
               "object": {"key": key, "size": 404567, "eTag": "e", "sequencer": sequencer}}
    }]})
}

/// The `mediaflow` command, built as `make test` builds it (once per test process, so that it is
/// never older than the code under test).
fn mediaflow_binary() -> anyhow::Result<PathBuf> {
    binary("mediaflow")
}

/// The workspace's binary `name`, built as `make test` builds it (once per test process, so
/// that it is the current code).
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    static BUILT: std::sync::Mutex<BTreeMap<String, Result<PathBuf, String>>> = std::sync::Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().map_err(|_| anyhow::anyhow!("the build lock is poisoned"))?;
    let found = built.entry(name.to_owned()).or_insert_with(|| {
        let status =
            cargo().args(["build", "--quiet", "--bin", name]).status().map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!("cargo build --bin {name} failed"));
        }
        // target/debug/deps/integration-… → target/debug/<name>
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let binary = exe.parent().and_then(Path::parent).map(|dir| dir.join(name)).ok_or("no target dir")?;
        if binary.is_file() { Ok(binary) } else { Err(format!("{} is missing", binary.display())) }
    });
    found.clone().map_err(|e| anyhow::anyhow!("{e}"))
}

/// The directory of the functions' built binaries (`dispatcher`, `worker`), built first.
pub fn function_binaries() -> anyhow::Result<PathBuf> {
    binary("dispatcher")?;
    let worker = binary("worker")?;
    worker.parent().map(Path::to_path_buf).context("the binaries' directory")
}

/// `cargo` as from a shell in the workspace: without the variables cargo sets for this test, which
/// build scripts (ring's) take as a reason to build the dependencies again, so that a build here
/// and the same build from `make test` or `cargo lambda watch` do not undo each other.
pub fn cargo() -> Command {
    let mut command = Command::new(env!("CARGO"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("CARGO_") && name != "CARGO_HOME") {
        command.env_remove(name);
    }
    command.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    command
}

/// Runs `mediaflow <args>` against the harness's stack as a user would, with the environment
/// `mediaflow dev up` prints: what it printed on standard output, or its error line.
pub async fn mediaflow(h: &Harness, args: &[&str]) -> anyhow::Result<String> {
    run_mediaflow(&h.stack.environment(), h.dir.path(), args).await
}

/// The `mediaflow` command with only `environment` (and `PATH`) set and `home` as its home
/// directory, so that nothing of the machine's own AWS settings leaks in.
pub fn mediaflow_command(environment: &[(&str, String)], home: &Path) -> anyhow::Result<tokio::process::Command> {
    let mut command = tokio::process::Command::new(mediaflow_binary()?);
    command
        .env_clear()
        .envs(environment.iter().map(|(name, value)| (name, value)))
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    Ok(command)
}

/// Runs `mediaflow <args>` as [`mediaflow_command`] sets it up: what it printed on standard
/// output, or its error line.
pub async fn run_mediaflow(environment: &[(&str, String)], home: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = mediaflow_command(environment, home)?.args(args).output().await.context("run mediaflow")?;
    let stderr = String::from_utf8(output.stderr)?;
    if !output.status.success() {
        let error = stderr.lines().find_map(|line| line.strip_prefix("error: ")).unwrap_or(&stderr);
        anyhow::bail!("{error}");
    }
    Ok(String::from_utf8(output.stdout)?)
}
