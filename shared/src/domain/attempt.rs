//! Attempts at a piece of work that workers claim: a task, or one part of a chunked task. Both
//! keep the same record of who holds the current attempt and until when.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A worker's hold on a task or part: who holds it (the invocation's request id), from when,
/// until when. A claim repeated by the same holder (a lost answer) is granted again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub holder: String,
    pub now: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// The attempts made at a task or part, and the hold on the current one. Flattened into the
/// record it belongs to (`attempts`, `claimed_by`, `lease_until`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// Attempts started so far, the current one included.
    #[serde(default)]
    pub attempts: u32,
    /// The invocation that claimed the current attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    /// A claimed attempt belongs to its worker until then; a later claim may take it over.
    /// Epoch milliseconds in records, so that stores can compare it.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "chrono::serde::ts_milliseconds_option")]
    pub lease_until: Option<DateTime<Utc>>,
}

impl Hold {
    /// Whether `lease` is the current attempt's holder asking again (a lost answer).
    pub fn is_held_by(&self, lease: &Lease) -> bool {
        self.claimed_by.as_deref() == Some(lease.holder.as_str())
    }
}
