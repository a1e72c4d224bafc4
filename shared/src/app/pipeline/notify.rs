//! Use-case of event notification: a workflow's job events, sent to its target when a job
//! finishes (and, in Change mode, when a task starts or ends). A notification that cannot be
//! sent never fails the job: what came of it is recorded on the job.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::{TimeDelta, Utc};
use tracing::{info, warn};

use crate::domain::event::{EventReason, WorkflowTaskEvent};
use crate::domain::job::{Job, JobId, JobStatus, Task, TaskStatus};
use crate::domain::notification::{Delivery, DeliveryState, NotifyMode};
use crate::ports::{DeliveryError, JobStore, Notifications, StoreError};

/// How a delivery is retried: `attempts` in all, waiting `first_delay` and doubling.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub attempts: usize,
    pub first_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts over about 15 s.
    fn default() -> Self {
        Self { attempts: 5, first_delay: Duration::from_secs(1) }
    }
}

/// How long a worker holds a finish event it is sending before another may send it.
const DELIVERY_LEASE: TimeDelta = TimeDelta::minutes(2);

pub struct Notifier {
    jobs: Arc<dyn JobStore>,
    sender: Arc<dyn Notifications>,
    retry: RetryPolicy,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier").field("retry", &self.retry).finish_non_exhaustive()
    }
}

impl Notifier {
    pub fn new(jobs: Arc<dyn JobStore>, sender: Arc<dyn Notifications>, retry: RetryPolicy) -> Self {
        Self { jobs, sender, retry }
    }

    /// Sends the job's finish event once, if its workflow asked for events and the job is
    /// finished: called by whoever may have finished it (or found it finished), so that an
    /// invocation that died while sending is made good by the next that looks.
    pub async fn job_finished(&self, id: &JobId) -> Result<(), StoreError> {
        let Some(job) = self.jobs.job(id).await? else { return Ok(()) };
        let Some(notification) = &job.notification else { return Ok(()) };
        if job.status != JobStatus::Finish {
            return Ok(());
        }
        let now = Utc::now();
        if !self.jobs.claim_delivery(id, now, now + DELIVERY_LEASE).await? {
            return Ok(());
        }
        let tasks = self.jobs.tasks(id).await?;
        let event = WorkflowTaskEvent::new(&job, &tasks, notification.mode, EventReason::JobFinished, now);
        let (attempts, result) = self.deliver(&job, &event).await;
        let delivery = match result {
            Ok(()) => {
                info!(job_id = %id, attempts, event_id = %event.event_id, "finish event delivered");
                Delivery {
                    state: DeliveryState::Delivered,
                    attempts,
                    error: None,
                    at: Some(Utc::now()),
                    lease_until: None,
                }
            }
            Err(error) => {
                warn!(job_id = %id, attempts, %error, "finish event not delivered");
                Delivery {
                    state: DeliveryState::Failed,
                    attempts,
                    error: Some(error.message),
                    at: Some(Utc::now()),
                    lease_until: None,
                }
            }
        };
        self.jobs.record_delivery(id, &delivery).await
    }

    /// In Change mode, sends the event of `task` having reached `status` (best effort: counted
    /// on the job, delivered or not).
    pub async fn task_changed(&self, job: &Job, task: &Task, status: TaskStatus) -> Result<(), StoreError> {
        if job.notification.as_ref().is_none_or(|n| n.mode != NotifyMode::Change) {
            return Ok(());
        }
        let (Some(job), tasks) = (self.jobs.job(&job.id).await?, self.jobs.tasks(&job.id).await?) else {
            return Ok(());
        };
        let reason = EventReason::TaskChanged { index: task.index, status, attempt: task.hold.attempts };
        let event = WorkflowTaskEvent::new(&job, &tasks, NotifyMode::Change, reason, Utc::now());
        let (attempts, result) = self.deliver(&job, &event).await;
        if let Err(error) = &result {
            warn!(job_id = %job.id, task = task.index, attempts, %error, "change event not delivered");
        }
        self.jobs.count_change(&job.id, result.is_ok()).await
    }

    /// [`Notifier::job_finished`] for `job` as the caller read it (a job's notification is
    /// fixed when it starts, so a job without one costs no read), logging what went wrong
    /// instead of failing the caller: a notification never fails a job.
    pub async fn after_finish(&self, job: &Job) {
        if job.notification.is_none() {
            return;
        }
        if let Err(error) = self.job_finished(&job.id).await {
            warn!(job_id = %job.id, %error, "finish event not handled; the next look at the job sends it");
        }
    }

    /// [`Notifier::task_changed`], logging what went wrong.
    pub async fn after_change(&self, job: &Job, task: &Task, status: TaskStatus) {
        if let Err(error) = self.task_changed(job, task, status).await {
            warn!(job_id = %job.id, task = task.index, %error, "change event not handled");
        }
    }

    /// Sends `event` with retries; how many attempts it took, and the last failure.
    async fn deliver(&self, job: &Job, event: &WorkflowTaskEvent) -> (u32, Result<(), DeliveryError>) {
        let Some(notification) = &job.notification else { return (0, Ok(())) };
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let policy = ExponentialBuilder::default()
            .with_min_delay(self.retry.first_delay)
            .with_max_times(self.retry.attempts.saturating_sub(1))
            .with_jitter();
        let result = (|| async {
            attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.sender.send(&notification.target, event).await
        })
        .retry(policy)
        .when(|error: &DeliveryError| error.retryable)
        .await;
        (attempts.into_inner(), result)
    }
}
