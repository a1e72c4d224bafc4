//! What a worker invocation is asked to do: the asynchronous invocation's payload.

use serde::{Deserialize, Serialize};

use super::job::JobId;

/// What a worker invocation is asked to do (the asynchronous invocation's payload).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WorkerMessage {
    /// Run one task: `{"job_id": …, "task": 0}`.
    Task(TaskMessage),
    /// Probe the job's upload once and start its tasks: `{"job_id": …, "prepare": true}`.
    Prepare(PrepareMessage),
}

/// The message that starts a worker on one task, or on one part of a chunked task
/// (`{"job_id": …, "task": 0, "part": 3}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskMessage {
    pub job_id: JobId,
    pub task: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<u32>,
}

impl TaskMessage {
    pub fn new(job_id: JobId, task: u32) -> Self {
        Self { job_id, task, part: None }
    }
}

/// The message that starts a job's preparation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrepareMessage {
    pub job_id: JobId,
    pub prepare: bool,
}

impl PrepareMessage {
    pub fn new(job_id: JobId) -> Self {
        Self { job_id, prepare: true }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_messages_are_tasks_or_preparations() {
        let task: WorkerMessage = serde_json::from_str(r#"{"job_id": "job-1", "task": 2}"#).unwrap();
        assert_eq!(task, WorkerMessage::Task(TaskMessage::new(JobId::from("job-1".to_owned()), 2)));
        let prepare: WorkerMessage = serde_json::from_str(r#"{"job_id": "job-1", "prepare": true}"#).unwrap();
        assert_eq!(prepare, WorkerMessage::Prepare(PrepareMessage::new(JobId::from("job-1".to_owned()))));
        assert!(serde_json::from_str::<WorkerMessage>(r#"{"job_id": "job-1"}"#).is_err());
    }
}
