//! Use-case of the worker's dead-letter queue: a worker invocation that failed on its last
//! attempt without recording an outcome (killed at its timeout, out of memory) would leave its
//! task PROCESSING or WAITING for ever. Its task, or for a lost preparation every task not
//! started, fails with `InternalError.WorkerLost`, and the job closes and notifies as usual.

use std::fmt;
use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;
use tracing::{error, info};

use crate::app::pipeline::notify::Notifier;
use crate::domain::error::{ErrorCode, TaskError};
use crate::domain::job::JobId;
use crate::domain::message::WorkerMessage;
use crate::ports::{JobStore, Progress, StoreError};

/// A worker invocation Lambda gave up on: its message, and why (as Lambda's on-failure record
/// says).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostInvocation {
    pub message: WorkerMessage,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Recovered {
    pub job_id: JobId,
    pub job_finished: bool,
}

pub struct Recovery {
    jobs: Arc<dyn JobStore>,
    notifier: Arc<Notifier>,
}

impl fmt::Debug for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recovery").finish_non_exhaustive()
    }
}

impl Recovery {
    pub fn new(jobs: Arc<dyn JobStore>, notifier: Arc<Notifier>) -> Self {
        Self { jobs, notifier }
    }

    /// Records what a lost invocation never could; nothing changes where it did (a task that
    /// ended, a job whose tasks all ended).
    pub async fn lost(&self, lost: &LostInvocation) -> Result<Recovered, StoreError> {
        let now = Utc::now();
        let (job_id, progress) = match &lost.message {
            WorkerMessage::Task(message) => {
                let part = message.part.map(|part| format!(" on part {part}")).unwrap_or_default();
                let error = TaskError::new(
                    ErrorCode::WorkerLost,
                    format!(
                        "the worker stopped without recording an outcome{part} on its last attempt ({})",
                        lost.reason
                    ),
                );
                (&message.job_id, self.jobs.abandon(&message.job_id, message.task, &error, now).await?)
            }
            WorkerMessage::Prepare(message) => {
                let error = TaskError::new(
                    ErrorCode::WorkerLost,
                    format!("the job's preparation stopped without an outcome on its last attempt ({})", lost.reason),
                );
                (&message.job_id, self.jobs.fail_waiting(&message.job_id, &error, now).await?)
            }
        };
        let job_finished = progress == Progress::JobFinished;
        if job_finished {
            error!(job_id = %job_id, reason = %lost.reason, "lost worker invocation recorded; job finished");
            if let Some(job) = self.jobs.job(job_id).await? {
                self.notifier.after_finish(&job).await;
            }
        } else {
            info!(job_id = %job_id, reason = %lost.reason, "lost worker invocation: nothing left open");
        }
        Ok(Recovered { job_id: job_id.clone(), job_finished })
    }
}
