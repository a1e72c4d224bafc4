//! What an audit of a deployment looks for: the promise — every upload an enabled workflow wants
//! has exactly one job, every job finishes, every succeeded task's outputs are stored as
//! recorded, no part of a chunked task outlives it — set against the records and the buckets.
//! Each breach is a [`Finding`] that names the object and the [`Repair`]. The rules are here;
//! the reading is the use-case's (`app::admin::audit`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Serialize, Serializer};

use super::job::{Job, JobId, JobStatus, Task, TaskStatus};
use super::object::{ObjectCreated, ObjectRef};
use super::workflow::Workflow;

/// How long a job may go without any sign of work before the audit calls it stuck: well past
/// Lambda's longest invocation (15 minutes) and its two retries.
pub const DEFAULT_DEADLINE: TimeDelta = TimeDelta::hours(1);

/// How long ago an output's upload in parts must have begun to be taken for abandoned: longer
/// than any worker invocation runs (15 minutes at most), which finishes or drops its own.
pub const ABANDONED_AFTER: TimeDelta = TimeDelta::hours(1);

/// How old an upload must be before the audit expects its job: events reach the dispatcher in
/// seconds, retried ones in minutes.
pub const DEFAULT_GRACE: TimeDelta = TimeDelta::minutes(10);

/// What kind of breach a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// An upload an enabled workflow wants, with no job.
    UploadWithoutJob,
    /// A job with no sign of work for longer than the deadline.
    JobNotFinished,
    /// A succeeded task's output is not stored.
    OutputMissing,
    /// A succeeded task's output is stored with another size than recorded.
    OutputSizeDiffers,
    /// More than one job for one upload (one object version) and workflow.
    DuplicateJob,
    /// A part of a chunked task kept after the task ended.
    PartLeftBehind,
    /// An output's upload in parts, begun longer ago than any worker runs and never finished
    /// (its worker was cut off mid-encode): its parts are billed as storage.
    UploadUnfinished,
}

impl FindingKind {
    pub const ALL: [FindingKind; 7] = [
        FindingKind::UploadWithoutJob,
        FindingKind::JobNotFinished,
        FindingKind::OutputMissing,
        FindingKind::OutputSizeDiffers,
        FindingKind::DuplicateJob,
        FindingKind::PartLeftBehind,
        FindingKind::UploadUnfinished,
    ];

    /// The CloudWatch metric that counts it.
    pub fn metric(self) -> &'static str {
        match self {
            FindingKind::UploadWithoutJob => "UploadsWithoutJob",
            FindingKind::JobNotFinished => "JobsNotFinished",
            FindingKind::OutputMissing => "OutputsMissing",
            FindingKind::OutputSizeDiffers => "OutputsWithOtherSize",
            FindingKind::DuplicateJob => "DuplicateJobs",
            FindingKind::PartLeftBehind => "PartsLeftBehind",
            FindingKind::UploadUnfinished => "UnfinishedUploads",
        }
    }

    /// In words, for tables.
    pub fn describe(self) -> &'static str {
        match self {
            FindingKind::UploadWithoutJob => "upload without a job",
            FindingKind::JobNotFinished => "job not finished",
            FindingKind::OutputMissing => "output missing",
            FindingKind::OutputSizeDiffers => "output size differs",
            FindingKind::DuplicateJob => "duplicate job",
            FindingKind::PartLeftBehind => "part left behind",
            FindingKind::UploadUnfinished => "unfinished upload",
        }
    }
}

/// What puts a finding right. Every repair is idempotent: run twice, it does the work once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repair {
    /// Run the workflow on the upload (`mediaflow process`); a job that exists by then is kept.
    Process { workflow: String, object: ObjectRef },
    /// Run the job's failed, stuck or given task again (`mediaflow job redo`).
    Redo { job_id: JobId, task: Option<u32> },
    /// Remove the part: nothing will join it any more.
    DeletePart { object: ObjectRef },
    /// Drop the upload and its parts: nothing will finish it any more.
    AbortUpload { object: ObjectRef, id: String },
}

impl fmt::Display for Repair {
    /// The command that does it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repair::Process { workflow, object } => write!(f, "mediaflow process --workflow {workflow} {object}"),
            Repair::Redo { job_id, task: None } => write!(f, "mediaflow job redo {job_id}"),
            Repair::Redo { job_id, task: Some(task) } => write!(f, "mediaflow job redo {job_id} --task {task}"),
            Repair::DeletePart { object } | Repair::AbortUpload { object, .. } => {
                write!(f, "mediaflow audit --fix --bucket {}", object.bucket)
            }
        }
    }
}

