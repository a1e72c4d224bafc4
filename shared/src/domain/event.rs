//! Job events, what a notification says: one versioned payload (see `schemas/workflow-task-event.v2.json`)
//! built from a job and its tasks.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::notification::spec::NotifyMode;
use crate::domain::error::TaskError;
use crate::domain::job::{Job, JobResult, JobStatus, OutputFile, Task, TaskStatus, TaskTimings};
use crate::domain::media::MediaInfo;
use crate::domain::object::ObjectRef;

/// What a notification says: MPS's WorkflowTask event, in snake case, versioned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowTaskEvent {
    /// `mediaflow.workflow-task.v2`; a change that breaks readers, or that readers should be able to tell (v2: outputs scored), gets a new version.
    pub schema: String,
    pub event_type: String,
    /// Unique per event and the same on every retry of it (the webhook-id): `<job>.finished`,
    /// `<job>.task<N>.<started|succeeded|failed>.<attempt>`, with `.redo<N>` after the job id
    /// once failed tasks were run again.
    pub event_id: String,
    pub mode: NotifyMode,
    /// What happened: `job_finished`, or in Change mode `task_started`, `task_succeeded`,
    /// `task_failed`.
    pub reason: String,
    pub time: DateTime<Utc>,
    pub workflow_task: WorkflowTask,
}

pub const SCHEMA: &str = "mediaflow.workflow-task.v2";

/// The job, as the event reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowTask {
    pub task_id: String,
    pub workflow: String,
    pub workflow_revision: u64,
    pub status: JobStatus,
    /// Once finished: SUCCESS when every task succeeded, else FAIL.
    pub result: Option<JobResult>,
    /// The first failure among the tasks (MPS's job-level ErrCode and Message).
    pub error: Option<TaskError>,
    pub input: EventInput,
    /// The source as probed (MPS's MetaData); absent when it could not be read.
    pub metadata: Option<MediaInfo>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// One per task of the workflow (MPS's MediaProcessResultSet).
    pub results: Vec<TaskResult>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventInput {
    pub bucket: String,
    pub key: String,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub size: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    pub index: u32,
    /// transcode, snapshot, animated, watermark
    #[serde(rename = "type")]
    pub kind: String,
    pub status: TaskStatus,
    pub error: Option<TaskError>,
    pub attempts: u32,
    pub progress: Option<u8>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub timings: Option<TaskTimings>,
    pub warnings: Vec<String>,
    pub outputs: Vec<OutputFile>,
}

/// Why an event is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventReason {
    JobFinished,
    TaskChanged { index: u32, status: TaskStatus, attempt: u32 },
}

