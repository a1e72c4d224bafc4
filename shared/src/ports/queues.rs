//! Queues: workers started, events kept where people look, and sent back.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::StoreError;
use crate::domain::message::WorkerMessage;

/// Starts workers (an asynchronous Lambda invocation per message).
#[async_trait]
pub trait TaskQueue: Send + Sync {
    async fn enqueue(&self, message: &WorkerMessage) -> Result<(), StoreError>;
}

/// Keeps events that can never be handled, with the reason, where people look (the events
/// dead-letter queue) and can send them again.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    async fn keep(&self, event: &str, reason: &str) -> Result<(), StoreError>;
}

/// A message kept in a dead-letter queue.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeadLetter {
    pub id: String,
    pub body: String,
    /// Why it was kept, when that was said (`mediaflow-reason`).
    pub reason: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// How often it was received (listed, or read back) so far.
    pub receive_count: u32,
    /// Handle for removing it (valid for this reading only).
    #[serde(skip)]
    pub receipt: String,
}

/// A dead-letter queue as people look at it: read without taking, removed once handled.
#[async_trait]
pub trait DeadLetterQueue: Send + Sync {
    /// Up to `max` messages; they stay in the queue (visible again at once).
    async fn peek(&self, max: usize) -> Result<Vec<DeadLetter>, StoreError>;
    /// Up to `max` messages, hidden from other readers for a while, to handle and remove.
    async fn take(&self, max: usize) -> Result<Vec<DeadLetter>, StoreError>;
    async fn remove(&self, letter: &DeadLetter) -> Result<(), StoreError>;
}

/// Sends an event again to the queue the dispatcher reads.
#[async_trait]
pub trait EventQueue: Send + Sync {
    async fn send(&self, body: &str) -> Result<(), StoreError>;
}
