//! Events: job events sent to the targets workflows name, and the rules that bring a bucket's
//! uploads to mediaflow.

use async_trait::async_trait;

use super::error::StoreError;
use crate::domain::connection::EventRule;
use crate::domain::event::WorkflowTaskEvent;
use crate::domain::notification::NotificationTarget;

/// Why an event could not be delivered, and whether trying again may help.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    pub message: String,
    pub retryable: bool,
}

impl DeliveryError {
    pub fn retry(message: impl Into<String>) -> Self {
        Self { message: message.into(), retryable: true }
    }

    pub fn fatal(message: impl Into<String>) -> Self {
        Self { message: message.into(), retryable: false }
    }
}

impl From<StoreError> for DeliveryError {
    fn from(error: StoreError) -> Self {
        Self { retryable: error.is_retryable(), message: error.to_string() }
    }
}

/// Sends job events to the targets workflows name (queues, topics, buses, webhooks).
#[async_trait]
pub trait Notifications: Send + Sync {
    async fn send(&self, target: &NotificationTarget, event: &WorkflowTaskEvent) -> Result<(), DeliveryError>;
}

/// A bucket's event notification rules (S3's notification configuration).
#[async_trait]
pub trait BucketEvents: Send + Sync {
    async fn rules(&self, bucket: &str) -> Result<Vec<EventRule>, StoreError>;
    /// Adds `add` and removes the rules with the ids `remove`, keeping everything else the
    /// bucket's configuration holds.
    async fn change(&self, bucket: &str, add: &[EventRule], remove: &[String]) -> Result<(), StoreError>;
}