impl Serialize for Repair {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let action = match self {
            Repair::Process { .. } => "process",
            Repair::Redo { .. } => "redo",
            Repair::DeletePart { .. } => "delete_part",
            Repair::AbortUpload { .. } => "abort_upload",
        };
        let mut map = BTreeMap::new();
        map.insert("action", action.to_owned());
        map.insert("command", self.to_string());
        map.serialize(serializer)
    }
}

/// One breach of the promise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// The upload, output or part it is about.
    pub object: ObjectRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repair: Option<Repair>,
}

/// How much an audit looked at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Checked {
    pub workflows: u64,
    pub uploads: u64,
    pub jobs: u64,
    pub outputs: u64,
    pub parts: u64,
}

/// What an audit found, and how much it looked at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub since: DateTime<Utc>,
    pub at: DateTime<Utc>,
    pub checked: Checked,
    /// Every kind, with how many findings of it (zeros included: the metrics publish them).
    pub counts: BTreeMap<FindingKind, u64>,
    pub findings: Vec<Finding>,
}

impl AuditReport {
    pub fn new(since: DateTime<Utc>, at: DateTime<Utc>, checked: Checked, mut findings: Vec<Finding>) -> Self {
        findings
            .sort_by(|a, b| (a.kind, &a.object.bucket, &a.object.key).cmp(&(b.kind, &b.object.bucket, &b.object.key)));
        let mut counts: BTreeMap<FindingKind, u64> = FindingKind::ALL.iter().map(|kind| (*kind, 0)).collect();
        for finding in &findings {
            *counts.entry(finding.kind).or_default() += 1;
        }
        Self { since, at, checked, counts, findings }
    }

    /// Whether the promise held.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// The counts as CloudWatch metrics in the embedded metric format: one log line that
    /// CloudWatch turns into a metric per kind (zeros included) in `namespace`, with the
    /// dimension `Stack` = `stack`.
    pub fn metrics(&self, namespace: &str, stack: &str) -> serde_json::Value {
        let names: Vec<serde_json::Value> =
            FindingKind::ALL.iter().map(|kind| serde_json::json!({"Name": kind.metric(), "Unit": "Count"})).collect();
        let mut document = serde_json::json!({
            "_aws": {
                "Timestamp": self.at.timestamp_millis(),
                "CloudWatchMetrics": [{"Namespace": namespace, "Dimensions": [["Stack"]], "Metrics": names}],
            },
            "Stack": stack,
        });
        for (kind, count) in &self.counts {
            document[kind.metric()] = serde_json::json!(count);
        }
        document
    }
}

/// Whether `workflow` wants the object listed at `object`, last modified at `modified`: in its
/// trigger dir, not a folder placeholder, made while it was enabled — decided as the dispatcher
/// decides on the object's event. Listings give whole seconds: an upload in the second the
/// workflow was enabled counts as made after it.
pub fn wants(workflow: &Workflow, object: &ObjectRef, modified: DateTime<Utc>) -> bool {
    if object.is_folder_placeholder() {
        return false;
    }
    let modified = match modified.timestamp_subsec_millis() {
        0 => modified + TimeDelta::milliseconds(999),
        _ => modified,
    };
    let event = ObjectCreated {
        object: object.clone(),
        size: None,
        etag: None,
        version_id: None,
        sequencer: None,
        event_time: modified,
    };
    workflow.decide(&event).is_ok()
}

/// The last sign of work on an unfinished job: its creation, its preparation sent, a task sent,
/// started or held.
pub fn last_activity(job: &Job, tasks: &[Task]) -> DateTime<Utc> {
    let task_times =
        tasks.iter().flat_map(|task| [task.sent_at, task.started_at, task.join_sent_at, task.hold.lease_until]);
    [Some(job.created_at), job.prepare_sent_at].into_iter().chain(task_times).flatten().max().unwrap_or(job.created_at)
}

/// Whether the job is unfinished with nobody working on it for longer than `deadline`: no task
/// holds a lease that runs past `now`, and nothing happened since `now - deadline`.
pub fn is_stuck(job: &Job, tasks: &[Task], now: DateTime<Utc>, deadline: TimeDelta) -> bool {
    job.status != JobStatus::Finish && last_activity(job, tasks) + deadline < now
}

/// The tasks a stuck job still has open (waiting or running): ended as lost, then run again.
pub fn open_tasks(tasks: &[Task]) -> Vec<u32> {
    tasks.iter().filter(|task| !task.status.is_final()).map(|task| task.index).collect()
}

