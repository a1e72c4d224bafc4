//! How tasks fail: MPS-style error codes and the one sentence that goes with them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a task failed: an MPS-style code and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskError {
    pub code: ErrorCode,
    pub message: String,
}

/// `SourceFileError.UnsupportedFormat: the file is text, not a video or audio file`, as pages and
/// the CLI show it.
impl std::fmt::Display for TaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Error codes in the MPS families: `SourceFileError.*` (the upload), `InvalidInput.*` (the
/// workflow's parameters against this upload) and `InternalError` (ours; retryable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    #[serde(rename = "SourceFileError.NotFound")]
    SourceNotFound,
    #[serde(rename = "SourceFileError.EmptyFile")]
    SourceEmpty,
    #[serde(rename = "SourceFileError.UnsupportedFormat")]
    SourceUnsupportedFormat,
    #[serde(rename = "SourceFileError.Corrupt")]
    SourceCorrupt,
    #[serde(rename = "SourceFileError.NoVideoStream")]
    SourceNoVideo,
    #[serde(rename = "SourceFileError.NoMediaStream")]
    SourceNoMedia,
    /// The upload was replaced by a newer one before this job wrote its outputs.
    #[serde(rename = "SourceFileError.Replaced")]
    SourceReplaced,
    #[serde(rename = "InvalidInput.WatermarkImage")]
    InvalidWatermarkImage,
    #[serde(rename = "InvalidInput.TimeOutOfRange")]
    InvalidTimeRange,
    #[serde(rename = "InvalidInput.FileTooLarge")]
    FileTooLarge,
    #[serde(rename = "InvalidInput.DurationTooLong")]
    DurationTooLong,
    #[serde(rename = "InvalidInput.ResolutionTooHigh")]
    ResolutionTooHigh,
    #[serde(rename = "InvalidInput.TooManyStreams")]
    TooManyStreams,
    /// An output key is taken by an object this workflow did not write for this input.
    #[serde(rename = "InvalidInput.OutputConflict")]
    OutputConflict,
    #[serde(rename = "InvalidInput.BucketNotFound")]
    BucketNotFound,
    #[serde(rename = "InvalidInput.AccessDenied")]
    AccessDenied,
    /// An output key would be longer than S3's 1,024 bytes.
    #[serde(rename = "InvalidInput.KeyTooLong")]
    KeyTooLong,
    /// A watermark larger than the picture it should be drawn on.
    #[serde(rename = "InvalidInput.WatermarkTooLarge")]
    WatermarkTooLarge,
    #[serde(rename = "InternalError")]
    Internal,
    /// The task would have outlived its invocation; it was stopped before writing anything.
    #[serde(rename = "InternalError.Timeout")]
    Timeout,
    /// The worker stopped without recording an outcome on the last attempt (killed at its
    /// timeout, out of memory).
    #[serde(rename = "InternalError.WorkerLost")]
    WorkerLost,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::SourceNotFound => "SourceFileError.NotFound",
            ErrorCode::SourceEmpty => "SourceFileError.EmptyFile",
            ErrorCode::SourceUnsupportedFormat => "SourceFileError.UnsupportedFormat",
            ErrorCode::SourceCorrupt => "SourceFileError.Corrupt",
            ErrorCode::SourceNoVideo => "SourceFileError.NoVideoStream",
            ErrorCode::SourceNoMedia => "SourceFileError.NoMediaStream",
            ErrorCode::SourceReplaced => "SourceFileError.Replaced",
            ErrorCode::InvalidWatermarkImage => "InvalidInput.WatermarkImage",
            ErrorCode::InvalidTimeRange => "InvalidInput.TimeOutOfRange",
            ErrorCode::FileTooLarge => "InvalidInput.FileTooLarge",
            ErrorCode::DurationTooLong => "InvalidInput.DurationTooLong",
            ErrorCode::ResolutionTooHigh => "InvalidInput.ResolutionTooHigh",
            ErrorCode::TooManyStreams => "InvalidInput.TooManyStreams",
            ErrorCode::OutputConflict => "InvalidInput.OutputConflict",
            ErrorCode::BucketNotFound => "InvalidInput.BucketNotFound",
            ErrorCode::AccessDenied => "InvalidInput.AccessDenied",
            ErrorCode::KeyTooLong => "InvalidInput.KeyTooLong",
            ErrorCode::WatermarkTooLarge => "InvalidInput.WatermarkTooLarge",
            ErrorCode::Internal => "InternalError",
            ErrorCode::Timeout => "InternalError.Timeout",
            ErrorCode::WorkerLost => "InternalError.WorkerLost",
        }
    }

    /// Source and input errors stay errors however often the task runs; internal ones may not.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorCode::Internal | ErrorCode::Timeout)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TaskError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// One of ours (`InternalError`): retried until the attempts run out.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_serialize_in_mps_families() {
        assert_eq!(serde_json::to_string(&ErrorCode::SourceCorrupt).unwrap(), "\"SourceFileError.Corrupt\"");
        for code in [
            ErrorCode::SourceEmpty,
            ErrorCode::InvalidTimeRange,
            ErrorCode::TooManyStreams,
            ErrorCode::Internal,
            ErrorCode::Timeout,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
        assert!(ErrorCode::Internal.is_retryable() && ErrorCode::Timeout.is_retryable());
        assert!(!ErrorCode::SourceCorrupt.is_retryable() && !ErrorCode::FileTooLarge.is_retryable());
    }
}
