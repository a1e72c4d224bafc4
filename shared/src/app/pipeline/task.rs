//! Use-case of the worker: run one task of a prepared job — claim it, fetch the upload it was
//! prepared for, render, write the outputs (never over an object this workflow did not write
//! for this upload, and nothing once the upload was replaced), record the outcome.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use tracing::{debug, error, info, warn};

use super::attempt::{Invocation, MAX_ATTEMPTS, RunError, RunResult, exhausted};
use super::chunking::Chunking;
use super::growing::GrowingOutputs;
use super::publish::publish;
use super::workspace::Workspace;
use crate::domain::error::TaskError;
use crate::domain::job::{Job, OutputFile, Task, TaskStatus, TaskTimings};
use crate::domain::message::TaskMessage;
use crate::domain::usage::OutputSeconds;
use crate::ports::{Claim, Feed, Held, Progress, ProgressMeter, RenderRequest, TaskOutcome};

/// How often a running task's progress is written at most.
pub const PROGRESS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs tasks for workers.
pub struct TaskRunner {
    work: Workspace,
    /// Where chunked tasks' parts are kept, for their join.
    chunking: Option<Chunking>,
}

impl fmt::Debug for TaskRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskRunner").field("work", &self.work).finish_non_exhaustive()
    }
}

impl TaskRunner {
    /// Joins chunked tasks from the parts kept where `chunking` says, when there is one.
    pub fn new(work: Workspace, chunking: Option<Chunking>) -> Self {
        Self { work, chunking }
    }

    /// Runs task `message.task` of its job in `invocation`, and adds what the invocation used to
    /// the task's usage.
    pub async fn run(&self, message: &TaskMessage, invocation: &Invocation) -> Result<RunResult, RunError> {
        let counted = Self { work: self.work.counted(invocation), chunking: self.chunking.clone() };
        let mut output = OutputSeconds::default();
        let result = counted.attempt(message, invocation, &mut output).await;
        self.work.record_usage(&message.job_id, Some(message.task), invocation, output).await;
        result
    }

