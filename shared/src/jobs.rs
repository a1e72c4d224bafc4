//! Use-case of the `mediaflow job` commands (and of a console to come): find jobs, and show one
//! with its tasks.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::domain::job::{Job, JobId, JobResult, Task};
use crate::domain::object::ObjectRef;
use crate::ports::{JobFilter, JobPage, JobQueries, JobStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error("no job {0}")]
    NotFound(String),
    #[error("no job for {0}: no workflow processed it (mediaflow match {0} tells which would)")]
    NoJobFor(ObjectRef),
    #[error(transparent)]
    Store(#[from] StoreError),
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

    pub async fn get(&self, id: &JobId) -> Result<JobView, JobsError> {
        let job = self.store.job(id).await?.ok_or_else(|| JobsError::NotFound(id.to_string()))?;
        let tasks = self.store.tasks(id).await?;
        Ok(JobView::new(job, tasks))
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
                for job in latest {
                    let tasks = self.store.tasks(&job.id).await?;
                    views.push(JobView::new(job, tasks));
                }
                Ok(views)
            }
        }
    }
}
