//! Ports: what the use-cases need from the world, in the domain's words. Adapters implement
//! them over DynamoDB, S3, Lambda and ffmpeg (and in memory for unit tests); no SDK type
//! crosses these traits.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::Stream;

use crate::domain::attempt::Lease;
use crate::domain::chunk::{ChunkPlan, Part};
use crate::domain::connection::EventRule;
use crate::domain::error::{ErrorCode, TaskError};
use crate::domain::event::WorkflowTaskEvent;
use crate::domain::job::{Job, JobId, JobStatus, OutputFile, PartState, Task, TaskStatus, TaskTimings};
use crate::domain::limits::Limits;
use crate::domain::media::MediaInfo;
use crate::domain::message::WorkerMessage;
use crate::domain::notification::{Delivery, NotificationTarget};
use crate::domain::object::{ObjectHead, ObjectRef, OutputMarker};
use crate::domain::task::{OutputNames, OutputSlot, TaskSpec};
use crate::domain::workflow::Workflow;

/// A failure of a store (DynamoDB) or of the object store (S3) or the task queue (Lambda).
/// Messages are one line: the service's error code and message, never a whole SDK dump.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write found something else than expected (a DynamoDB condition, an S3
    /// precondition): read again and decide again.
    #[error("{0} was changed concurrently")]
    Conflict(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("bucket {0} does not exist")]
    NoSuchBucket(String),
    #[error("access denied: {0}")]
    AccessDenied(String),
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

    /// What a task records when it cannot `what`: S3's permanent refusals as `InvalidInput.*`,
    /// the rest as ours (`InternalError`, retried).
    pub fn task_error(&self, what: &str) -> TaskError {
        match self {
            StoreError::NoSuchBucket(bucket) => {
                TaskError::new(ErrorCode::BucketNotFound, format!("cannot {what}: bucket {bucket} does not exist"))
            }
            StoreError::AccessDenied(detail) => {
                TaskError::new(ErrorCode::AccessDenied, format!("cannot {what}: access denied ({detail})"))
            }
            other => TaskError::new(ErrorCode::Internal, format!("cannot {what}: {other}")),
        }
    }
}

/// Every workflow, as of one version of the catalog; every write moves the version on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CatalogSnapshot {
    pub version: u64,
    pub workflows: Vec<Workflow>,
}

impl CatalogSnapshot {
    pub fn get(&self, name: &str) -> Option<&Workflow> {
        self.workflows.iter().find(|w| w.name == name)
    }
}

/// Workflow records. Writes are conditional on the catalog version the caller read, so that
/// a decision taken on the whole catalog (no two enabled workflows conflict) holds when written.
#[async_trait]
pub trait WorkflowStore: Send + Sync {
    /// Every workflow whose trigger dir holds `key` in `bucket` (one of
    /// [`trigger_dirs_of`](crate::domain::workflow::trigger_dirs_of) the key), read consistently.
    async fn for_key(&self, bucket: &str, key: &str) -> Result<Vec<Workflow>, StoreError>;
    async fn get(&self, name: &str) -> Result<Option<Workflow>, StoreError>;
    /// Every workflow and the catalog's version, read consistently.
    async fn snapshot(&self) -> Result<CatalogSnapshot, StoreError>;
    /// Writes `workflow` in place of `previous` (or as a new workflow when `previous` is
    /// `None`), only if the catalog is still at `version`; otherwise `Conflict`.
    async fn save(&self, workflow: &Workflow, previous: Option<&Workflow>, version: u64) -> Result<(), StoreError>;
    /// Deletes `workflow`, only if the catalog is still at `version`; otherwise `Conflict`.
    async fn delete(&self, workflow: &Workflow, version: u64) -> Result<(), StoreError>;
}

