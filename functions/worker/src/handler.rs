//! Translates a worker invocation into a message — prepare a job, or run one of its tasks —
//! and runs it.
//!
//! Errors are returned to Lambda only when a retry can help (the task was given back, or a
//! store was unavailable): Lambda then retries the asynchronous invocation and, when retries
//! run out, sends the event to the worker's on-failure destination. A task that failed for
//! good is recorded as FAIL and the invocation succeeds.

use chrono::{DateTime, TimeDelta, Utc};
use mediaflow::config::Worker;
use mediaflow::domain::job::WorkerMessage;
use mediaflow::process::{Invocation, RunError};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("not a task message: {0}")]
    BadMessage(#[from] serde_json::Error),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Deadlines before this (2001-09-09, 10^12 ms) are not epoch times (see [`invocation`]).
const EPOCH_DEADLINES_FROM_MS: u64 = 1_000_000_000_000;

/// The invocation's request id and deadline. Lambda gives the deadline in epoch milliseconds;
/// cargo-lambda's emulator (`cargo lambda watch`) gives the constant 600000, ten minutes meant
/// as a duration, which read as an epoch time is long past and would stop every task at once.
/// Such small values are taken as milliseconds from `now`.
pub fn invocation(request_id: &str, deadline_ms: u64, now: DateTime<Utc>) -> Invocation {
    let deadline = match i64::try_from(deadline_ms).ok().filter(|ms| *ms > 0) {
        Some(ms) if deadline_ms < EPOCH_DEADLINES_FROM_MS => Some(now + TimeDelta::milliseconds(ms)),
        Some(ms) => DateTime::<Utc>::from_timestamp_millis(ms),
        None => None,
    };
    Invocation { request_id: request_id.to_owned(), deadline }
}

pub async fn handle(payload: Value, invocation: &Invocation, worker: &Worker) -> Result<Value, HandlerError> {
    Ok(match serde_json::from_value(payload)? {
        WorkerMessage::Task(message) => serde_json::to_value(worker.runner.run(&message, invocation).await?)?,
        WorkerMessage::Prepare(message) => serde_json::to_value(worker.preparer.prepare(&message.job_id).await?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocation_reads_lambda_deadline() {
        let now = Utc::now();
        let invocation = invocation("req-1", 1_795_527_993_635, now);
        assert_eq!(invocation.deadline.map(|d| d.timestamp_millis()), Some(1_795_527_993_635));
        assert_eq!(super::invocation("req-1", 0, now).deadline, None);
    }

    #[test]
    fn cargo_lambdas_constant_deadline_is_ten_minutes_from_now() {
        let now = Utc::now();
        let emulated = invocation("req-1", 600_000, now);
        assert_eq!(emulated.deadline, Some(now + TimeDelta::minutes(10)));
    }

    #[test]
    fn worker_message_fixtures_parse() {
        for (name, prepare) in [("worker-task.json", false), ("worker-prepare.json", true)] {
            let path = format!("{}/../../infra/events/{name}", env!("CARGO_MANIFEST_DIR"));
            let message: WorkerMessage = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            assert_eq!(matches!(message, WorkerMessage::Prepare(_)), prepare, "{name}");
        }
    }
}
