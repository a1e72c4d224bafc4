//! Use-case of the worker's first step for a job: look at the upload once — with ranged reads,
//! a few MB at most for a file that is not media — check it against the workflow's limits,
//! record what it is, and start the job's tasks; or fail them all with one clear reason.

use std::fmt;
use std::sync::Arc;

use chrono::Utc;
use futures::StreamExt;
use serde::Serialize;
use tracing::{error, info, warn};

use super::attempt::{Invocation, MAX_ATTEMPTS, RunError, exhausted};
use super::chunking::Chunking;
use super::workspace::{open_upload, read_failure, record_usage};
use crate::app::pipeline::notify::Notifier;
use crate::domain::error::{ErrorCode, TaskError};
use crate::domain::job::{Job, JobId, JobStatus, TaskStatus};
use crate::domain::media::MediaInfo;
use crate::domain::message::{TaskMessage, WorkerMessage};
use crate::domain::sniff::{SNIFF_BYTES, sniff};
use crate::domain::usage::OutputSeconds;
use crate::ports::{JobStore, MediaTool, ObjectStore, PartStore, StoreError, StoredObject, TaskQueue};

/// What became of a preparation.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum PrepareResult {
    /// The source is known and the tasks were sent to workers (`tasks_sent` of them now).
    Prepared {
        job_id: JobId,
        tasks_sent: u32,
    },
    /// The source cannot be processed: every task failed with `error`.
    Refused {
        job_id: JobId,
        error: TaskError,
    },
    Skipped {
        job_id: JobId,
        reason: String,
    },
}

/// Prepares jobs for workers.
#[derive(Clone)]
pub struct Preparer {
    jobs: Arc<dyn JobStore>,
    objects: Arc<dyn ObjectStore>,
    media: Arc<dyn MediaTool>,
    queue: Arc<dyn TaskQueue>,
    notifier: Arc<Notifier>,
    /// Where long transcodes are split into parts, when the deployment has a work location.
    chunking: Option<(Arc<dyn PartStore>, Chunking)>,
}

impl fmt::Debug for Preparer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Preparer").finish_non_exhaustive()
    }
}

impl Preparer {
    pub fn new(
        jobs: Arc<dyn JobStore>,
        objects: Arc<dyn ObjectStore>,
        media: Arc<dyn MediaTool>,
        queue: Arc<dyn TaskQueue>,
        notifier: Arc<Notifier>,
    ) -> Self {
        Self { jobs, objects, media, queue, notifier, chunking: None }
    }

    /// Splits long transcodes into parts kept where `chunking` says.
    pub fn with_chunking(self, parts: Arc<dyn PartStore>, chunking: Chunking) -> Self {
        Self { chunking: Some((parts, chunking)), ..self }
    }

    /// Probes the job's upload (once: a repeated message only sends tasks never sent) and
    /// starts its tasks, or fails them all when the upload cannot be processed. Internal
    /// failures are retried like task attempts, then recorded on every task. What the
    /// invocation used is added to the job's.
    pub async fn prepare(&self, id: &JobId, invocation: &Invocation) -> Result<PrepareResult, RunError> {
        let counted = Self { objects: self.objects.clone().counted(invocation.requests.clone()), ..self.clone() };
        let result = counted.attempt(id).await;
        record_usage(self.jobs.as_ref(), id, None, invocation, OutputSeconds::default()).await;
        result
    }

    async fn attempt(&self, id: &JobId) -> Result<PrepareResult, RunError> {
        let skipped = |reason: &str| {
            info!(job_id = %id, %reason, "preparation skipped");
            Ok(PrepareResult::Skipped { job_id: id.clone(), reason: reason.to_owned() })
        };
        let Some(job) = self.jobs.job(id).await? else {
            return skipped("no such job");
        };
        if job.status == JobStatus::Finish {
            self.notifier.after_finish(&job).await;
            return skipped("the job is finished");
        }
        if job.source.is_some() {
            let tasks_sent = self.send_tasks(id).await?;
            return Ok(PrepareResult::Prepared { job_id: id.clone(), tasks_sent });
        }
        let attempt = self.jobs.begin_prepare(id).await?;
        match self.examine(&job).await {
            Ok(source) => {
                self.jobs.record_source(id, &source).await?;
                let tasks_sent = self.send_tasks(id).await?;
                info!(job_id = %id, container = %source.container, duration = ?source.duration, tasks_sent, "job prepared");
                Ok(PrepareResult::Prepared { job_id: id.clone(), tasks_sent })
            }
            Err(error) if error.code.is_retryable() && attempt < MAX_ATTEMPTS => {
                warn!(job_id = %id, attempt, code = %error.code, message = %error.message, "preparation failed; retry");
                Err(RunError::Retry { attempt, error: error.message })
            }
            Err(error) => {
                let retried = error.code.is_retryable();
                let error = if retried { exhausted(error, attempt) } else { error };
                self.jobs.fail_waiting(id, &error, Utc::now()).await?;
                error!(job_id = %id, code = %error.code, message = %error.message, "upload refused");
                self.notifier.after_finish(&job).await;
                if retried {
                    return Err(RunError::Exhausted { attempts: attempt, error: error.message });
                }
                Ok(PrepareResult::Refused { job_id: id.clone(), error })
            }
        }
    }