/// Whether `JobStore::create` wrote the job or found it already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    New,
    Existing,
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
    /// Notes that the job's preparation was handed to a worker.
    async fn mark_prepare_sent(&self, id: &JobId, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Counts a preparation attempt; returns the count including this one.
    async fn begin_prepare(&self, id: &JobId) -> Result<u32, StoreError>;
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
    /// Fails every task of the job that has not started with `error` (a source that cannot be
    /// processed at all), and finishes the job.
    async fn fail_waiting(&self, id: &JobId, error: &TaskError, now: DateTime<Utc>) -> Result<Progress, StoreError>;
    /// Ends the claimed attempt `task.attempts` with `outcome`; the last task to end finishes
    /// the job. Repeating it for the same attempt (a lost answer) does no harm.
    async fn finish(&self, task: &Task, outcome: &TaskOutcome, now: DateTime<Utc>) -> Result<Progress, StoreError>;
    /// Finishes the job if none of its tasks is open and nobody did so yet.
    async fn close(&self, id: &JobId, now: DateTime<Utc>) -> Result<Progress, StoreError>;
    /// Gives a claimed task back (for a retry), noting why.
    async fn release(&self, task: &Task, error: &TaskError) -> Result<(), StoreError>;
    /// Notes how far the claimed attempt `task.attempts` got (0–100); ignored once it ended.
    async fn record_progress(&self, task: &Task, percent: u8) -> Result<(), StoreError>;
    /// Takes the job's finish event for sending until `until`, unless it was sent already or
    /// another worker's hold on it has not run out; whether it is ours.
    async fn claim_delivery(&self, id: &JobId, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Records what sending the finish event came to.
    async fn record_delivery(&self, id: &JobId, delivery: &Delivery) -> Result<(), StoreError>;
    /// Runs the failed tasks `indexes` of the finished `job` again: they wait again with no
    /// attempt made, the job waits for them (and is prepared again if it never was), and its
    /// finish event will be sent again. `Conflict` when the job moved since it was read.
    async fn reopen(&self, job: &Job, indexes: &[u32]) -> Result<(), StoreError>;
    /// Fails task `index` with `error` unless it ended already (its worker was lost on its last
    /// attempt), finishing the job when it was the last open task.
    async fn abandon(
        &self,
        id: &JobId,
        index: u32,
        error: &TaskError,
        now: DateTime<Utc>,
    ) -> Result<Progress, StoreError>;
    /// Counts a Change-mode event as delivered or not.
    async fn count_change(&self, id: &JobId, delivered: bool) -> Result<(), StoreError>;
}

/// The answer to a worker asking for a part of a chunked task.
#[derive(Clone, Debug, PartialEq)]
pub enum PartClaim {
    Claimed(PartState),
    /// Another worker holds it until then.
    Busy {
        lease_until: DateTime<Utc>,
    },
    /// It succeeded already.
    Done,
    Missing,
}

/// The parts of chunked tasks: split once, each claimed, retried and recorded on its own, and
/// counted on its task as it succeeds.
#[async_trait]
pub trait PartStore: Send + Sync {
    /// Records `plan` on the waiting `task` and one waiting part per piece, unless the task was
    /// split already.
    async fn split(&self, task: &Task, plan: &ChunkPlan) -> Result<(), StoreError>;
    /// Takes a waiting part (or one whose lease ran out) until `lease.until`.
    async fn claim_part(&self, id: &JobId, index: u32, number: u32, lease: &Lease) -> Result<PartClaim, StoreError>;
    /// Shows the waiting chunked task as PROCESSING from `at`, when its first part starts, with
    /// no lease (its join takes it then); whether this call did.
    async fn start_task(&self, id: &JobId, index: u32, at: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Gives a claimed part back (for a retry), noting why.
    async fn release_part(&self, part: &PartState, error: &TaskError) -> Result<(), StoreError>;
    /// Records the claimed attempt's success and counts it on the task, together and once; the
    /// task as it is now.
    async fn finish_part(&self, part: &PartState) -> Result<Task, StoreError>;
    /// Notes that the task's join was handed to a worker.
    async fn mark_join_sent(&self, id: &JobId, index: u32, at: DateTime<Utc>) -> Result<(), StoreError>;
}

/// Which jobs to list, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobFilter {
    pub workflow: Option<String>,
    pub status: Option<JobStatus>,
    /// Only finished jobs with a failed task.
    pub failed: bool,
    /// Only jobs created at or after.
    pub since: Option<DateTime<Utc>>,
    pub limit: usize,
    /// Where the previous page ended ([`JobPage::next_page`]).
    pub page: Option<String>,
}

/// One page of jobs, newest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    /// Pass as [`JobFilter::page`] for the next page; `None` on the last.
    pub next_page: Option<String>,
}

/// Finding jobs (indexes, no scans): for people and consoles.
#[async_trait]
pub trait JobQueries: Send + Sync {
    async fn list(&self, filter: &JobFilter) -> Result<JobPage, StoreError>;
    /// Every job of the uploads at `object`, newest first.
    async fn of_input(&self, object: &ObjectRef) -> Result<Vec<Job>, StoreError>;
}

/// How a task ended.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskOutcome {
    Success { outputs: Vec<OutputFile>, warnings: Vec<String>, timings: TaskTimings },
    Fail(TaskError),
}

/// Bytes of an object as they arrive.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// When a write may happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutCondition {
    /// Only if nothing is stored at the key.
    Absent,
    /// Only if the key still holds the object with this entity tag.
    Unchanged(String),
    /// Whatever is there: only for mediaflow's own work objects (the parts of a chunked task).
    Overwrite,
}