    /// The run; `output` gets what the outputs written hold.
    async fn attempt(
        &self,
        message: &TaskMessage,
        invocation: &Invocation,
        output: &mut OutputSeconds,
    ) -> Result<RunResult, RunError> {
        let (job_id, index) = (&message.job_id, message.task);
        let skipped = |reason: String| {
            info!(job_id = %job_id, task = index, %reason, "task skipped");
            Ok(RunResult::Skipped { job_id: job_id.clone(), task: index, reason })
        };
        let Some(job) = self.work.jobs.job(job_id).await? else {
            return skipped("no such job".into());
        };
        let mut lease = self.work.lease(invocation);
        let mut seen = None;
        let task = loop {
            match self.work.jobs.claim(job_id, index, &lease).await? {
                Claim::Claimed(task) => break *task,
                // Its holder may have died: a hold nobody renews runs out within a lease.
                Claim::Busy { lease_until } => match self.work.wait_for(lease_until, seen, invocation) {
                    Some(wait) => {
                        info!(job_id = %job_id, task = index, %lease_until, "task held by another worker; waiting for its hold to end");
                        tokio::time::sleep(wait).await;
                        (lease, seen) = (self.work.lease(invocation), Some(lease_until));
                    }
                    None => return skipped(format!("taken by another worker until {lease_until}")),
                },
                Claim::Done(status) => {
                    // Whoever ended the task may have stopped before finishing the job, or before
                    // sending its finish event.
                    self.work.jobs.close(job_id, lease.now).await?;
                    self.work.notifier.after_finish(&job).await;
                    return skipped(format!("already {}", status.as_str()));
                }
                Claim::Missing => return skipped("no such task".into()),
            }
        };
        let heartbeat = self.work.heartbeat(job_id, Held::Task(index), task.hold.attempts, invocation);
        info!(job_id = %job_id, task = index, kind = task.spec.kind(), attempt = task.hold.attempts, "task started");
        self.work.notifier.after_change(&job, &task, TaskStatus::Processing).await;

        let executed = self.execute(&job, &task, invocation).await;
        drop(heartbeat);
        let outcome = match executed {
            Ok((outputs, warnings, timings)) => TaskOutcome::Success { outputs, warnings, timings },
            Err(error) if error.code.is_retryable() && task.hold.attempts < MAX_ATTEMPTS => {
                warn!(job_id = %job_id, task = index, attempt = task.hold.attempts, code = %error.code, message = %error.message, "task attempt failed; giving it back for a retry");
                self.work.jobs.release(&task, &error).await?;
                return Err(RunError::Retry { attempt: task.hold.attempts, error: error.message });
            }
            Err(error) if error.code.is_retryable() => TaskOutcome::Fail(exhausted(error, task.hold.attempts)),
            Err(error) => TaskOutcome::Fail(error),
        };
        let progress = self.work.jobs.finish(&task, &outcome, Utc::now()).await?;
        if let Some(chunking) = &self.chunking {
            chunking.remove_parts(self.work.objects.as_ref(), &task).await;
        }
        let ended = match outcome {
            TaskOutcome::Success { .. } => TaskStatus::Success,
            TaskOutcome::Fail(_) => TaskStatus::Fail,
        };
        self.work.notifier.after_change(&job, &task, ended).await;
        let job_finished = progress == Progress::JobFinished;
        if job_finished {
            info!(job_id = %job_id, workflow = %job.workflow, "job finished");
            self.work.notifier.after_finish(&job).await;
        }
        Ok(match outcome {
            TaskOutcome::Success { outputs, warnings, .. } => {
                if !warnings.is_empty() {
                    warn!(job_id = %job_id, task = index, ?warnings, "task succeeded with warnings");
                }
                info!(job_id = %job_id, task = index, outputs = outputs.len(), "task succeeded");
                *output = task.output_seconds(&outputs, job.source.as_ref());
                RunResult::Succeeded { job_id: job_id.clone(), task: index, outputs, job_finished }
            }
            TaskOutcome::Fail(error) if error.code.is_retryable() => {
                // Recorded; failing the invocation as well sends its event to the dead-letter
                // queue once Lambda's retries are spent.
                error!(job_id = %job_id, task = index, code = %error.code, message = %error.message, "task failed for good");
                return Err(RunError::Exhausted { attempts: task.hold.attempts, error: error.message });
            }
            TaskOutcome::Fail(error) => {
                error!(job_id = %job_id, task = index, code = %error.code, message = %error.message, "task failed");
                RunResult::Failed { job_id: job_id.clone(), task: index, error, job_finished }
            }
        })
    }

    /// The task's work in a scratch directory that is removed on every path: the outputs and
    /// the warnings. What was sent of outputs while they were written and not finished is
    /// dropped on every path too.
    async fn execute(
        &self,
        job: &Job,
        task: &Task,
        invocation: &Invocation,
    ) -> Result<(Vec<OutputFile>, Vec<String>, TaskTimings), TaskError> {
        job.check_output_keys(task)?;
        let growing = self.work.growing_outputs(job, task);
        let made = self.make(job, task, invocation, growing.as_ref()).await;
        if let Some(growing) = growing {
            growing.close().await;
        }
        made
    }

