//! Jobs (one upload processed by one workflow, MPS "WorkflowTask") and their tasks (one task
//! spec run for that upload), with their states, outcomes and error codes.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::attempt::Hold;
use super::chunk::ChunkPlan;
use super::error::{ErrorCode, TaskError};
use super::limits::Limits;
use super::media::MediaInfo;
use super::notification::NotifyMode;
use super::notification::delivery::Delivery;
use super::notification::spec::NotificationSpec;
use super::object::{ObjectCreated, ObjectHead, ObjectRef, OutputMarker, digest, input_format, input_name};
use super::task::{OutputNames, OutputSlot, QualityScore, TaskSpec, Tuning};
use super::usage::{OutputSeconds, Usage};
use super::workflow::{Location, Workflow};

/// Deterministic: the same upload seen by the same workflow always has the same id, whatever
/// happened to the workflow in between (enable, disable, a new revision), so a repeated event
/// finds the job it created and never starts a second one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(String);

impl JobId {
    /// The id of the job `workflow` runs for the upload `identity` (see
    /// [`ObjectCreated::upload_identity`]) of `object`.
    pub fn derive(workflow: &str, object: &ObjectRef, identity: &str) -> JobId {
        JobId(format!("job-{}", digest(&[workflow, &object.bucket, &object.key, identity])))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for JobId {
    fn from(id: String) -> Self {
        JobId(id)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Waiting,
    Processing,
    Finish,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    Waiting,
    Processing,
    Success,
    Fail,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Waiting => "WAITING",
            TaskStatus::Processing => "PROCESSING",
            TaskStatus::Success => "SUCCESS",
            TaskStatus::Fail => "FAIL",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, TaskStatus::Success | TaskStatus::Fail)
    }
}

/// What a finished job came to (MPS's job-level error code): every task succeeded, or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobResult {
    Success,
    Fail,
}

/// One upload processed by one workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub workflow: String,
    pub workflow_revision: u64,
    pub input: ObjectRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_version: Option<String>,
    /// The entity tag of the stored upload this job processes: reads are pinned to it, and a
    /// different one at the key means the upload was replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_size: Option<u64>,
    pub output: Location,
    /// The input key below the trigger dir; outputs keep this sub-path under the output dir.
    pub relative_key: String,
    pub event_time: DateTime<Utc>,
    pub status: JobStatus,
    pub task_count: u32,
    /// The workflow's limits when the job started.
    #[serde(default)]
    pub limits: Limits,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// When the dispatcher asked a worker to prepare the job (probe once, then start tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepare_sent_at: Option<DateTime<Utc>>,
    /// Preparations started so far (each counts, as task attempts do).
    #[serde(default)]
    pub prepare_attempts: u32,
    /// The source as the preparation probed it; tasks start only once it is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<MediaInfo>,
    /// Tasks that ended in FAIL.
    #[serde(default)]
    pub failed_tasks: u32,
    /// The first failure among its tasks: the job's error code and message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
    /// The workflow's event notification when the job started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<NotificationSpec>,
    /// What sending the job's finish event came to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    /// How often failed tasks were run again (`mediaflow job redo`).
    #[serde(default)]
    pub redos: u32,
    /// Change-mode events sent, and those that could not be.
    #[serde(default)]
    pub changes_delivered: u32,
    #[serde(default)]
    pub changes_failed: u32,
    /// What its preparation and every task used, all told: kept apart from the job's record
    /// (which the jobs' indexes copy at every write) and read with its view.
    #[serde(default, skip_serializing_if = "Usage::is_empty")]
    pub usage: Usage,
}