/// Objects in S3. Reads of an upload are pinned to its entity tag: when the key holds another
/// object by then, they fail with `Conflict`.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// `None` when the object does not exist.
    async fn head(&self, object: &ObjectRef) -> Result<Option<ObjectHead>, StoreError>;
    /// Streams the object into a local file; `None` when it does not exist.
    async fn download(&self, object: &ObjectRef, etag: Option<&str>, to: &Path) -> Result<Option<u64>, StoreError>;
    /// The bytes from `from` up to `to` (exclusive; the end of the object when `None`).
    async fn read(
        &self,
        object: &ObjectRef,
        etag: Option<&str>,
        from: u64,
        to: Option<u64>,
    ) -> Result<ByteStream, StoreError>;
    /// One page of the keys under `prefix`, in key order, from `token` (the previous page's
    /// continuation token) on.
    async fn list(&self, bucket: &str, prefix: &str, token: Option<String>) -> Result<KeyPage, StoreError>;
    /// Writes a local file with `marker` if `condition` holds (else `Conflict`); returns its size.
    async fn put(
        &self,
        from: &Path,
        to: &ObjectRef,
        content_type: &str,
        marker: &OutputMarker,
        condition: &PutCondition,
    ) -> Result<u64, StoreError>;
}

/// A page of listed keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPage {
    pub keys: Vec<String>,
    /// Where the next page starts; `None` on the last.
    pub next: Option<String>,
}

/// One stored upload, read on demand.
#[derive(Clone)]
pub struct StoredObject {
    pub store: Arc<dyn ObjectStore>,
    pub object: ObjectRef,
    pub etag: Option<String>,
    pub size: u64,
}

impl std::fmt::Debug for StoredObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredObject").field("object", &self.object).field("size", &self.size).finish()
    }
}

impl StoredObject {
    pub async fn read(&self, from: u64, to: Option<u64>) -> Result<ByteStream, StoreError> {
        self.store.read(&self.object, self.etag.as_deref(), from, to).await
    }
}

/// Starts workers (an asynchronous Lambda invocation per message).
#[async_trait]
pub trait TaskQueue: Send + Sync {
    async fn enqueue(&self, message: &WorkerMessage) -> Result<(), StoreError>;
}

/// Why an event could not be delivered, and whether trying again may help.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    pub message: String,
    pub retryable: bool,
}

impl DeliveryError {
    pub fn retry(message: impl Into<String>) -> Self {
        Self { message: message.into(), retryable: true }
    }

    pub fn fatal(message: impl Into<String>) -> Self {
        Self { message: message.into(), retryable: false }
    }
}

impl From<StoreError> for DeliveryError {
    fn from(error: StoreError) -> Self {
        Self { retryable: error.is_retryable(), message: error.to_string() }
    }
}

/// Sends job events to the targets workflows name (queues, topics, buses, webhooks).
#[async_trait]
pub trait Notifications: Send + Sync {
    async fn send(&self, target: &NotificationTarget, event: &WorkflowTaskEvent) -> Result<(), DeliveryError>;
}

/// Keeps events that can never be handled, with the reason, where people look (the events
/// dead-letter queue) and can send them again.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    async fn keep(&self, event: &str, reason: &str) -> Result<(), StoreError>;
}

/// A bucket's event notification rules (S3's notification configuration).
#[async_trait]
pub trait BucketEvents: Send + Sync {
    async fn rules(&self, bucket: &str) -> Result<Vec<EventRule>, StoreError>;
    /// Adds `add` and removes the rules with the ids `remove`, keeping everything else the
    /// bucket's configuration holds.
    async fn change(&self, bucket: &str, add: &[EventRule], remove: &[String]) -> Result<(), StoreError>;
}

/// A message kept in a dead-letter queue.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeadLetter {
    pub id: String,
    pub body: String,
    /// Why it was kept, when that was said (`mediaflow-reason`).
    pub reason: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// How often it was received (listed, or read back) so far.
    pub receive_count: u32,
    /// Handle for removing it (valid for this reading only).
    #[serde(skip)]
    pub receipt: String,
}

/// A dead-letter queue as people look at it: read without taking, removed once handled.
#[async_trait]
pub trait DeadLetterQueue: Send + Sync {
    /// Up to `max` messages; they stay in the queue (visible again at once).
    async fn peek(&self, max: usize) -> Result<Vec<DeadLetter>, StoreError>;
    /// Up to `max` messages, hidden from other readers for a while, to handle and remove.
    async fn take(&self, max: usize) -> Result<Vec<DeadLetter>, StoreError>;
    async fn remove(&self, letter: &DeadLetter) -> Result<(), StoreError>;
}

/// Sends an event again to the queue the dispatcher reads.
#[async_trait]
pub trait EventQueue: Send + Sync {
    async fn send(&self, body: &str) -> Result<(), StoreError>;
}

/// A watermark image fetched for a task, with its size in pixels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatermarkImage {
    pub path: PathBuf,
    pub width: u32,
    pub height: u32,
}

