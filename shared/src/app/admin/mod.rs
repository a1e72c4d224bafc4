//! Administration: what people do with a deployment, from the CLI or the console, through one
//! facade, [`Admin`]. Workflows ([`catalog`]), buckets and their connection ([`buckets`]), jobs
//! found, shown and redone ([`jobs`]), what they cost ([`costs`]), workflows run on existing objects ([`backfill`]), the
//! dead-letter queues ([`dead_letters`]), why an upload would or would not run ([`explain`]),
//! and whether the deployment kept its promise ([`audit`]), with the repairs.
//!
//! Imports the domain, the ports and the pipeline's dispatch (a backfill starts jobs as the
//! dispatcher does); never an adapter: [`wiring`](crate::wiring) hands the facade its ports.

pub mod audit;
pub mod backfill;
pub mod buckets;
pub mod catalog;
pub mod costs;
pub mod dead_letters;
pub mod explain;
pub mod jobs;

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use self::audit::{AuditOptions, Auditor};
use self::backfill::{Backfill, BackfillError, BackfillProgress, Backfilled};
use self::buckets::{BucketError, Buckets, StackBuckets};
use self::catalog::{Applied, Catalog, CatalogError};
use self::dead_letters::{DeadLetterAdmin, Redriven, Which};
use self::explain::{Explainer, Match};
use self::jobs::{JobRef, JobView, Jobs, JobsError};
use crate::domain::audit::{self as promise, AuditReport, Repair};
use crate::domain::connection::Connection;
use crate::domain::cost::{CostBy, CostReport, Prices};
use crate::domain::job::JobId;
use crate::domain::object::ObjectRef;
use crate::domain::workflow::{Workflow, WorkflowSpec};
use crate::ports::{DeadLetter, Files, JobFilter, JobPage, JobTally, StoreError, TaskQueue};

/// A resource of the deployment that an administrative action needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    WorkflowsTable,
    JobsTable,
    /// The worker function, which redone tasks and backfilled jobs start.
    WorkerFunction,
    /// The events queue's ARN, which connected buckets notify.
    EventsQueueArn,
    /// The events queue's URL, where redriven events go.
    EventsQueueUrl,
    EventsDlqUrl,
    WorkerDlqUrl,
}

impl Resource {
    pub const ALL: [Resource; 7] = [
        Resource::WorkflowsTable,
        Resource::JobsTable,
        Resource::WorkerFunction,
        Resource::EventsQueueArn,
        Resource::EventsQueueUrl,
        Resource::EventsDlqUrl,
        Resource::WorkerDlqUrl,
    ];

    /// In words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Resource::WorkflowsTable => "the workflows table",
            Resource::JobsTable => "the jobs table",
            Resource::WorkerFunction => "the worker function",
            Resource::EventsQueueArn => "the events queue's ARN",
            Resource::EventsQueueUrl => "the events queue's URL",
            Resource::EventsDlqUrl => "the events dead-letter queue",
            Resource::WorkerDlqUrl => "the worker's dead-letter queue",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The deployment does not say where a resource the action needs is.
    #[error("{} not known", .0.describe())]
    NotConfigured(Resource),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Buckets(#[from] BucketError),
    #[error(transparent)]
    Jobs(#[from] JobsError),
    #[error(transparent)]
    Backfill(#[from] BackfillError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One use-case of the facade, or the first resource it lacks.
pub type Part<T> = Result<T, Resource>;

/// Whether enabling a workflow first checks that its trigger bucket's uploads reach mediaflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketCheck {
    Required,
    /// The bucket's events reach the events queue another way (an EventBridge rule, say).
    Skip,
}

/// What applying a workflow did, and what still keeps its uploads from running.
#[derive(Debug)]
pub struct ApplyOutcome {
    pub applied: Applied,
    pub workflow: Workflow,
    /// Not refused: a workflow is applied disabled, and its bucket may be connected next.
    pub warning: Option<String>,
}

/// Everything people do with a deployment. Each part is there when the deployment names the
/// resources it needs; an action on a missing part fails with [`AdminError::NotConfigured`].
pub struct Admin {
    pub catalog: Part<Catalog>,
    pub buckets: Part<Buckets>,
    pub jobs: Part<Jobs>,
    /// The worker, which redone jobs are sent to.
    pub worker: Part<Arc<dyn TaskQueue>>,
    pub backfill: Part<Backfill>,
    pub dead_letters: Part<DeadLetterAdmin>,
    pub explainer: Part<Explainer>,
    pub auditor: Part<Auditor>,
    /// Buckets as people browse them (always there: it needs only S3).
    pub files: Arc<dyn Files>,
    /// The buckets the stack's functions may read and write, where known.
    pub stack_buckets: StackBuckets,
    /// What jobs are costed at.
    pub prices: Prices,
}

impl fmt::Debug for Admin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admin").finish_non_exhaustive()
    }
}

fn part<T>(part: &Part<T>) -> Result<&T, AdminError> {
    part.as_ref().map_err(|missing| AdminError::NotConfigured(*missing))
}

impl Admin {
    pub fn catalog(&self) -> Result<&Catalog, AdminError> {
        part(&self.catalog)
    }

