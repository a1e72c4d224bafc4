//! The stacks tests run on: one local stack shared by every test of this process that can share
//! it, each test in buckets and workflows of its own; and a stack of its own for a test that
//! changes the stack's options, counts invocations or waits for the whole stack to be idle.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, ensure};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use mediaflow::adapters::aws::s3::S3ObjectStore;
use mediaflow::adapters::ffmpeg::Ffmpeg;
use mediaflow::app::admin::BucketCheck;
use mediaflow::app::pipeline::dispatch::Outcome;
use mediaflow::domain::chunk::Part;
use mediaflow::domain::job::{Job, JobId, OutputFile, Task, TaskStatus};
use mediaflow::domain::limits::Limits;
use mediaflow::domain::media::MediaInfo;
use mediaflow::domain::object::{ObjectHead, ObjectRef};
use mediaflow::domain::task::{OutputNames, TaskSpec};
use mediaflow::domain::workflow::{Workflow, WorkflowSpec};
use mediaflow::ports::{ObjectStore, RenderRequest, StoredObject};
use mediaflow_local::{LocalStack, StackOptions};

use super::flows::Flow;
use super::media::clip;

/// How long a job of the test media may take on a slow machine.
pub const JOB_TIMEOUT: Duration = Duration::from_secs(120);
pub const DISPATCH_TIMEOUT: Duration = Duration::from_secs(60);

/// Invocations the shared stack runs at once: several tests' jobs side by side.
const SHARED_CONCURRENCY: usize = 4;

/// A test's view of a local stack: its own buckets (`bucket`, connected; `output_bucket` and
/// `quiet_bucket`, which send no events) and a scratch directory.
pub struct Harness {
    pub stack: Arc<LocalStack>,
    /// What makes this test's names its own on a shared stack (`t7`).
    pub ns: String,
    /// The trigger bucket: its uploads reach the dispatcher.
    pub bucket: String,
    /// A second output bucket (no notifications).
    pub output_bucket: String,
    /// A bucket that sends no notifications: tests deliver its events by hand.
    pub quiet_bucket: String,
    pub dir: tempfile::TempDir,
}

/// The stack every shared test uses, and the runtime its functions and the tests run on.
struct Shared {
    runtime: tokio::runtime::Runtime,
    stack: Arc<LocalStack>,
}

fn shared() -> anyhow::Result<&'static Shared> {
    static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();
    let started = SHARED.get_or_init(|| {
        log_if_asked();
        let start = || -> anyhow::Result<Shared> {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let options = StackOptions { concurrency: SHARED_CONCURRENCY, ..StackOptions::from_env()? };
            let stack = Arc::new(runtime.block_on(LocalStack::start(options))?);
            Ok(Shared { runtime, stack })
        };
        start().map_err(|error| format!("{error:#}"))
    });
    started.as_ref().map_err(|error| anyhow::anyhow!("the shared local stack did not start: {error}"))
}

