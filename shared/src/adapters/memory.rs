//! In-memory adapters of every port, for unit tests of the use-cases.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::job::{ErrorCode, Job, JobId, JobStatus, Task, TaskError, TaskMessage, TaskStatus};
use crate::domain::media::{MediaInfo, VideoStream};
use crate::domain::object::{ObjectHead, ObjectRef, sequencer_order};
use crate::domain::task::TaskSpec;
use crate::domain::workflow::Workflow;
use crate::ports::{
    Claim, Created, Freshness, JobStore, Lease, MediaFailure, MediaTool, ObjectStore, Progress, RenderRequest,
    Rendered, StoreError, TaskOutcome, TaskQueue, WorkflowStore,
};

#[derive(Default)]
struct State {
    workflows: BTreeMap<String, Workflow>,
    jobs: BTreeMap<JobId, Job>,
    tasks: BTreeMap<(JobId, u32), Task>,
    objects: HashMap<ObjectRef, (Vec<u8>, Option<String>)>,
    sequencers: HashMap<ObjectRef, String>,
    sent: Vec<TaskMessage>,
    probe_failure: Option<ErrorCode>,
    renders: usize,
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
    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().expect("memory state poisoned")
    }

    pub fn put_workflow(&self, workflow: Workflow) {
        self.state().workflows.insert(workflow.name.clone(), workflow);
    }

    pub fn put_object(&self, object: ObjectRef, data: Vec<u8>, marker: Option<String>) {
        self.state().objects.insert(object, (data, marker));
    }

    pub fn marker(&self, object: &ObjectRef) -> Option<String> {
        self.state().objects.get(object).and_then(|(_, marker)| marker.clone())
    }

    pub fn sent(&self) -> Vec<TaskMessage> {
        self.state().sent.clone()
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

    fn end_attempt(&self, task: &Task, outcome: &TaskOutcome, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut state = self.state();
        let stored = state
            .tasks
            .get_mut(&(task.job_id.clone(), task.index))
            .ok_or_else(|| StoreError::Rejected("no such task".into()))?;
        if stored.status != TaskStatus::Processing || stored.attempts != task.attempts {
            return Err(StoreError::Conflict(format!("task {}/{}", task.job_id, task.index)));
        }
        match outcome {
            TaskOutcome::Success(outputs) => {
                stored.status = TaskStatus::Success;
                stored.outputs = outputs.clone();
            }
            TaskOutcome::Fail(error) => {
                stored.status = TaskStatus::Fail;
                stored.error = Some(error.clone());
            }
        }
        stored.finished_at = Some(now);
        stored.lease_until = None;
        Ok(())
    }

    /// As if sending the task had failed.
    pub fn forget_sent(&self, job_id: &JobId, index: u32) {
        if let Some(task) = self.state().tasks.get_mut(&(job_id.clone(), index)) {
            task.sent_at = None;
        }
    }

    /// Every later probe fails with `code`.
    pub fn fail_probe(&self, code: ErrorCode) {
        self.state().probe_failure = Some(code);
    }
}

#[async_trait]
impl WorkflowStore for Memory {
    async fn for_bucket(&self, bucket: &str) -> Result<Vec<Workflow>, StoreError> {
        Ok(self.state().workflows.values().filter(|w| w.trigger.bucket == bucket).cloned().collect())
    }

    async fn get(&self, name: &str) -> Result<Option<Workflow>, StoreError> {
        Ok(self.state().workflows.get(name).cloned())
    }

    async fn list(&self) -> Result<Vec<Workflow>, StoreError> {
        Ok(self.state().workflows.values().cloned().collect())
    }

    async fn save(&self, workflow: &Workflow, previous: Option<&Workflow>) -> Result<(), StoreError> {
        let mut state = self.state();
        let stored = state.workflows.get(&workflow.name).map(|w| w.revision);
        if stored != previous.map(|p| p.revision) {
            return Err(StoreError::Conflict(format!("workflow {}", workflow.name)));
        }
        state.workflows.insert(workflow.name.clone(), workflow.clone());
        Ok(())
    }

    async fn delete(&self, workflow: &Workflow) -> Result<(), StoreError> {
        self.state().workflows.remove(&workflow.name);
        Ok(())
    }
}

#[async_trait]
impl JobStore for Memory {
    async fn create(&self, job: &Job, tasks: &[Task]) -> Result<Created, StoreError> {
        let mut state = self.state();
        if state.jobs.contains_key(&job.id) {
            return Ok(Created::Existing);
        }
        state.jobs.insert(job.id.clone(), job.clone());
        for task in tasks {
            state.tasks.insert((job.id.clone(), task.index), task.clone());
        }
        Ok(Created::New)
    }

