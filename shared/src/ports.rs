//! Ports: what the use-cases need from the world, in the domain's words. Adapters implement
//! them over DynamoDB, S3, Lambda and ffmpeg (and in memory for unit tests); no SDK type
//! crosses these traits.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::job::{ErrorCode, Job, JobId, OutputFile, Task, TaskError, TaskMessage, TaskStatus};
use crate::domain::media::MediaInfo;
use crate::domain::object::{ObjectHead, ObjectRef};
use crate::domain::task::TaskSpec;
use crate::domain::workflow::Workflow;

/// A failure of a store (DynamoDB) or of the object store (S3) or the task queue (Lambda).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} was changed concurrently: read it again")]
    Conflict(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("request rejected: {0}")]
    Rejected(String),
    #[error("stored record is unreadable: {0}")]
    Corrupt(String),
    #[error("local file: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Throttling, 5xx, timeouts and lost connections pass; a rejected request stays rejected.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Conflict(_) | StoreError::Io(_))
    }
}

/// Workflow records. Writes are conditional on the revision the caller read.
#[async_trait]
pub trait WorkflowStore: Send + Sync {
    /// Every workflow whose trigger is in `bucket`, read consistently.
    async fn for_bucket(&self, bucket: &str) -> Result<Vec<Workflow>, StoreError>;
    async fn get(&self, name: &str) -> Result<Option<Workflow>, StoreError>;
    async fn list(&self) -> Result<Vec<Workflow>, StoreError>;
    /// Writes `workflow` in place of `previous` (which must still be stored as read), or as a
    /// new workflow when `previous` is `None` (which must not exist yet).
    async fn save(&self, workflow: &Workflow, previous: Option<&Workflow>) -> Result<(), StoreError>;
    async fn delete(&self, workflow: &Workflow) -> Result<(), StoreError>;
}

/// Whether `JobStore::create` wrote the job or found it already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    New,
    Existing,
}

/// A worker's hold on a task: who holds it (the invocation's request id), from when, until
/// when. A claim repeated by the same holder (a lost answer) is granted again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub holder: String,
    pub now: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// The answer to a worker asking for a task.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// Now ours, with `attempts` already counting this attempt.
    Claimed(Box<Task>),
    /// Another worker holds it.
    Busy {
        lease_until: DateTime<Utc>,
    },
    /// Already done.
    Done(TaskStatus),
    Missing,
}

/// What finishing a task did to its job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Other tasks of the job are still open.
    Open,
    /// This was the job's last open task: the job is now FINISH.
    JobFinished,
}

/// Whether an event is the newest seen for its object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Newer than (or the same as) every event seen for the object so far.
    Newest,
    /// An event with this later sequencer was seen already.
    Stale { newest: String },
}

/// Job and task records.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Writes the job and its tasks together, unless the job exists already.
    async fn create(&self, job: &Job, tasks: &[Task]) -> Result<Created, StoreError>;
    async fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError>;
    async fn tasks(&self, id: &JobId) -> Result<Vec<Task>, StoreError>;
    /// Notes that the task was handed to a worker.
    async fn mark_sent(&self, id: &JobId, index: u32, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Keeps the newest S3 sequencer of an object (compared as S3 says: as hex numbers) and
    /// tells whether `sequencer` is it.
    async fn record_sequencer(&self, object: &ObjectRef, sequencer: &str) -> Result<Freshness, StoreError>;
    /// Takes a waiting task (or one whose lease ran out) until `lease_until`; marks the job
    /// PROCESSING.
    async fn claim(&self, id: &JobId, index: u32, lease: &Lease) -> Result<Claim, StoreError>;
    /// Keeps the first probe of the job's source.
    async fn record_source(&self, id: &JobId, source: &MediaInfo) -> Result<(), StoreError>;
    /// Ends the claimed attempt `task.attempts` with `outcome`; the last task to end finishes
    /// the job. Repeating it for the same attempt (a lost answer) does no harm.
    async fn finish(&self, task: &Task, outcome: &TaskOutcome, now: DateTime<Utc>) -> Result<Progress, StoreError>;
    /// Finishes the job if none of its tasks is open and nobody did so yet.
    async fn close(&self, id: &JobId, now: DateTime<Utc>) -> Result<Progress, StoreError>;
    /// Gives a claimed task back (for a retry), noting why.
    async fn release(&self, task: &Task, error: &TaskError) -> Result<(), StoreError>;
}

/// How a task ended.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskOutcome {
    Success(Vec<OutputFile>),
    Fail(TaskError),
}

/// Objects in S3.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// `None` when the object does not exist.
    async fn head(&self, object: &ObjectRef) -> Result<Option<ObjectHead>, StoreError>;
    /// Streams the object into a local file; `None` when it does not exist.
    async fn download(&self, object: &ObjectRef, to: &Path) -> Result<Option<u64>, StoreError>;
    /// Uploads a local file with the output marker naming `job`; returns its size.
    async fn upload(&self, from: &Path, to: &ObjectRef, content_type: &str, job: &JobId) -> Result<u64, StoreError>;
}

/// Starts workers (an asynchronous Lambda invocation per task).
#[async_trait]
pub trait TaskQueue: Send + Sync {
    async fn enqueue(&self, message: &TaskMessage) -> Result<(), StoreError>;
}

/// A task's work on local files: what the worker hands the media tool.
#[derive(Debug)]
pub struct RenderRequest<'a> {
    pub spec: &'a TaskSpec,
    pub input: &'a Path,
    pub source: &'a MediaInfo,
    /// Local copies of the spec's image watermarks, in the order of its watermarks (text
    /// watermarks have no entry).
    pub watermark_images: &'a [PathBuf],
    /// Where outputs are written; the caller removes it.
    pub workdir: &'a Path,
    /// When rendering must have stopped (the invocation's deadline less a margin for the
    /// uploads); past it the render fails with `InternalError.Timeout`.
    pub stop_by: Option<DateTime<Utc>>,
}

/// A file the media tool wrote and checked; `number` counts the outputs of one task from 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub path: PathBuf,
    pub number: usize,
    pub content_type: &'static str,
    pub duration: Option<f64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// Why the media tool failed, with the MPS error code for the task record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct MediaFailure {
    pub code: ErrorCode,
    pub message: String,
}

impl MediaFailure {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl From<MediaFailure> for TaskError {
    fn from(failure: MediaFailure) -> Self {
        TaskError { code: failure.code, message: failure.message }
    }
}

/// Probes and renders media (ffmpeg).
#[async_trait]
pub trait MediaTool: Send + Sync {
    async fn probe(&self, file: &Path) -> Result<MediaInfo, MediaFailure>;
    async fn render(&self, request: &RenderRequest<'_>) -> Result<Vec<Rendered>, MediaFailure>;
}
