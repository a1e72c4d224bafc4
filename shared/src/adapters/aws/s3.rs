//! Objects in S3: HEAD for the output marker, pinned and ranged reads, conditional writes with
//! the marker (one PutObject, or a multipart upload above [`Multipart::threshold`], whose
//! completion carries the condition). S3's refusals are sorted by cause: a missing bucket, a
//! denied access, a changed object (precondition), or a failure worth retrying.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::{ByteStream as S3Bytes, DateTime as SmithyTime, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use tokio::io::AsyncWriteExt;
use tracing::warn;

use super::metering::CountRequests;
use super::{describe, sdk_error, service_code};
use crate::domain::object::{ObjectHead, ObjectRef, OutputMarker};
use crate::ports::{
    ByteStream, KeyPage, Listed, ObjectStore, PutCondition, RequestCounter, StoreError, Unfinished, UploadedPart,
};

/// [`ObjectStore`] on S3.
#[derive(Clone, Debug)]
pub struct S3ObjectStore {
    client: Client,
    multipart: Multipart,
}

/// When and how outputs go up in parts: one PutObject holds 5 GB at most, and parts go up
/// side by side.
#[derive(Clone, Copy, Debug)]
pub struct Multipart {
    /// Files larger than this go up in parts.
    pub threshold: u64,
    /// The smallest part (S3 takes 5 MiB at least); larger when 10,000 parts would not hold
    /// the file.
    pub part: u64,
    /// Parts in flight at once.
    pub concurrency: usize,
}

impl Default for Multipart {
    fn default() -> Self {
        Self { threshold: 64 * MIB, part: 16 * MIB, concurrency: 4 }
    }
}

const MIB: u64 = 1024 * 1024;
/// S3's most parts per upload.
const MAX_PARTS: u64 = 10_000;

impl Multipart {
    /// The part size for a file of `size` bytes.
    fn part_size(&self, size: u64) -> u64 {
        self.part.max(size.div_ceil(MAX_PARTS).next_multiple_of(MIB))
    }
}

impl S3ObjectStore {
    pub fn new(client: Client) -> Self {
        Self { client, multipart: Multipart::default() }
    }

    pub fn with_multipart(self, multipart: Multipart) -> Self {
        Self { multipart, ..self }
    }

    /// Uploads `from` in parts, then completes the upload under `condition`; aborts it on any
    /// failure so that no part is left behind (and billed).
    async fn put_in_parts(
        &self,
        from: &Path,
        to: &ObjectRef,
        size: u64,
        content_type: &str,
        marker: &OutputMarker,
        condition: &PutCondition,
    ) -> Result<(), StoreError> {
        let id = self.begin_parts(to, content_type, marker).await?;
        let result = match self.send_parts(from, to, size, &id).await {
            Ok(parts) => self.finish_parts(to, &id, &parts, condition).await,
            Err(error) => Err(error),
        };
        if result.is_err() {
            self.abort_parts(to, &id).await?;
        }
        result
    }

    /// Sends the parts of `from`, a few at a time, each streamed from the file.
    async fn send_parts(
        &self,
        from: &Path,
        to: &ObjectRef,
        size: u64,
        id: &str,
    ) -> Result<Vec<UploadedPart>, StoreError> {
        let part = self.multipart.part_size(size);
        let uploads = (0..size.div_ceil(part)).map(|index| async move {
            let offset = index * part;
            let body = S3Bytes::read_from()
                .path(from)
                .offset(offset)
                .length(Length::Exact(part.min(size - offset)))
                .build()
                .await
                .map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
            let number = u32::try_from(index + 1).map_err(|_| StoreError::Rejected("too many parts".into()))?;
            self.send_part(to, id, number, body).await
        });
        futures::stream::iter(uploads).buffered(self.multipart.concurrency).try_collect().await
    }

    async fn send_part(
        &self,
        to: &ObjectRef,
        id: &str,
        number: u32,
        body: S3Bytes,
    ) -> Result<UploadedPart, StoreError> {
        let sent = self
            .client
            .upload_part()
            .bucket(&to.bucket)
            .key(&to.key)
            .upload_id(id)
            .part_number(number as i32)
            .body(body)
            .send()
            .await
            .map_err(|error| s3_error(error, to))?;
        Ok(UploadedPart { number, etag: sent.e_tag().unwrap_or_default().to_owned() })
    }
}

