//! What a worker invocation is, what it did, and how often a task or part is tried before an
//! internal error becomes its final FAIL.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::error::TaskError;
use crate::domain::job::{JobId, OutputFile};
use crate::domain::usage::{Architecture, Usage};
use crate::ports::{RequestCounter, StoreError};

/// How many times a task may be attempted before an internal error becomes its final FAIL
/// (Lambda's first try plus its two retries of an asynchronous invocation).
pub const MAX_ATTEMPTS: u32 = 3;

/// The processor this worker was built for: what Lambda prices its GB-seconds by.
pub const ARCHITECTURE: Architecture =
    if cfg!(target_arch = "aarch64") { Architecture::Arm64 } else { Architecture::X86_64 };

/// The Lambda invocation a task runs in, and what it uses as it runs.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub request_id: String,
    /// When the invocation is cut off; a claim's lease never outlives it.
    pub deadline: Option<DateTime<Utc>>,
    /// The function's memory in MB: Lambda bills its duration by it.
    pub memory_mb: u32,
    /// When it started: its billed duration runs from here.
    pub started: Instant,
    /// This run among the tries of one request (Lambda retries an asynchronous invocation
    /// under its request id): what its usage is counted once under.
    pub run_id: String,
    /// The S3 requests it made.
    pub requests: Arc<RequestCounter>,
}

impl Invocation {
    /// An invocation starting now.
    pub fn new(request_id: impl Into<String>, deadline: Option<DateTime<Utc>>, memory_mb: u32) -> Self {
        let request_id = request_id.into();
        Self {
            run_id: format!("{request_id}#{}", uuid::Uuid::new_v4().simple()),
            request_id,
            deadline,
            memory_mb,
            started: Instant::now(),
            requests: Arc::default(),
        }
    }

    /// What it used so far: its memory for the time since it started (billed by the
    /// millisecond, rounded up), once, and its S3 requests.
    pub fn usage(&self) -> Usage {
        let millis = u64::try_from(self.started.elapsed().as_micros().div_ceil(1000)).unwrap_or(u64::MAX);
        Usage::invocation(ARCHITECTURE, self.memory_mb, millis, self.requests.usage())
    }
}

/// What the worker did with a task message.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RunResult {
    Succeeded {
        job_id: JobId,
        task: u32,
        outputs: Vec<OutputFile>,
        job_finished: bool,
    },
    Failed {
        job_id: JobId,
        task: u32,
        error: TaskError,
        job_finished: bool,
    },
    /// A part of a chunked task was rendered and kept; the last one hands the join on.
    PartDone {
        job_id: JobId,
        task: u32,
        part: u32,
        join_sent: bool,
    },
    /// Nothing to do: the task is done, taken by another worker, or unknown.
    Skipped {
        job_id: JobId,
        task: u32,
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The attempt failed in a way a retry may cure; the task was given back.
    #[error("attempt {attempt} failed, retry: {error}")]
    Retry { attempt: u32, error: String },
    /// The last attempt failed too; the task is recorded as FAIL.
    #[error("task failed after {attempts} attempts: {error}")]
    Exhausted { attempts: u32, error: String },
}

/// The last attempt's internal error, as recorded once no retry is left.
pub fn exhausted(error: TaskError, attempt: u32) -> TaskError {
    TaskError {
        message: format!("{} (attempt {attempt} of {MAX_ATTEMPTS}: retries exhausted)", error.message),
        ..error
    }
}
