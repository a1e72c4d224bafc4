//! The model of mediaflow: workflows, the tasks they run, the jobs an upload starts and what
//! came of them. Pure: no I/O, no clock reads (times are passed in), no AWS types.
//!
//! Imports nothing of the crate outside `domain`; within it, no module imports one that imports
//! it back (leaves: `error`, `attempt`, `object`, `media`, `validation`, `usage`; then `task`, `workflow`,
//! `notification`, `chunk`; then `job`, `event`, `message`; then `audit` and `cost`).

pub mod attempt;
pub mod audit;
pub mod chunk;
pub mod connection;
pub mod cost;
pub mod error;
pub mod event;
pub mod job;
pub mod limits;
pub mod media;
pub mod message;
pub mod notification;
pub mod object;
#[cfg(test)]
mod properties;
pub mod sniff;
pub mod streaming;
pub mod task;
pub mod usage;
pub mod validation;
pub mod workflow;
