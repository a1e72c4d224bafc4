//! Matching: whether a workflow processes a created object, and if not, why.

use std::fmt;

use chrono::{DateTime, Utc};

use super::lifecycle::Workflow;
use crate::domain::object::ObjectCreated;

/// Why a workflow does not process an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    Disabled,
    OutsideTriggerDir { dir: String },
    UploadedBeforeEnabled { enabled_at: DateTime<Utc> },
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::Disabled => f.write_str("disabled"),
            Skip::OutsideTriggerDir { dir } => write!(f, "outside trigger dir {dir:?}"),
            Skip::UploadedBeforeEnabled { enabled_at } => {
                write!(f, "uploaded before enabled (enabled at {})", enabled_at.to_rfc3339())
            }
        }
    }
}

impl Workflow {
    /// Whether this workflow processes the created object, and if not, why: the object must be
    /// under the trigger dir and created while the workflow was enabled.
    pub fn decide(&self, event: &ObjectCreated) -> Result<(), Skip> {
        if !self.trigger.contains(&event.object.bucket, &event.object.key) {
            return Err(Skip::OutsideTriggerDir { dir: self.trigger.dir.clone() });
        }
        if self.spans().iter().any(|span| span.covers(event.event_time)) {
            return Ok(());
        }
        match (self.enabled, self.enabled_at) {
            (true, Some(enabled_at)) => Err(Skip::UploadedBeforeEnabled { enabled_at }),
            _ => Err(Skip::Disabled),
        }
    }

    /// The key's path below the trigger dir (`sub/clip.mp4` for `in/sub/clip.mp4` under `in/`).
    pub fn relative_key<'k>(&self, key: &'k str) -> &'k str {
        key.strip_prefix(self.trigger.dir.as_str()).unwrap_or(key)
    }
}
