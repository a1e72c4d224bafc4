//! Translates a worker invocation into a message — prepare a job, or run one of its tasks —
//! and runs it; or, for a batch of its own dead-letter queue, records what the lost
//! invocations could not.
//!
//! Errors are returned to Lambda only when a retry can help (the task was given back, or a
//! store was unavailable): Lambda then retries the asynchronous invocation and, when retries
//! run out, sends the event to the worker's on-failure destination, whose queue the worker
//! reads again. A task that failed for good is recorded as FAIL and the invocation succeeds.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::{DateTime, TimeDelta, Utc};
use mediaflow::app::pipeline::attempt::{Invocation, RunError};
use mediaflow::app::pipeline::recover::LostInvocation;
use mediaflow::domain::message::WorkerMessage;
use mediaflow::wiring::Worker;
use serde::Deserialize;
use serde_json::Value;
use tracing::error;

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("not a task message: {0}")]
    BadMessage(#[from] serde_json::Error),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("a part of a chunked task, but this worker has no WORK_BUCKET")]
    NoWorkLocation,
}

/// Deadlines before this (2001-09-09, 10^12 ms) are not epoch times (see [`invocation`]).
const EPOCH_DEADLINES_FROM_MS: u64 = 1_000_000_000_000;

/// The invocation's request id, deadline and memory (MB), starting now. Lambda gives the
/// deadline in epoch milliseconds;
/// cargo-lambda's emulator (`cargo lambda watch`) gives the constant 600000, ten minutes meant
/// as a duration, which read as an epoch time is long past and would stop every task at once.
/// Such small values are taken as milliseconds from `now`.
pub fn invocation(request_id: &str, deadline_ms: u64, memory_mb: i32, now: DateTime<Utc>) -> Invocation {
    let deadline = match i64::try_from(deadline_ms).ok().filter(|ms| *ms > 0) {
        Some(ms) if deadline_ms < EPOCH_DEADLINES_FROM_MS => Some(now + TimeDelta::milliseconds(ms)),
        Some(ms) => DateTime::<Utc>::from_timestamp_millis(ms),
        None => None,
    };
    Invocation::new(request_id, deadline, u32::try_from(memory_mb).unwrap_or_default())
}

/// What the worker is invoked with.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Payload {
    Message(WorkerMessage),
    /// Records of its dead-letter queue (an SQS event source).
    DeadLetters(SqsEvent),
}

/// Lambda's on-failure destination record of an asynchronous invocation.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OnFailure {
    request_payload: WorkerMessage,
    #[serde(default)]
    request_context: RequestContext,
    #[serde(default)]
    response_payload: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext {
    #[serde(default)]
    condition: String,
    #[serde(default)]
    approximate_invoke_count: u32,
}

impl OnFailure {
    fn lost(self) -> LostInvocation {
        let text = |name: &str| self.response_payload.as_ref().and_then(|p| p[name].as_str()).unwrap_or_default();
        let error: String =
            format!("{} {}", text("errorType"), text("errorMessage")).trim().chars().take(300).collect();
        let context = &self.request_context;
        let mut reason = format!("{} after {} attempts", context.condition, context.approximate_invoke_count);
        if !error.is_empty() {
            reason = format!("{reason}: {error}");
        }
        LostInvocation { message: self.request_payload, reason }
    }
}

pub async fn handle(payload: Value, invocation: &Invocation, worker: &Worker) -> Result<Value, HandlerError> {
    Ok(match serde_json::from_value(payload)? {
        Payload::Message(WorkerMessage::Task(message)) if message.part.is_some() => {
            let parts = worker.parts.as_ref().ok_or(HandlerError::NoWorkLocation)?;
            serde_json::to_value(parts.run(&message, invocation).await?)?
        }
        Payload::Message(WorkerMessage::Task(message)) => {
            serde_json::to_value(worker.runner.run(&message, invocation).await?)?
        }
        Payload::Message(WorkerMessage::Prepare(message)) => {
            serde_json::to_value(worker.preparer.prepare(&message.job_id, invocation).await?)?
        }
        Payload::DeadLetters(batch) => serde_json::to_value(recover(batch, worker).await)?,
    })
}

/// Records each lost invocation of the batch; those that could not be recorded come back.
async fn recover(batch: SqsEvent, worker: &Worker) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in batch.records {
        let id = record.message_id.clone().unwrap_or_default();
        let lost = match serde_json::from_str::<OnFailure>(record.body.as_deref().unwrap_or_default()) {
            Ok(on_failure) => on_failure.lost(),
            Err(e) => {
                // Not Lambda's record of a worker invocation: nothing to record, and nothing a
                // retry would change.
                error!(message_id = %id, error = %e, body = ?record.body, "dead letter is not a lost worker invocation");
                continue;
            }
        };
        if let Err(e) = worker.recovery.lost(&lost).await {
            error!(message_id = %id, error = %e, "lost invocation not recorded; retry");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocation_reads_lambda_deadline() {
        let now = Utc::now();
        let invocation = invocation("req-1", 1_795_527_993_635, 3008, now);
        assert_eq!(invocation.deadline.map(|d| d.timestamp_millis()), Some(1_795_527_993_635));
        assert_eq!(super::invocation("req-1", 0, 3008, now).deadline, None);
    }

    #[test]
    fn cargo_lambdas_constant_deadline_is_ten_minutes_from_now() {
        let now = Utc::now();
        let emulated = invocation("req-1", 600_000, 3008, now);
        assert_eq!(emulated.deadline, Some(now + TimeDelta::minutes(10)));
    }

    #[test]
    fn a_dead_letter_batch_is_read_as_lost_invocations() {
        let path = format!("{}/../../infra/events/worker-dead-letters.json", env!("CARGO_MANIFEST_DIR"));
        let payload: Payload = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let Payload::DeadLetters(batch) = payload else { panic!("{payload:?}") };
        let on_failure: OnFailure = serde_json::from_str(batch.records[0].body.as_deref().unwrap()).unwrap();
        let lost = on_failure.lost();
        assert_eq!(
            lost.message,
            WorkerMessage::Task(mediaflow::domain::message::TaskMessage::new(
                "job-0123456789abcdef0123456789abcdef".to_owned().into(),
                1
            ))
        );
        assert_eq!(
            lost.reason,
            "RetriesExhausted after 3 attempts: Sandbox.Timedout 2026-11-27T20:19:59.000Z e4b46cbf Task timed out after \
             900.10 seconds"
        );
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