/// One task spec of a job's workflow, run for the job's upload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub job_id: JobId,
    pub index: u32,
    pub spec: TaskSpec,
    pub status: TaskStatus,
    /// When the dispatcher handed the task to a worker; a repeated event resends only tasks
    /// that were never sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// Attempts made, and who holds the current one until when.
    #[serde(flatten)]
    pub hold: Hold,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<OutputFile>,
    /// What went wrong without failing the task (a few damaged frames, a time point without a
    /// picture).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// How far the running attempt got, 0–100 (from ffmpeg's progress, written now and then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<u8>,
    /// Where the successful attempt spent its time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<TaskTimings>,
    /// How the task was split when it is encoded in chunks ([`chunk`](super::chunk)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<ChunkPlan>,
    /// Parts of a chunked task that succeeded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub parts_done: u32,
    /// When the join of a chunked task was handed to a worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_sent_at: Option<DateTime<Utc>>,
    /// What every invocation that worked on it used (attempts, parts, the join).
    #[serde(default)]
    pub usage: Usage,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

impl Task {
    /// The minutes of output `outputs` hold, by size, as per-minute services bill them: each
    /// rendition of a ladder (of `source`) for its length, each other video or audio file for
    /// its own; pictures and animated images not.
    pub fn output_seconds(&self, outputs: &[OutputFile], source: Option<&MediaInfo>) -> OutputSeconds {
        let mut seconds = OutputSeconds::default();
        let length = |output: &OutputFile| output.duration.or(source.and_then(|s| s.duration)).unwrap_or(0.0);
        match &self.spec {
            TaskSpec::Adaptive(spec) => {
                let (Some(source), Some(manifest)) = (source, outputs.first()) else { return seconds };
                let tuning = outputs.iter().find_map(|output| output.tuning.as_ref());
                for rung in spec.ladder(source, tuning) {
                    seconds.add_video(length(manifest), rung.size.width, rung.size.height);
                }
            }
            TaskSpec::Transcode(_) | TaskSpec::Watermark(_) => {
                for output in outputs {
                    match (output.width, output.height) {
                        (Some(width), Some(height)) => seconds.add_video(length(output), width, height),
                        _ => seconds.add_audio(length(output)),
                    }
                }
            }
            _ => {}
        }
        seconds
    }

    /// How far the task got, 0–100: a chunked task counts its parts done (the join is the last
    /// step), any other its running attempt's progress.
    pub fn progress_now(&self) -> Option<u8> {
        match &self.chunks {
            Some(plan) if !self.status.is_final() => {
                Some((u64::from(self.parts_done) * 100 / u64::from(plan.parts() + 1)) as u8)
            }
            _ => self.progress,
        }
    }

    /// Whether every part of a chunked task is done and nobody has asked for the join yet.
    pub fn join_due(&self) -> bool {
        self.chunks.as_ref().is_some_and(|plan| self.parts_done >= plan.parts())
            && self.join_sent_at.is_none()
            && !self.status.is_final()
    }
}

/// One part of a chunked task as stored: claimed, retried and recorded on its own, like a task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartState {
    pub job_id: JobId,
    pub task: u32,
    pub number: u32,
    pub status: TaskStatus,
    #[serde(flatten)]
    pub hold: Hold,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
}

impl PartState {
    pub fn waiting(job_id: &JobId, task: u32, number: u32) -> Self {
        PartState {
            job_id: job_id.clone(),
            task,
            number,
            status: TaskStatus::Waiting,
            hold: Hold::default(),
            error: None,
        }
    }
}

/// Milliseconds a task spent getting ready, rendering and writing the outputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskTimings {
    /// Before the render: the upload checked and opened, watermark images fetched. The upload
    /// itself is read while it renders (the name is the event schema's).
    pub download_ms: u64,
    pub render_ms: u64,
    pub upload_ms: u64,
}

/// A file a task wrote, as probed after encoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputFile {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Its score against the source, when the task asked (`quality`): one for a file of one
    /// rendition, one per rendition for a ladder's manifest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quality: Vec<QualityScore>,
    /// The CRF chosen for its title and what the probes predicted (`crf: auto`); the measured
    /// VMAF is its `quality`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning: Option<Tuning>,
}