    pub fn buckets(&self) -> Result<&Buckets, AdminError> {
        part(&self.buckets)
    }

    pub fn jobs(&self) -> Result<&Jobs, AdminError> {
        part(&self.jobs)
    }

    /// Creates the workflow (disabled) or replaces the one with its name; warns when its
    /// trigger bucket's uploads do not reach mediaflow yet.
    pub async fn apply(&self, spec: WorkflowSpec) -> Result<ApplyOutcome, AdminError> {
        let (applied, workflow) = self.catalog()?.apply(spec).await?;
        let warning = match &self.buckets {
            Ok(buckets) => buckets.check(&workflow.trigger).await.err().map(|not_connected| not_connected.to_string()),
            Err(_) => None,
        };
        Ok(ApplyOutcome { applied, workflow, warning })
    }

    /// Enables a workflow: only objects created from now on are processed. Refused while the
    /// trigger bucket's uploads do not reach mediaflow, unless `check` says to skip that.
    pub async fn enable(&self, name: &str, check: BucketCheck) -> Result<Workflow, AdminError> {
        let catalog = self.catalog()?;
        if check == BucketCheck::Required {
            let workflow = catalog.get(name).await?;
            self.buckets()?.check(&workflow.trigger).await?;
        }
        Ok(catalog.enable(name).await?)
    }

    pub async fn disable(&self, name: &str) -> Result<Workflow, AdminError> {
        Ok(self.catalog()?.disable(name).await?)
    }

    pub async fn workflow(&self, name: &str) -> Result<Workflow, AdminError> {
        Ok(self.catalog()?.get(name).await?)
    }

    pub async fn workflows(&self) -> Result<Vec<Workflow>, AdminError> {
        Ok(self.catalog()?.list().await?)
    }

    /// Deletes a workflow; its jobs stay.
    pub async fn delete(&self, name: &str) -> Result<Workflow, AdminError> {
        Ok(self.catalog()?.delete(name).await?)
    }

    pub async fn connect(&self, bucket: &str, prefixes: &[String]) -> Result<Connection, AdminError> {
        Ok(self.buckets()?.connect(bucket, prefixes).await?)
    }

    pub async fn bucket_status(&self, bucket: &str) -> Result<Connection, AdminError> {
        Ok(self.buckets()?.status(bucket).await?)
    }

    pub async fn disconnect(&self, bucket: &str) -> Result<Connection, AdminError> {
        Ok(self.buckets()?.disconnect(bucket).await?)
    }

    pub async fn list_jobs(&self, filter: &JobFilter) -> Result<JobPage, AdminError> {
        Ok(self.jobs()?.list(filter).await?)
    }

    /// How many jobs (of `workflow`, or all) created since `since` are in each state, counting
    /// at most `max`.
    pub async fn tally_jobs(
        &self,
        workflow: Option<&str>,
        since: DateTime<Utc>,
        max: u64,
    ) -> Result<JobTally, AdminError> {
        Ok(self.jobs()?.tally(workflow, since, max).await?)
    }

    pub async fn job(&self, id: &JobId) -> Result<JobView, AdminError> {
        Ok(self.jobs()?.get(id).await?)
    }

    /// What the jobs created since `since` cost, grouped `by`, at [`Admin::prices`].
    pub async fn cost(&self, since: DateTime<Utc>, by: CostBy) -> Result<CostReport, AdminError> {
        Ok(costs::report(self.jobs()?, &self.prices, since, by).await?)
    }

