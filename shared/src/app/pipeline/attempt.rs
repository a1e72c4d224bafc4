//! What a worker invocation is, what it did, and how often a task or part is tried before an
//! internal error becomes its final FAIL.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::error::TaskError;
use crate::domain::job::{JobId, OutputFile};
use crate::ports::StoreError;

/// How many times a task may be attempted before an internal error becomes its final FAIL
/// (Lambda's first try plus its two retries of an asynchronous invocation).
pub const MAX_ATTEMPTS: u32 = 3;

/// The Lambda invocation a task runs in.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub request_id: String,
    /// When the invocation is cut off; a claim's lease never outlives it.
    pub deadline: Option<DateTime<Utc>>,
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
