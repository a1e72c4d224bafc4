//! In-memory adapters of every port, for unit tests of the use-cases.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;

use crate::domain::attempt::Lease;
use crate::domain::chunk::ChunkPlan;
use crate::domain::error::{ErrorCode, TaskError};
use crate::domain::event::WorkflowTaskEvent;
use crate::domain::job::{Job, JobId, JobStatus, PartState, Task, TaskStatus};
use crate::domain::media::{MediaInfo, VideoStream};
use crate::domain::message::WorkerMessage;
use crate::domain::notification::{Delivery, DeliveryState, NotificationTarget};
use crate::domain::object::{ObjectCreated, ObjectHead, ObjectRef, OutputMarker, sequencer_order};
use crate::domain::task::{OutputSlot, TaskSpec};
use crate::domain::workflow::Workflow;
use crate::notify::{Notifier, RetryPolicy};
use crate::ports::{
    ByteStream, CatalogSnapshot, Claim, Created, DeliveryError, Freshness, JobStore, JoinRequest, KeyPage,
    MediaFailure, MediaTool, Notifications, ObjectStore, PartClaim, PartStore, ProbeFailure, Probed, Progress,
    PutCondition, RenderRequest, Rendered, RenderedFile, StoreError, StoredObject, TaskOutcome, TaskQueue,
    WorkflowStore,
};

/// An object in memory: its bytes, entity tag and marker.
#[derive(Clone)]
struct Stored {
    data: Vec<u8>,
    etag: String,
    marker: Option<OutputMarker>,
}

#[derive(Default)]
struct State {
    catalog_version: u64,
    workflows: BTreeMap<String, Workflow>,
    jobs: BTreeMap<JobId, Job>,
    tasks: BTreeMap<(JobId, u32), Task>,
    parts: BTreeMap<(JobId, u32, u32), PartState>,
    objects: HashMap<ObjectRef, Stored>,
    puts: u64,
    sequencers: HashMap<ObjectRef, String>,
    sent: Vec<WorkerMessage>,
    probe_failure: Option<ErrorCode>,
    render_failure: Option<ErrorCode>,
    probes: usize,
    renders: usize,
    notified: Vec<WorkflowTaskEvent>,
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