    /// The job a reference names, or the newest job of each workflow for an upload.
    pub async fn find_jobs(&self, reference: &JobRef) -> Result<Vec<JobView>, AdminError> {
        Ok(self.jobs()?.find(reference).await?)
    }

    /// Runs a finished job's failed tasks again (`only` one of them, failed or succeeded), or a
    /// stuck job's open ones; the tasks sent again.
    pub async fn redo(&self, id: &JobId, only: Option<u32>) -> Result<Vec<u32>, AdminError> {
        self.redo_within(id, only, promise::DEFAULT_DEADLINE).await
    }

    /// [`Admin::redo`], with a job counted as stuck after `deadline` without a sign of work.
    async fn redo_within(&self, id: &JobId, only: Option<u32>, deadline: TimeDelta) -> Result<Vec<u32>, AdminError> {
        let worker = part(&self.worker)?;
        Ok(self.jobs()?.redo(id, only, worker.as_ref(), deadline).await?)
    }

    /// Which workflows an upload of `object` would start, and the keys each would write.
    pub async fn explain(&self, object: &ObjectRef) -> Result<Vec<Match>, AdminError> {
        Ok(part(&self.explainer)?.explain(object, Utc::now()).await?)
    }

    /// Runs `workflow` on the objects under `prefix`, `concurrency` at a time.
    pub async fn backfill(
        &self,
        workflow: &str,
        prefix: &ObjectRef,
        concurrency: usize,
        seen: &(dyn Fn(BackfillProgress<'_>) + Sync),
    ) -> Result<Vec<Backfilled>, AdminError> {
        Ok(part(&self.backfill)?.run(workflow, prefix, concurrency, seen).await?)
    }

    /// The buckets, one level of a bucket, and signed links for a browser: see [`Files`].
    pub fn files(&self) -> &dyn Files {
        self.files.as_ref()
    }

    /// Creates a bucket and connects it, so that its uploads reach mediaflow at once.
    pub async fn create_bucket(&self, bucket: &str) -> Result<Connection, AdminError> {
        self.files.create_bucket(bucket).await?;
        self.connect(bucket, &[]).await
    }

    /// Runs `workflow` on one existing object (the console's "run it now").
    pub async fn backfill_object(&self, workflow: &str, object: &ObjectRef) -> Result<Backfilled, AdminError> {
        Ok(part(&self.backfill)?.object(workflow, object).await?)
    }

    /// Reads the uploads, the job records and the outputs side by side: what breaks the promise.
    pub async fn audit(&self, options: &AuditOptions) -> Result<AuditReport, AdminError> {
        Ok(part(&self.auditor)?.run(options, Utc::now()).await?)
    }

    /// Carries out one repair an audit named (idempotent); what it did, in words.
    pub async fn repair(&self, repair: &Repair, deadline: TimeDelta) -> Result<String, AdminError> {
        match repair {
            Repair::Process { workflow, object } => Ok(match self.backfill_object(workflow, object).await? {
                Backfilled::Started { job_id, .. } => format!("started job {job_id}"),
                Backfilled::Done { job_id, .. } => format!("job {job_id} had processed it already"),
                Backfilled::Skipped { reason, .. } => format!("skipped: {reason}"),
            }),
            Repair::Redo { job_id, task } => {
                let rerun = self.redo_within(job_id, *task, deadline).await?;
                Ok(format!("task {} sent again", rerun.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")))
            }
            Repair::DeletePart { object } => {
                part(&self.auditor)?.delete_part(object).await?;
                Ok("removed".to_owned())
            }
            Repair::AbortUpload { object, id } => {
                part(&self.auditor)?.abort_upload(object, id).await?;
                Ok("dropped with its parts".to_owned())
            }
        }
    }

    pub async fn dead_letters(&self, which: Which, max: usize) -> Result<Vec<DeadLetter>, AdminError> {
        Ok(part(&self.dead_letters)?.list(which, max).await?)
    }

    pub async fn redrive(&self, which: Which, max: usize) -> Result<Redriven, AdminError> {
        Ok(part(&self.dead_letters)?.redrive(which, max).await?)
    }
}