impl WorkflowTaskEvent {
    /// The event for `job` (with its `tasks`) as they stand.
    pub fn new(job: &Job, tasks: &[Task], mode: NotifyMode, reason: EventReason, now: DateTime<Utc>) -> Self {
        // Each `job redo` is a new round of the job's events, with ids of its own.
        let round = if job.redos == 0 { job.id.to_string() } else { format!("{}.redo{}", job.id, job.redos) };
        let (event_id, reason) = match reason {
            EventReason::JobFinished => (format!("{round}.finished"), "job_finished".to_owned()),
            EventReason::TaskChanged { index, status, attempt } => {
                let what = match status {
                    TaskStatus::Waiting | TaskStatus::Processing => "started",
                    TaskStatus::Success => "succeeded",
                    TaskStatus::Fail => "failed",
                };
                (format!("{round}.task{index}.{what}.{attempt}"), format!("task_{what}"))
            }
        };
        let ObjectRef { bucket, key } = job.input.clone();
        WorkflowTaskEvent {
            schema: SCHEMA.to_owned(),
            event_type: "WorkflowTask".to_owned(),
            event_id,
            mode,
            reason,
            time: now,
            workflow_task: WorkflowTask {
                task_id: job.id.to_string(),
                workflow: job.workflow.clone(),
                workflow_revision: job.workflow_revision,
                status: job.status,
                result: job.result(),
                error: job.error.clone(),
                input: EventInput {
                    bucket,
                    key,
                    etag: job.input_etag.clone(),
                    version_id: job.input_version.clone(),
                    size: job.input_size,
                },
                metadata: job.source.clone(),
                created_at: job.created_at,
                finished_at: job.finished_at,
                results: tasks
                    .iter()
                    .map(|task| TaskResult {
                        index: task.index,
                        kind: task.spec.kind().to_owned(),
                        status: task.status,
                        error: task.error.clone().filter(|_| task.status == TaskStatus::Fail),
                        attempts: task.hold.attempts,
                        progress: task.progress,
                        started_at: task.started_at,
                        finished_at: task.finished_at,
                        timings: task.timings,
                        warnings: task.warnings.clone(),
                        outputs: task.outputs.clone(),
                    })
                    .collect(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_follow_their_published_schema() {
        use crate::domain::error::ErrorCode;
        use crate::domain::job::OutputFile;
        use crate::domain::object::{ObjectCreated, ObjectHead, parse_event_time};
        use crate::domain::task::{Probe, QualityMetric, QualityScore, Target, Tuning, VideoCodec};
        use crate::domain::workflow::{Workflow, WorkflowSpec};
        let spec: WorkflowSpec = serde_json::from_value(serde_json::json!({
            "name": "w", "trigger": {"bucket": "media", "dir": "in/"},
            "tasks": [{"type": "transcode"}, {"type": "snapshot", "times": [1]}, {"type": "animated"},
                {"type": "watermark", "watermarks": [{"text": "x"}]},
                {"type": "adaptive", "renditions": [{"height": 360, "bitrate_kbps": 500}]},
                {"type": "sample"}, {"type": "sprite"}, {"type": "cover"}],
            "notification": {"target": {"type": "sns", "topic_arn": "arn:aws:sns:us-east-1:1:t"}}
        }))
        .unwrap();
        let now = parse_event_time("2026-11-27T10:00:00Z").unwrap();
        let workflow = Workflow::create(spec, now).unwrap();
        let event = ObjectCreated {
            object: ObjectRef::new("media", "in/a.mp4"),
            size: Some(10),
            etag: Some("e".into()),
            version_id: None,
            sequencer: None,
            event_time: now,
        };
        let (mut job, mut tasks) = Job::start(&workflow, &event, &ObjectHead::default(), now);
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../../schemas/workflow-task-event.v2.json")).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let check = |event: &WorkflowTaskEvent| {
            let value = serde_json::to_value(event).unwrap();
            let errors: Vec<String> =
                validator.iter_errors(&value).map(|e| format!("{e} at {}", e.instance_path())).collect();
            assert!(errors.is_empty(), "{errors:?}\n{value:#}");
        };
        let started = EventReason::TaskChanged { index: 0, status: TaskStatus::Processing, attempt: 1 };
        check(&WorkflowTaskEvent::new(&job, &tasks, NotifyMode::Change, started, now));
        tasks[0].status = TaskStatus::Success;
        tasks[0].outputs.push(OutputFile {
            bucket: "media".into(),
            key: "in/a_transcode_1.mp4".into(),
            size: 5,
            duration: Some(1.0),
            width: Some(640),
            height: Some(360),
            quality: vec![QualityScore::of(QualityMetric::Vmaf, [93.5, 88.0]).expect("a score")],
            tuning: Some(Tuning {
                crf: 26,
                predicted_vmaf: Some(93.4),
                predicted_kbps: Some(2150.0),
                probes: vec![Probe { crf: 23, kbps: 3000.0, vmaf: 95.0, height: None }],
                sampled_seconds: 4.0,
                probe_seconds: 6.5,
                note: None,
                ..Tuning::untuned(VideoCodec::H264, Target { vmaf: 93.0, max_kbps: None }, "-")
            }),
        });
        tasks[0].timings = Some(TaskTimings::default());
        tasks[1].status = TaskStatus::Fail;
        tasks[1].error = Some(TaskError::new(ErrorCode::SourceCorrupt, "damaged"));
        job.status = JobStatus::Finish;
        job.failed_tasks = 1;
        job.error = tasks[1].error.clone();
        job.finished_at = Some(now);
        job.source = Some(MediaInfo { container: "mov".into(), duration: Some(1.0), ..MediaInfo::default() });
        let finished = WorkflowTaskEvent::new(&job, &tasks, NotifyMode::Finish, EventReason::JobFinished, now);
        check(&finished);
        assert_eq!(finished.workflow_task.result, Some(JobResult::Fail));
        assert_eq!(finished.event_id, format!("{}.finished", job.id));
    }
}