    async fn make(
        &self,
        job: &Job,
        task: &Task,
        invocation: &Invocation,
        growing: Option<&Arc<GrowingOutputs>>,
    ) -> Result<(Vec<OutputFile>, Vec<String>, TaskTimings), TaskError> {
        let started = Instant::now();
        let source =
            job.source.as_ref().ok_or_else(|| TaskError::internal("the job was never prepared: no source probe"))?;
        let workdir = self.work.scratch_dir(invocation)?;
        let stop_by = self.work.stop_by(invocation);
        let feed = growing.map(|growing| Feed(growing.clone()));
        let (rendered, opened) = match (&task.chunks, &self.chunking) {
            (Some(_), Some(chunking)) => {
                let opened = Instant::now();
                let joined = chunking.join(&self.work, job, task, workdir.path(), stop_by, feed);
                (joined.await?, opened)
            }
            (Some(_), None) => {
                return Err(TaskError::internal("the task was split, but this worker has no work location"));
            }
            (None, _) => {
                let upload = self.work.open_upload(job).await?;
                let watermark_images = self.work.fetch_watermarks(task, workdir.path()).await?;
                let opened = Instant::now();
                let (meter, progress_writer) = self.track_progress(task);
                let rendered = self
                    .work
                    .media
                    .render(&RenderRequest {
                        spec: &task.spec,
                        names: job.output_names(task),
                        part: None,
                        upload,
                        source,
                        limits: &job.limits,
                        watermark_images: &watermark_images,
                        workdir: workdir.path(),
                        stop_by,
                        progress: Some(meter),
                        tuning: None,
                        feed,
                    })
                    .await;
                progress_writer.abort();
                (rendered?, opened)
            }
        };
        let render_done = Instant::now();
        let outputs = publish(self.work.objects.as_ref(), growing.map(|g| &**g), job, task, rendered.files).await?;
        let timings = TaskTimings {
            download_ms: millis(opened - started),
            render_ms: millis(render_done - opened),
            upload_ms: millis(render_done.elapsed()),
        };
        Ok((outputs, rendered.warnings, timings))
    }

