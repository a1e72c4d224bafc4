//! Queues on SQS: the events dead-letter queue (events that can never be handled are kept
//! there with the reason as a message attribute, ready to be looked at and sent again), any
//! dead-letter queue as people read it, and the events queue that redriven events go back to.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};
use chrono::DateTime;

use super::sdk_error;
use crate::ports::{DeadLetter, DeadLetterQueue, DeadLetters, EventQueue, StoreError};

/// The message attribute that says why an event was dead-lettered.
pub const REASON_ATTRIBUTE: &str = "mediaflow-reason";

/// [`DeadLetters`] on an SQS queue.
#[derive(Clone, Debug)]
pub struct SqsDeadLetters {
    client: Client,
    queue_url: String,
}

impl SqsDeadLetters {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self { client, queue_url: queue_url.into() }
    }
}

#[async_trait]
impl DeadLetters for SqsDeadLetters {
    async fn keep(&self, event: &str, reason: &str) -> Result<(), StoreError> {
        // SQS message attributes hold up to 256 KB with the body; a reason is one line.
        let reason: String = reason.chars().take(1000).collect();
        let attribute = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(reason)
            .build()
            .map_err(|e| StoreError::Rejected(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(event)
            .message_attributes(REASON_ATTRIBUTE, attribute)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}

/// A queue by URL: read as a dead-letter queue, or sent to.
#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self { client, queue_url: queue_url.into() }
    }

    async fn receive(&self, max: usize, visibility: i32) -> Result<Vec<DeadLetter>, StoreError> {
        let mut letters: Vec<DeadLetter> = Vec::new();
        // SQS answers up to 10 at a time, and a few of those may be empty-handed.
        for _ in 0..max.div_ceil(10) + 2 {
            if letters.len() >= max {
                break;
            }
            let output = self
                .client
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages((max - letters.len()).min(10) as i32)
                .visibility_timeout(visibility)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .map_err(sdk_error)?;
            let received = output.messages();
            if received.is_empty() {
                break;
            }
            for message in received {
                let id = message.message_id().unwrap_or_default().to_owned();
                if letters.iter().any(|letter| letter.id == id) {
                    continue;
                }
                let system = |name: MessageSystemAttributeName| message.attributes().and_then(|a| a.get(&name));
                letters.push(DeadLetter {
                    id,
                    body: message.body().unwrap_or_default().to_owned(),
                    reason: message
                        .message_attributes()
                        .and_then(|a| a.get(REASON_ATTRIBUTE))
                        .and_then(|v| v.string_value())
                        .map(str::to_owned),
                    sent_at: system(MessageSystemAttributeName::SentTimestamp)
                        .and_then(|ms| ms.parse().ok())
                        .and_then(DateTime::from_timestamp_millis),
                    receive_count: system(MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0),
                    receipt: message.receipt_handle().unwrap_or_default().to_owned(),
                });
            }
        }
        Ok(letters)
    }
}

#[async_trait]
impl DeadLetterQueue for SqsQueue {
    async fn peek(&self, max: usize) -> Result<Vec<DeadLetter>, StoreError> {
        self.receive(max, 0).await
    }

    async fn take(&self, max: usize) -> Result<Vec<DeadLetter>, StoreError> {
        self.receive(max, 60).await
    }

    async fn remove(&self, letter: &DeadLetter) -> Result<(), StoreError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(&letter.receipt)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}

#[async_trait]
impl EventQueue for SqsQueue {
    async fn send(&self, body: &str) -> Result<(), StoreError> {
        self.client.send_message().queue_url(&self.queue_url).message_body(body).send().await.map_err(sdk_error)?;
        Ok(())
    }
}
