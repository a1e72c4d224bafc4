//! Use-case of the `mediaflow job` commands and the console's job pages: find jobs, show one
//! with its tasks, run its failed (or stuck, or named) tasks again.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use tracing::{info, warn};

use crate::domain::audit;
use crate::domain::error::{ErrorCode, TaskError};
use crate::domain::job::{Job, JobId, JobResult, Task};
use crate::domain::message::{PrepareMessage, WorkerMessage};
use crate::domain::object::ObjectRef;
use crate::ports::{JobFilter, JobPage, JobQueries, JobStore, JobTally, StoreError, TaskQueue};

#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error("no job {0}")]
    NotFound(String),
    #[error("no job for {0}: no workflow processed it (mediaflow match {0} tells which would)")]
    NoJobFor(ObjectRef),
    #[error("{0}")]
    Refused(String),
    #[error("job {0} changed while it was being redone; look at it again")]
    Moved(JobId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// When `--since` or a console filter starts: a time (RFC 3339) or an age before now (`90m`,
/// `2h`, `7d`).
pub fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    let age = humantime::parse_duration(text)
        .map_err(|_| format!("{text:?} is neither a time (2026-11-27T10:00:00Z) nor an age (90m, 2h, 7d)"))?;
    Ok(Utc::now() - chrono::TimeDelta::from_std(age).map_err(|e| e.to_string())?)
}

/// A job with its tasks, as people and programs look at it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobView {
    #[serde(flatten)]
    pub job: Job,
    /// Once finished: SUCCESS when every task succeeded, else FAIL.
    pub result: Option<JobResult>,
    pub tasks: Vec<Task>,
}

impl JobView {
    pub fn new(job: Job, tasks: Vec<Task>) -> Self {
        Self { result: job.result(), job, tasks }
    }
}

/// Which job a command means: its id, or the upload it processed (`s3://bucket/key`: the newest
/// jobs of that key, one per workflow).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobRef {
    Id(JobId),
    Input(ObjectRef),
}

impl JobRef {
    pub fn parse(text: &str) -> JobRef {
        match ObjectRef::parse_url(text) {
            Some(object) => JobRef::Input(object),
            None => JobRef::Id(JobId::from(text.trim().to_owned())),
        }
    }
}

/// The jobs of a deployment.
pub struct Jobs {
    store: Arc<dyn JobStore>,
    queries: Arc<dyn JobQueries>,
}

impl fmt::Debug for Jobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jobs").finish_non_exhaustive()
    }
}

impl Jobs {
    pub fn new(store: Arc<dyn JobStore>, queries: Arc<dyn JobQueries>) -> Self {
        Self { store, queries }
    }

    pub async fn list(&self, filter: &JobFilter) -> Result<JobPage, JobsError> {
        Ok(self.queries.list(filter).await?)
    }

    /// What job `id`'s preparation and tasks used, all told.
    pub async fn usage(&self, id: &JobId) -> Result<crate::domain::usage::Usage, JobsError> {
        Ok(self.store.usage(id).await?)
    }

    pub async fn tally(&self, workflow: Option<&str>, since: DateTime<Utc>, max: u64) -> Result<JobTally, JobsError> {
        Ok(self.queries.tally(workflow, since, max).await?)
    }

    pub async fn get(&self, id: &JobId) -> Result<JobView, JobsError> {
        let mut job = self.store.job(id).await?.ok_or_else(|| JobsError::NotFound(id.to_string()))?;
        let tasks = self.store.tasks(id).await?;
        job.usage = self.store.usage(id).await?;
        Ok(JobView::new(job, tasks))
    }

    /// Runs the failed tasks of a finished job again (`only` one of them, failed or succeeded):
    /// they start from their first attempt, and the job is prepared again if its preparation
    /// failed. A job that is not finished but stuck (no sign of work for `deadline`) has its
    /// open tasks ended as lost first, and run again with the rest. Returns the tasks that run
    /// again.
    pub async fn redo(
        &self,
        id: &JobId,
        only: Option<u32>,
        queue: &dyn TaskQueue,
        deadline: TimeDelta,
    ) -> Result<Vec<u32>, JobsError> {
        let mut view = self.get(id).await?;
        let now = Utc::now();
        if audit::is_stuck(&view.job, &view.tasks, now, deadline) {
            let error = TaskError::new(
                ErrorCode::WorkerLost,
                format!(
                    "no worker showed any progress for {}: ended to run it again",
                    humantime::format_duration(deadline.to_std().unwrap_or_default())
                ),
            );
            for index in audit::open_tasks(&view.tasks) {
                self.store.abandon(id, index, &error, now).await?;
            }
            warn!(job_id = %id, "stuck job's open tasks ended as lost");
            view = self.get(id).await?;
        }
        let indexes = view.job.redo_plan(&view.tasks, only).map_err(JobsError::Refused)?;
        let tasks: Vec<Task> = view.tasks.into_iter().filter(|task| indexes.contains(&task.index)).collect();
        match self.store.reopen(&view.job, &tasks).await {
            Err(StoreError::Conflict(_)) => return Err(JobsError::Moved(id.clone())),
            other => other?,
        }
        // The preparation sends what waits again: a probe first if it never succeeded, a long
        // transcode as its parts.
        queue.enqueue(&WorkerMessage::Prepare(PrepareMessage::new(id.clone()))).await?;
        self.store.mark_prepare_sent(id, Utc::now()).await?;
        info!(job_id = %id, tasks = ?indexes, "tasks sent again");
        Ok(indexes)
    }

    /// The job `reference` names; for an upload, the newest job of each workflow that processed
    /// it (an upload replaced at its key has a job per version).
    pub async fn find(&self, reference: &JobRef) -> Result<Vec<JobView>, JobsError> {
        match reference {
            JobRef::Id(id) => Ok(vec![self.get(id).await?]),
            JobRef::Input(object) => {
                let mut latest: Vec<Job> = Vec::new();
                for job in self.queries.of_input(object).await? {
                    if !latest.iter().any(|seen| seen.workflow == job.workflow) {
                        latest.push(job);
                    }
                }
                if latest.is_empty() {
                    return Err(JobsError::NoJobFor(object.clone()));
                }
                let mut views = Vec::with_capacity(latest.len());
                for mut job in latest {
                    let tasks = self.store.tasks(&job.id).await?;
                    job.usage = self.store.usage(&job.id).await?;
                    views.push(JobView::new(job, tasks));
                }
                Ok(views)
            }
        }
    }
}
