//! The pipeline: what the functions run. [`dispatch`] turns a created object into jobs and
//! sends their preparations; [`prepare`] probes a job's upload once and starts its tasks;
//! [`task`] runs one task (or joins a chunked one's parts); [`parts`] runs one part of a chunked
//! task; [`recover`] records what lost worker invocations could not.
//!
//! Below them: [`attempt`] (what an invocation is, how often a task is tried), [`chunking`] (how
//! a task is split, where its parts are kept, the join), [`workspace`] (scratch directory,
//! upload, watermark images), [`publish`] (outputs written under their conditions) and
//! [`notify`] (job events to the workflow's target).

pub mod attempt;
pub mod chunking;
pub mod dispatch;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod notify;
pub mod parts;
pub mod prepare;
pub mod publish;
pub mod recover;
pub mod task;
pub mod workspace;