/// Groups of jobs recorded for one upload by one workflow: the same key and object version, or
/// in a bucket without versions the same entity tag seen by the same event (its time). A second
/// upload of the same bytes is a new upload and not a duplicate.
pub fn duplicates(jobs: &[Job]) -> Vec<Vec<&Job>> {
    let mut groups: HashMap<(&str, &ObjectRef, String), Vec<&Job>> = HashMap::new();
    for job in jobs {
        let upload = match (&job.input_version, &job.input_etag) {
            (Some(version), _) if version != "null" => format!("v:{version}"),
            (_, etag) => format!("e:{}@{}", etag.as_deref().unwrap_or_default(), job.event_time.timestamp_micros()),
        };
        groups.entry((job.workflow.as_str(), &job.input, upload)).or_default().push(job);
    }
    let mut found: Vec<Vec<&Job>> = groups.into_values().filter(|group| group.len() > 1).collect();
    found.sort_by(|a, b| a[0].id.cmp(&b[0].id));
    found
}

/// The newest job of each upload key and workflow among `jobs` (newest first): only its outputs
/// are expected at their keys, since a later upload's job writes over an earlier one's.
pub fn newest_per_input(jobs: &[Job]) -> Vec<&Job> {
    let mut seen = std::collections::HashSet::new();
    jobs.iter().filter(|job| seen.insert((job.workflow.as_str(), &job.input))).collect()
}

