//! How a counterpart failed: one error for stores, objects and queues, sorted into what a
//! retry may cure and what it cannot.

use crate::domain::error::{ErrorCode, TaskError};

/// A failure of a store (DynamoDB) or of the object store (S3) or the task queue (Lambda).
/// Messages are one line: the service's error code and message, never a whole SDK dump.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write found something else than expected (a DynamoDB condition, an S3
    /// precondition): read again and decide again.
    #[error("{0} was changed concurrently")]
    Conflict(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("bucket {0} does not exist")]
    NoSuchBucket(String),
    #[error("access denied: {0}")]
    AccessDenied(String),
    #[error("request rejected: {0}")]
    Rejected(String),
    #[error("stored record is unreadable: {0}")]
    Corrupt(String),
    #[error("local file: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Throttling, 5xx, timeouts and lost connections pass; a rejected request stays rejected.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Conflict(_) | StoreError::Io(_))
    }

    /// What a task records when it cannot `what`: S3's permanent refusals as `InvalidInput.*`,
    /// the rest as ours (`InternalError`, retried).
    pub fn task_error(&self, what: &str) -> TaskError {
        match self {
            StoreError::NoSuchBucket(bucket) => {
                TaskError::new(ErrorCode::BucketNotFound, format!("cannot {what}: bucket {bucket} does not exist"))
            }
            StoreError::AccessDenied(detail) => {
                TaskError::new(ErrorCode::AccessDenied, format!("cannot {what}: access denied ({detail})"))
            }
            other => TaskError::new(ErrorCode::Internal, format!("cannot {what}: {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3s_permanent_refusals_are_invalid_input_and_the_rest_ours() {
        let denied =
            StoreError::AccessDenied("s3://b/k: AccessDenied: Access Denied".into()).task_error("write s3://b/k");
        assert_eq!(denied.code, ErrorCode::AccessDenied);
        assert_eq!(denied.message, "cannot write s3://b/k: access denied (s3://b/k: AccessDenied: Access Denied)");
        assert_eq!(StoreError::NoSuchBucket("b".into()).task_error("write s3://b/k").code, ErrorCode::BucketNotFound);
        let ours = StoreError::Unavailable("SlowDown: slow down".into()).task_error("read the upload");
        assert_eq!(
            (ours.code, ours.message.as_str()),
            (ErrorCode::Internal, "cannot read the upload: service unavailable: SlowDown: slow down")
        );
    }
}
