//! Translates a worker invocation into a task message and runs it.
//!
//! Errors are returned to Lambda only when a retry can help (the task was given back, or a
//! store was unavailable): Lambda then retries the asynchronous invocation and, when retries
//! run out, sends the event to the worker's on-failure destination. A task that failed for
//! good is recorded as FAIL and the invocation succeeds.

use chrono::{DateTime, Utc};
use mediaflow::domain::job::TaskMessage;
use mediaflow::process::{Invocation, RunError, TaskRunner};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("not a task message: {0}")]
    BadMessage(#[from] serde_json::Error),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// The invocation's request id and deadline (epoch milliseconds, as Lambda gives it).
pub fn invocation(request_id: &str, deadline_ms: u64) -> Invocation {
    Invocation {
        request_id: request_id.to_owned(),
        deadline: i64::try_from(deadline_ms).ok().filter(|ms| *ms > 0).and_then(DateTime::<Utc>::from_timestamp_millis),
    }
}

pub async fn handle(payload: Value, invocation: &Invocation, runner: &TaskRunner) -> Result<Value, HandlerError> {
    let message: TaskMessage = serde_json::from_value(payload)?;
    let result = runner.run(&message, invocation).await?;
    Ok(serde_json::to_value(result)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocation_reads_lambda_deadline() {
        let invocation = invocation("req-1", 1_795_527_993_635);
        assert_eq!(invocation.deadline.map(|d| d.timestamp_millis()), Some(1_795_527_993_635));
        assert_eq!(super::invocation("req-1", 0).deadline, None);
    }

    #[test]
    fn task_message_fixture_parses() {
        let path = format!("{}/../../infra/events/worker-task.json", env!("CARGO_MANIFEST_DIR"));
        let message: TaskMessage = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(message.task, 0);
    }
}
