//! The local event source mapping: polls the events queue (where S3 sends its notifications)
//! and invokes the dispatcher with SQS batches, deleting what it handled — as Lambda's SQS
//! event source with partial batch responses does.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message};
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
    json!({
        "messageId": message.message_id(),
        "receiptHandle": message.receipt_handle(),
        "body": message.body(),
        "attributes": message.attributes().map(|a| a.iter().map(|(k, v)| (k.as_str().to_owned(), Value::from(v.as_str()))).collect::<serde_json::Map<_, _>>()),
        "messageAttributes": {},
        "md5OfBody": message.md5_of_body(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    })
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
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
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