    /// A meter for the render, and the writer that records its percentage at most every
    /// [`PROGRESS_INTERVAL`] (below 100: the finished task records that).
    fn track_progress(&self, task: &Task) -> (ProgressMeter, tokio::task::JoinHandle<()>) {
        let (sender, mut receiver) = tokio::sync::watch::channel(0u8);
        let meter = ProgressMeter::new(move |fraction| {
            let percent = ((fraction * 100.0).floor() as u8).min(99);
            sender.send_if_modified(|current| std::mem::replace(current, percent) != percent);
        });
        let (jobs, task) = (self.work.jobs.clone(), task.clone());
        // A task shorter than one interval records no progress at all.
        let writer = tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROGRESS_INTERVAL).await;
                match receiver.has_changed() {
                    Ok(false) => continue,
                    Ok(true) => {}
                    Err(_) => break,
                }
                let percent = *receiver.borrow_and_update();
                if let Err(error) = jobs.record_progress(&task, percent).await {
                    debug!(job_id = %task.job_id, task = task.index, %error, "progress not recorded");
                }
            }
        });
        (meter, writer)
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::Memory;
    use crate::app::pipeline::fixtures;
    use crate::domain::attempt::Lease;
    use crate::domain::error::ErrorCode;
    use crate::domain::job::{JobId, JobStatus, TaskStatus};
    use crate::domain::media::{MediaInfo, VideoStream};
    use crate::domain::object::{ObjectRef, OutputMarker};
    use crate::domain::task::{SnapshotSpec, TaskSpec, TimePoint};
    use crate::domain::workflow::{OutputSpec, TriggerSpec, Workflow, WorkflowSpec};
    use crate::ports::{JobStore, ObjectStore};
    use chrono::TimeDelta;

    const INPUT: &str = "in/sub/clip.mp4";

    /// A prepared job of `tasks` for an upload of `input`.
    async fn setup(tasks: Vec<TaskSpec>, input: &[u8]) -> (Memory, TaskRunner, JobId, tempfile::TempDir) {
        let memory = Memory::default();
        let spec = WorkflowSpec {
            name: "flow".into(),
            trigger: TriggerSpec { bucket: "media".into(), dir: "in/".into() },
            output: OutputSpec { bucket: None, dir: Some("out/".into()) },
            tasks,
            limits: Default::default(),
            notification: None,
        };
        let workflow = Workflow::create(spec, Utc::now()).unwrap().enable(Utc::now());
        let id = memory.job_for_upload(&workflow, INPUT, input).await;
        let source = MediaInfo {
            container: "mov".into(),
            duration: Some(2.0),
            stream_count: 1,
            video: Some(VideoStream { codec: "h264".into(), width: 64, height: 48, ..VideoStream::default() }),
            ..MediaInfo::default()
        };
        memory.record_source(&id, &source).await.unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let runner = TaskRunner::new(fixtures::workspace(&memory, scratch.path()), None);
        (memory, runner, id, scratch)
    }

    fn invocation() -> Invocation {
        Invocation::new("req-1", None, 1024)
    }

    fn message(job_id: &JobId, task: u32) -> TaskMessage {
        TaskMessage::new(job_id.clone(), task)
    }

    fn snapshot() -> TaskSpec {
        TaskSpec::Snapshot(SnapshotSpec {
            times: vec![TimePoint::Seconds(0.0), TimePoint::Seconds(1.0)],
            ..SnapshotSpec::default()
        })
    }

    fn failed_with(result: &RunResult) -> Option<ErrorCode> {
        match result {
            RunResult::Failed { error, .. } => Some(error.code),
            _ => None,
        }
    }

    #[tokio::test]
    async fn when_task_succeeds_should_write_marked_outputs_and_finish_job() {
        let (memory, runner, job_id, scratch) = setup(vec![snapshot()], b"video").await;
        let result = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        let RunResult::Succeeded { outputs, job_finished, .. } = result else { panic!("{result:?}") };
        assert!(job_finished);
        let keys: Vec<_> = outputs.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["out/sub/clip_snapshotByTimeOffset_1_0.jpg", "out/sub/clip_snapshotByTimeOffset_1_1.jpg"]);
        let written = ObjectRef::new("media", keys[0]);
        let marker = memory.marker(&written).unwrap();
        assert!(marker.is_at(&written) && marker.belongs_to("flow", &ObjectRef::new("media", INPUT)));
        assert_eq!(marker.job, job_id.to_string());
        assert_eq!(memory.job(&job_id).await.unwrap().unwrap().status, JobStatus::Finish);
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0, "scratch dir removed");
    }

    #[tokio::test]
    async fn what_each_invocation_used_is_added_to_its_task_and_job_once() {
        let (memory, runner, job_id, _scratch) = setup(vec![snapshot()], b"video").await;
        let first = invocation();
        runner.run(&message(&job_id, 0), &first).await.unwrap();
        let task = &memory.tasks(&job_id).await.unwrap()[0];
        let usage = task.usage;
        assert_eq!(usage.invocations, 1);
        assert!(usage.x86_64_mb_ms + usage.arm64_mb_ms >= 1024, "at least a millisecond of 1024 MB: {usage:?}");
        // The upload and each output's key looked at, the two pictures written.
        assert!(usage.s3.get_requests >= 3, "{usage:?}");
        assert_eq!(usage.s3.put_requests, 2, "{usage:?}");
        assert!(usage.s3.bytes_written > 0, "{usage:?}");
        assert_eq!(usage.output.video_minutes(), 0.0, "pictures are not minutes of video");
        assert_eq!(memory.usage(&job_id).await.unwrap(), usage, "the job sums its tasks");
        // A repeated message finds the task done: its invocation counts too, once.
        let again = invocation();
        runner.run(&message(&job_id, 0), &again).await.unwrap();
        memory.add_usage(&job_id, Some(0), &again.run_id, &again.usage()).await.unwrap();
        let task = &memory.tasks(&job_id).await.unwrap()[0];
        assert_eq!(task.usage.invocations, 2);
        assert_eq!(memory.usage(&job_id).await.unwrap().invocations, 2);
    }

    #[tokio::test]
    async fn a_ladder_publishes_its_master_playlist_after_everything_it_names_and_lists_only_playlists() {
        use crate::domain::task::{AdaptiveSpec, Rendition};
        let ladder = TaskSpec::Adaptive(AdaptiveSpec {
            definition: Some("abr".into()),
            renditions: vec![Rendition { height: 360, bitrate_kbps: Some(800), ..Rendition::default() }].into(),
            ..AdaptiveSpec::default()
        });
        let (memory, runner, job_id, _scratch) = setup(vec![ladder], b"video").await;
        let result = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        let RunResult::Succeeded { outputs, .. } = result else { panic!("{result:?}") };
        let keys: Vec<_> = outputs.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            keys,
            ["out/sub/clip_adaptiveDynamicStreaming_abr_0.m3u8", "out/sub/clip_adaptiveDynamicStreaming_abr.m3u8"],
            "segments are not listed"
        );
        // the memory store's etags count its writes: the master's is the last
        let written = |key: &'static str| {
            let memory = memory.clone();
            async move {
                let head = memory.head(&ObjectRef::new("media", key)).await.unwrap().unwrap();
                head.etag.unwrap().trim_matches('"').parse::<u32>().unwrap()
            }
        };
        let master = written("out/sub/clip_adaptiveDynamicStreaming_abr.m3u8").await;
        for key in [
            "out/sub/clip_adaptiveDynamicStreaming_abr_0_1.ts",
            "out/sub/clip_adaptiveDynamicStreaming_abr_0_2.ts",
            "out/sub/clip_adaptiveDynamicStreaming_abr_0.m3u8",
        ] {
            assert!(written(key).await < master, "{key} is written before the master");
        }
    }

    #[tokio::test]
    async fn a_job_sends_its_finish_event_once_and_in_change_mode_every_task_state_first() {
        use crate::domain::notification::{DeliveryState, NotificationSpec, NotificationTarget, NotifyMode};
        for (mode, reasons) in [
            (NotifyMode::Finish, vec!["job_finished"]),
            (NotifyMode::Change, vec!["task_started", "task_succeeded", "job_finished"]),
        ] {
            let (memory, runner, job_id, _scratch) = setup(vec![snapshot()], b"video").await;
            let target = NotificationTarget::Sns { topic_arn: "arn:aws:sns:us-east-1:1:t".into() };
            memory.change_job(&job_id, |job| job.notification = Some(NotificationSpec { mode, target }));
            runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
            // A repeated message finds the task done and the event sent.
            runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
            let events = memory.notified();
            assert_eq!(events.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>(), reasons, "{mode:?}");
            let finished = events.last().unwrap();
            assert_eq!(finished.event_id, format!("{job_id}.finished"));
            assert_eq!(finished.workflow_task.results[0].outputs.len(), 2);
            let job = memory.job(&job_id).await.unwrap().unwrap();
            assert_eq!(job.delivery.map(|d| (d.state, d.attempts)), Some((DeliveryState::Delivered, 1)));
            assert_eq!(job.changes_delivered, reasons.len() as u32 - 1);
        }
    }

    #[tokio::test]
    async fn a_task_held_by_a_worker_that_died_is_taken_over_once_its_hold_runs_out() {
        let (memory, runner, job_id, _scratch) = setup(vec![snapshot()], b"video").await;
        // The first worker claimed it and was killed: nobody renews its hold.
        let dead = Lease { holder: "killed".into(), now: Utc::now(), until: Utc::now() + TimeDelta::milliseconds(300) };
        assert!(matches!(memory.claim(&job_id, 0, &dead).await.unwrap(), Claim::Claimed(_)));
        // Lambda's retry of its invocation: waits for the hold to end, then does the work.
        let retry = Invocation::new("retry", Some(Utc::now() + TimeDelta::minutes(5)), 1024);
        let result = runner.run(&message(&job_id, 0), &retry).await.unwrap();
        assert!(matches!(result, RunResult::Succeeded { job_finished: true, .. }), "{result:?}");
        let task = memory.tasks(&job_id).await.unwrap().remove(0);
        assert_eq!((task.status, task.hold.attempts), (TaskStatus::Success, 2));
    }

    #[tokio::test]
    async fn an_output_written_whose_answer_was_lost_counts_as_written() {
        let (memory, runner, job_id, _scratch) = setup(vec![snapshot()], b"video").await;
        memory.lose_put_answers(1);
        let result = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        let RunResult::Succeeded { outputs, .. } = result else { panic!("{result:?}") };
        assert_eq!(outputs.len(), 2);
        for output in outputs {
            assert!(memory.head(&ObjectRef::new(&output.bucket, &output.key)).await.unwrap().is_some());
        }
    }

    #[tokio::test]
    async fn a_running_worker_renews_its_hold_so_a_second_delivery_leaves_the_task_alone() {
        let (memory, _runner, job_id, _scratch) = setup(vec![snapshot()], b"video").await;
        let soon = Utc::now() + TimeDelta::seconds(30);
        let alive = Lease { holder: "alive".into(), now: Utc::now(), until: soon };
        assert!(matches!(memory.claim(&job_id, 0, &alive).await.unwrap(), Claim::Claimed(_)));
        memory.renew(&job_id, Held::Task(0), 1, soon + TimeDelta::minutes(2)).await.unwrap();
        let task = memory.tasks(&job_id).await.unwrap().remove(0);
        assert_eq!(task.hold.lease_until, Some(soon + TimeDelta::minutes(2)));
        memory.renew(&job_id, Held::Task(0), 7, soon + TimeDelta::minutes(9)).await.unwrap();
        let task = memory.tasks(&job_id).await.unwrap().remove(0);
        assert_eq!(
            task.hold.lease_until,
            Some(soon + TimeDelta::minutes(2)),
            "another attempt's renewal changes nothing"
        );
    }

    #[tokio::test]
    async fn when_message_repeats_should_run_task_once() {
        let (memory, runner, job_id, _scratch) = setup(vec![snapshot()], b"video").await;
        runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        let again = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        assert!(matches!(again, RunResult::Skipped { ref reason, .. } if reason == "already SUCCESS"), "{again:?}");
        assert_eq!(memory.render_count(), 1);
    }

    #[tokio::test]
    async fn when_the_output_key_holds_a_users_file_should_leave_it_and_write_nothing() {
        let (memory, runner, job_id, _scratch) = setup(vec![snapshot()], b"video").await;
        let users = ObjectRef::new("media", "out/sub/clip_snapshotByTimeOffset_1_1.jpg");
        memory.put_object(users.clone(), b"the user's own picture".to_vec(), None);
        let result = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        assert_eq!(failed_with(&result), Some(ErrorCode::OutputConflict), "{result:?}");
        assert_eq!(memory.object(&users).as_deref(), Some(&b"the user's own picture"[..]));
        assert_eq!(memory.object(&ObjectRef::new("media", "out/sub/clip_snapshotByTimeOffset_1_0.jpg")), None);
    }

    #[tokio::test]
    async fn when_the_output_key_holds_this_workflows_output_of_the_same_upload_should_replace_it() {
        let (memory, runner, job_id, _scratch) = setup(vec![snapshot()], b"video").await;
        let earlier = ObjectRef::new("media", "out/sub/clip_snapshotByTimeOffset_1_0.jpg");
        let marker = OutputMarker::new("job-earlier", "flow", &ObjectRef::new("media", INPUT), &earlier);
        memory.put_object(earlier.clone(), b"old".to_vec(), Some(marker));
        let result = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        assert!(matches!(result, RunResult::Succeeded { .. }), "{result:?}");
        assert_eq!(memory.object(&earlier).as_deref(), Some(&b"rendered"[..]));
        let other = ObjectRef::new("media", "out/sub/clip_snapshotByTimeOffset_1_1.jpg");
        let foreign = OutputMarker::new("job-x", "another", &ObjectRef::new("media", INPUT), &other);
        memory.put_object(other.clone(), b"theirs".to_vec(), Some(foreign));
        memory.change_task(&job_id, 0, |task| task.status = TaskStatus::Waiting);
        let result = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        assert_eq!(failed_with(&result), Some(ErrorCode::OutputConflict), "another workflow's output stays");
    }

    #[tokio::test]
    async fn when_the_upload_was_replaced_should_write_nothing() {
        let (memory, runner, job_id, _scratch) = setup(vec![snapshot()], b"first").await;
        memory.put_object(ObjectRef::new("media", INPUT), b"second".to_vec(), None);
        let result = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        assert_eq!(failed_with(&result), Some(ErrorCode::SourceReplaced), "{result:?}");
        assert_eq!(memory.render_count(), 0, "the pinned read failed before rendering");
    }

    #[tokio::test]
    async fn when_output_key_would_be_too_long_should_fail_before_downloading() {
        let (memory, runner, job_id, _scratch) = setup(vec![snapshot()], b"video").await;
        memory.change_job(&job_id, |job| job.relative_key = format!("{}.mp4", "x".repeat(1020)));
        let result = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        assert_eq!(failed_with(&result), Some(ErrorCode::KeyTooLong), "{result:?}");
        assert_eq!(memory.render_count(), 0);
    }

    #[tokio::test]
    async fn when_internal_error_should_give_task_back_until_attempts_run_out() {
        let (memory, runner, job_id, _scratch) = setup(vec![snapshot()], b"video").await;
        memory.fail_render(ErrorCode::Internal);
        for attempt in 1..MAX_ATTEMPTS {
            let error = runner.run(&message(&job_id, 0), &invocation()).await.unwrap_err();
            assert!(matches!(error, RunError::Retry { attempt: a, .. } if a == attempt));
            let task = &memory.tasks(&job_id).await.unwrap()[0];
            assert_eq!(task.status, TaskStatus::Waiting);
        }
        // The last attempt records the failure and still fails the invocation (for the DLQ).
        let last = runner.run(&message(&job_id, 0), &invocation()).await.unwrap_err();
        assert!(matches!(last, RunError::Exhausted { attempts: MAX_ATTEMPTS, .. }), "{last:?}");
        let task = &memory.tasks(&job_id).await.unwrap()[0];
        assert_eq!(task.status, TaskStatus::Fail);
        let error = task.error.as_ref().unwrap();
        assert_eq!(error.code, ErrorCode::Internal);
        assert_eq!(error.message, "render failed (attempt 3 of 3: retries exhausted)");
        assert_eq!(memory.job(&job_id).await.unwrap().unwrap().status, JobStatus::Finish);
        let again = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        assert!(matches!(again, RunResult::Skipped { .. }), "a later retry finds the task done");
    }

    #[tokio::test]
    async fn when_watermark_image_is_missing_should_fail_with_invalid_input() {
        let spec: TaskSpec = serde_json::from_str(
            r#"{"type":"watermark","watermarks":[{"image":{"bucket":"media","key":"nope.png"}}]}"#,
        )
        .unwrap();
        let (_memory, runner, job_id, _scratch) = setup(vec![spec], b"video").await;
        let result = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        assert_eq!(failed_with(&result), Some(ErrorCode::InvalidWatermarkImage));
    }

    #[tokio::test]
    async fn when_watermark_image_is_not_png_should_fail_with_invalid_input() {
        let spec: TaskSpec = serde_json::from_str(
            r#"{"type":"watermark","watermarks":[{"image":{"bucket":"media","key":"logo.jpg"}}]}"#,
        )
        .unwrap();
        let (memory, runner, job_id, _scratch) = setup(vec![spec], b"video").await;
        memory.put_object(ObjectRef::new("media", "logo.jpg"), b"\xff\xd8\xff\xe0 jpeg".to_vec(), None);
        let result = runner.run(&message(&job_id, 0), &invocation()).await.unwrap();
        assert!(
            matches!(&result, RunResult::Failed { error, .. } if error.code == ErrorCode::InvalidWatermarkImage
                && error.message == "watermark image s3://media/logo.jpg is not a PNG"),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn when_job_is_unknown_should_skip() {
        let (_memory, runner, _job_id, _scratch) = setup(vec![snapshot()], b"video").await;
        let result = runner.run(&message(&JobId::from("job-x".to_owned()), 0), &invocation()).await.unwrap();
        assert!(matches!(result, RunResult::Skipped { ref reason, .. } if reason == "no such job"));
    }
}
