//! Workflows, jobs, tasks and parts in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::attempt::Lease;
use crate::domain::chunk::ChunkPlan;
use crate::domain::error::TaskError;
use crate::domain::job::{Job, JobId, JobStatus, PartState, Task, TaskStatus};
use crate::domain::media::MediaInfo;
use crate::domain::notification::{Delivery, DeliveryState};
use crate::domain::object::{ObjectRef, sequencer_order};
use crate::domain::usage::Usage;
use crate::domain::workflow::Workflow;
use crate::ports::{
    CatalogSnapshot, Claim, Created, Freshness, Held, JobFilter, JobPage, JobQueries, JobStore, JobTally, PartClaim,
    PartStore, Progress, StoreError, TaskOutcome, WorkflowStore,
};

use super::Memory;

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

    async fn reopen(&self, job: &Job, tasks: &[Task]) -> Result<(), StoreError> {
        let mut state = self.state();
        let moved = tasks.iter().any(|task| {
            state.tasks.get(&(job.id.clone(), task.index)).is_none_or(|stored| stored.status != task.status)
        });
        let stored = state.jobs.get_mut(&job.id).ok_or_else(|| StoreError::Rejected("no such job".into()))?;
        if moved || stored.status != JobStatus::Finish || stored.redos != job.redos {
            return Err(StoreError::Conflict(format!("job {}", job.id)));
        }
        let failed = tasks.iter().filter(|task| task.status == TaskStatus::Fail).count() as u32;
        stored.status = JobStatus::Waiting;
        stored.redos += 1;
        stored.failed_tasks = stored.failed_tasks.saturating_sub(failed);
        stored.finished_at = None;
        stored.delivery = None;
        if stored.failed_tasks == 0 {
            stored.error = None;
        }
        if stored.source.is_none() {
            stored.prepare_attempts = 0;
            stored.prepare_sent_at = None;
        }
        for task in tasks {
            if let Some(task) = state.tasks.get_mut(&(job.id.clone(), task.index)) {
                task.status = TaskStatus::Waiting;
                task.hold.attempts = 0;
                task.error = None;
                task.sent_at = None;
                task.started_at = None;
                task.finished_at = None;
                task.progress = None;
                task.outputs.clear();
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

    async fn renew(&self, id: &JobId, held: Held, attempts: u32, until: DateTime<Utc>) -> Result<(), StoreError> {
        let mut state = self.state();
        let hold = match held {
            Held::Task(index) => state
                .tasks
                .get_mut(&(id.clone(), index))
                .filter(|t| t.status == TaskStatus::Processing)
                .map(|t| &mut t.hold),
            Held::Part { task, number } => state
                .parts
                .get_mut(&(id.clone(), task, number))
                .filter(|p| p.status == TaskStatus::Processing)
                .map(|p| &mut p.hold),
        };
        if let Some(hold) = hold.filter(|hold| hold.attempts == attempts && hold.lease_until.is_some_and(|l| l < until))
        {
            hold.lease_until = Some(until);
        }
        Ok(())
    }

    async fn usage(&self, id: &JobId) -> Result<Usage, StoreError> {
        Ok(self.state().usage.get(id).copied().unwrap_or_default())
    }

    async fn add_usage(&self, id: &JobId, task: Option<u32>, run: &str, usage: &Usage) -> Result<(), StoreError> {
        let mut state = self.state();
        if !state.jobs.contains_key(id) || !state.usage_runs.insert((id.clone(), task, run.to_owned())) {
            return Ok(());
        }
        if let Some(index) = task {
            match state.tasks.get_mut(&(id.clone(), index)) {
                Some(stored) => stored.usage += *usage,
                None => return Ok(()),
            }
        }
        *state.usage.entry(id.clone()).or_default() += *usage;
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

/// Where a job sorts among the others, newest first (also a page's marker).
fn sort_key(job: &Job) -> String {
    format!("{}#{}", job.created_at.format("%Y-%m-%dT%H:%M:%S%.3fZ"), job.id)
}

#[async_trait]
impl JobQueries for Memory {
    async fn list(&self, filter: &JobFilter) -> Result<JobPage, StoreError> {
        let state = self.state();
        let mut jobs: Vec<(String, &Job)> = state
            .jobs
            .values()
            .filter(|job| filter.workflow.as_ref().is_none_or(|w| &job.workflow == w))
            .filter(|job| filter.input.as_ref().is_none_or(|input| &job.input == input))
            .filter(|job| filter.status.is_none_or(|s| job.status == s))
            .filter(|job| !filter.failed || job.failed_tasks > 0 || job.error.is_some())
            .filter(|job| !filter.succeeded || (job.failed_tasks == 0 && job.error.is_none()))
            .filter(|job| filter.since.is_none_or(|since| job.created_at >= since))
            .map(|job| (sort_key(job), job))
            .filter(|(key, _)| filter.page.as_ref().is_none_or(|page| key < page))
            .collect();
        jobs.sort_by(|a, b| b.0.cmp(&a.0));
        let limit = filter.limit.max(1);
        let more = jobs.len() > limit;
        jobs.truncate(limit);
        let next_page = more.then(|| jobs.last().map(|(key, _)| key.clone())).flatten();
        Ok(JobPage { jobs: jobs.into_iter().map(|(_, job)| job.clone()).collect(), next_page })
    }

    async fn tally(&self, workflow: Option<&str>, since: DateTime<Utc>, max: u64) -> Result<JobTally, StoreError> {
        let mut tally = JobTally::default();
        let state = self.state();
        let jobs =
            state.jobs.values().filter(|job| workflow.is_none_or(|w| job.workflow == w) && job.created_at >= since);
        for job in jobs {
            if tally.total() >= max {
                tally.partial = true;
                break;
            }
            tally.count(job.status, job.failed_tasks > 0 || job.error.is_some());
        }
        Ok(tally)
    }

    async fn of_input(&self, object: &ObjectRef) -> Result<Vec<Job>, StoreError> {
        let mut jobs: Vec<Job> = self.state().jobs.values().filter(|job| &job.input == object).cloned().collect();
        jobs.sort_by_key(|job| std::cmp::Reverse(sort_key(job)));
        Ok(jobs)
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