    /// What the upload is, or why it cannot be processed.
    async fn examine(&self, job: &Job) -> Result<MediaInfo, TaskError> {
        if let Some(size) = job.input_size {
            job.limits.check_size(size)?;
        }
        let source = open_upload(&self.objects, job).await?;
        job.limits.check_size(source.size)?;
        let first = read_head(&source).await.map_err(|e| read_failure(job, &e))?;
        if let Some(refusal) = sniff(&first).refusal() {
            return Err(TaskError::new(ErrorCode::SourceUnsupportedFormat, refusal));
        }
        let size = source.size;
        let probed = self.media.probe(source).await.map_err(|failure| {
            info!(job_id = %job.id, bytes_read = failure.bytes_read, size, "probe failed");
            let mut error = TaskError::from(failure.failure);
            // Said only where it tells something: the probe gave up before the file's end.
            if error.code == ErrorCode::SourceUnsupportedFormat && failure.bytes_read < size {
                error.message =
                    format!("{} (looked at {} of its {})", error.message, mib(failure.bytes_read), mib(size));
            }
            error
        })?;
        info!(job_id = %job.id, bytes_read = probed.bytes_read, size, "upload probed");
        job.limits.check(&probed.media)?;
        Ok(probed.media)
    }

    /// Sends every task never sent, a chunked one as its parts; how many tasks were sent.
    async fn send_tasks(&self, id: &JobId) -> Result<u32, StoreError> {
        let mut sent = 0;
        // The job as stored, with the source that the first preparation recorded: only for
        // planning splits.
        let job = match &self.chunking {
            Some(_) => self.jobs.job(id).await?,
            None => None,
        };
        for task in self.jobs.tasks(id).await? {
            if task.status != TaskStatus::Waiting || task.sent_at.is_some() {
                continue;
            }
            let split = match (&self.chunking, &job) {
                (Some((parts, chunking)), Some(job)) => match task.chunks.clone() {
                    Some(plan) => Some((parts, plan)),
                    None => {
                        chunking.plan(&self.objects, self.media.as_ref(), job, &task).await?.map(|plan| (parts, plan))
                    }
                },
                _ => None,
            };
            match split {
                Some((parts, plan)) => {
                    parts.split(&task, &plan).await?;
                    for number in 0..plan.parts() {
                        let message = TaskMessage { part: Some(number), ..TaskMessage::new(id.clone(), task.index) };
                        self.queue.enqueue(&WorkerMessage::Task(message)).await?;
                    }
                    info!(job_id = %id, task = task.index, chunks = plan.chunks.len(), audio = plan.audio, "task split in parts");
                }
                None => self.queue.enqueue(&WorkerMessage::Task(TaskMessage::new(id.clone(), task.index))).await?,
            }
            self.jobs.mark_sent(id, task.index, Utc::now()).await?;
            sent += 1;
        }
        Ok(sent)
    }
}