/// S3's longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

impl Job {
    /// How its events went, in words (`finish event delivered after 1 attempt`); `None`
    /// without a notification.
    pub fn notification_summary(&self) -> Option<String> {
        let notification = self.notification.as_ref()?;
        let finish = match &self.delivery {
            None => "finish event not sent yet".to_owned(),
            Some(d) => {
                let tries = if d.attempts == 1 { "1 attempt".to_owned() } else { format!("{} attempts", d.attempts) };
                let error = d.error.as_ref().map(|e| format!(": {e}")).unwrap_or_default();
                let state = format!("{:?}", d.state).to_lowercase();
                format!("finish event {state} after {tries}{error}")
            }
        };
        let changes = match notification.mode {
            NotifyMode::Change => {
                format!("; {} change events sent, {} not", self.changes_delivered, self.changes_failed)
            }
            NotifyMode::Finish => String::new(),
        };
        Some(format!("{finish}{changes}"))
    }

    /// A new job for `event` (the stored object as `head` shows it) under `workflow`, waiting,
    /// with one task per task spec.
    pub fn start(
        workflow: &Workflow,
        event: &ObjectCreated,
        head: &ObjectHead,
        now: DateTime<Utc>,
    ) -> (Job, Vec<Task>) {
        let id = JobId::derive(&workflow.name, &event.object, &event.upload_identity(head));
        let job = Job {
            id: id.clone(),
            workflow: workflow.name.clone(),
            workflow_revision: workflow.revision,
            input: event.object.clone(),
            input_version: event.version_id.clone().or_else(|| head.version_id.clone()).filter(|v| v != "null"),
            input_etag: head.etag.clone().or_else(|| event.etag.clone()),
            input_size: Some(head.size).filter(|size| *size > 0).or(event.size),
            output: workflow.output.clone(),
            relative_key: workflow.relative_key(&event.object.key).to_owned(),
            event_time: event.event_time,
            status: JobStatus::Waiting,
            task_count: workflow.tasks.len() as u32,
            limits: workflow.limits,
            created_at: now,
            finished_at: None,
            prepare_sent_at: None,
            prepare_attempts: 0,
            source: None,
            failed_tasks: 0,
            error: None,
            notification: workflow.notification.clone(),
            delivery: None,
            redos: 0,
            changes_delivered: 0,
            changes_failed: 0,
            usage: Usage::default(),
        };
        let tasks = workflow
            .tasks
            .iter()
            .enumerate()
            .map(|(index, spec)| Task {
                job_id: id.clone(),
                index: index as u32,
                spec: spec.clone(),
                status: TaskStatus::Waiting,
                sent_at: None,
                hold: Hold::default(),
                started_at: None,
                finished_at: None,
                error: None,
                outputs: Vec::new(),
                warnings: Vec::new(),
                progress: None,
                timings: None,
                chunks: None,
                parts_done: 0,
                join_sent_at: None,
                usage: Usage::default(),
            })
            .collect();
        (job, tasks)
    }

    /// Where output `number` of task `index` goes: the output dir, then the input's sub-path
    /// below the trigger dir, then the task's name pattern. Same-named inputs in different
    /// sub-dirs therefore never collide.
    /// The marker an object this job writes at `target` carries: whose output it is.
    pub fn output_marker(&self, target: &ObjectRef) -> OutputMarker {
        OutputMarker::new(self.id.as_str(), &self.workflow, &self.input, target)
    }

    pub fn output_key(&self, task: &Task, slot: OutputSlot) -> ObjectRef {
        let sub_dir = match self.relative_key.rfind('/') {
            Some(slash) => &self.relative_key[..=slash],
            None => "",
        };
        let name = self.output_names(task).name(slot);
        ObjectRef::new(&self.output.bucket, format!("{}{sub_dir}{name}", self.output.dir))
    }

