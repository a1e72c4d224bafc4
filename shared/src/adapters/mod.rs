//! Adapters of the ports over AWS services. Each owns its SDK client; SDK types and errors stop
//! here.

pub mod dynamodb;
pub mod lambda;
#[cfg(test)]
pub mod memory;
pub mod s3;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::ports::StoreError;

/// Error codes AWS services use for "slow down" and "try again".
const TRANSIENT_CODES: [&str; 9] = [
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "InternalServerError",
    "InternalError",
    "ServiceUnavailable",
];

/// Sorts an SDK error into retryable (throttling, 5xx, timeouts, lost connections) or not.
pub(crate) fn sdk_error<E>(error: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let message = DisplayErrorContext(&error).to_string();
    let transient = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(context) => {
            context.raw().status().as_u16() >= 500
                || context.err().code().is_some_and(|code| TRANSIENT_CODES.contains(&code))
        }
        _ => false,
    };
    if transient { StoreError::Unavailable(message) } else { StoreError::Rejected(message) }
}
