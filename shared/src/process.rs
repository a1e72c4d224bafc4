//! Use-case of the worker: run one task of one job — claim it, fetch the input, probe it,
//! render, upload the outputs with the output marker, record the outcome.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use tokio::io::AsyncReadExt;
use tracing::{error, info, warn};

use crate::domain::job::{ErrorCode, Job, JobId, OutputFile, Task, TaskError, TaskMessage};
use crate::ports::{Claim, JobStore, Lease, MediaTool, ObjectStore, Progress, RenderRequest, StoreError, TaskOutcome};

/// How many times a task may be attempted before an internal error becomes its final FAIL
/// (Lambda's first try plus its two retries of an asynchronous invocation).
pub const MAX_ATTEMPTS: u32 = 3;

/// The first bytes of every PNG file: watermark images must be PNGs.
const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// The Lambda invocation a task runs in.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub request_id: String,
    /// When the invocation is cut off; a claim's lease never outlives it.
    pub deadline: Option<DateTime<Utc>>,
}

/// What the worker did with a task message.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RunResult {
    Succeeded {
        job_id: JobId,
        task: u32,
        outputs: Vec<OutputFile>,
        job_finished: bool,
    },
    Failed {
        job_id: JobId,
        task: u32,
        error: TaskError,
        job_finished: bool,
    },
    /// Nothing to do: the task is done, taken by another worker, or unknown.
    Skipped {
        job_id: JobId,
        task: u32,
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The attempt failed in a way a retry may cure; the task was given back.
    #[error("attempt {attempt} failed, retry: {error}")]
    Retry { attempt: u32, error: String },
    /// The last attempt failed too; the task is recorded as FAIL.
    #[error("task failed after {attempts} attempts: {error}")]
    Exhausted { attempts: u32, error: String },
}

/// Runs tasks for workers.
pub struct TaskRunner {
    jobs: Arc<dyn JobStore>,
    objects: Arc<dyn ObjectStore>,
    media: Arc<dyn MediaTool>,
    scratch: PathBuf,
    lease: TimeDelta,
    margin: TimeDelta,
}

impl fmt::Debug for TaskRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskRunner").field("scratch", &self.scratch).finish_non_exhaustive()
    }
}

impl TaskRunner {
    /// `scratch` is where each invocation gets its own directory (`/tmp` in Lambda); `lease`
    /// is how long a claim holds when the invocation has no deadline; `margin` is the time
    /// kept back from the deadline to upload outputs and record the outcome.
    pub fn new(
        jobs: Arc<dyn JobStore>,
        objects: Arc<dyn ObjectStore>,
        media: Arc<dyn MediaTool>,
        scratch: PathBuf,
        lease: TimeDelta,
        margin: TimeDelta,
    ) -> Self {
        Self { jobs, objects, media, scratch, lease, margin }
    }

    pub async fn run(&self, message: &TaskMessage, invocation: &Invocation) -> Result<RunResult, RunError> {
        let (job_id, index) = (&message.job_id, message.task);
        let skipped = |reason: String| {
            info!(job_id = %job_id, task = index, %reason, "task skipped");
            Ok(RunResult::Skipped { job_id: job_id.clone(), task: index, reason })
        };
        let Some(job) = self.jobs.job(job_id).await? else {
            return skipped("no such job".into());
        };
        let now = Utc::now();
        let lease_until = invocation.deadline.map_or(now + self.lease, |deadline| deadline.min(now + self.lease));
        let lease = Lease { holder: invocation.request_id.clone(), now, until: lease_until };
        let task = match self.jobs.claim(job_id, index, &lease).await? {
            Claim::Claimed(task) => *task,
            Claim::Busy { lease_until } => {
                return skipped(format!("taken by another worker until {lease_until}"));
            }
            Claim::Done(status) => {
                // Whoever ended the task may have stopped before finishing the job.
                self.jobs.close(job_id, now).await?;
                return skipped(format!("already {}", status.as_str()));
            }
            Claim::Missing => return skipped("no such task".into()),
        };
        info!(job_id = %job_id, task = index, kind = task.spec.kind(), attempt = task.attempts, "task started");

        let outcome = match self.execute(&job, &task, invocation).await {
            Ok(outputs) => TaskOutcome::Success(outputs),
            Err(error) if error.code.is_retryable() && task.attempts < MAX_ATTEMPTS => {
                warn!(job_id = %job_id, task = index, attempt = task.attempts, code = %error.code, message = %error.message, "task attempt failed; giving it back for a retry");
                self.jobs.release(&task, &error).await?;
                return Err(RunError::Retry { attempt: task.attempts, error: error.message });
            }
            Err(error) if error.code.is_retryable() => TaskOutcome::Fail(TaskError {
                message: format!("{} (attempt {} of {MAX_ATTEMPTS}: retries exhausted)", error.message, task.attempts),
                ..error
            }),
            Err(error) => TaskOutcome::Fail(error),
        };
        let progress = self.jobs.finish(&task, &outcome, Utc::now()).await?;
        let job_finished = progress == Progress::JobFinished;
        if job_finished {
            info!(job_id = %job_id, workflow = %job.workflow, "job finished");
        }
        Ok(match outcome {
            TaskOutcome::Success(outputs) => {
                info!(job_id = %job_id, task = index, outputs = outputs.len(), "task succeeded");
                RunResult::Succeeded { job_id: job_id.clone(), task: index, outputs, job_finished }
            }
            TaskOutcome::Fail(error) if error.code.is_retryable() => {
                // Recorded; failing the invocation as well sends its event to the dead-letter
                // queue once Lambda's retries are spent.
                error!(job_id = %job_id, task = index, code = %error.code, message = %error.message, "task failed for good");
                return Err(RunError::Exhausted { attempts: task.attempts, error: error.message });
            }
            TaskOutcome::Fail(error) => {
                error!(job_id = %job_id, task = index, code = %error.code, message = %error.message, "task failed");
                RunResult::Failed { job_id: job_id.clone(), task: index, error, job_finished }
            }
        })
    }

