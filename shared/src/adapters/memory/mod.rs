//! In-memory adapters of every port, for unit tests of the use-cases: one shared state
//! ([`Memory`]) behind the records ([`records`]), the objects ([`objects`]) and the media tool,
//! queues and event targets ([`media`]).
//!
//! Imports the domain and the ports only.

mod media;
mod objects;
mod records;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::domain::error::ErrorCode;
use crate::domain::event::WorkflowTaskEvent;
use crate::domain::job::{Job, JobId, PartState, Task, TaskStatus};
use crate::domain::message::WorkerMessage;
use crate::domain::object::{ObjectCreated, ObjectRef, OutputMarker};
use crate::domain::workflow::Workflow;
use crate::ports::{JobStore, ObjectStore, StoreError, TaskOutcome};

/// An object in memory: its bytes, entity tag, marker and when it was written.
#[derive(Clone)]
pub(super) struct Stored {
    pub(super) data: Vec<u8>,
    pub(super) etag: String,
    pub(super) marker: Option<OutputMarker>,
    pub(super) written_at: DateTime<Utc>,
}

/// An object being written in parts.
pub(super) struct InParts {
    pub(super) to: ObjectRef,
    pub(super) marker: OutputMarker,
    pub(super) parts: BTreeMap<u32, bytes::Bytes>,
    pub(super) begun: DateTime<Utc>,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) catalog_version: u64,
    pub(super) workflows: BTreeMap<String, Workflow>,
    pub(super) jobs: BTreeMap<JobId, Job>,
    pub(super) tasks: BTreeMap<(JobId, u32), Task>,
    pub(super) parts: BTreeMap<(JobId, u32, u32), PartState>,
    pub(super) objects: HashMap<ObjectRef, Stored>,
    pub(super) buckets: std::collections::BTreeSet<String>,
    pub(super) origins: BTreeMap<String, std::collections::BTreeSet<String>>,
    pub(super) puts: u64,
    pub(super) sequencers: HashMap<ObjectRef, String>,
    pub(super) sent: Vec<WorkerMessage>,
    pub(super) probe_failure: Option<ErrorCode>,
    pub(super) render_failure: Option<ErrorCode>,
    /// Tunings still to fail as an upload that cannot be read does.
    pub(super) failing_tunes: usize,
    /// Writes still to be carried out with their answer lost (the retry sees a conflict).
    pub(super) lost_put_answers: usize,
    /// Objects being written in parts, by upload id: where to, with what marker, the parts.
    pub(super) in_parts: HashMap<String, InParts>,
    /// Part writes still to be refused (as S3 answers a failing request).
    pub(super) failing_parts: usize,
    /// Buckets whose objects cannot be read (as S3 answers a role without the permission).
    pub(super) denied: std::collections::BTreeSet<String>,
    pub(super) probes: usize,
    pub(super) renders: usize,
    pub(super) notified: Vec<WorkflowTaskEvent>,
    /// Each job's total usage.
    pub(super) usage: BTreeMap<JobId, crate::domain::usage::Usage>,
    /// The invocations whose usage was added: (job, task, run).
    pub(super) usage_runs: std::collections::BTreeSet<(JobId, Option<u32>, String)>,
}

/// Every port in one shared, cloneable in-memory state.
#[derive(Clone, Default)]
pub struct Memory(Arc<Mutex<State>>);

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memory")
    }
}

