//! Event notification (MPS's TaskNotifyConfig; seed rule 6: off unless a workflow asks): where a
//! workflow's job events go, when, what they say (one versioned payload, see
//! `schemas/workflow-task-event.v1.json`), and how webhooks are signed (Standard Webhooks).

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::job::{Job, JobResult, JobStatus, OutputFile, Task, TaskError, TaskStatus, TaskTimings};
use super::media::MediaInfo;
use super::object::ObjectRef;
use super::validation::Violations;

/// When events are sent (MPS's NotifyMode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotifyMode {
    /// Once per job, when it finishes.
    #[default]
    #[serde(alias = "finish")]
    Finish,
    /// At every task state change (started, succeeded, failed), and when the job finishes.
    #[serde(alias = "change")]
    Change,
}

/// A workflow's `notification:`: a mode and one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSpec {
    #[serde(default)]
    pub mode: NotifyMode,
    pub target: NotificationTarget,
}

/// Where events go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum NotificationTarget {
    /// An SQS queue, by URL.
    Sqs { queue_url: String },
    /// An SNS topic, by ARN.
    Sns { topic_arn: String },
    /// An EventBridge bus, by name or ARN; events have source `mediaflow` and detail-type
    /// `WorkflowTask`.
    #[serde(rename = "eventbridge")]
    EventBridge { bus: String },
    /// An HTTPS endpoint, POSTed the event signed with the secret (Standard Webhooks).
    Webhook { url: String, secret: SecretRef },
}

/// Where a webhook's signing secret is kept: `ssm:/name` (SSM Parameter Store, decrypted),
/// `secretsmanager:name-or-arn`, `env:NAME` or `file:/path` (local use). The secret itself is
/// never in a workflow record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SecretRef {
    Ssm(String),
    SecretsManager(String),
    Env(String),
    File(String),
}

impl TryFrom<String> for SecretRef {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let (kind, name) = text.split_once(':').unwrap_or(("", ""));
        let name = name.trim().to_owned();
        if name.is_empty() {
            return Err(format!(
                "{text:?} does not say where the secret is: ssm:/name, secretsmanager:name, env:NAME or file:/path"
            ));
        }
        match kind {
            "ssm" => Ok(SecretRef::Ssm(name)),
            "secretsmanager" => Ok(SecretRef::SecretsManager(name)),
            "env" => Ok(SecretRef::Env(name)),
            "file" => Ok(SecretRef::File(name)),
            other => Err(format!("unknown secret store {other:?}: ssm, secretsmanager, env or file")),
        }
    }
}

impl From<SecretRef> for String {
    fn from(secret: SecretRef) -> String {
        match secret {
            SecretRef::Ssm(name) => format!("ssm:{name}"),
            SecretRef::SecretsManager(name) => format!("secretsmanager:{name}"),
            SecretRef::Env(name) => format!("env:{name}"),
            SecretRef::File(name) => format!("file:{name}"),
        }
    }
}

impl NotificationSpec {
    pub fn validate(&self, field: &str, errors: &mut Violations) {
        match &self.target {
            NotificationTarget::Sqs { queue_url } => errors.check(
                queue_url.starts_with("https://") || queue_url.starts_with("http://"),
                format!("{field}.target.queue_url"),
                "must be the queue's URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)",
            ),
            NotificationTarget::Sns { topic_arn } => errors.check(
                topic_arn.starts_with("arn:") && topic_arn.contains(":sns:"),
                format!("{field}.target.topic_arn"),
                "must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
            ),
            NotificationTarget::EventBridge { bus } => errors.check(
                !bus.trim().is_empty() && bus.len() <= 1600,
                format!("{field}.target.bus"),
                "must be an event bus name or ARN",
            ),
            NotificationTarget::Webhook { url, .. } => errors.check(
                url::Url::parse(url).is_ok_and(|url| {
                    matches!(url.scheme(), "https" | "http") && url.host().is_some() && url.username().is_empty()
                }),
                format!("{field}.target.url"),
                "must be an https:// URL without credentials",
            ),
        }
    }
}

