//! Adapters of the ports over AWS services: DynamoDB (records), S3 (objects, bucket events), Lambda
//! (workers), SQS, SNS and EventBridge (events, dead letters), webhooks with their secrets. Each
//! owns its SDK client; SDK types and errors stop here.
//!
//! Imports the domain and the ports; never the use-cases.

pub mod dynamodb;
pub mod files;
pub mod lambda;
mod metering;
pub mod notify;
pub mod s3;
pub mod s3_events;
pub mod sqs;
pub mod stack;
pub mod webhook;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::ports::StoreError;

/// Error codes AWS services use for "slow down" and "try again".
const TRANSIENT_CODES: [&str; 10] = [
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "InternalServerError",
    "InternalError",
    "ServiceUnavailable",
    // DynamoDB: another write held the item at that moment.
    "TransactionConflictException",
];

/// Sorts an SDK error into retryable (throttling, 5xx, timeouts, lost connections) or not,
/// described in one line.
pub(crate) fn sdk_error<E>(error: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let message = describe(&error);
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

/// The status and error code of a service's answer, when it answered.
pub(crate) fn service_code<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> Option<(u16, &str)> {
    match error {
        SdkError::ServiceError(context) => Some((context.raw().status().as_u16(), context.err().code().unwrap_or(""))),
        _ => None,
    }
}

/// One line: the service's code and message, or the chain of causes of a failed request.
pub(crate) fn describe<E>(error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let SdkError::ServiceError(context) = error {
        let status = context.raw().status().as_u16();
        let err = context.err();
        return match (err.code(), err.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => format!("{code} (HTTP {status})"),
            _ => format!("HTTP {status}"),
        };
    }
    let mut parts = vec![error.to_string()];
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::{ErrorMetadata, SdkError};
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn service(status: u16, code: &str) -> SdkError<GetItemError, HttpResponse> {
        let error = GetItemError::generic(ErrorMetadata::builder().code(code).message("m").build());
        let status = status.try_into().expect("a status code");
        SdkError::service_error(error, HttpResponse::new(status, SdkBody::empty()))
    }

    #[test]
    fn throttling_5xx_and_timeouts_are_retryable() {
        assert!(sdk_error(service(400, "ThrottlingException")).is_retryable());
        assert!(sdk_error(service(400, "ProvisionedThroughputExceededException")).is_retryable());
        assert!(sdk_error(service(503, "Whatever")).is_retryable());
        assert!(sdk_error(SdkError::<GetItemError, HttpResponse>::timeout_error("slow")).is_retryable());
    }

    #[test]
    fn errors_are_described_in_one_line() {
        let error = sdk_error(service(403, "AccessDenied"));
        assert_eq!(error.to_string(), "request rejected: AccessDenied: m");
        let timeout = sdk_error(SdkError::<GetItemError, HttpResponse>::timeout_error("slow"));
        assert!(!timeout.to_string().contains('\n'), "{timeout}");
    }

    #[test]
    fn rejected_requests_are_not_retryable() {
        assert!(!sdk_error(service(400, "ValidationException")).is_retryable());
        assert!(!sdk_error(service(403, "AccessDeniedException")).is_retryable());
        assert!(!sdk_error(SdkError::<GetItemError, HttpResponse>::construction_failure("bad")).is_retryable());
    }
}