    async fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        Ok(self.state().jobs.get(id).cloned())
    }

    async fn tasks(&self, id: &JobId) -> Result<Vec<Task>, StoreError> {
        Ok(self.state().tasks.iter().filter(|((job, _), _)| job == id).map(|(_, t)| t.clone()).collect())
    }

    async fn mark_sent(&self, id: &JobId, index: u32, at: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(task) = self.state().tasks.get_mut(&(id.clone(), index)) {
            task.sent_at.get_or_insert(at);
        }
        Ok(())
    }

    async fn record_sequencer(&self, object: &ObjectRef, sequencer: &str) -> Result<Freshness, StoreError> {
        let mut state = self.state();
        match state.sequencers.get(object) {
            Some(newest) if sequencer_order(newest) > sequencer_order(sequencer) => {
                Ok(Freshness::Stale { newest: newest.clone() })
            }
            _ => {
                state.sequencers.insert(object.clone(), sequencer.to_owned());
                Ok(Freshness::Newest)
            }
        }
    }

    async fn claim(&self, id: &JobId, index: u32, lease: &Lease) -> Result<Claim, StoreError> {
        let (now, lease_until) = (lease.now, lease.until);
        let mut state = self.state();
        let Some(task) = state.tasks.get_mut(&(id.clone(), index)) else {
            return Ok(Claim::Missing);
        };
        match (task.status, task.lease_until) {
            (status, _) if status.is_final() => return Ok(Claim::Done(status)),
            (TaskStatus::Processing, Some(until)) if until > now => {
                return Ok(Claim::Busy { lease_until: until });
            }
            _ => {}
        }
        task.status = TaskStatus::Processing;
        task.attempts += 1;
        task.lease_until = Some(lease_until);
        task.started_at = Some(now);
        task.claimed_by = Some(lease.holder.clone());
        let claimed = task.clone();
        if let Some(job) = state.jobs.get_mut(id)
            && job.status == JobStatus::Waiting
        {
            job.status = JobStatus::Processing;
        }
        Ok(Claim::Claimed(Box::new(claimed)))
    }

    async fn record_source(&self, id: &JobId, source: &MediaInfo) -> Result<(), StoreError> {
        if let Some(job) = self.state().jobs.get_mut(id) {
            job.source.get_or_insert_with(|| source.clone());
        }
        Ok(())
    }

    async fn finish(&self, task: &Task, outcome: &TaskOutcome, now: DateTime<Utc>) -> Result<Progress, StoreError> {
        self.end_attempt(task, outcome, now)?;
        self.close(&task.job_id, now).await
    }

    async fn close(&self, id: &JobId, now: DateTime<Utc>) -> Result<Progress, StoreError> {
        let mut state = self.state();
        let open = state.tasks.iter().filter(|((job, _), t)| job == id && !t.status.is_final()).count();
        let job = state.jobs.get_mut(id).ok_or_else(|| StoreError::Rejected("no such job".into()))?;
        if open > 0 || job.status == JobStatus::Finish {
            return Ok(Progress::Open);
        }
        job.status = JobStatus::Finish;
        job.finished_at = Some(now);
        Ok(Progress::JobFinished)
    }

    async fn release(&self, task: &Task, error: &TaskError) -> Result<(), StoreError> {
        if let Some(stored) = self.state().tasks.get_mut(&(task.job_id.clone(), task.index)) {
            stored.status = TaskStatus::Waiting;
            stored.lease_until = None;
            stored.error = Some(error.clone());
        }
        Ok(())
    }
}

#[async_trait]
impl ObjectStore for Memory {
    async fn head(&self, object: &ObjectRef) -> Result<Option<ObjectHead>, StoreError> {
        Ok(self.state().objects.get(object).map(|(data, marker)| ObjectHead {
            size: data.len() as u64,
            etag: None,
            content_type: None,
            produced_by_job: marker.clone(),
        }))
    }

    async fn download(&self, object: &ObjectRef, to: &Path) -> Result<Option<u64>, StoreError> {
        let data = self.state().objects.get(object).map(|(data, _)| data.clone());
        match data {
            Some(data) => {
                std::fs::write(to, &data)?;
                Ok(Some(data.len() as u64))
            }
            None => Ok(None),
        }
    }

    async fn upload(&self, from: &Path, to: &ObjectRef, _content_type: &str, job: &JobId) -> Result<u64, StoreError> {
        let data = std::fs::read(from)?;
        let size = data.len() as u64;
        self.put_object(to.clone(), data, Some(job.to_string()));
        Ok(size)
    }
}

#[async_trait]
impl TaskQueue for Memory {
    async fn enqueue(&self, message: &TaskMessage) -> Result<(), StoreError> {
        self.state().sent.push(message.clone());
        Ok(())
    }
}

/// A media tool that writes placeholder files: one per snapshot time, one otherwise.
#[async_trait]
impl MediaTool for Memory {
    async fn probe(&self, _file: &Path) -> Result<MediaInfo, MediaFailure> {
        if let Some(code) = self.state().probe_failure {
            return Err(MediaFailure::new(code, "probe failed"));
        }
        Ok(MediaInfo {
            container: "fake".into(),
            duration: Some(2.0),
            stream_count: 1,
            video: Some(VideoStream { codec: "h264".into(), width: 64, height: 48, ..VideoStream::default() }),
            ..MediaInfo::default()
        })
    }

    async fn render(&self, request: &RenderRequest<'_>) -> Result<Vec<Rendered>, MediaFailure> {
        self.state().renders += 1;
        let count = match request.spec {
            TaskSpec::Snapshot(spec) => spec.times.len(),
            _ => 1,
        };
        (0..count)
            .map(|number| {
                let path = request.workdir.join(format!("out-{number}.{}", request.spec.format()));
                std::fs::write(&path, b"rendered")
                    .map_err(|e| MediaFailure::new(ErrorCode::Internal, e.to_string()))?;
                Ok(Rendered {
                    path,
                    number,
                    content_type: "application/octet-stream",
                    duration: None,
                    width: Some(64),
                    height: Some(48),
                })
            })
            .collect()
    }
}