/// A size for people: `5.0 MiB`.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The first bytes of the upload, for [`sniff`].
async fn read_head(source: &StoredObject) -> Result<Vec<u8>, StoreError> {
    let mut stream = source.read(0, Some(SNIFF_BYTES.min(source.size as usize) as u64)).await?;
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    while let Some(chunk) = stream.next().await {
        head.extend_from_slice(&chunk?);
    }
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::Memory;
    use crate::domain::object::ObjectRef;
    use crate::domain::task::{SnapshotSpec, TaskSpec, TimePoint, TranscodeSpec};
    use crate::domain::workflow::{OutputSpec, TriggerSpec, Workflow, WorkflowSpec};

    fn invocation() -> Invocation {
        Invocation::new("req-1", None, 1024)
    }

    /// The first bytes of an MP4: the sniffer leaves them to the probe.
    const VIDEO: &[u8] = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom";

    async fn setup(input: &[u8], limits: crate::domain::limits::Limits) -> (Memory, Preparer, JobId) {
        let memory = Memory::default();
        let spec = WorkflowSpec {
            name: "flow".into(),
            trigger: TriggerSpec { bucket: "media".into(), dir: "in/".into() },
            output: OutputSpec { bucket: None, dir: Some("out/".into()) },
            tasks: vec![
                TaskSpec::Transcode(TranscodeSpec::default()),
                TaskSpec::Snapshot(SnapshotSpec { times: vec![TimePoint::Seconds(1.0)], ..SnapshotSpec::default() }),
            ],
            limits,
            notification: None,
        };
        let workflow = Workflow::create(spec, Utc::now()).unwrap().enable(Utc::now());
        let id = memory.job_for_upload(&workflow, "in/clip.mp4", input).await;
        let shared = Arc::new(memory.clone());
        let notifier = crate::app::pipeline::fixtures::notifier(&memory);
        (memory.clone(), Preparer::new(shared.clone(), shared.clone(), shared.clone(), shared, notifier), id)
    }

    #[tokio::test]
    async fn a_media_upload_is_probed_once_and_its_tasks_sent_once() {
        let (memory, preparer, id) = setup(VIDEO, Default::default()).await;
        let result = preparer.prepare(&id, &invocation()).await.unwrap();
        assert_eq!(result, PrepareResult::Prepared { job_id: id.clone(), tasks_sent: 2 });
        assert!(memory.job(&id).await.unwrap().unwrap().source.is_some());
        let again = preparer.prepare(&id, &invocation()).await.unwrap();
        assert_eq!(again, PrepareResult::Prepared { job_id: id.clone(), tasks_sent: 0 }, "a repeat sends nothing");
        assert_eq!((memory.probe_count(), memory.sent().len()), (1, 2));
    }

    #[tokio::test]
    async fn a_file_that_is_not_media_fails_every_task_without_a_probe() {
        let (memory, preparer, id) = setup(b"meeting notes, not a video\n", Default::default()).await;
        let PrepareResult::Refused { error, .. } = preparer.prepare(&id, &invocation()).await.unwrap() else {
            panic!("refused")
        };
        assert_eq!(
            error,
            TaskError::new(ErrorCode::SourceUnsupportedFormat, "the file is text, not a video or audio file")
        );
        assert_eq!(memory.probe_count(), 0);
        assert!(memory.sent().is_empty());
        let tasks = memory.tasks(&id).await.unwrap();
        assert!(tasks.iter().all(|t| t.status == TaskStatus::Fail && t.error.as_ref() == Some(&error)), "{tasks:?}");
        assert_eq!(memory.job(&id).await.unwrap().unwrap().status, JobStatus::Finish);
    }

    #[tokio::test]
    async fn an_upload_the_deployment_may_not_read_fails_every_task_with_access_denied() {
        let (memory, preparer, id) = setup(VIDEO, Default::default()).await;
        memory.deny_reads("media");
        let PrepareResult::Refused { error, .. } = preparer.prepare(&id, &invocation()).await.unwrap() else {
            panic!("refused")
        };
        assert_eq!(error.code, ErrorCode::AccessDenied);
        assert!(
            error.message.starts_with("cannot read the upload: access denied (s3://media/in/clip.mp4"),
            "{}",
            error.message
        );
        assert!(!error.message.contains('\n'), "one line: {}", error.message);
        let tasks = memory.tasks(&id).await.unwrap();
        assert!(tasks.iter().all(|t| t.status == TaskStatus::Fail && t.error.as_ref() == Some(&error)), "{tasks:?}");
    }

    #[tokio::test]
    async fn an_upload_replaced_before_its_preparation_is_left_to_its_own_job() {
        let (memory, preparer, id) = setup(b"first", Default::default()).await;
        memory.put_object(ObjectRef::new("media", "in/clip.mp4"), b"second".to_vec(), None);
        let PrepareResult::Refused { error, .. } = preparer.prepare(&id, &invocation()).await.unwrap() else {
            panic!("refused")
        };
        assert_eq!(error.code, ErrorCode::SourceReplaced);
    }

    #[tokio::test]
    async fn probe_failures_and_limits_fail_every_task_with_the_probes_code() {
        let (memory, preparer, id) = setup(VIDEO, Default::default()).await;
        memory.fail_probe(ErrorCode::SourceCorrupt);
        let PrepareResult::Refused { error, .. } = preparer.prepare(&id, &invocation()).await.unwrap() else {
            panic!("refused")
        };
        assert_eq!(error.code, ErrorCode::SourceCorrupt);
        let limits = crate::domain::limits::Limits { max_duration_s: 1.0, ..Default::default() };
        let (_, preparer, id) = setup(VIDEO, limits).await;
        let PrepareResult::Refused { error, .. } = preparer.prepare(&id, &invocation()).await.unwrap() else {
            panic!("refused")
        };
        assert_eq!(error.code, ErrorCode::DurationTooLong);
    }

    #[tokio::test]
    async fn internal_failures_are_retried_then_recorded_on_every_task() {
        let (memory, preparer, id) = setup(VIDEO, Default::default()).await;
        memory.fail_probe(ErrorCode::Internal);
        for attempt in 1..MAX_ATTEMPTS {
            assert!(
                matches!(preparer.prepare(&id, &invocation()).await, Err(RunError::Retry { attempt: a, .. }) if a == attempt)
            );
        }
        assert!(matches!(preparer.prepare(&id, &invocation()).await, Err(RunError::Exhausted { attempts: 3, .. })));
        let tasks = memory.tasks(&id).await.unwrap();
        let message = tasks[0].error.as_ref().map(|e| e.message.clone()).unwrap_or_default();
        assert!(message.ends_with("(attempt 3 of 3: retries exhausted)"), "{message}");
    }
}