/// MEDIAFLOW_TEST_LOG=info (or any tracing filter) shows what the stacks do.
fn log_if_asked() {
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("MEDIAFLOW_TEST_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
}

/// A name no other test of this process has.
fn namespace() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    format!("t{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

impl Harness {
    /// Runs `test` on the shared stack, in buckets of its own, on the stack's runtime.
    pub fn shared<F, Fut>(test: F) -> anyhow::Result<()>
    where
        F: FnOnce(Harness) -> Fut,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        let shared = shared()?;
        shared.runtime.block_on(async {
            let harness = Harness::on(shared.stack.clone()).await?;
            test(harness).await
        })
    }

    /// A local stack of this test's own.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(|_| {}).await
    }

    /// A local stack of this test's own, whose options `adjust` changes first.
    pub async fn start_with(adjust: impl FnOnce(&mut StackOptions)) -> anyhow::Result<Self> {
        log_if_asked();
        let mut options = StackOptions::from_env()?;
        adjust(&mut options);
        Harness::on(Arc::new(LocalStack::start(options).await?)).await
    }

    async fn on(stack: Arc<LocalStack>) -> anyhow::Result<Self> {
        let ns = namespace();
        let harness = Harness {
            bucket: format!("media-in-{ns}"),
            output_bucket: format!("media-out-{ns}"),
            quiet_bucket: format!("media-quiet-{ns}"),
            ns,
            stack,
            dir: tempfile::tempdir()?,
        };
        harness.stack.create_bucket(&harness.bucket).await?;
        for bucket in [&harness.quiet_bucket, &harness.output_bucket] {
            harness.stack.clients.s3.create_bucket().bucket(bucket).send().await?;
        }
        Ok(harness)
    }

    /// `name`, made this test's own (workflow names are one namespace per stack).
    pub fn name(&self, name: &str) -> String {
        format!("{name}-{}", self.ns)
    }

    /// A workflow named `name` (made this test's own) triggered by `in/` of the test's bucket,
    /// writing to its `out/`.
    pub fn flow(&self, name: &str) -> Flow {
        Flow::new(&self.name(name), &self.bucket)
    }

    /// Applies a workflow and enables it.
    pub async fn workflow(&self, flow: Flow) -> anyhow::Result<Workflow> {
        let workflow = self.apply(flow).await?;
        Ok(self.stack.admin().enable(&workflow.name, BucketCheck::Skip).await?)
    }

    /// Applies a workflow, left disabled.
    pub async fn apply(&self, flow: Flow) -> anyhow::Result<Workflow> {
        let spec: WorkflowSpec = serde_json::from_value(flow.into_value())?;
        Ok(self.stack.admin().apply(spec).await?.workflow)
    }

    /// Uploads `file` at `key` of the test's bucket.
    pub async fn upload(&self, file: &Path, key: &str) -> anyhow::Result<ObjectRef> {
        self.upload_to(&self.bucket, file, key).await
    }

    pub async fn upload_to(&self, bucket: &str, file: &Path, key: &str) -> anyhow::Result<ObjectRef> {
        let object = ObjectRef::new(bucket, key);
        self.stack.upload(file, &object).await?;
        Ok(object)
    }

    pub async fn upload_bytes(&self, bytes: &[u8], key: &str) -> anyhow::Result<ObjectRef> {
        let file = self.dir.path().join(format!("upload-{}", file_name(key)));
        std::fs::write(&file, bytes)?;
        self.upload(&file, key).await
    }

    /// Uploads `file` in parts of 5 MiB (S3's smallest), as large-file uploaders do.
    pub async fn upload_multipart(&self, file: &Path, key: &str) -> anyhow::Result<ObjectRef> {
        let (s3, bucket) = (&self.stack.clients.s3, &self.bucket);
        let upload = s3.create_multipart_upload().bucket(bucket).key(key).send().await?;
        let id = upload.upload_id().context("an upload id")?;
        let bytes = std::fs::read(file)?;
        let mut parts = Vec::new();
        for (i, chunk) in bytes.chunks(5 * 1024 * 1024).enumerate() {
            let number = i as i32 + 1;
            let part = s3
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(id)
                .part_number(number)
                .body(chunk.to_vec().into())
                .send()
                .await?;
            parts.push(CompletedPart::builder().part_number(number).set_e_tag(part.e_tag().map(str::to_owned)).build());
        }
        let parts = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
        s3.complete_multipart_upload().bucket(bucket).key(key).upload_id(id).multipart_upload(parts).send().await?;
        let object = ObjectRef::new(bucket, key);
        ensure!(self.head(&object).await?.is_some(), "{object} exists after the multipart upload");
        Ok(object)
    }

    /// Keys under `prefix` in `bucket`, sorted.
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

    /// What S3 says about an object (its marker included).
    pub async fn head(&self, object: &ObjectRef) -> anyhow::Result<Option<ObjectHead>> {
        Ok(S3ObjectStore::new(self.stack.clients.s3.clone()).head(object).await?)
    }

    /// `clip` uploaded to `key`, as the worker opens it.
    pub async fn stored(&self, clip: &Path, key: &str) -> anyhow::Result<Arc<StoredObject>> {
        let object = self.upload(clip, key).await?;
        let head = self.head(&object).await?.context("uploaded")?;
        let store = Arc::new(S3ObjectStore::new(self.stack.clients.s3.clone()));
        Ok(Arc::new(StoredObject { store, object, etag: head.etag, size: head.size }))
    }

    /// What the worker asks the media tool to render of `spec` (all of it, or its `part`) from
    /// the stored `upload` into `workdir`: no watermarks, deadline, progress or feed.
    pub fn render_request<'a>(
        spec: &'a TaskSpec,
        upload: Arc<StoredObject>,
        source: &'a MediaInfo,
        limits: &'a Limits,
        part: Option<Part>,
        workdir: &'a Path,
    ) -> RenderRequest<'a> {
        RenderRequest {
            spec,
            names: OutputNames { spec, position: 0, input_name: "clip", input_format: "mp4" },
            part,
            upload,
            source,
            limits,
            watermark_images: &[],
            workdir,
            stop_by: None,
            progress: None,
            tuning: None,
            feed: None,
        }
    }

    /// The media tool the worker uses.
    pub fn media_tool(&self) -> Ffmpeg {
        let options = self.stack.options();
        Ffmpeg::new(options.ffmpeg.clone(), options.ffprobe.clone(), options.font.clone())
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

    /// The one job `object` started, with its tasks, once it finished.
    pub async fn job_of(&self, object: &ObjectRef) -> anyhow::Result<(Job, Vec<Task>)> {
        let mut jobs = self.jobs_of(object).await?;
        ensure!(jobs.len() == 1, "expected one job for {object}, got {}", jobs.len());
        Ok(jobs.remove(0))
    }

    /// The one job `object` started, once every task of it succeeded.
    pub async fn succeeded(&self, object: &ObjectRef) -> anyhow::Result<(Job, Vec<Task>)> {
        let (job, tasks) = self.job_of(object).await?;
        for task in &tasks {
            ensure!(
                task.status == TaskStatus::Success,
                "{object}: task {} ({}) is {}: {:?}",
                task.index,
                task.spec.kind(),
                task.status.as_str(),
                task.error
            );
        }
        Ok((job, tasks))
    }

    /// Why the dispatcher did not process `object`.
    pub async fn skip_reasons(&self, object: &ObjectRef) -> anyhow::Result<Vec<String>> {
        let report = self.stack.dispatched(object, DISPATCH_TIMEOUT).await?;
        ensure!(report.jobs().next().is_none(), "{object} started jobs: {:?}", report.outcomes);
        Ok(report
            .outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Skipped { reason, .. } => Some(reason.clone()),
                Outcome::Started { .. } => None,
            })
            .collect())
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

    /// Downloads an output into the scratch directory, checking its recorded size.
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
        let path = self.dir.path().join(file_name(&output.key));
        std::fs::write(&path, &bytes)?;
        Ok(path)
    }

    /// A clip from ffmpeg's lavfi sources (`-f lavfi -i <source>` for each source), made once
    /// per set of arguments and kept for every test (see [`clip`]).
    pub fn lavfi_clip(&self, name: &str, sources: &[&str], args: &[&str]) -> anyhow::Result<PathBuf> {
        let mut all = Vec::new();
        for source in sources {
            all.extend(["-f", "lavfi", "-i", source]);
        }
        all.extend(args);
        clip(name, &all)
    }

    /// A file ffmpeg makes with `args` (inputs, options) in the scratch dir, which it runs in.
    pub fn ffmpeg(&self, name: &str, args: &[&str]) -> anyhow::Result<PathBuf> {
        super::media::ffmpeg_in(self.dir.path(), name, args)
    }
}

/// A file name made from any key.
fn file_name(key: &str) -> String {
    key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).collect()
}