/// What an S3 error means for `object`.
fn s3_error<E>(
    error: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    object: &ObjectRef,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match service_code(&error) {
        Some((_, "NoSuchBucket")) => StoreError::NoSuchBucket(object.bucket.clone()),
        Some((403, _)) => StoreError::AccessDenied(format!("{object}: {}", describe(&error))),
        Some((412, _)) | Some((409, "ConditionalRequestConflict")) => StoreError::Conflict(object.to_string()),
        // HEAD answers carry no body, so no code: a 404 on a HEAD is told apart by the caller.
        _ => sdk_error(error),
    }
}

fn time(value: Option<&SmithyTime>) -> Option<DateTime<Utc>> {
    value.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    fn counted(self: Arc<Self>, counter: Arc<RequestCounter>) -> Arc<dyn ObjectStore> {
        let config = self.client.config().to_builder().interceptor(CountRequests(counter)).build();
        Arc::new(Self { client: Client::from_conf(config), multipart: self.multipart })
    }

    async fn head(&self, object: &ObjectRef) -> Result<Option<ObjectHead>, StoreError> {
        match self.client.head_object().bucket(&object.bucket).key(&object.key).send().await {
            // S3 answers every HEAD of an object with its entity tag: an answer without one
            // was cut short on the way, and pinning a job to it would pin it to nothing.
            Ok(head) if head.e_tag().is_none() => {
                Err(StoreError::Unavailable(format!("{object}: HEAD answered without an entity tag")))
            }
            Ok(head) => {
                let metadata = head.metadata();
                Ok(Some(ObjectHead {
                    size: head.content_length().and_then(|len| u64::try_from(len).ok()).unwrap_or_default(),
                    etag: head.e_tag().map(str::to_owned),
                    version_id: head.version_id().map(str::to_owned),
                    last_modified: time(head.last_modified()),
                    content_type: head.content_type().map(str::to_owned),
                    marker: OutputMarker::from_metadata(|name| metadata.and_then(|m| m.get(name)).map(String::as_str)),
                }))
            }
            Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => {
                // A HEAD 404 does not say whether the key or the bucket is missing.
                match self.client.head_bucket().bucket(&object.bucket).send().await {
                    Err(bucket) if bucket.as_service_error().is_some_and(|e| e.is_not_found()) => {
                        Err(StoreError::NoSuchBucket(object.bucket.clone()))
                    }
                    _ => Ok(None),
                }
            }
            Err(error) => Err(s3_error(error, object)),
        }
    }

    async fn download(&self, object: &ObjectRef, etag: Option<&str>, to: &Path) -> Result<Option<u64>, StoreError> {
        let output = match self
            .client
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_if_match(etag.map(str::to_owned))
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            Err(error) => return Err(s3_error(error, object)),
        };
        let mut body = output.body.into_async_read();
        let mut file = tokio::fs::File::create(to).await?;
        let size = tokio::io::copy(&mut body, &mut file).await?;
        file.flush().await?;
        Ok(Some(size))
    }

    async fn read(
        &self,
        object: &ObjectRef,
        etag: Option<&str>,
        from: u64,
        to: Option<u64>,
    ) -> Result<ByteStream, StoreError> {
        let range = match to {
            Some(to) => format!("bytes={from}-{}", to.saturating_sub(1)),
            None => format!("bytes={from}-"),
        };
        let output = self
            .client
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .range(range)
            .set_if_match(etag.map(str::to_owned))
            .send()
            .await
            .map_err(|error| s3_error(error, object))?;
        let chunks = futures::stream::unfold(output.body, |mut body: S3Bytes| async move {
            let next = body.next().await?;
            Some((next.map_err(std::io::Error::other), body))
        });
        Ok(chunks.boxed())
    }

    async fn list(&self, bucket: &str, prefix: &str, token: Option<String>) -> Result<KeyPage, StoreError> {
        let output = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|error| s3_error(error, &ObjectRef::new(bucket, prefix)))?;
        let objects = output.contents().iter().filter_map(|o| {
            Some(Listed {
                key: o.key()?.to_owned(),
                size: o.size().unwrap_or_default().max(0) as u64,
                etag: o.e_tag().map(str::to_owned),
                last_modified: time(o.last_modified()),
            })
        });
        Ok(KeyPage {
            objects: objects.collect(),
            next: output.next_continuation_token().filter(|_| output.is_truncated() == Some(true)).map(str::to_owned),
        })
    }

    async fn delete(&self, object: &ObjectRef) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .send()
            .await
            .map_err(|error| s3_error(error, object))?;
        Ok(())
    }

    async fn put(
        &self,
        from: &Path,
        to: &ObjectRef,
        content_type: &str,
        marker: &OutputMarker,
        condition: &PutCondition,
    ) -> Result<u64, StoreError> {
        let size = tokio::fs::metadata(from).await?.len();
        if size > self.multipart.threshold {
            self.put_in_parts(from, to, size, content_type, marker, condition).await?;
            return Ok(size);
        }
        let body = S3Bytes::from_path(from).await.map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        let mut request =
            self.client.put_object().bucket(&to.bucket).key(&to.key).content_type(content_type).body(body);
        for (name, value) in marker.to_metadata() {
            request = request.metadata(name, value);
        }
        request = match condition {
            PutCondition::Absent => request.if_none_match("*"),
            PutCondition::Unchanged(etag) => request.if_match(etag),
            PutCondition::Overwrite => request,
        };
        request.send().await.map_err(|error| s3_error(error, to))?;
        Ok(size)
    }

    async fn begin_parts(
        &self,
        to: &ObjectRef,
        content_type: &str,
        marker: &OutputMarker,
    ) -> Result<String, StoreError> {
        let mut create =
            self.client.create_multipart_upload().bucket(&to.bucket).key(&to.key).content_type(content_type);
        for (name, value) in marker.to_metadata() {
            create = create.metadata(name, value);
        }
        let upload = create.send().await.map_err(|error| s3_error(error, to))?;
        Ok(upload.upload_id().ok_or_else(|| StoreError::Rejected("no upload id".into()))?.to_owned())
    }

    async fn put_part(&self, to: &ObjectRef, id: &str, number: u32, body: Bytes) -> Result<UploadedPart, StoreError> {
        self.send_part(to, id, number, S3Bytes::from(body)).await
    }

    async fn finish_parts(
        &self,
        to: &ObjectRef,
        id: &str,
        parts: &[UploadedPart],
        condition: &PutCondition,
    ) -> Result<(), StoreError> {
        let parts = parts
            .iter()
            .map(|part| CompletedPart::builder().part_number(part.number as i32).e_tag(&part.etag).build())
            .collect();
        let complete = self
            .client
            .complete_multipart_upload()
            .bucket(&to.bucket)
            .key(&to.key)
            .upload_id(id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build());
        let complete = match condition {
            PutCondition::Absent => complete.if_none_match("*"),
            PutCondition::Unchanged(etag) => complete.if_match(etag),
            PutCondition::Overwrite => complete,
        };
        complete.send().await.map(|_| ()).map_err(|error| s3_error(error, to))
    }

    async fn unfinished_parts(&self, bucket: &str, prefix: &str) -> Result<Vec<Unfinished>, StoreError> {
        let mut found = Vec::new();
        let mut markers: (Option<String>, Option<String>) = (None, None);
        loop {
            let page = self
                .client
                .list_multipart_uploads()
                .bucket(bucket)
                .prefix(prefix)
                .set_key_marker(markers.0.take())
                .set_upload_id_marker(markers.1.take())
                .send()
                .await
                .map_err(|error| s3_error(error, &ObjectRef::new(bucket, prefix)))?;
            for upload in page.uploads() {
                let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) else { continue };
                let begun = time(upload.initiated());
                found.push(Unfinished { object: ObjectRef::new(bucket, key), id: id.to_owned(), begun });
            }
            if page.is_truncated() != Some(true) {
                return Ok(found);
            }
            markers = (page.next_key_marker().map(str::to_owned), page.next_upload_id_marker().map(str::to_owned));
            if markers.0.is_none() {
                return Ok(found);
            }
        }
    }

    /// Never fails: an upload left behind is warned of, and the bucket's lifecycle rule
    /// removes it.
    async fn abort_parts(&self, to: &ObjectRef, id: &str) -> Result<(), StoreError> {
        let abort = self.client.abort_multipart_upload().bucket(&to.bucket).key(&to.key).upload_id(id);
        if let Err(error) = abort.send().await {
            warn!(%to, upload_id = %id, error = %describe(&error), "multipart upload not aborted: the bucket's lifecycle rule removes it");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_grow_when_ten_thousand_would_not_hold_the_file() {
        let multipart = Multipart::default();
        assert_eq!(multipart.part_size(100 * MIB), 16 * MIB);
        assert_eq!(multipart.part_size(150 * 1024 * MIB), 16 * MIB, "150 GiB in 9,600 parts");
        let huge = 5 * 1024 * 1024 * MIB; // 5 TiB, S3's largest object
        let part = multipart.part_size(huge);
        assert!(huge.div_ceil(part) <= MAX_PARTS && part % MIB == 0, "{part}");
    }
}