/// Whether a part of task `task` is left behind: the task ended (or its job is gone), so nothing
/// will join it.
pub fn part_left_behind(task: Option<&Task>) -> bool {
    task.is_none_or(|task| matches!(task.status, TaskStatus::Success | TaskStatus::Fail))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::attempt::Hold;
    use crate::domain::object::parse_event_time;
    use crate::domain::workflow::WorkflowSpec;

    fn at(text: &str) -> DateTime<Utc> {
        parse_event_time(text).expect("time")
    }

    fn workflow(enabled_at: &str) -> Workflow {
        let spec = WorkflowSpec::from_value(serde_json::json!({
            "name": "w",
            "trigger": {"bucket": "media", "dir": "in/"},
            "output": {"dir": "out/"},
            "tasks": [{"type": "transcode"}],
        }))
        .expect("spec");
        Workflow::create(spec, at("2026-01-01T00:00:00Z")).expect("valid").enable(at(enabled_at))
    }

    fn job(workflow: &Workflow, key: &str, etag: &str, event_time: &str) -> (Job, Vec<Task>) {
        let event = ObjectCreated {
            object: ObjectRef::new("media", key),
            size: Some(1),
            etag: Some(etag.into()),
            version_id: None,
            sequencer: None,
            event_time: at(event_time),
        };
        let head = crate::domain::object::ObjectHead {
            etag: Some(etag.into()),
            last_modified: Some(at(event_time)),
            ..Default::default()
        };
        Job::start(workflow, &event, &head, at(event_time))
    }

    #[test]
    fn a_workflow_wants_uploads_in_its_dir_made_while_it_was_enabled() {
        let enabled = workflow("2026-02-01T00:00:00Z");
        let wanted = |key: &str, time: &str| wants(&enabled, &ObjectRef::new("media", key), at(time));
        assert!(wanted("in/a.mp4", "2026-02-02T00:00:00Z"));
        assert!(!wanted("in/a.mp4", "2026-01-15T00:00:00Z"), "before it was enabled");
        assert!(!wanted("other/a.mp4", "2026-02-02T00:00:00Z"), "outside its dir");
        assert!(!wanted("in/sub/", "2026-02-02T00:00:00Z"), "a folder placeholder");
        let second = workflow("2026-02-01T00:00:00.500Z");
        let listed = |time: &str| wants(&second, &ObjectRef::new("media", "in/a.mp4"), at(time));
        assert!(listed("2026-02-01T00:00:00Z"), "listed in whole seconds: within the second it was enabled");
        assert!(!listed("2026-02-01T00:00:00.200Z"), "a time with its milliseconds is taken as it is");
    }

    #[test]
    fn a_job_is_stuck_only_when_nothing_happened_for_the_whole_deadline() {
        let workflow = workflow("2026-02-01T00:00:00Z");
        let (mut job, mut tasks) = job(&workflow, "in/a.mp4", "\"e\"", "2026-02-02T00:00:00Z");
        let deadline = TimeDelta::hours(1);
        assert!(!is_stuck(&job, &tasks, at("2026-02-02T00:59:00Z"), deadline));
        assert!(is_stuck(&job, &tasks, at("2026-02-02T01:01:00Z"), deadline));
        tasks[0].hold =
            Hold { attempts: 1, claimed_by: Some("r".into()), lease_until: Some(at("2026-02-02T00:45:00Z")) };
        assert!(!is_stuck(&job, &tasks, at("2026-02-02T01:01:00Z"), deadline), "held until 00:45");
        assert!(is_stuck(&job, &tasks, at("2026-02-02T01:46:00Z"), deadline));
        assert_eq!(open_tasks(&tasks), vec![0]);
        job.status = JobStatus::Finish;
        assert!(!is_stuck(&job, &tasks, at("2026-02-03T00:00:00Z"), deadline), "a finished job is never stuck");
    }

    #[test]
    fn two_jobs_of_one_event_are_duplicates_but_a_second_upload_of_the_same_bytes_is_not() {
        let workflow = workflow("2026-02-01T00:00:00Z");
        let (first, _) = job(&workflow, "in/a.mp4", "\"e\"", "2026-02-02T00:00:00Z");
        let again = Job { id: JobId::from("job-other".to_owned()), ..first.clone() };
        let (later, _) = job(&workflow, "in/a.mp4", "\"e\"", "2026-02-02T00:05:00Z");
        assert!(duplicates(&[first.clone(), later.clone()]).is_empty());
        let jobs = [first.clone(), later, again];
        let found = duplicates(&jobs);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].len(), 2);
        let versioned = |id: &str, version: &str| Job {
            id: JobId::from(id.to_owned()),
            input_version: Some(version.into()),
            event_time: at("2026-02-03T00:00:00Z"),
            ..first.clone()
        };
        assert!(duplicates(&[versioned("a", "v1"), versioned("b", "v2")]).is_empty());
        assert_eq!(duplicates(&[versioned("a", "v1"), versioned("b", "v1")]).len(), 1);
    }

    #[test]
    fn only_the_newest_job_of_a_key_is_expected_to_own_its_outputs() {
        let workflow = workflow("2026-02-01T00:00:00Z");
        let (newer, _) = job(&workflow, "in/a.mp4", "\"2\"", "2026-02-02T00:05:00Z");
        let (older, _) = job(&workflow, "in/a.mp4", "\"1\"", "2026-02-02T00:00:00Z");
        let (other, _) = job(&workflow, "in/b.mp4", "\"1\"", "2026-02-02T00:00:00Z");
        let jobs = [newer.clone(), older, other.clone()];
        let kept: Vec<&JobId> = newest_per_input(&jobs).into_iter().map(|job| &job.id).collect();
        assert_eq!(kept, vec![&newer.id, &other.id]);
    }

    #[test]
    fn a_report_counts_every_kind_and_names_each_repair_as_a_command() {
        let object = ObjectRef::new("b", "in/a.mp4");
        let finding = Finding {
            kind: FindingKind::UploadWithoutJob,
            object: object.clone(),
            workflow: Some("w".into()),
            job_id: None,
            detail: "no job".into(),
            repair: Some(Repair::Process { workflow: "w".into(), object }),
        };
        let report =
            AuditReport::new(at("2026-02-01T00:00:00Z"), at("2026-02-02T00:00:00Z"), Checked::default(), vec![finding]);
        assert!(!report.is_clean());
        assert_eq!(report.counts.len(), FindingKind::ALL.len());
        assert_eq!(report.counts[&FindingKind::UploadWithoutJob], 1);
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["findings"][0]["repair"]["command"], "mediaflow process --workflow w s3://b/in/a.mp4");
        assert_eq!(json["counts"]["upload_without_job"], 1);
        let metrics = report.metrics("mediaflow", "prod");
        assert_eq!(metrics["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().map(Vec::len), Some(7));
        assert_eq!(metrics["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([["Stack"]]));
        assert_eq!((metrics["UploadsWithoutJob"].as_u64(), metrics["PartsLeftBehind"].as_u64()), (Some(1), Some(0)));
        assert_eq!(metrics["Stack"], "prod");
        let redo = Repair::Redo { job_id: JobId::from("job-1".to_owned()), task: Some(2) };
        assert_eq!(redo.to_string(), "mediaflow job redo job-1 --task 2");
    }

    #[test]
    fn a_part_is_left_behind_once_its_task_ended_or_its_job_is_gone() {
        let workflow = workflow("2026-02-01T00:00:00Z");
        let (_, mut tasks) = job(&workflow, "in/a.mp4", "\"e\"", "2026-02-02T00:00:00Z");
        assert!(!part_left_behind(Some(&tasks[0])));
        tasks[0].status = TaskStatus::Fail;
        assert!(part_left_behind(Some(&tasks[0])));
        assert!(part_left_behind(None));
    }
}
