//! Objects in S3: HEAD for the output marker, streamed downloads, uploads with the marker.

use std::path::Path;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use tokio::io::AsyncWriteExt;

use super::sdk_error;
use crate::domain::job::JobId;
use crate::domain::object::{OUTPUT_MARKER, ObjectHead, ObjectRef};
use crate::ports::{ObjectStore, StoreError};

/// [`ObjectStore`] on S3.
#[derive(Clone, Debug)]
pub struct S3ObjectStore {
    client: Client,
}

impl S3ObjectStore {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn head(&self, object: &ObjectRef) -> Result<Option<ObjectHead>, StoreError> {
        match self.client.head_object().bucket(&object.bucket).key(&object.key).send().await {
            Ok(head) => Ok(Some(ObjectHead {
                size: head.content_length().and_then(|len| u64::try_from(len).ok()).unwrap_or_default(),
                etag: head.e_tag().map(str::to_owned),
                content_type: head.content_type().map(str::to_owned),
                produced_by_job: head.metadata().and_then(|meta| meta.get(OUTPUT_MARKER)).cloned(),
            })),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(error) => Err(sdk_error(error)),
        }
    }

    async fn download(&self, object: &ObjectRef, to: &Path) -> Result<Option<u64>, StoreError> {
        let output = match self.client.get_object().bucket(&object.bucket).key(&object.key).send().await {
            Ok(output) => output,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None);
            }
            Err(error) => return Err(sdk_error(error)),
        };
        let mut body = output.body.into_async_read();
        let mut file = tokio::fs::File::create(to).await?;
        let size = tokio::io::copy(&mut body, &mut file).await?;
        file.flush().await?;
        Ok(Some(size))
    }

    async fn upload(&self, from: &Path, to: &ObjectRef, content_type: &str, job: &JobId) -> Result<u64, StoreError> {
        let size = tokio::fs::metadata(from).await?.len();
        let body = ByteStream::from_path(from).await.map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        self.client
            .put_object()
            .bucket(&to.bucket)
            .key(&to.key)
            .content_type(content_type)
            .metadata(OUTPUT_MARKER, job.as_str())
            .body(body)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(size)
    }
}