    /// The upload's name without its directories and extension: `{inputName}`.
    pub fn input_name(&self) -> &str {
        input_name(&self.relative_key)
    }

    /// How `task`'s outputs are named for this upload.
    pub fn output_names<'a>(&'a self, task: &'a Task) -> OutputNames<'a> {
        OutputNames {
            spec: &task.spec,
            position: task.index as usize,
            input_name: self.input_name(),
            input_format: input_format(&self.relative_key),
        }
    }

    /// Once finished: whether every task succeeded.
    pub fn result(&self) -> Option<JobResult> {
        (self.status == JobStatus::Finish).then_some(if self.failed_tasks == 0 {
            JobResult::Success
        } else {
            JobResult::Fail
        })
    }

    /// Which of `tasks` `mediaflow job redo` runs again: `only` that one (failed or succeeded),
    /// or every failed task; only once the job is finished.
    pub fn redo_plan(&self, tasks: &[Task], only: Option<u32>) -> Result<Vec<u32>, String> {
        if self.status != JobStatus::Finish {
            return Err(format!("job {} is still running: only a finished job's tasks run again", self.id));
        }
        let failed: Vec<u32> = tasks.iter().filter(|t| t.status == TaskStatus::Fail).map(|t| t.index).collect();
        match only {
            // A succeeded task named on its own runs again too: its outputs are written again
            // (an output deleted since, say).
            Some(index) => match tasks.iter().find(|t| t.index == index) {
                None => Err(format!("job {} has no task {index}", self.id)),
                Some(task) if !task.status.is_final() => Err(format!(
                    "task {index} of job {} is {}: only an ended task runs again",
                    self.id,
                    task.status.as_str()
                )),
                Some(_) => Ok(vec![index]),
            },
            None if failed.is_empty() => Err(format!("job {} has no failed task", self.id)),
            None => Ok(failed),
        }
    }

    /// Why a job writes nothing once its upload was replaced.
    pub fn replaced(&self) -> TaskError {
        TaskError::new(
            ErrorCode::SourceReplaced,
            format!("{} was replaced by a newer upload, which its own job processes; nothing was written", self.input),
        )
    }

