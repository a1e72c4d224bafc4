//! The events dead-letter queue on SQS: events that can never be handled are kept there with
//! the reason as a message attribute, ready to be looked at and sent again.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageAttributeValue;

use super::sdk_error;
use crate::ports::{DeadLetters, StoreError};

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
