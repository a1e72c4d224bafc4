//! The records: workflows (the catalog), jobs and their tasks, the parts of chunked tasks, and
//! the queries people list jobs with.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::StoreError;
use crate::domain::attempt::Lease;
use crate::domain::chunk::ChunkPlan;
use crate::domain::error::TaskError;
use crate::domain::job::{Job, JobId, JobStatus, OutputFile, PartState, Task, TaskStatus, TaskTimings};
use crate::domain::media::MediaInfo;
use crate::domain::notification::Delivery;
use crate::domain::object::ObjectRef;
use crate::domain::usage::Usage;
use crate::domain::workflow::Workflow;

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

/// What a worker holds: a task, or one part of a chunked task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    Task(u32),
    Part { task: u32, number: u32 },
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
    /// Moves the hold of the claimed attempt `attempts` of `held` on to `until` (a running
    /// worker's heartbeat); nothing once the attempt ended or was taken over.
    async fn renew(&self, id: &JobId, held: Held, attempts: u32, until: DateTime<Utc>) -> Result<(), StoreError>;
    /// What the job's preparation and every task used, all told.
    async fn usage(&self, id: &JobId) -> Result<Usage, StoreError>;
    /// Adds what one worker invocation (`run`, one per invocation) used to task `task`
    /// of job `id` and to the job's total, or, for the job's preparation (`None`), to the total
    /// alone. Counted once however often it is repeated; nothing when the record is gone.
    async fn add_usage(&self, id: &JobId, task: Option<u32>, run: &str, usage: &Usage) -> Result<(), StoreError>;
    /// Notes how far the claimed attempt `task.attempts` got (0–100); ignored once it ended.
    async fn record_progress(&self, task: &Task, percent: u8) -> Result<(), StoreError>;
    /// Takes the job's finish event for sending until `until`, unless it was sent already or
    /// another worker's hold on it has not run out; whether it is ours.
    async fn claim_delivery(&self, id: &JobId, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Records what sending the finish event came to.
    async fn record_delivery(&self, id: &JobId, delivery: &Delivery) -> Result<(), StoreError>;
    /// Runs the ended `tasks` of the finished `job` again (as they were read: failed, or
    /// succeeded): they wait again with no attempt made and no outputs, the job waits for them
    /// (and is prepared again if it never was), and its finish event will be sent again.
    /// `Conflict` when the job or one of the tasks moved since it was read.
    async fn reopen(&self, job: &Job, tasks: &[Task]) -> Result<(), StoreError>;
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
    /// Only the jobs of uploads at this object.
    pub input: Option<ObjectRef>,
    pub status: Option<JobStatus>,
    /// Only finished jobs with a failed task.
    pub failed: bool,
    /// Only finished jobs whose every task succeeded.
    pub succeeded: bool,
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

/// How many jobs are in each state, among those created in a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobTally {
    pub waiting: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Counting stopped at its limit: every figure is at least what it says.
    pub partial: bool,
}

impl JobTally {
    /// Counts one job: its status, and whether it finished with a failed task or an error.
    pub fn count(&mut self, status: JobStatus, failed: bool) {
        let figure = match (status, failed) {
            (JobStatus::Waiting, _) => &mut self.waiting,
            (JobStatus::Processing, _) => &mut self.running,
            (JobStatus::Finish, false) => &mut self.succeeded,
            (JobStatus::Finish, true) => &mut self.failed,
        };
        *figure += 1;
    }

    pub fn total(&self) -> u64 {
        self.waiting + self.running + self.succeeded + self.failed
    }
}

/// Finding jobs (indexes, no scans): for people and consoles.
#[async_trait]
pub trait JobQueries: Send + Sync {
    async fn list(&self, filter: &JobFilter) -> Result<JobPage, StoreError>;
    /// The jobs (of `workflow`, or all) created since `since`, by state; at most `max` jobs are
    /// counted (reading only the attributes that tell the state).
    async fn tally(&self, workflow: Option<&str>, since: DateTime<Utc>, max: u64) -> Result<JobTally, StoreError>;
    /// Every job of the uploads at `object`, newest first.
    async fn of_input(&self, object: &ObjectRef) -> Result<Vec<Job>, StoreError>;
}

/// How a task ended.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskOutcome {
    Success { outputs: Vec<OutputFile>, warnings: Vec<String>, timings: TaskTimings },
    Fail(TaskError),
}
