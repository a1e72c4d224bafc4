//! What every integration test stands on: a local stack of its own, workflows, uploads, and
//! ffprobe to look at what came out.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, ensure};
use mediaflow::domain::job::{Job, OutputFile, Task};
use mediaflow::domain::object::ObjectRef;
use mediaflow::domain::workflow::{Workflow, WorkflowSpec};
use mediaflow_cli::local::{LocalStack, StackOptions};
use serde_json::Value;

/// How long a job of the test media may take on a slow machine.
pub const JOB_TIMEOUT: Duration = Duration::from_secs(120);
pub const DISPATCH_TIMEOUT: Duration = Duration::from_secs(60);

pub const BUCKET: &str = "media-in";
/// A second output bucket (no notifications).
pub const OUTPUT_BUCKET: &str = "media-out";
/// A bucket that sends no notifications: tests deliver its events by hand.
pub const QUIET_BUCKET: &str = "media-quiet";

/// A local stack with one bucket (`media-in`) and a scratch directory.
pub struct Harness {
    pub stack: LocalStack,
    pub dir: tempfile::TempDir,
}

/// A real media file from tests/fixtures/media.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/media").join(name)
}

impl Harness {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(|_| {}).await
    }

    /// A harness whose stack options `adjust` changes first.
    pub async fn start_with(adjust: impl FnOnce(&mut StackOptions)) -> anyhow::Result<Self> {
        // MEDIAFLOW_TEST_LOG=info (or any tracing filter) shows what the stack does.
        if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("MEDIAFLOW_TEST_LOG") {
            let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
        }
        let mut options = StackOptions::from_env()?;
        adjust(&mut options);
        let stack = LocalStack::start(options).await?;
        stack.create_bucket(BUCKET).await?;
        stack.clients.s3.create_bucket().bucket(QUIET_BUCKET).send().await?;
        stack.clients.s3.create_bucket().bucket(OUTPUT_BUCKET).send().await?;
        Ok(Self { stack, dir: tempfile::tempdir()? })
    }

    /// Applies and enables a workflow given as JSON.
    pub async fn workflow(&self, spec: Value) -> anyhow::Result<Workflow> {
        let spec: WorkflowSpec = serde_json::from_value(spec)?;
        let (_, workflow) = self.stack.catalog().apply(spec).await?;
        Ok(self.stack.catalog().enable(&workflow.name).await?)
    }

    pub async fn upload(&self, file: &Path, key: &str) -> anyhow::Result<ObjectRef> {
        self.upload_to(BUCKET, file, key).await
    }

    pub async fn upload_to(&self, bucket: &str, file: &Path, key: &str) -> anyhow::Result<ObjectRef> {
        let object = ObjectRef::new(bucket, key);
        self.stack.upload(file, &object).await?;
        Ok(object)
    }

    /// Keys under `prefix` in the test bucket.
    pub async fn keys(&self, bucket: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
        let pages = self.stack.clients.s3.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
        let pages: Vec<_> = pages.collect().await;
        let mut keys = Vec::new();
        for page in pages {
            keys.extend(page?.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        }
        keys.sort();
        Ok(keys)
    }

    pub async fn upload_bytes(&self, bytes: &[u8], key: &str) -> anyhow::Result<ObjectRef> {
        let file = self.dir.path().join(format!("upload-{}", uuid_like(key)));
        std::fs::write(&file, bytes)?;
        self.upload(&file, key).await
    }

    /// Waits for the dispatch of `object` and for every job it started to finish.
    pub async fn jobs_of(&self, object: &ObjectRef) -> anyhow::Result<Vec<(Job, Vec<Task>)>> {
        let report = self.stack.dispatched(object, DISPATCH_TIMEOUT).await?;
        let mut jobs = Vec::new();
        for id in report.jobs() {
            jobs.push(self.stack.finished(id, JOB_TIMEOUT).await?);
        }
        Ok(jobs)
    }

    /// The one job `object` started, with its tasks.
    pub async fn job_of(&self, object: &ObjectRef) -> anyhow::Result<(Job, Vec<Task>)> {
        let mut jobs = self.jobs_of(object).await?;
        ensure!(jobs.len() == 1, "expected one job for {object}, got {}", jobs.len());
        Ok(jobs.remove(0))
    }

    /// Why the dispatcher did not process `object`.
    pub async fn skip_reasons(&self, object: &ObjectRef) -> anyhow::Result<Vec<String>> {
        let report = self.stack.dispatched(object, DISPATCH_TIMEOUT).await?;
        ensure!(report.jobs().next().is_none(), "{object} started jobs: {:?}", report.outcomes);
        Ok(report
            .outcomes
            .iter()
            .filter_map(|o| match o {
                mediaflow::dispatch::Outcome::Skipped { reason, .. } => Some(reason.clone()),
                mediaflow::dispatch::Outcome::Started { .. } => None,
            })
            .collect())
    }

    /// Downloads an output into the scratch directory.
    pub async fn download(&self, output: &OutputFile) -> anyhow::Result<PathBuf> {
        let object = self.stack.clients.s3.get_object().bucket(&output.bucket).key(&output.key).send().await?;
        let bytes = object.body.collect().await?.into_bytes();
        ensure!(
            bytes.len() as u64 == output.size,
            "{} has {} bytes, the record says {}",
            output.key,
            bytes.len(),
            output.size
        );
        let path = self.dir.path().join(uuid_like(&output.key));
        std::fs::write(&path, &bytes)?;
        Ok(path)
    }

    /// A clip from ffmpeg's lavfi sources (`-f lavfi -i <source>` for each source).
    pub fn lavfi_clip(&self, name: &str, sources: &[&str], args: &[&str]) -> anyhow::Result<PathBuf> {
        let path = self.dir.path().join(name);
        let mut command = Command::new("ffmpeg");
        command.args(["-hide_banner", "-loglevel", "error", "-y"]);
        for source in sources {
            command.args(["-f", "lavfi", "-i", source]);
        }
        let status = command.args(args).arg(&path).status().context("run ffmpeg")?;
        ensure!(status.success(), "ffmpeg could not make {name}");
        Ok(path)
    }
}

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

