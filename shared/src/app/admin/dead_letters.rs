//! Use-case of `mediaflow dlq`: look at what the two dead-letter queues hold, and send it
//! back — events to the dispatcher's queue, lost worker invocations to the worker.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::domain::message::WorkerMessage;
use crate::ports::{DeadLetter, DeadLetterQueue, EventQueue, StoreError, TaskQueue};

/// The two dead-letter queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Which {
    /// Events the dispatcher could not handle (five failed deliveries, or never handleable).
    Events,
    /// Worker invocations Lambda gave up on (the worker reads them back itself; what is left
    /// could not be recorded yet).
    Worker,
}

/// What a redrive did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Redriven {
    pub sent: usize,
    /// Messages left where they were, with why.
    pub kept: Vec<(String, String)>,
}

pub struct DeadLetterAdmin {
    events_dlq: Arc<dyn DeadLetterQueue>,
    worker_dlq: Arc<dyn DeadLetterQueue>,
    events: Arc<dyn EventQueue>,
    worker: Arc<dyn TaskQueue>,
}

impl fmt::Debug for DeadLetterAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadLetterAdmin").finish_non_exhaustive()
    }
}

/// Lambda's on-failure record: what the lost invocation was asked.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OnFailure {
    request_payload: WorkerMessage,
}

impl DeadLetterAdmin {
    pub fn new(
        events_dlq: Arc<dyn DeadLetterQueue>,
        worker_dlq: Arc<dyn DeadLetterQueue>,
        events: Arc<dyn EventQueue>,
        worker: Arc<dyn TaskQueue>,
    ) -> Self {
        Self { events_dlq, worker_dlq, events, worker }
    }

    fn queue(&self, which: Which) -> &dyn DeadLetterQueue {
        match which {
            Which::Events => self.events_dlq.as_ref(),
            Which::Worker => self.worker_dlq.as_ref(),
        }
    }

    /// Up to `max` messages of the queue, left in it.
    pub async fn list(&self, which: Which, max: usize) -> Result<Vec<DeadLetter>, StoreError> {
        self.queue(which).peek(max).await
    }

    /// Sends up to `max` messages back where they came from, removing each once sent; a
    /// message that cannot be sent stays.
    pub async fn redrive(&self, which: Which, max: usize) -> Result<Redriven, StoreError> {
        let queue = self.queue(which);
        let mut redriven = Redriven::default();
        for letter in queue.take(max).await? {
            let sent = match which {
                Which::Events => self.events.send(&letter.body).await.map_err(|e| e.to_string()),
                Which::Worker => match serde_json::from_str::<OnFailure>(&letter.body) {
                    Ok(record) => self.worker.enqueue(&record.request_payload).await.map_err(|e| e.to_string()),
                    Err(e) => Err(format!("not a worker invocation record: {e}")),
                },
            };
            match sent {
                Ok(()) => {
                    queue.remove(&letter).await?;
                    redriven.sent += 1;
                }
                Err(reason) => {
                    warn!(queue = ?which, message_id = %letter.id, %reason, "dead letter kept");
                    redriven.kept.push((letter.id, reason));
                }
            }
        }
        info!(queue = ?which, sent = redriven.sent, kept = redriven.kept.len(), "redrive done");
        Ok(redriven)
    }
}
