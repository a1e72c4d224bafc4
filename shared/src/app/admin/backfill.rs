//! Use-case of `mediaflow process` (MPS ProcessMedia): run a workflow on objects that already
//! exist under a prefix, a bounded number at a time. Idempotent: an object this workflow
//! processed already (a job for the same key and entity tag, from an event or an earlier
//! backfill) is not processed again, and running a backfill twice starts each job once.

use std::fmt;
use std::sync::Arc;

use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use tracing::info;

use crate::app::pipeline::dispatch::{Dispatcher, Outcome};
use crate::domain::job::JobId;
use crate::domain::object::{ObjectCreated, ObjectRef};
use crate::domain::workflow::Workflow;
use crate::ports::{JobQueries, ObjectStore, StoreError, WorkflowStore};

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("no workflow named {0:?}")]
    NoWorkflow(String),
    #[error("{prefix} is outside the trigger {trigger} of workflow {workflow:?}")]
    OutsideTrigger { prefix: ObjectRef, trigger: String, workflow: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What became of one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Backfilled {
    /// A new job, handed to a worker.
    Started {
        object: ObjectRef,
        job_id: JobId,
    },
    /// Processed already by this job (same key and entity tag).
    Done {
        object: ObjectRef,
        job_id: JobId,
    },
    Skipped {
        object: ObjectRef,
        reason: String,
    },
}

pub struct Backfill {
    workflows: Arc<dyn WorkflowStore>,
    objects: Arc<dyn ObjectStore>,
    queries: Arc<dyn JobQueries>,
    dispatcher: Dispatcher,
}

impl fmt::Debug for Backfill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backfill").finish_non_exhaustive()
    }
}

impl Backfill {
    pub fn new(
        workflows: Arc<dyn WorkflowStore>,
        objects: Arc<dyn ObjectStore>,
        queries: Arc<dyn JobQueries>,
        dispatcher: Dispatcher,
    ) -> Self {
        Self { workflows, objects, queries, dispatcher }
    }

    /// Runs `workflow` (enabled or not) on every object under `prefix` within its trigger,
    /// `concurrency` at a time; `seen` hears of each object as it is done (and of each page of
    /// keys listed, with its size).
    pub async fn run(
        &self,
        workflow: &str,
        prefix: &ObjectRef,
        concurrency: usize,
        seen: &(dyn Fn(BackfillProgress<'_>) + Sync),
    ) -> Result<Vec<Backfilled>, BackfillError> {
        let workflow = self.workflow_for(workflow, prefix).await?;
        let trigger = &workflow.trigger;
        // The deeper of the two: keys under the prefix and in the trigger.
        let from = if prefix.key.len() > trigger.dir.len() { &prefix.key } else { &trigger.dir };
        let mut results = Vec::new();
        let mut token = None;
        loop {
            let page = self.objects.list(&trigger.bucket, from, token.take()).await?;
            seen(BackfillProgress::Listed(page.objects.len()));
            let done: Vec<Backfilled> = futures::stream::iter(page.objects)
                .map(|listed| self.one(&workflow, ObjectRef::new(&trigger.bucket, listed.key)))
                .buffer_unordered(concurrency.max(1))
                .inspect_ok(|done| seen(BackfillProgress::Done(done)))
                .try_collect()
                .await?;
            results.extend(done);
            match page.next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        info!(workflow = %workflow.name, prefix = %prefix, objects = results.len(), "backfill done");
        Ok(results)
    }

    /// Runs `workflow` (enabled or not) on one object of its trigger.
    pub async fn object(&self, workflow: &str, object: &ObjectRef) -> Result<Backfilled, BackfillError> {
        let workflow = self.workflow_for(workflow, object).await?;
        let done = self.one(&workflow, object.clone()).await?;
        info!(workflow = %workflow.name, %object, ?done, "backfill of one object done");
        Ok(done)
    }

    /// Workflow `name`, if `prefix` reaches into its trigger.
    async fn workflow_for(&self, name: &str, prefix: &ObjectRef) -> Result<Workflow, BackfillError> {
        let workflow = self.workflows.get(name).await?.ok_or_else(|| BackfillError::NoWorkflow(name.to_owned()))?;
        let trigger = &workflow.trigger;
        if prefix.bucket != trigger.bucket
            || !(prefix.key.starts_with(&trigger.dir) || trigger.dir.starts_with(&prefix.key))
        {
            return Err(BackfillError::OutsideTrigger {
                prefix: prefix.clone(),
                trigger: trigger.to_string(),
                workflow: workflow.name,
            });
        }
        Ok(workflow)
    }

    async fn one(&self, workflow: &Workflow, object: ObjectRef) -> Result<Backfilled, StoreError> {
        let skipped = |object: ObjectRef, reason: String| Ok(Backfilled::Skipped { object, reason });
        if object.is_folder_placeholder() {
            return skipped(object, "folder placeholder".into());
        }
        let Some(head) = self.objects.head(&object).await? else {
            return skipped(object, "no longer exists".into());
        };
        if let Some(marker) = head.output_at(&object) {
            return skipped(object, marker.skip_reason());
        }
        let earlier = self.queries.of_input(&object).await?;
        if let Some(job) = earlier.iter().find(|job| job.workflow == workflow.name && job.input_etag == head.etag) {
            return Ok(Backfilled::Done { object, job_id: job.id.clone() });
        }
        let event = ObjectCreated {
            object: object.clone(),
            size: Some(head.size),
            etag: head.etag.clone(),
            version_id: head.version_id.clone(),
            sequencer: None,
            event_time: head.last_modified.unwrap_or_else(Utc::now),
        };
        match self.dispatcher.start(workflow, &event, &head).await? {
            Outcome::Started { job_id, new: true, .. } => Ok(Backfilled::Started { object, job_id }),
            Outcome::Started { job_id, .. } => Ok(Backfilled::Done { object, job_id }),
            Outcome::Skipped { reason, .. } => skipped(object, reason),
        }
    }
}

/// How far a backfill got.
#[derive(Clone, Copy, Debug)]
pub enum BackfillProgress<'a> {
    /// A page of this many keys was listed.
    Listed(usize),
    Done(&'a Backfilled),
}