    /// A notifier whose events land in [`Memory::notified`], tried once.
    pub fn notifier(&self) -> Arc<Notifier> {
        let shared = Arc::new(self.clone());
        let once = RetryPolicy { attempts: 1, first_delay: std::time::Duration::ZERO };
        Arc::new(Notifier::new(shared.clone(), shared, once))
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
        state.objects.insert(object, Stored { data, etag, marker });
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

    fn end_attempt(&self, task: &Task, outcome: &TaskOutcome, now: DateTime<Utc>) -> Result<(), StoreError> {
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

    /// Every later render fails with `code`.
    pub fn fail_render(&self, code: ErrorCode) {
        self.state().render_failure = Some(code);
    }
}

#[async_trait]
impl WorkflowStore for Memory {
    async fn for_key(&self, bucket: &str, key: &str) -> Result<Vec<Workflow>, StoreError> {
        Ok(self.state().workflows.values().filter(|w| w.trigger.contains(bucket, key)).cloned().collect())
    }

    async fn get(&self, name: &str) -> Result<Option<Workflow>, StoreError> {
        Ok(self.state().workflows.get(name).cloned())
    }

    async fn snapshot(&self) -> Result<CatalogSnapshot, StoreError> {
        let snapshot = {
            let state = self.state();
            CatalogSnapshot { version: state.catalog_version, workflows: state.workflows.values().cloned().collect() }
        };
        // Lets concurrent callers read the same version, as they could with a real store.
        tokio::task::yield_now().await;
        Ok(snapshot)
    }

    async fn save(&self, workflow: &Workflow, previous: Option<&Workflow>, version: u64) -> Result<(), StoreError> {
        let mut state = self.state();
        let stored = state.workflows.get(&workflow.name).map(|w| w.revision);
        if stored != previous.map(|p| p.revision) || state.catalog_version != version {
            return Err(StoreError::Conflict(format!("workflow {}", workflow.name)));
        }
        state.catalog_version += 1;
        state.workflows.insert(workflow.name.clone(), workflow.clone());
        Ok(())
    }

    async fn delete(&self, workflow: &Workflow, version: u64) -> Result<(), StoreError> {
        let mut state = self.state();
        if state.catalog_version != version {
            return Err(StoreError::Conflict(format!("workflow {}", workflow.name)));
        }
        state.catalog_version += 1;
        state.workflows.remove(&workflow.name);
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

    async fn mark_prepare_sent(&self, id: &JobId, at: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(job) = self.state().jobs.get_mut(id) {
            job.prepare_sent_at.get_or_insert(at);
        }
        Ok(())
    }

    async fn begin_prepare(&self, id: &JobId) -> Result<u32, StoreError> {
        let mut state = self.state();
        let job = state.jobs.get_mut(id).ok_or_else(|| StoreError::Rejected("no such job".into()))?;
        job.prepare_attempts += 1;
        Ok(job.prepare_attempts)
    }

    async fn fail_waiting(&self, id: &JobId, error: &TaskError, now: DateTime<Utc>) -> Result<Progress, StoreError> {
        {
            let mut state = self.state();
            for ((job, _), task) in state.tasks.iter_mut() {
                if job == id && task.status == TaskStatus::Waiting {
                    task.status = TaskStatus::Fail;
                    task.error = Some(error.clone());
                    task.finished_at = Some(now);
                }
            }
        }
        self.close(id, now).await
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
        match (task.status, task.hold.lease_until) {
            (status, _) if status.is_final() => return Ok(Claim::Done(status)),
            (TaskStatus::Processing, Some(until)) if until > now => {
                return Ok(Claim::Busy { lease_until: until });
            }
            _ => {}
        }
        task.status = TaskStatus::Processing;
        task.hold.attempts += 1;
        task.hold.lease_until = Some(lease_until);
        task.started_at.get_or_insert(now);
        task.hold.claimed_by = Some(lease.holder.clone());
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
        let mut failed: Vec<&Task> = state
            .tasks
            .iter()
            .filter(|((job, _), t)| job == id && t.status == TaskStatus::Fail)
            .map(|(_, t)| t)
            .collect();
        failed.sort_by_key(|t| t.index);
        let (count, error) = (failed.len() as u32, failed.first().and_then(|t| t.error.clone()));
        let job = state.jobs.get_mut(id).ok_or_else(|| StoreError::Rejected("no such job".into()))?;
        job.failed_tasks = count;
        job.error = error;
        Ok(Progress::JobFinished)
    }

    async fn claim_delivery(&self, id: &JobId, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut state = self.state();
        let job = state.jobs.get_mut(id).ok_or_else(|| StoreError::Rejected("no such job".into()))?;
        let free = match &job.delivery {
            None => true,
            Some(d) => d.state == DeliveryState::Sending && d.lease_until.is_some_and(|lease| lease < now),
        };
        if free {
            job.delivery = Some(Delivery {
                state: DeliveryState::Sending,
                attempts: 0,
                error: None,
                at: None,
                lease_until: Some(until),
            });
        }
        Ok(free)
    }

    async fn record_delivery(&self, id: &JobId, delivery: &Delivery) -> Result<(), StoreError> {
        if let Some(job) = self.state().jobs.get_mut(id) {
            job.delivery = Some(delivery.clone());
        }
        Ok(())
    }

    async fn reopen(&self, job: &Job, indexes: &[u32]) -> Result<(), StoreError> {
        let mut state = self.state();
        let stored = state.jobs.get_mut(&job.id).ok_or_else(|| StoreError::Rejected("no such job".into()))?;
        if stored.status != JobStatus::Finish || stored.redos != job.redos {
            return Err(StoreError::Conflict(format!("job {}", job.id)));
        }
        stored.status = JobStatus::Waiting;
        stored.redos += 1;
        stored.failed_tasks = stored.failed_tasks.saturating_sub(indexes.len() as u32);
        stored.finished_at = None;
        stored.delivery = None;
        if stored.failed_tasks == 0 {
            stored.error = None;
        }
        if stored.source.is_none() {
            stored.prepare_attempts = 0;
            stored.prepare_sent_at = None;
        }
        for index in indexes {
            if let Some(task) = state.tasks.get_mut(&(job.id.clone(), *index)) {
                task.status = TaskStatus::Waiting;
                task.hold.attempts = 0;
                task.error = None;
                task.sent_at = None;
                task.started_at = None;
                task.finished_at = None;
                task.progress = None;
                task.chunks = None;
                task.parts_done = 0;
                task.join_sent_at = None;
            }
        }
        Ok(())
    }

    async fn abandon(
        &self,
        id: &JobId,
        index: u32,
        error: &TaskError,
        now: DateTime<Utc>,
    ) -> Result<Progress, StoreError> {
        if let Some(task) = self.state().tasks.get_mut(&(id.clone(), index))
            && !task.status.is_final()
        {
            task.status = TaskStatus::Fail;
            task.error = Some(error.clone());
            task.finished_at = Some(now);
        }
        self.close(id, now).await
    }

    async fn count_change(&self, id: &JobId, delivered: bool) -> Result<(), StoreError> {
        if let Some(job) = self.state().jobs.get_mut(id) {
            if delivered {
                job.changes_delivered += 1;
            } else {
                job.changes_failed += 1;
            }
        }
        Ok(())
    }

    async fn record_progress(&self, task: &Task, percent: u8) -> Result<(), StoreError> {
        if let Some(stored) = self.state().tasks.get_mut(&(task.job_id.clone(), task.index))
            && stored.status == TaskStatus::Processing
            && stored.hold.attempts == task.hold.attempts
        {
            stored.progress = Some(percent);
        }
        Ok(())
    }

    async fn release(&self, task: &Task, error: &TaskError) -> Result<(), StoreError> {
        if let Some(stored) = self.state().tasks.get_mut(&(task.job_id.clone(), task.index)) {
            stored.status = TaskStatus::Waiting;
            stored.hold.lease_until = None;
            stored.error = Some(error.clone());
        }
        Ok(())
    }
}

#[async_trait]
impl ObjectStore for Memory {
    async fn head(&self, object: &ObjectRef) -> Result<Option<ObjectHead>, StoreError> {
        Ok(self.state().objects.get(object).map(|stored| ObjectHead {
            size: stored.data.len() as u64,
            etag: Some(stored.etag.clone()),
            marker: stored.marker.clone(),
            ..ObjectHead::default()
        }))
    }

    async fn download(&self, object: &ObjectRef, etag: Option<&str>, to: &Path) -> Result<Option<u64>, StoreError> {
        let stored = self.state().objects.get(object).cloned();
        match stored {
            Some(stored) if etag.is_some_and(|etag| etag != stored.etag) => {
                Err(StoreError::Conflict(object.to_string()))
            }
            Some(stored) => {
                std::fs::write(to, &stored.data)?;
                Ok(Some(stored.data.len() as u64))
            }
            None => Ok(None),
        }
    }

    async fn read(
        &self,
        object: &ObjectRef,
        etag: Option<&str>,
        from: u64,
        to: Option<u64>,
    ) -> Result<ByteStream, StoreError> {
        let stored =
            self.state().objects.get(object).cloned().ok_or_else(|| StoreError::Rejected("NoSuchKey".into()))?;
        if etag.is_some_and(|etag| etag != stored.etag) {
            return Err(StoreError::Conflict(object.to_string()));
        }
        let end = to.map_or(stored.data.len(), |to| (to as usize).min(stored.data.len()));
        let bytes = Bytes::from(stored.data[(from as usize).min(end)..end].to_vec());
        Ok(futures::stream::iter([Ok(bytes)]).boxed())
    }

    async fn list(&self, bucket: &str, prefix: &str, _token: Option<String>) -> Result<KeyPage, StoreError> {
        let mut keys: Vec<String> = self
            .state()
            .objects
            .keys()
            .filter(|o| o.bucket == bucket && o.key.starts_with(prefix))
            .map(|o| o.key.clone())
            .collect();
        keys.sort();
        Ok(KeyPage { keys, next: None })
    }

    async fn put(
        &self,
        from: &Path,
        to: &ObjectRef,
        _content_type: &str,
        marker: &OutputMarker,
        condition: &PutCondition,
    ) -> Result<u64, StoreError> {
        let data = std::fs::read(from)?;
        let size = data.len() as u64;
        let current = self.state().objects.get(to).map(|stored| stored.etag.clone());
        let allowed = match condition {
            PutCondition::Absent => current.is_none(),
            PutCondition::Unchanged(etag) => current.as_ref() == Some(etag),
            PutCondition::Overwrite => true,
        };
        if !allowed {
            return Err(StoreError::Conflict(to.to_string()));
        }
        self.put_object(to.clone(), data, Some(marker.clone()));
        Ok(size)
    }
}

#[async_trait]
impl Notifications for Memory {
    async fn send(&self, _target: &NotificationTarget, event: &WorkflowTaskEvent) -> Result<(), DeliveryError> {
        self.state().notified.push(event.clone());
        Ok(())
    }
}

#[async_trait]
impl TaskQueue for Memory {
    async fn enqueue(&self, message: &WorkerMessage) -> Result<(), StoreError> {
        self.state().sent.push(message.clone());
        Ok(())
    }
}

#[async_trait]
impl PartStore for Memory {
    async fn split(&self, task: &Task, plan: &ChunkPlan) -> Result<(), StoreError> {
        let mut state = self.state();
        let key = (task.job_id.clone(), task.index);
        let stored = state.tasks.get_mut(&key).ok_or_else(|| StoreError::Rejected("no such task".into()))?;
        if stored.chunks.is_some() || stored.status != TaskStatus::Waiting {
            return Ok(());
        }
        stored.chunks = Some(plan.clone());
        for number in 0..plan.parts() {
            state.parts.insert((key.0.clone(), key.1, number), PartState::waiting(&key.0, key.1, number));
        }
        Ok(())
    }

    async fn claim_part(&self, id: &JobId, index: u32, number: u32, lease: &Lease) -> Result<PartClaim, StoreError> {
        let mut state = self.state();
        let Some(part) = state.parts.get_mut(&(id.clone(), index, number)) else {
            return Ok(PartClaim::Missing);
        };
        match (part.status, part.hold.lease_until) {
            (TaskStatus::Success, _) => return Ok(PartClaim::Done),
            (TaskStatus::Processing, Some(until)) if until > lease.now => {
                return Ok(PartClaim::Busy { lease_until: until });
            }
            _ => {}
        }
        part.status = TaskStatus::Processing;
        part.hold.attempts += 1;
        part.hold.lease_until = Some(lease.until);
        part.hold.claimed_by = Some(lease.holder.clone());
        let claimed = part.clone();
        if let Some(job) = state.jobs.get_mut(id)
            && job.status == JobStatus::Waiting
        {
            job.status = JobStatus::Processing;
        }
        Ok(PartClaim::Claimed(claimed))
    }

    async fn start_task(&self, id: &JobId, index: u32, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut state = self.state();
        let Some(task) = state.tasks.get_mut(&(id.clone(), index)).filter(|t| t.status == TaskStatus::Waiting) else {
            return Ok(false);
        };
        task.status = TaskStatus::Processing;
        task.started_at = Some(at);
        Ok(true)
    }

    async fn release_part(&self, part: &PartState, error: &TaskError) -> Result<(), StoreError> {
        let mut state = self.state();
        if let Some(stored) = state.parts.get_mut(&(part.job_id.clone(), part.task, part.number))
            && stored.status == TaskStatus::Processing
            && stored.hold.attempts == part.hold.attempts
        {
            stored.status = TaskStatus::Waiting;
            stored.hold.lease_until = None;
            stored.error = Some(error.clone());
        }
        Ok(())
    }

    async fn finish_part(&self, part: &PartState) -> Result<Task, StoreError> {
        let mut state = self.state();
        let key = (part.job_id.clone(), part.task, part.number);
        let counted = match state.parts.get_mut(&key) {
            Some(stored) if stored.status == TaskStatus::Processing && stored.hold.attempts == part.hold.attempts => {
                stored.status = TaskStatus::Success;
                stored.hold.lease_until = None;
                true
            }
            _ => false,
        };
        let task = state
            .tasks
            .get_mut(&(part.job_id.clone(), part.task))
            .ok_or_else(|| StoreError::Rejected("no such task".into()))?;
        if counted {
            task.parts_done += 1;
        }
        Ok(task.clone())
    }

    async fn mark_join_sent(&self, id: &JobId, index: u32, at: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(task) = self.state().tasks.get_mut(&(id.clone(), index)) {
            task.join_sent_at.get_or_insert(at);
        }
        Ok(())
    }
}

/// A media tool that reads the whole source, and writes placeholder files: one per snapshot
/// time, one otherwise.
#[async_trait]
impl MediaTool for Memory {
    async fn probe(&self, source: Arc<StoredObject>) -> Result<Probed, ProbeFailure> {
        let mut bytes_read = 0;
        let mut stream = source.read(0, None).await.map_err(|e| ProbeFailure {
            failure: MediaFailure::new(ErrorCode::Internal, e.to_string()),
            bytes_read: 0,
        })?;
        while let Some(chunk) = stream.next().await {
            bytes_read += chunk.map(|c| c.len() as u64).unwrap_or(0);
        }
        let failure = {
            let mut state = self.state();
            state.probes += 1;
            state.probe_failure
        };
        if let Some(code) = failure {
            return Err(ProbeFailure { failure: MediaFailure::new(code, "probe failed"), bytes_read });
        }
        let media = MediaInfo {
            container: "fake".into(),
            duration: Some(2.0),
            stream_count: 1,
            video: Some(VideoStream { codec: "h264".into(), width: 64, height: 48, ..VideoStream::default() }),
            ..MediaInfo::default()
        };
        Ok(Probed { media, bytes_read })
    }

    /// Knows no keyframes: plans keep their borders.
    async fn keyframes(
        &self,
        _source: Arc<StoredObject>,
        _start: f64,
        times: &[f64],
    ) -> Result<Vec<Option<f64>>, MediaFailure> {
        Ok(vec![None; times.len()])
    }

    async fn render(&self, request: &RenderRequest<'_>) -> Result<Rendered, MediaFailure> {
        if let Some(code) = self.state().render_failure {
            return Err(MediaFailure::new(code, "render failed"));
        }
        self.state().renders += 1;
        // A ladder: two segments and the rendition playlist, the master last.
        let slots: Vec<OutputSlot> = match request.spec {
            TaskSpec::Adaptive(_) => vec![
                OutputSlot::Segment { stream: 0, number: 1 },
                OutputSlot::Segment { stream: 0, number: 2 },
                OutputSlot::SubStream(0),
                OutputSlot::Main(0),
            ],
            spec => (0..spec.output_count()).map(OutputSlot::Main).collect(),
        };
        let files = slots
            .into_iter()
            .enumerate()
            .map(|(number, slot)| {
                let path = request.workdir.join(format!("out-{number}.{}", request.spec.format()));
                std::fs::write(&path, b"rendered")
                    .map_err(|e| MediaFailure::new(ErrorCode::Internal, e.to_string()))?;
                Ok(RenderedFile {
                    path,
                    slot,
                    content_type: "application/octet-stream",
                    duration: None,
                    width: Some(64),
                    height: Some(48),
                })
            })
            .collect::<Result<_, MediaFailure>>()?;
        Ok(Rendered { files, warnings: Vec::new() })
    }

    async fn join(&self, request: &JoinRequest<'_>) -> Result<Rendered, MediaFailure> {
        let path = request.workdir.join(format!("out-0.{}", request.spec.format()));
        let mut joined = Vec::new();
        for part in request.chunks.iter().map(PathBuf::as_path).chain(request.audio) {
            joined.extend(std::fs::read(part).map_err(|e| MediaFailure::new(ErrorCode::Internal, e.to_string()))?);
        }
        std::fs::write(&path, joined).map_err(|e| MediaFailure::new(ErrorCode::Internal, e.to_string()))?;
        let file = RenderedFile {
            path,
            slot: OutputSlot::Main(0),
            content_type: "application/octet-stream",
            duration: None,
            width: None,
            height: None,
        };
        Ok(Rendered { files: vec![file], warnings: Vec::new() })
    }
}
