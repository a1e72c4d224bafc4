//! The worker Lambda: one task message in (`{"job_id", "task"}`), one task run with ffmpeg.
//! `main.rs` boots it; [`handler`] translates the invocation.

pub mod handler;