/// Where a render reports how far it got, as a fraction of its work (0.0 to 1.0).
#[derive(Clone)]
pub struct ProgressMeter(Arc<dyn Fn(f64) + Send + Sync>);

impl ProgressMeter {
    pub fn new(report: impl Fn(f64) + Send + Sync + 'static) -> Self {
        Self(Arc::new(report))
    }

    pub fn report(&self, fraction: f64) {
        (self.0)(fraction.clamp(0.0, 1.0));
    }
}

impl std::fmt::Debug for ProgressMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressMeter")
    }
}

/// A task's work: what the worker hands the media tool.
#[derive(Debug)]
pub struct RenderRequest<'a> {
    pub spec: &'a TaskSpec,
    /// The outputs' names, for outputs that name each other (playlists).
    pub names: OutputNames<'a>,
    /// The upload, read as the render goes (never copied to disk first).
    pub upload: Arc<StoredObject>,
    /// One part of a chunked transcode, or (`None`) the whole task.
    pub part: Option<Part>,
    pub source: &'a MediaInfo,
    /// The job's limits; what is decoded is held to them too (a header may not tell).
    pub limits: &'a Limits,
    /// Local copies of the spec's image watermarks, in the order of its watermarks (text
    /// watermarks have no entry).
    pub watermark_images: &'a [WatermarkImage],
    /// Where outputs are written; the caller removes it.
    pub workdir: &'a Path,
    /// When rendering must have stopped (the invocation's deadline less a margin for the
    /// uploads); past it the render fails with `InternalError.Timeout`.
    pub stop_by: Option<DateTime<Utc>>,
    pub progress: Option<ProgressMeter>,
}

/// What a render made: the files, and what went wrong without failing it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rendered {
    pub files: Vec<RenderedFile>,
    pub warnings: Vec<String>,
}

/// A file the media tool wrote and checked, and which of the task's outputs it is.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedFile {
    pub path: PathBuf,
    pub slot: OutputSlot,
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

/// What probing an upload found, and how much of it was read to find out.
#[derive(Clone, Debug, PartialEq)]
pub struct Probed {
    pub media: MediaInfo,
    pub bytes_read: u64,
}

/// Why probing failed, and how much of the upload was read to find out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{failure}")]
pub struct ProbeFailure {
    pub failure: MediaFailure,
    pub bytes_read: u64,
}

/// Probes and renders media (ffmpeg).
#[async_trait]
pub trait MediaTool: Send + Sync {
    /// Probes a stored upload with ranged reads: headers, and where it really ends.
    async fn probe(&self, source: Arc<StoredObject>) -> Result<Probed, ProbeFailure>;
    /// For each of `times` (seconds from `start`, the source's first timestamp), the video
    /// keyframe a seek to it lands on, also from `start`; `None` where that is not known.
    async fn keyframes(
        &self,
        source: Arc<StoredObject>,
        start: f64,
        times: &[f64],
    ) -> Result<Vec<Option<f64>>, MediaFailure>;
    /// Renders a task, or one part of a chunked transcode.
    async fn render(&self, request: &RenderRequest<'_>) -> Result<Rendered, MediaFailure>;
    /// Joins the rendered parts of a chunked task into its outputs.
    async fn join(&self, request: &JoinRequest<'_>) -> Result<Rendered, MediaFailure>;
}

/// The parts of a chunked task, on local files: what the worker hands the media tool to join.
#[derive(Debug)]
pub struct JoinRequest<'a> {
    pub spec: &'a TaskSpec,
    pub names: OutputNames<'a>,
    /// The source's probe: what a ladder was decided on.
    pub source: &'a MediaInfo,
    /// The video chunks in order, each a file directly in `workdir`.
    pub chunks: &'a [PathBuf],
    pub audio: Option<&'a Path>,
    pub limits: &'a Limits,
    /// Where the output is written; the caller removes it.
    pub workdir: &'a Path,
    pub stop_by: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3s_permanent_refusals_are_invalid_input_and_the_rest_ours() {
        let denied =
            StoreError::AccessDenied("s3://b/k: AccessDenied: Access Denied".into()).task_error("write s3://b/k");
        assert_eq!(denied.code, ErrorCode::AccessDenied);
        assert_eq!(denied.message, "cannot write s3://b/k: access denied (s3://b/k: AccessDenied: Access Denied)");
        assert_eq!(StoreError::NoSuchBucket("b".into()).task_error("write s3://b/k").code, ErrorCode::BucketNotFound);
        let ours = StoreError::Unavailable("SlowDown: slow down".into()).task_error("read the upload");
        assert_eq!(
            (ours.code, ours.message.as_str()),
            (ErrorCode::Internal, "cannot read the upload: service unavailable: SlowDown: slow down")
        );
    }
}
