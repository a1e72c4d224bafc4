//! Use-case of the worker for chunked tasks ([`chunk`](crate::domain::chunk)): run one part —
//! claim it, render it from the served upload, keep it in the work location, count it on its
//! task — and hand the join to a worker once the last part is done. The join itself is the
//! task's run ([`TaskRunner`](crate::app::pipeline::task::TaskRunner)), on the parts instead of the upload.

use std::fmt;
use std::sync::Arc;

use chrono::Utc;
use tracing::{error, info, warn};

use super::attempt::{Invocation, MAX_ATTEMPTS, RunError, RunResult, exhausted};
use super::chunking::Chunking;
use super::workspace::Workspace;
use crate::domain::chunk::Part;
use crate::domain::error::TaskError;
use crate::domain::job::{Job, PartState, Task, TaskStatus};
use crate::domain::message::{TaskMessage, WorkerMessage};
use crate::domain::usage::OutputSeconds;
use crate::ports::{Held, PartClaim, PartStore, Progress, PutCondition, RenderRequest, StoreError, TaskQueue};

/// Runs the parts of chunked tasks for workers.
pub struct PartRunner {
    work: Workspace,
    parts: Arc<dyn PartStore>,
    /// Where a join is sent once the last part is done.
    queue: Arc<dyn TaskQueue>,
    chunking: Chunking,
}

impl fmt::Debug for PartRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartRunner").field("chunking", &self.chunking).finish_non_exhaustive()
    }
}

impl PartRunner {
    pub fn new(work: Workspace, parts: Arc<dyn PartStore>, queue: Arc<dyn TaskQueue>, chunking: Chunking) -> Self {
        Self { work, parts, queue, chunking }
    }

    /// Runs part `message.part` of a chunked task in `invocation`, and adds what the invocation
    /// used to the task's usage.
    pub async fn run(&self, message: &TaskMessage, invocation: &Invocation) -> Result<RunResult, RunError> {
        let counted = Self {
            work: self.work.counted(invocation),
            parts: self.parts.clone(),
            queue: self.queue.clone(),
            chunking: self.chunking.clone(),
        };
        let result = counted.attempt(message, invocation).await;
        let output = OutputSeconds::default();
        self.work.record_usage(&message.job_id, Some(message.task), invocation, output).await;
        result
    }

    async fn attempt(&self, message: &TaskMessage, invocation: &Invocation) -> Result<RunResult, RunError> {
        let (job_id, index, number) = (&message.job_id, message.task, message.part.unwrap_or_default());
        let skipped = |reason: String| {
            info!(job_id = %job_id, task = index, part = number, %reason, "part skipped");
            Ok(RunResult::Skipped { job_id: job_id.clone(), task: index, reason })
        };
        let Some(job) = self.work.jobs.job(job_id).await? else {
            return skipped("no such job".into());
        };
        let Some(task) = self.work.jobs.tasks(job_id).await?.into_iter().find(|t| t.index == index) else {
            return skipped("no such task".into());
        };
        if task.status.is_final() {
            return skipped(format!("the task is {} already", task.status.as_str()));
        }
        let Some(part) = task.chunks.as_ref().and_then(|plan| plan.part(number)) else {
            return skipped("no such part".into());
        };
        let mut lease = self.work.lease(invocation);
        let mut seen = None;
        let state = loop {
            match self.parts.claim_part(job_id, index, number, &lease).await? {
                PartClaim::Claimed(state) => break state,
                // Its holder may have died: a hold nobody renews runs out within a lease.
                PartClaim::Busy { lease_until } => match self.work.wait_for(lease_until, seen, invocation) {
                    Some(wait) => {
                        tokio::time::sleep(wait).await;
                        (lease, seen) = (self.work.lease(invocation), Some(lease_until));
                    }
                    None => return skipped(format!("taken by another worker until {lease_until}")),
                },
                // Whoever finished it may have stopped before handing the join on.
                PartClaim::Done => {
                    self.hand_on_join(&task).await?;
                    return skipped("done already".into());
                }
                PartClaim::Missing => return skipped("no such part".into()),
            }
        };
        let held = Held::Part { task: index, number };
        let heartbeat = self.work.heartbeat(job_id, held, state.hold.attempts, invocation);
        info!(job_id = %job_id, task = index, part = number, attempt = state.hold.attempts, "part started");
        if self.parts.start_task(job_id, index, lease.now).await? {
            let started = Task { status: TaskStatus::Processing, started_at: Some(lease.now), ..task.clone() };
            self.work.notifier.after_change(&job, &started, TaskStatus::Processing).await;
        }
        let executed = self.execute(&job, &task, part, number, invocation).await;
        drop(heartbeat);
        match executed {
            Ok(()) => {
                let task = self.parts.finish_part(&state).await?;
                let join_sent = self.hand_on_join(&task).await?;
                info!(job_id = %job_id, task = index, part = number, done = task.parts_done, join_sent, "part done");
                Ok(RunResult::PartDone { job_id: job_id.clone(), task: index, part: number, join_sent })
            }
            Err(error) if error.code.is_retryable() && state.hold.attempts < MAX_ATTEMPTS => {
                warn!(job_id = %job_id, task = index, part = number, attempt = state.hold.attempts, code = %error.code, message = %error.message, "part attempt failed; giving it back for a retry");
                self.parts.release_part(&state, &error).await?;
                Err(RunError::Retry { attempt: state.hold.attempts, error: error.message })
            }
            Err(error) => self.fail(&job, &task, &state, error).await,
        }
    }

