//! What every integration test stands on: a local stack of its own, workflows, uploads, and
//! ffprobe to look at what came out.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, ensure};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use mediaflow::adapters::aws::s3::S3ObjectStore;
use mediaflow::domain::job::{Job, JobId, OutputFile, Task};
use mediaflow::domain::object::{ObjectHead, ObjectRef};
use mediaflow::domain::workflow::{Workflow, WorkflowSpec};
use mediaflow::ports::ObjectStore;
use mediaflow_local::{LocalStack, StackOptions};
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
        let (_, workflow) = self.stack.admin().catalog()?.apply(spec).await?;
        Ok(self.stack.admin().catalog()?.enable(&workflow.name).await?)
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
                mediaflow::app::pipeline::dispatch::Outcome::Skipped { reason, .. } => Some(reason.clone()),
                mediaflow::app::pipeline::dispatch::Outcome::Started { .. } => None,
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
        let mut all = Vec::new();
        for source in sources {
            all.extend(["-f", "lavfi", "-i", source]);
        }
        all.extend(args);
        self.ffmpeg(name, &all)
    }

    /// A file ffmpeg makes with `args` (inputs, options), written to `name` in the scratch dir.
    pub fn ffmpeg(&self, name: &str, args: &[&str]) -> anyhow::Result<PathBuf> {
        let path = self.dir.path().join(name);
        let output = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(args)
            .arg(&path)
            .current_dir(self.dir.path())
            .output()
            .context("run ffmpeg")?;
        ensure!(output.status.success(), "ffmpeg could not make {name}: {}", String::from_utf8_lossy(&output.stderr));
        Ok(path)
    }

    /// What S3 says about an object (its marker included).
    pub async fn head(&self, object: &ObjectRef) -> anyhow::Result<Option<ObjectHead>> {
        Ok(S3ObjectStore::new(self.stack.clients.s3.clone()).head(object).await?)
    }

    /// Uploads `file` in parts of 5 MiB (S3's smallest), as large-file uploaders do.
    pub async fn upload_multipart(&self, file: &Path, key: &str) -> anyhow::Result<ObjectRef> {
        let s3 = &self.stack.clients.s3;
        let upload = s3.create_multipart_upload().bucket(BUCKET).key(key).send().await?;
        let id = upload.upload_id().context("an upload id")?;
        let bytes = std::fs::read(file)?;
        let mut parts = Vec::new();
        for (i, chunk) in bytes.chunks(5 * 1024 * 1024).enumerate() {
            let number = i as i32 + 1;
            let part = s3
                .upload_part()
                .bucket(BUCKET)
                .key(key)
                .upload_id(id)
                .part_number(number)
                .body(chunk.to_vec().into())
                .send()
                .await?;
            parts.push(CompletedPart::builder().part_number(number).set_e_tag(part.e_tag().map(str::to_owned)).build());
        }
        let parts = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
        s3.complete_multipart_upload().bucket(BUCKET).key(key).upload_id(id).multipart_upload(parts).send().await?;
        let object = ObjectRef::new(BUCKET, key);
        ensure!(self.head(&object).await?.is_some(), "{object} exists after the multipart upload");
        Ok(object)
    }

    /// Every job the dispatcher started for `object` so far, over all its events.
    pub fn job_ids_of(&self, object: &ObjectRef) -> Vec<JobId> {
        let mut ids: Vec<JobId> =
            self.stack.reports().iter().filter(|r| &r.object == object).flat_map(|r| r.jobs().cloned()).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Waits until `object` has been dispatched `count` times (S3 may send several events).
    pub async fn dispatched_times(&self, object: &ObjectRef, count: usize) -> anyhow::Result<()> {
        let start = std::time::Instant::now();
        while self.stack.reports().iter().filter(|r| &r.object == object).count() < count {
            ensure!(start.elapsed() < DISPATCH_TIMEOUT, "{object} was not dispatched {count} times");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
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
    Ok(mediaflow::adapters::ffmpeg::probe::parse(&serde_json::to_vec(&probe(path)?)?)?)
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

/// How alike frame `a` of one video and frame `b` of another are (PSNR in dB, ∞ as 100).
pub fn frame_psnr(first: &Path, a: u32, second: &Path, b: u32) -> anyhow::Result<f64> {
    let graph = format!(
        "[0:v]select=eq(n\\,{a}),setpts=PTS-STARTPTS[a];[1:v]select=eq(n\\,{b}),setpts=PTS-STARTPTS[b];[a][b]psnr"
    );
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i"])
        .arg(first)
        .arg("-i")
        .arg(second)
        .args(["-lavfi", &graph, "-f", "null", "-"])
        .output()?;
    let log = String::from_utf8_lossy(&output.stderr);
    let average = log.rsplit("average:").next().and_then(|rest| rest.split_whitespace().next()).unwrap_or("");
    Ok(if average == "inf" { 100.0 } else { average.parse()? })
}

/// A copy of a media file with the packets `damage` picks (by index and time) overwritten by
/// noise from their second quarter on, the way a bad disk or a broken transfer damages video.
pub fn damaged(path: &Path, to: &Path, damage: impl Fn(usize, f64) -> bool) -> anyhow::Result<PathBuf> {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v", "-show_entries", "packet=pts_time,pos,size", "-of", "json"])
        .arg(path)
        .output()
        .context("run ffprobe")?;
    let packets: Value = serde_json::from_slice(&output.stdout)?;
    let mut bytes = std::fs::read(path)?;
    let mut noise: u32 = 0x2545_f491;
    for (i, packet) in packets["packets"].as_array().context("packets")?.iter().enumerate() {
        let number = |name: &str| packet[name].as_str().and_then(|v| v.parse::<f64>().ok());
        let (Some(pts), Some(pos), Some(size)) = (number("pts_time"), number("pos"), number("size")) else { continue };
        if !damage(i, pts) {
            continue;
        }
        let (start, end) = (pos as usize + size as usize / 4, ((pos + size) as usize).min(bytes.len()));
        for byte in &mut bytes[start..end] {
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            *byte = noise as u8;
        }
    }
    std::fs::write(to, bytes)?;
    Ok(to.to_owned())
}

/// A copy of an MP4 whose first track is shown turned by 90° (as phones record portrait
/// video): its track header's display matrix is set, as ffmpeg 5.1 cannot write it.
pub fn rotated(path: &Path, to: &Path) -> anyhow::Result<PathBuf> {
    let mut bytes = std::fs::read(path)?;
    let at = bytes.windows(4).position(|w| w == b"tkhd").context("a track header")?;
    ensure!(bytes[at + 4] == 0, "a version 0 track header");
    // after the type: version and flags, created, modified, track id, reserved, duration
    // (4 bytes each), reserved (8), layer, group, volume, reserved (2 each)
    let matrix = at + 4 + 24 + 16;
    let turn: [u32; 9] = [0, 0x0001_0000, 0, 0xFFFF_0000, 0, 0, 0, 0, 0x4000_0000];
    for (i, value) in turn.iter().enumerate() {
        bytes[matrix + 4 * i..matrix + 4 * i + 4].copy_from_slice(&value.to_be_bytes());
    }
    std::fs::write(to, bytes)?;
    Ok(to.to_owned())
}

/// The `mediaflow` command, built as `make test` builds it (once per test process, so that it is
/// never older than the code under test).
fn mediaflow_binary() -> anyhow::Result<&'static Path> {
    static BINARY: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    let built = BINARY.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--bin", "mediaflow"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err("cargo build --bin mediaflow failed".to_owned());
        }
        // target/debug/deps/integration-… → target/debug/mediaflow
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let binary = exe.parent().and_then(Path::parent).map(|dir| dir.join("mediaflow")).ok_or("no target dir")?;
        if binary.is_file() { Ok(binary) } else { Err(format!("{} is missing", binary.display())) }
    });
    built.as_deref().map_err(|e| anyhow::anyhow!("{e}"))
}

/// Runs `mediaflow <args>` against the harness's stack as a user would, with the environment
/// `mediaflow dev up` prints: what it printed on standard output, or its error line.
pub async fn mediaflow(h: &Harness, args: &[&str]) -> anyhow::Result<String> {
    let output = tokio::process::Command::new(mediaflow_binary()?)
        .args(args)
        .env_clear()
        .envs(h.stack.environment())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", h.dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .context("run mediaflow")?;
    let stderr = String::from_utf8(output.stderr)?;
    if !output.status.success() {
        let error = stderr.lines().find_map(|line| line.strip_prefix("error: ")).unwrap_or(&stderr);
        anyhow::bail!("{error}");
    }
    Ok(String::from_utf8(output.stdout)?)
}
