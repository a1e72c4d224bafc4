//! What delivering a job's finish event came to, kept on the job.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What delivering a job's finish event came to, kept on the job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub state: DeliveryState,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// While `Sending`: the worker's hold, after which another may send it (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "chrono::serde::ts_milliseconds_option")]
    pub lease_until: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryState {
    /// Taken by a worker, being sent.
    Sending,
    Delivered,
    /// Every attempt failed; the job is unaffected.
    Failed,
}