    /// Renders the part from the served upload and keeps it in the work location.
    async fn execute(
        &self,
        job: &Job,
        task: &Task,
        part: Part,
        number: u32,
        invocation: &Invocation,
    ) -> Result<(), TaskError> {
        let source =
            job.source.as_ref().ok_or_else(|| TaskError::internal("the job was never prepared: no source probe"))?;
        let workdir = self.work.scratch_dir(invocation)?;
        let upload = self.work.open_upload(job).await?;
        let watermark_images = self.work.fetch_watermarks(task, workdir.path()).await?;
        let request = RenderRequest {
            spec: &task.spec,
            names: job.output_names(task),
            part: Some(part),
            upload,
            source,
            limits: &job.limits,
            watermark_images: &watermark_images,
            workdir: workdir.path(),
            stop_by: self.work.stop_by(invocation),
            progress: None,
            tuning: task.chunks.as_ref().and_then(|plan| plan.tuning.clone()),
            feed: None,
        };
        let rendered = self.work.media.render(&request).await?;
        let file =
            rendered.files.first().ok_or_else(|| TaskError::internal("the render wrote no file for the part"))?;
        let key = self.chunking.part_key(&job.id, task.index, number);
        let marker = job.output_marker(&key);
        self.work
            .objects
            .put(&file.path, &key, file.content_type, &marker, &PutCondition::Overwrite)
            .await
            .map_err(|e| e.task_error(&format!("keep part {number} at {key}")))?;
        Ok(())
    }

    /// Sends the task's join to a worker when every part is done and nobody did yet; whether
    /// this call sent it. Two last parts at once may both send it: the task's claim lets one
    /// join run.
    async fn hand_on_join(&self, task: &Task) -> Result<bool, StoreError> {
        if !task.join_due() {
            return Ok(false);
        }
        self.queue.enqueue(&WorkerMessage::Task(TaskMessage::new(task.job_id.clone(), task.index))).await?;
        self.parts.mark_join_sent(&task.job_id, task.index, Utc::now()).await?;
        Ok(true)
    }