    /// Refuses a task whose output keys S3 would reject as too long, before any work.
    pub fn check_output_keys(&self, task: &Task) -> Result<(), TaskError> {
        let key = self.output_key(task, task.spec.longest_slot()).key;
        if key.len() > MAX_KEY_BYTES {
            return Err(TaskError::new(
                ErrorCode::KeyTooLong,
                format!("the output key would have {} bytes; S3 allows {MAX_KEY_BYTES}", key.len()),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::object::parse_event_time;
    use crate::domain::task::{SnapshotSpec, TimePoint, TranscodeSpec};
    use crate::domain::workflow::{OutputSpec, TriggerSpec, WorkflowSpec};

    fn workflow(output_dir: Option<&str>) -> Workflow {
        let spec = WorkflowSpec {
            name: "flow".into(),
            trigger: TriggerSpec { bucket: "media".into(), dir: "in/".into() },
            output: OutputSpec { bucket: Some("out".into()), dir: output_dir.map(Into::into) },
            tasks: vec![
                TaskSpec::Transcode(TranscodeSpec::default()),
                TaskSpec::Snapshot(SnapshotSpec { times: vec![TimePoint::Seconds(1.0)], ..SnapshotSpec::default() }),
            ],
            limits: Default::default(),
            notification: None,
        };
        Workflow::create(spec, parse_event_time("2026-01-01T00:00:00Z").unwrap()).unwrap()
    }

    fn head() -> ObjectHead {
        ObjectHead { size: 10, etag: Some("\"etag\"".into()), ..ObjectHead::default() }
    }

    fn event(key: &str, version: Option<&str>) -> ObjectCreated {
        ObjectCreated {
            object: ObjectRef::new("media", key),
            size: Some(10),
            etag: Some("etag".into()),
            version_id: version.map(Into::into),
            sequencer: None,
            event_time: parse_event_time("2026-01-02T00:00:00Z").unwrap(),
        }
    }

    fn id(flow: &Workflow, event: &ObjectCreated) -> JobId {
        Job::start(flow, event, &head(), Utc::now()).0.id
    }

    #[test]
    fn job_id_is_deterministic_per_upload_and_workflow_whatever_its_revision() {
        let flow = workflow(None);
        let a = id(&flow, &event("in/a.mp4", Some("v1")));
        assert_eq!(a, id(&flow, &event("in/a.mp4", Some("v1"))));
        assert_ne!(a, id(&flow, &event("in/a.mp4", Some("v2"))));
        assert_ne!(a, id(&flow, &event("in/b.mp4", Some("v1"))));
        let revised = flow.disable(Utc::now()).enable(Utc::now());
        assert_eq!(a, id(&revised, &event("in/a.mp4", Some("v1"))), "enable, disable and apply change nothing");
        let other = Workflow { name: "other".into(), ..flow };
        assert_ne!(a, id(&other, &event("in/a.mp4", Some("v1"))));
        assert!(a.as_str().starts_with("job-") && a.as_str().len() == 36);
    }

    #[test]
    fn output_keys_longer_than_s3_allows_are_refused() {
        let long = format!("in/{}.mp4", "x".repeat(1010));
        let (job, tasks) = Job::start(&workflow(Some("done/")), &event(&long, None), &head(), Utc::now());
        let error = job.check_output_keys(&tasks[0]).unwrap_err();
        assert_eq!(error.code, ErrorCode::KeyTooLong);
        assert_eq!(error.message, "the output key would have 1031 bytes; S3 allows 1024");
        let (job, tasks) = Job::start(&workflow(Some("done/")), &event("in/a.mp4", None), &head(), Utc::now());
        assert_eq!(job.check_output_keys(&tasks[0]), Ok(()));
    }

    #[test]
    fn start_creates_one_waiting_task_per_spec() {
        let (job, tasks) = Job::start(&workflow(None), &event("in/a.mp4", None), &head(), Utc::now());
        assert_eq!(job.status, JobStatus::Waiting);
        assert_eq!(job.task_count, 2);
        assert_eq!(
            tasks.iter().map(|t| (t.index, t.status)).collect::<Vec<_>>(),
            vec![(0, TaskStatus::Waiting), (1, TaskStatus::Waiting)]
        );
    }

    #[test]
    fn output_key_keeps_sub_path_below_trigger_dir() {
        let (job, tasks) = Job::start(&workflow(Some("done/")), &event("in/x/y/clip.mov", None), &head(), Utc::now());
        assert_eq!(
            job.output_key(&tasks[0], OutputSlot::Main(0)),
            ObjectRef::new("out", "done/x/y/clip_transcode_1.mp4")
        );
        assert_eq!(
            job.output_key(&tasks[1], OutputSlot::Main(0)),
            ObjectRef::new("out", "done/x/y/clip_snapshotByTimeOffset_2_0.jpg")
        );
    }

    #[test]
    fn output_key_defaults_to_trigger_dir() {
        let (job, tasks) = Job::start(&workflow(None), &event("in/clip.mp4", None), &head(), Utc::now());
        assert_eq!(job.output_key(&tasks[0], OutputSlot::Main(0)), ObjectRef::new("out", "in/clip_transcode_1.mp4"));
    }

    #[test]
    fn same_names_in_different_dirs_do_not_collide() {
        let flow = workflow(Some("o/"));
        let (a, tasks) = Job::start(&flow, &event("in/a/clip.mp4", None), &head(), Utc::now());
        let (b, _) = Job::start(&flow, &event("in/b/clip.mp4", None), &head(), Utc::now());
        assert_ne!(a.output_key(&tasks[0], OutputSlot::Main(0)), b.output_key(&tasks[0], OutputSlot::Main(0)));
    }
}