/// What a notification says: MPS's WorkflowTask event, in snake case, versioned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowTaskEvent {
    /// `mediaflow.workflow-task.v1`; a change that breaks readers gets a new version.
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

pub const SCHEMA: &str = "mediaflow.workflow-task.v1";

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
                        attempts: task.attempts,
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

/// What delivering a job's finish event came to, kept on the job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub state: DeliveryState,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// While `Sending`: the worker's hold, after which another may send it (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "chrono::serde::ts_milliseconds_option")]
    pub lease_until: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryState {
    /// Taken by a worker, being sent.
    Sending,
    Delivered,
    /// Every attempt failed; the job is unaffected.
    Failed,
}

/// Standard Webhooks signing: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`
/// under the secret (`whsec_` and base64; the decoded bytes are the key).
pub fn sign_webhook(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, String> {
    let key = secret
        .trim()
        .strip_prefix("whsec_")
        .and_then(|encoded| BASE64.decode(encoded).ok())
        .filter(|key| !key.is_empty())
        .ok_or_else(|| "the webhook secret must be whsec_ followed by base64 (Standard Webhooks)".to_owned())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Ok(format!("v1,{}", BASE64.encode(mac.finalize().into_bytes())))
}

/// Addresses a webhook may not reach unless the deployment allows it (local testing): the
/// machine itself, private and shared networks, link-local (cloud metadata) and the like.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || (a == 198 && (18..20).contains(&b)) // benchmarking
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || first == 0x2001 && v6.segments()[1] == 0x0db8 // documentation
                || first == 0x0064 && v6.segments()[1] == 0xff9b // NAT64 of any IPv4
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_are_signed_as_the_standard_webhooks_reference_signs() {
        // The reference library (standardwebhooks on PyPI) signs this message so.
        let signature = sign_webhook(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature.as_deref(), Ok("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
        assert!(sign_webhook("plain secret", "id", 1, b"{}").is_err());
    }

    #[test]
    fn events_follow_their_published_schema() {
        use crate::domain::job::{ErrorCode, OutputFile};
        use crate::domain::object::{ObjectCreated, ObjectHead, parse_event_time};
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
            serde_json::from_str(include_str!("../../../schemas/workflow-task-event.v1.json")).unwrap();
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

    #[test]
    fn private_and_local_addresses_are_told_apart_from_public_ones() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(is_private(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "52.94.76.1", "2606:4700::1111"] {
            assert!(!is_private(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn notification_files_read_and_check_their_target() {
        let spec: NotificationSpec = serde_json::from_value(serde_json::json!({
            "mode": "Change",
            "target": {"type": "webhook", "url": "https://hooks.example.com/x", "secret": "ssm:/mediaflow/hook"}
        }))
        .unwrap();
        assert_eq!(spec.mode, NotifyMode::Change);
        assert_eq!(
            spec.target,
            NotificationTarget::Webhook {
                url: "https://hooks.example.com/x".into(),
                secret: SecretRef::Ssm("/mediaflow/hook".into())
            }
        );
        let mut errors = Violations::default();
        spec.validate("notification", &mut errors);
        assert!(errors.is_empty());
        let bad: NotificationSpec = serde_json::from_value(serde_json::json!({
            "target": {"type": "sns", "topic_arn": "my-topic"}
        }))
        .unwrap();
        assert_eq!(bad.mode, NotifyMode::Finish, "Finish by default");
        let mut errors = Violations::default();
        bad.validate("notification", &mut errors);
        assert_eq!(
            errors.into_messages(),
            vec!["notification.target.topic_arn: must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"]
        );
        let secret: Result<SecretRef, _> = serde_json::from_value(serde_json::json!("vault:x"));
        assert!(secret.unwrap_err().to_string().contains("unknown secret store \"vault\""));
    }
}
