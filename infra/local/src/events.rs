//! The local event source mapping: polls the events queue (where S3 sends its notifications)
//! and invokes the dispatcher with SQS batches, deleting what it handled — as Lambda's SQS
//! event source with partial batch responses does.
//!
//! It also undoes a quirk of moto, the local S3: its event times are the machine's local time
//! without a zone. Real S3 writes UTC with a `Z`; here each zone-less time is turned into UTC
//! using the message's `SentTimestamp`, which moto takes from the same clock in UTC.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tracing::warn;

use super::lambda::LocalLambda;

/// Where the event source sends its batches.
#[derive(Clone, Debug)]
pub enum Target {
    /// The in-process local Lambda service.
    Local(Arc<LocalLambda>),
    /// A Lambda Invoke API elsewhere (`cargo lambda watch`), called with the Lambda client.
    Remote(aws_sdk_lambda::Client),
}

impl Target {
    async fn call(&self, function: &str, payload: Value) -> Result<Value, String> {
        match self {
            Target::Local(lambda) => lambda.call(function, payload).await,
            Target::Remote(client) => {
                let output = client
                    .invoke()
                    .function_name(function)
                    .payload(aws_sdk_lambda::primitives::Blob::new(payload.to_string()))
                    .send()
                    .await
                    .map_err(|e| aws_sdk_lambda::error::DisplayErrorContext(e).to_string())?;
                let body: Value = output
                    .payload()
                    .map_or(Ok(Value::Null), |p| serde_json::from_slice(p.as_ref()))
                    .map_err(|e| e.to_string())?;
                match output.function_error() {
                    Some(kind) => Err(format!("{kind}: {body}")),
                    None => Ok(body),
                }
            }
        }
    }
}

/// The polling task; stopped when dropped.
#[derive(Debug)]
pub struct EventSource {
    task: JoinHandle<()>,
    busy: Arc<AtomicBool>,
}

impl EventSource {
    /// Starts polling `queue_url` for `function` on `target`.
    pub fn start(sqs: Client, queue_url: String, queue_arn: String, target: Target, function: &str) -> Self {
        let busy = Arc::new(AtomicBool::new(false));
        let function = function.to_owned();
        let flag = busy.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Err(e) = poll_once(&sqs, &queue_url, &queue_arn, &target, &function, &flag).await {
                    warn!(error = %e, "event source poll failed");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        });
        Self { task, busy }
    }

    /// Whether a batch is being handled right now.
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }
}

impl Drop for EventSource {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn record(message: &Message, queue_arn: &str) -> Value {
    let sent = message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
        .and_then(|ms| ms.parse::<i64>().ok())
        .and_then(DateTime::<Utc>::from_timestamp_millis);
    let body = match (message.body(), sent) {
        (Some(body), Some(sent)) => Some(with_utc_event_times(body, sent)),
        (body, _) => body.map(str::to_owned),
    };
    json!({
        "messageId": message.message_id(),
        "receiptHandle": message.receipt_handle(),
        "body": body,
        "attributes": message.attributes().map(|a| a.iter().map(|(k, v)| (k.as_str().to_owned(), Value::from(v.as_str()))).collect::<serde_json::Map<_, _>>()),
        "messageAttributes": {},
        "md5OfBody": message.md5_of_body(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    })
}

/// An S3 notification whose zone-less `eventTime`s (moto's local times) are written as UTC,
/// the local time's offset taken from when the message was sent (to the quarter hour).
pub fn with_utc_event_times(body: &str, sent: DateTime<Utc>) -> String {
    let Ok(mut notification) = serde_json::from_str::<Value>(body) else { return body.to_owned() };
    let Some(records) = notification.get_mut("Records").and_then(Value::as_array_mut) else { return body.to_owned() };
    for record in records {
        let Some(time) = record.get("eventTime").and_then(Value::as_str) else { continue };
        let Ok(local) = NaiveDateTime::parse_from_str(time, "%Y-%m-%dT%H:%M:%S%.f") else { continue };
        let quarters = ((local.and_utc() - sent).num_seconds() as f64 / 900.0).round() as i64;
        let utc = local.and_utc() - TimeDelta::minutes(15 * quarters);
        record["eventTime"] = Value::from(utc.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    }
    notification.to_string()
}

async fn poll_once(
    sqs: &Client,
    queue_url: &str,
    queue_arn: &str,
    target: &Target,
    function: &str,
    busy: &AtomicBool,
) -> anyhow::Result<()> {
    let received = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await?;
    let messages = received.messages();
    if messages.is_empty() {
        return Ok(());
    }
    let _busy = Busy::set(busy);
    let batch = json!({"Records": messages.iter().map(|m| record(m, queue_arn)).collect::<Vec<_>>()});
    let failed: HashSet<String> = match target.call(function, batch).await {
        Ok(response) => response["batchItemFailures"]
            .as_array()
            .map(|items| items.iter().filter_map(|i| i["itemIdentifier"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
        Err(e) => {
            warn!(error = %e, "dispatcher failed the whole batch; it will be delivered again");
            messages.iter().filter_map(|m| m.message_id().map(str::to_owned)).collect()
        }
    };
    let done: Vec<DeleteMessageBatchRequestEntry> = messages
        .iter()
        .filter(|m| m.message_id().is_some_and(|id| !failed.contains(id)))
        .enumerate()
        .filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .set_receipt_handle(m.receipt_handle().map(str::to_owned))
                .build()
                .ok()
        })
        .collect();
    if !done.is_empty() {
        sqs.delete_message_batch().queue_url(queue_url).set_entries(Some(done)).send().await?;
    }
    Ok(())
}

/// Marks a batch in hand until dropped, whichever way handling ends.
struct Busy<'a>(&'a AtomicBool);

impl<'a> Busy<'a> {
    fn set(flag: &'a AtomicBool) -> Self {
        flag.store(true, Ordering::SeqCst);
        Busy(flag)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_less_local_times_become_utc_and_zoned_times_stay() {
        let sent = DateTime::parse_from_rfc3339("2026-11-24T18:46:33.700Z").unwrap().with_timezone(&Utc);
        // Written in New York (UTC-5) 65 ms before the message was sent.
        let body =
            r#"{"Records":[{"eventTime":"2026-11-24T13:46:33.635833"},{"eventTime":"2026-11-24T18:00:00.000Z"}]}"#;
        let fixed: Value = serde_json::from_str(&with_utc_event_times(body, sent)).unwrap();
        assert_eq!(fixed["Records"][0]["eventTime"], "2026-11-24T18:46:33.635833Z");
        assert_eq!(fixed["Records"][1]["eventTime"], "2026-11-24T18:00:00.000Z");
        assert_eq!(with_utc_event_times("not json", sent), "not json");
    }
}