/// A file name made from any key.
fn uuid_like(key: &str) -> String {
    key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).collect()
}

/// ffprobe's view of a file (format and streams, frames counted).
pub fn probe(path: &Path) -> anyhow::Result<Value> {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-print_format", "json", "-show_format", "-show_streams"])
        .arg(path)
        .output()
        .context("run ffprobe")?;
    ensure!(
        output.status.success(),
        "ffprobe failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// What mediaflow's probe would record about a local file.
pub fn source_of(path: &Path) -> anyhow::Result<mediaflow::domain::media::MediaInfo> {
    Ok(mediaflow::ffmpeg::probe::parse(&serde_json::to_vec(&probe(path)?)?)?)
}

/// The first stream of a kind in a probe.
pub fn stream<'a>(probe: &'a Value, kind: &str) -> Option<&'a Value> {
    probe["streams"].as_array()?.iter().find(|s| s["codec_type"] == kind)
}

pub fn duration(probe: &Value) -> f64 {
    probe["format"]["duration"].as_str().and_then(|d| d.parse().ok()).unwrap_or(f64::NAN)
}

pub fn dimensions(probe: &Value) -> (u64, u64) {
    let video = stream(probe, "video").cloned().unwrap_or_default();
    (video["width"].as_u64().unwrap_or(0), video["height"].as_u64().unwrap_or(0))
}

/// Mean brightness (0–255) of a rectangle of the frame at `at` seconds.
pub fn brightness(path: &Path, at: f64, crop: (u32, u32, u32, u32)) -> anyhow::Result<u8> {
    let (w, h, x, y) = crop;
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-ss", &at.to_string(), "-i"])
        .arg(path)
        .args(["-vf", &format!("crop={w}:{h}:{x}:{y},scale=1:1:flags=area"), "-frames:v", "1"])
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .context("run ffmpeg")?;
    ensure!(output.status.success() && output.stdout.len() == 1, "cannot measure {}", path.display());
    Ok(output.stdout[0])
}