impl Memory {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().expect("memory state poisoned")
    }

    /// Every event sent so far.
    pub fn notified(&self) -> Vec<WorkflowTaskEvent> {
        self.state().notified.clone()
    }

    pub fn put_workflow(&self, workflow: Workflow) {
        self.state().workflows.insert(workflow.name.clone(), workflow);
    }

    /// The job the dispatcher creates for an upload of `data` at `key` in the trigger bucket of
    /// `workflow` (uploaded now).
    pub async fn job_for_upload(&self, workflow: &Workflow, key: &str, data: &[u8]) -> JobId {
        let object = ObjectRef::new(&workflow.trigger.bucket, key);
        self.put_object(object.clone(), data.to_vec(), None);
        let head = self.head(&object).await.ok().flatten().unwrap_or_default();
        let event = ObjectCreated {
            object,
            size: Some(data.len() as u64),
            etag: None,
            version_id: None,
            sequencer: None,
            event_time: Utc::now(),
        };
        let (job, tasks) = Job::start(workflow, &event, &head, Utc::now());
        self.create(&job, &tasks).await.expect("in memory");
        job.id
    }

    pub fn put_object(&self, object: ObjectRef, data: Vec<u8>, marker: Option<OutputMarker>) {
        let mut state = self.state();
        state.puts += 1;
        let etag = format!("\"{}\"", state.puts);
        state.objects.insert(object, Stored { data, etag, marker, written_at: Utc::now() });
    }

    /// The origins whose pages may use `bucket`'s signed links.
    pub fn allowed_origins(&self, bucket: &str) -> Vec<String> {
        self.state().origins.get(bucket).map(|o| o.iter().cloned().collect()).unwrap_or_default()
    }

    pub fn object(&self, object: &ObjectRef) -> Option<Vec<u8>> {
        self.state().objects.get(object).map(|stored| stored.data.clone())
    }

    pub fn marker(&self, object: &ObjectRef) -> Option<OutputMarker> {
        self.state().objects.get(object).and_then(|stored| stored.marker.clone())
    }

    pub fn sent(&self) -> Vec<WorkerMessage> {
        self.state().sent.clone()
    }

    pub fn probe_count(&self) -> usize {
        self.state().probes
    }

    pub fn job_count(&self) -> usize {
        self.state().jobs.len()
    }

    pub fn render_count(&self) -> usize {
        self.state().renders
    }

    pub fn change_job(&self, id: &JobId, change: impl FnOnce(&mut Job)) {
        if let Some(job) = self.state().jobs.get_mut(id) {
            change(job);
        }
    }

    pub fn change_task(&self, id: &JobId, index: u32, change: impl FnOnce(&mut Task)) {
        if let Some(task) = self.state().tasks.get_mut(&(id.clone(), index)) {
            change(task);
        }
    }

    pub(super) fn end_attempt(&self, task: &Task, outcome: &TaskOutcome, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut state = self.state();
        let stored = state
            .tasks
            .get_mut(&(task.job_id.clone(), task.index))
            .ok_or_else(|| StoreError::Rejected("no such task".into()))?;
        if stored.status != TaskStatus::Processing || stored.hold.attempts != task.hold.attempts {
            return Err(StoreError::Conflict(format!("task {}/{}", task.job_id, task.index)));
        }
        match outcome {
            TaskOutcome::Success { outputs, warnings, timings } => {
                stored.status = TaskStatus::Success;
                stored.outputs = outputs.clone();
                stored.warnings = warnings.clone();
                stored.timings = Some(*timings);
                stored.progress = Some(100);
            }
            TaskOutcome::Fail(error) => {
                stored.status = TaskStatus::Fail;
                stored.error = Some(error.clone());
            }
        }
        stored.finished_at = Some(now);
        stored.hold.lease_until = None;
        Ok(())
    }

    /// Every later probe fails with `code`.
    pub fn fail_probe(&self, code: ErrorCode) {
        self.state().probe_failure = Some(code);
    }

    /// The next `count` object writes happen, but their callers hear of a conflict instead,
    /// as a conditional PUT retried after its answer was lost does.
    pub fn lose_put_answers(&self, count: usize) {
        self.state().lost_put_answers = count;
    }

    /// Every later read of `bucket`'s objects (HEAD included) is refused with AccessDenied.
    pub fn deny_reads(&self, bucket: &str) {
        self.state().denied.insert(bucket.to_owned());
    }

    /// Every later render fails with `code`.
    pub fn fail_render(&self, code: ErrorCode) {
        self.state().render_failure = Some(code);
    }

    /// The next `count` tunings fail their attempt, as when the upload cannot be read.
    pub fn fail_tunes(&self, count: usize) {
        self.state().failing_tunes = count;
    }
}
