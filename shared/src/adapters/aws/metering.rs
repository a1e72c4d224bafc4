//! S3 requests counted as S3 bills them: an SDK interceptor that sees every request sent (each
//! retry too) and sorts it into S3's price classes, with the bytes it carried or brought back.

use std::sync::Arc;

use aws_sdk_s3::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

use crate::ports::RequestCounter;

/// How S3 prices a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PriceClass {
    /// PUT, COPY, POST, LIST.
    Put,
    /// GET, HEAD and the rest.
    Get,
    /// DELETE and a multipart upload's abort.
    Free,
}

/// S3's price class of operation `name`.
fn price_class(name: &str) -> PriceClass {
    match name {
        "DeleteObject" | "DeleteObjects" | "AbortMultipartUpload" => PriceClass::Free,
        "PutObject"
        | "CopyObject"
        | "UploadPart"
        | "UploadPartCopy"
        | "CreateMultipartUpload"
        | "CompleteMultipartUpload"
        | "ListObjects"
        | "ListObjectsV2"
        | "ListObjectVersions"
        | "ListMultipartUploads"
        | "ListParts"
        | "ListBuckets" => PriceClass::Put,
        _ => PriceClass::Get,
    }
}

/// Counts an S3 client's requests into a [`RequestCounter`].
#[derive(Debug)]
pub(super) struct CountRequests(pub(super) Arc<RequestCounter>);

fn operation(cfg: &ConfigBag) -> &str {
    cfg.load::<Metadata>().map(Metadata::name).unwrap_or_default()
}

fn length(headers: &aws_smithy_runtime_api::http::Headers, name: &str) -> Option<u64> {
    headers.get(name).and_then(|value| value.parse().ok())
}

impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (request, operation) = (context.request(), operation(cfg));
        match price_class(operation) {
            PriceClass::Put => {
                // An object's bytes: not a listing's query nor a multipart upload's part list,
                // and without the framing of a body sent with a checksum trailer.
                let carries_data = matches!(operation, "PutObject" | "UploadPart");
                let headers = request.headers();
                let bytes = length(headers, "x-amz-decoded-content-length")
                    .or_else(|| request.body().content_length())
                    .or_else(|| length(headers, "content-length"));
                self.0.put(if carries_data { bytes.unwrap_or_default() } else { 0 });
            }
            PriceClass::Get => self.0.get(),
            PriceClass::Free => {}
        }
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        if operation(cfg) == "GetObject" && response.status().is_success() {
            self.0.read(length(response.headers(), "content-length").unwrap_or_default());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_sorted_into_s3s_price_classes() {
        for name in ["PutObject", "UploadPart", "CreateMultipartUpload", "CompleteMultipartUpload", "ListObjectsV2"] {
            assert_eq!(price_class(name), PriceClass::Put, "{name}");
        }
        for name in ["GetObject", "HeadObject", "GetBucketNotificationConfiguration"] {
            assert_eq!(price_class(name), PriceClass::Get, "{name}");
        }
        for name in ["DeleteObject", "AbortMultipartUpload"] {
            assert_eq!(price_class(name), PriceClass::Free, "{name}");
        }
    }
}
