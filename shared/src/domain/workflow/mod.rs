//! Workflows: where uploads come from, where outputs go, what to do with each upload ([`spec`]:
//! the file and the seed rules that make one valid); a workflow's state ([`lifecycle`]); whether
//! an upload starts a job ([`matching`]); and what enabled workflows may not do to each other
//! ([`conflicts`]).
//!
//! Imports the domain's `task`, `limits`, `notification::spec`, `object` and `validation`; never
//! `job`.

mod conflicts;
pub mod lifecycle;
pub mod location;
pub mod matching;
pub mod spec;

#[cfg(test)]
mod tests;

pub use lifecycle::{EnabledSpan, Workflow};
pub use location::{Location, MAX_TRIGGER_DEPTH, trigger_dirs_of};
pub use matching::Skip;
pub use spec::{OutputSpec, TriggerSpec, WorkflowError, WorkflowSpec};
