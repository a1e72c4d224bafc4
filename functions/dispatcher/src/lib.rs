//! The dispatcher Lambda: S3 notifications (direct, through SQS, or through EventBridge) in,
//! jobs and worker invocations out. `main.rs` boots it; [`handler`] translates events.

pub mod handler;