    /// The task's work in a scratch directory that is removed on every path.
    async fn execute(&self, job: &Job, task: &Task, invocation: &Invocation) -> Result<Vec<OutputFile>, TaskError> {
        if let Some(size) = job.input_size {
            job.limits.check_size(size)?;
        }
        let deadline = invocation.deadline;
        let workdir = tempfile::Builder::new()
            .prefix(&format!("{}-", sanitize(&invocation.request_id)))
            .tempdir_in(&self.scratch)
            .map_err(|e| internal(format!("cannot create scratch dir in {}: {e}", self.scratch.display())))?;
        let input = workdir.path().join("input");
        let size = self
            .objects
            .download(&job.input, &input)
            .await
            .map_err(|e| internal(format!("cannot download the input: {e}")))?
            .ok_or_else(|| TaskError {
                code: ErrorCode::SourceNotFound,
                message: format!("{} no longer exists", job.input),
            })?;
        if size == 0 {
            return Err(TaskError { code: ErrorCode::SourceEmpty, message: "the uploaded file is empty".into() });
        }
        let source = self.media.probe(&input).await?;
        job.limits.check(&source)?;
        if job.source.is_none() {
            // Best effort: the source facts are informative; the task does not depend on them.
            if let Err(e) = self.jobs.record_source(&job.id, &source).await {
                warn!(job_id = %job.id, error = %e, "cannot record the source probe");
            }
        }
        let watermark_images = self.fetch_watermarks(task, workdir.path()).await?;
        let rendered = self
            .media
            .render(&RenderRequest {
                spec: &task.spec,
                input: &input,
                source: &source,
                watermark_images: &watermark_images,
                workdir: workdir.path(),
                stop_by: deadline.map(|deadline| deadline - self.margin),
            })
            .await?;
        let mut outputs = Vec::with_capacity(rendered.len());
        for file in rendered {
            let target = job.output_key(task, file.number);
            let size = self
                .objects
                .upload(&file.path, &target, file.content_type, &job.id)
                .await
                .map_err(|e| internal(format!("cannot upload {target}: {e}")))?;
            outputs.push(OutputFile {
                bucket: target.bucket,
                key: target.key,
                size,
                duration: file.duration,
                width: file.width,
                height: file.height,
            });
        }
        Ok(outputs)
    }

    async fn fetch_watermarks(&self, task: &Task, workdir: &Path) -> Result<Vec<PathBuf>, TaskError> {
        let mut paths = Vec::new();
        for (i, image) in task.spec.watermarks().iter().filter_map(|mark| mark.image.as_ref()).enumerate() {
            let path = workdir.join(format!("watermark-{i}.png"));
            let object = crate::domain::object::ObjectRef::new(&image.bucket, &image.key);
            let invalid = |what: &str| TaskError {
                code: ErrorCode::InvalidWatermarkImage,
                message: format!("watermark image {object} {what}"),
            };
            match self.objects.download(&object, &path).await {
                Ok(Some(size)) if size > 0 => {}
                Ok(_) => return Err(invalid("is missing or empty")),
                Err(e) => return Err(internal(format!("cannot download watermark image {object}: {e}"))),
            }
            let mut signature = [0u8; 8];
            let read = match tokio::fs::File::open(&path).await {
                Ok(mut file) => file.read_exact(&mut signature).await.map(|_| ()),
                Err(e) => Err(e),
            };
            if read.is_err() || signature != PNG_SIGNATURE {
                return Err(invalid("is not a PNG"));
            }
            paths.push(path);
        }
        Ok(paths)
    }
}

