//! What the pipeline's unit tests stand on: the use-cases over the in-memory adapters.

use std::path::Path;
use std::sync::Arc;

use chrono::TimeDelta;

use super::notify::{Notifier, RetryPolicy};
use super::workspace::Workspace;
use crate::adapters::memory::Memory;

/// A notifier whose events land in [`Memory::notified`], tried once.
pub(crate) fn notifier(memory: &Memory) -> Arc<Notifier> {
    let shared = Arc::new(memory.clone());
    let once = RetryPolicy { attempts: 1, first_delay: std::time::Duration::ZERO };
    Arc::new(Notifier::new(shared.clone(), shared, once))
}

/// Tasks and parts run on `memory`, in scratch directories under `scratch`, with a lease of 15
/// minutes and a margin of a second.
pub(crate) fn workspace(memory: &Memory, scratch: &Path) -> Workspace {
    let shared = Arc::new(memory.clone());
    Workspace {
        jobs: shared.clone(),
        objects: shared.clone(),
        media: shared,
        notifier: notifier(memory),
        scratch: scratch.to_owned(),
        lease: TimeDelta::minutes(15),
        margin: TimeDelta::seconds(1),
    }
}