    /// A part that failed for good fails its task (and finishes the job when it was the last).
    async fn fail(&self, job: &Job, task: &Task, state: &PartState, error: TaskError) -> Result<RunResult, RunError> {
        let retried = error.code.is_retryable();
        let error = if retried { exhausted(error, state.hold.attempts) } else { error };
        let error = TaskError { message: format!("part {}: {}", state.number, error.message), ..error };
        error!(job_id = %job.id, task = state.task, part = state.number, code = %error.code, message = %error.message, "part failed; the task fails");
        let progress = self.work.jobs.abandon(&job.id, state.task, &error, Utc::now()).await?;
        self.work.notifier.after_change(job, task, TaskStatus::Fail).await;
        let job_finished = progress == Progress::JobFinished;
        if job_finished {
            self.work.notifier.after_finish(job).await;
        }
        if retried {
            return Err(RunError::Exhausted { attempts: state.hold.attempts, error: error.message });
        }
        Ok(RunResult::Failed { job_id: job.id.clone(), task: state.task, error, job_finished })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    use crate::adapters::memory::Memory;
    use crate::app::pipeline::fixtures;
    use crate::domain::attempt::Lease;
    use crate::domain::error::ErrorCode;
    use crate::domain::job::{JobId, JobStatus};
    use crate::domain::object::ObjectRef;
    use crate::domain::task::TranscodeSpec;
    use crate::ports::{Claim, JobStore, ObjectStore, PartStore};

    /// A prepared job of one transcode in two chunks and the audio, split and its parts sent.
    async fn setup() -> (Memory, PartRunner, JobId, tempfile::TempDir) {
        let memory = Memory::default();
        let (job, task, chunking) = fixtures::chunked_job(&memory, TranscodeSpec::default()).await;
        let shared = Arc::new(memory.clone());
        let plan =
            chunking.plan(&(shared.clone() as Arc<dyn ObjectStore>), &memory, &job, &task).await.unwrap().unwrap();
        memory.split(&task, &plan).await.unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let runner = PartRunner::new(fixtures::workspace(&memory, scratch.path()), shared.clone(), shared, chunking);
        (memory, runner, job.id, scratch)
    }

    fn part(id: &JobId, number: u32) -> TaskMessage {
        TaskMessage { part: Some(number), ..TaskMessage::new(id.clone(), 0) }
    }

    fn invocation() -> Invocation {
        Invocation::new("req-1", None, 1024)
    }

    #[tokio::test]
    async fn the_last_part_done_hands_the_join_on_once_and_a_repeated_part_changes_nothing() {
        let (memory, runner, id, _scratch) = setup().await;
        let mut started = None;
        for number in [2, 0] {
            let result = runner.run(&part(&id, number), &invocation()).await.unwrap();
            assert!(matches!(result, RunResult::PartDone { join_sent: false, .. }), "{result:?}");
            // the task shows PROCESSING from its first part's start, without a lease
            let task = memory.tasks(&id).await.unwrap().remove(0);
            assert_eq!((task.status, task.hold.lease_until), (TaskStatus::Processing, None));
            assert_eq!(*started.get_or_insert(task.started_at), task.started_at, "started once");
        }
        assert!(memory.object(&ObjectRef::new("work", format!("parts/{id}/0000/0002.mp4"))).is_some(), "kept");
        assert!(memory.sent().is_empty());
        let last = runner.run(&part(&id, 1), &invocation()).await.unwrap();
        assert!(matches!(last, RunResult::PartDone { join_sent: true, .. }), "{last:?}");
        assert_eq!(memory.sent(), vec![WorkerMessage::Task(TaskMessage::new(id.clone(), 0))]);
        let again = runner.run(&part(&id, 1), &invocation()).await.unwrap();
        assert!(matches!(again, RunResult::Skipped { .. }), "{again:?}");
        let task = memory.tasks(&id).await.unwrap().remove(0);
        assert_eq!((task.parts_done, memory.sent().len()), (3, 1), "counted once, joined once");
        assert_eq!(task.progress_now(), Some(75), "three parts of four steps");
        // the join takes the task, which keeps its start
        let lease = Lease { holder: "join".into(), now: Utc::now(), until: Utc::now() + TimeDelta::minutes(15) };
        let Claim::Claimed(joined) = memory.claim(&id, 0, &lease).await.unwrap() else { panic!("the join's claim") };
        assert_eq!((joined.status, joined.started_at), (TaskStatus::Processing, started.unwrap()));
    }

    #[tokio::test]
    async fn a_part_that_cannot_be_made_fails_its_task_and_one_that_may_is_tried_again() {
        let (memory, runner, id, _scratch) = setup().await;
        memory.fail_render(ErrorCode::Internal);
        for attempt in 1..MAX_ATTEMPTS {
            let retry = runner.run(&part(&id, 0), &invocation()).await;
            assert!(matches!(retry, Err(RunError::Retry { attempt: a, .. }) if a == attempt), "{retry:?}");
        }
        let last = runner.run(&part(&id, 0), &invocation()).await;
        assert!(matches!(last, Err(RunError::Exhausted { .. })), "{last:?}");
        let task = memory.tasks(&id).await.unwrap().remove(0);
        let error = task.error.unwrap();
        assert_eq!((task.status, error.code), (TaskStatus::Fail, ErrorCode::Internal));
        assert!(error.message.starts_with("part 0: render failed"), "{}", error.message);
        assert_eq!(memory.job(&id).await.unwrap().unwrap().status, JobStatus::Finish);
        // the other parts find the task ended and do nothing
        let other = runner.run(&part(&id, 1), &invocation()).await.unwrap();
        assert!(matches!(other, RunResult::Skipped { ref reason, .. } if reason.contains("FAIL")), "{other:?}");
    }
}