fn internal(message: String) -> TaskError {
    TaskError { code: ErrorCode::Internal, message }
}

/// Request ids are ours to trust less than fully: keep them to a safe file-name alphabet.
fn sanitize(request_id: &str) -> String {
    let safe: String = request_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(64).collect();
    if safe.is_empty() { "invocation".into() } else { safe }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::Memory;
    use crate::domain::job::{JobStatus, TaskStatus};
    use crate::domain::limits::Limits;
    use crate::domain::object::{ObjectCreated, ObjectRef, parse_event_time};
    use crate::domain::task::{SnapshotSpec, TaskSpec, TimePoint, TranscodeSpec};
    use crate::domain::workflow::{OutputSpec, TriggerSpec, Workflow, WorkflowSpec};
    use crate::ports::JobStore;

    async fn setup(tasks: Vec<TaskSpec>, input: &[u8]) -> (Memory, TaskRunner, JobId, tempfile::TempDir) {
        let memory = Memory::default();
        let spec = WorkflowSpec {
            name: "flow".into(),
            trigger: TriggerSpec { bucket: "media".into(), dir: "in/".into() },
            output: OutputSpec { bucket: None, dir: Some("out/".into()) },
            tasks,
            limits: Default::default(),
        };
        let workflow = Workflow::create(spec, Utc::now()).unwrap().enable(Utc::now());
        let event = ObjectCreated {
            object: ObjectRef::new("media", "in/sub/clip.mp4"),
            size: Some(input.len() as u64),
            etag: None,
            version_id: None,
            sequencer: None,
            event_time: parse_event_time("2030-01-01T00:00:00Z").unwrap(),
        };
        memory.put_object(event.object.clone(), input.to_vec(), None);
        let (job, tasks) = Job::start(&workflow, &event, Utc::now());
        memory.create(&job, &tasks).await.unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let shared = Arc::new(memory.clone());
        let runner = TaskRunner::new(
            shared.clone(),
            shared.clone(),
            shared,
            scratch.path().to_owned(),
            TimeDelta::minutes(15),
            TimeDelta::seconds(1),
        );
        (memory, runner, job.id, scratch)
    }

    fn invocation() -> Invocation {
        Invocation { request_id: "req-1".into(), deadline: None }
    }

    fn message(job_id: &JobId, task: u32) -> TaskMessage {
        TaskMessage { job_id: job_id.clone(), task }
    }

    fn snapshot() -> TaskSpec {
        TaskSpec::Snapshot(SnapshotSpec {
            times: vec![TimePoint::Seconds(0.0), TimePoint::Seconds(1.0)],
            ..SnapshotSpec::default()
        })
    }

    #[tokio::test]
    async fn when_task_succeeds_should_upload_marked_outputs_and_finish_job() {
        let (memory, runner, job_id, scratch) = setup(vec![snapshot()], b"video").await;
        let result = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        let RunResult::Succeeded { outputs, job_finished, .. } = result else { panic!("{result:?}") };
        assert!(job_finished);
        let keys: Vec<_> = outputs.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["out/sub/clip_snapshotByTimeOffset_1_0.jpg", "out/sub/clip_snapshotByTimeOffset_1_1.jpg"]);
        assert_eq!(memory.marker(&ObjectRef::new("media", keys[0])), Some(job_id.to_string()));
        let job = memory.job(&job_id).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Finish);
        assert!(job.source.is_some());
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0, "scratch dir removed");
    }

    #[tokio::test]
    async fn when_message_repeats_should_run_task_once() {
        let (memory, runner, job_id, _scratch) = setup(vec![snapshot()], b"video").await;
        runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        let again = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        assert!(matches!(again, RunResult::Skipped { ref reason, .. } if reason == "already SUCCESS"), "{again:?}");
        assert_eq!(memory.render_count(), 1);
    }

    #[tokio::test]
    async fn when_input_is_empty_should_fail_with_source_error_and_finish_job() {
        let (memory, runner, job_id, _scratch) =
            setup(vec![snapshot(), TaskSpec::Transcode(TranscodeSpec::default())], b"").await;
        let first = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        assert!(
            matches!(&first, RunResult::Failed { error, job_finished: false, .. } if error.code == ErrorCode::SourceEmpty),
            "{first:?}"
        );
        let second = runner.run(&message(&job_id, 1), &invocation()).await.unwrap();
        assert!(matches!(second, RunResult::Failed { job_finished: true, .. }));
        let tasks = memory.tasks(&job_id).await.unwrap();
        assert!(
            tasks
                .iter()
                .all(|t| t.status == TaskStatus::Fail && t.error.as_ref().unwrap().code == ErrorCode::SourceEmpty)
        );
    }

    #[tokio::test]
    async fn when_media_tool_rejects_source_should_fail_without_retry() {
        let (memory, runner, job_id, _scratch) = setup(vec![snapshot()], b"not media").await;
        memory.fail_probe(ErrorCode::SourceUnsupportedFormat);
        let result = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        assert!(matches!(result, RunResult::Failed { error, .. } if error.code == ErrorCode::SourceUnsupportedFormat));
    }

    #[tokio::test]
    async fn when_internal_error_should_give_task_back_until_attempts_run_out() {
        let (memory, runner, job_id, _scratch) = setup(vec![snapshot()], b"video").await;
        memory.fail_probe(ErrorCode::Internal);
        for attempt in 1..MAX_ATTEMPTS {
            let error = runner.run(&message(&job_id, 0), &invocation()).await.unwrap_err();
            assert!(matches!(error, RunError::Retry { attempt: a, .. } if a == attempt));
            let task = &memory.tasks(&job_id).await.unwrap()[0];
            assert_eq!(task.status, TaskStatus::Waiting);
        }
        // The last attempt records the failure and still fails the invocation (for the DLQ).
        let last = runner.run(&message(&job_id, 0), &invocation()).await.unwrap_err();
        assert!(matches!(last, RunError::Exhausted { attempts: MAX_ATTEMPTS, .. }), "{last:?}");
        let task = &memory.tasks(&job_id).await.unwrap()[0];
        assert_eq!(task.status, TaskStatus::Fail);
        let error = task.error.as_ref().unwrap();
        assert_eq!(error.code, ErrorCode::Internal);
        assert_eq!(error.message, "probe failed (attempt 3 of 3: retries exhausted)");
        assert_eq!(memory.job(&job_id).await.unwrap().unwrap().status, JobStatus::Finish);
        let again = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        assert!(matches!(again, RunResult::Skipped { .. }), "a later retry finds the task done");
    }

    #[tokio::test]
    async fn when_probed_source_breaks_a_limit_should_fail_before_encoding() {
        let (memory, runner, job_id, _scratch) = setup(vec![snapshot()], b"video").await;
        memory.change_job(&job_id, |job| job.limits = Limits { max_duration_s: 1.0, ..Limits::default() });
        let result = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        assert!(
            matches!(&result, RunResult::Failed { error, .. } if error.code == ErrorCode::DurationTooLong),
            "{result:?}"
        );
        assert_eq!(memory.render_count(), 0, "nothing was encoded");
    }

    #[tokio::test]
    async fn when_announced_size_breaks_the_limit_should_fail_before_downloading() {
        let (memory, runner, job_id, _scratch) = setup(vec![snapshot()], b"video").await;
        memory.change_job(&job_id, |job| {
            job.limits = Limits { max_size_mb: 1, ..Limits::default() };
            job.input_size = Some(2 * 1024 * 1024);
        });
        let result = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        assert!(
            matches!(&result, RunResult::Failed { error, .. } if error.code == ErrorCode::FileTooLarge),
            "{result:?}"
        );
        assert!(memory.job(&job_id).await.unwrap().unwrap().source.is_none(), "never probed");
    }

    #[tokio::test]
    async fn when_watermark_image_is_missing_should_fail_with_invalid_input() {
        let spec: TaskSpec = serde_json::from_str(
            r#"{"type":"watermark","watermarks":[{"image":{"bucket":"media","key":"nope.png"}}]}"#,
        )
        .unwrap();
        let (_memory, runner, job_id, _scratch) = setup(vec![spec], b"video").await;
        let result = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        assert!(matches!(result, RunResult::Failed { error, .. } if error.code == ErrorCode::InvalidWatermarkImage));
    }

    #[tokio::test]
    async fn when_watermark_image_is_not_png_should_fail_with_invalid_input() {
        let spec: TaskSpec = serde_json::from_str(
            r#"{"type":"watermark","watermarks":[{"image":{"bucket":"media","key":"logo.jpg"}}]}"#,
        )
        .unwrap();
        let (memory, runner, job_id, _scratch) = setup(vec![spec], b"video").await;
        memory.put_object(ObjectRef::new("media", "logo.jpg"), b"\xff\xd8\xff\xe0 jpeg".to_vec(), None);
        let result = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        assert!(
            matches!(&result, RunResult::Failed { error, .. } if error.code == ErrorCode::InvalidWatermarkImage
                && error.message == "watermark image s3://media/logo.jpg is not a PNG"),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn when_job_is_unknown_should_skip() {
        let (_memory, runner, _job_id, _scratch) = setup(vec![snapshot()], b"video").await;
        let result = runner.run(&message(&JobId::from("job-x".to_owned()), 0), &invocation()).await.unwrap();
        assert!(matches!(result, RunResult::Skipped { ref reason, .. } if reason == "no such job"));
    }
}
