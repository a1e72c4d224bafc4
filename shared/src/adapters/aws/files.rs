//! Buckets browsed through S3: listings by folder, folders as empty objects, and presigned
//! links scoped to one object and one method.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CompletedMultipartUpload, CompletedPart, CorsConfiguration, CorsRule,
    CreateBucketConfiguration,
};
use chrono::{DateTime, Utc};

use super::{sdk_error, service_code};
use crate::domain::object::ObjectRef;
use crate::ports::{FileEntry, Files, Folder, LinkFor, StoreError, UploadedPart};

/// The id of the CORS rule that lets the console's pages in (the template's, on the media bucket).
const CORS_RULE: &str = "mediaflow-console";

#[derive(Clone, Debug)]
pub struct S3Files {
    client: Client,
    /// The buckets the deployment may use; empty: whatever the credentials list.
    within: Vec<String>,
}

impl S3Files {
    pub fn new(client: Client) -> Self {
        Self { client, within: Vec::new() }
    }

    /// Only `buckets` are listed, and no other is created: a deployed console's role holds
    /// rights on the buckets its template names, not on the account's.
    pub fn within(mut self, buckets: &[String]) -> Self {
        self.within = buckets.to_vec();
        self.within.sort();
        self.within.dedup();
        self
    }
}

#[async_trait]
impl Files for S3Files {
    async fn buckets(&self) -> Result<Vec<String>, StoreError> {
        if !self.within.is_empty() {
            return Ok(self.within.clone());
        }
        let output = self.client.list_buckets().send().await.map_err(sdk_error)?;
        Ok(output.buckets().iter().filter_map(|b| b.name().map(str::to_owned)).collect())
    }

    async fn create_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        if !self.within.is_empty() {
            return Err(StoreError::AccessDenied(format!(
                "this console works on the buckets its stack names; create {bucket} with your own credentials, \
                 then add it to the stack's TriggerBuckets or OutputBuckets parameter"
            )));
        }
        let mut create = self.client.create_bucket().bucket(bucket);
        // us-east-1 is the one region that takes no location.
        if let Some(region) = self.client.config().region().map(|r| r.as_ref().to_owned()).filter(|r| r != "us-east-1")
        {
            let location = BucketLocationConstraint::from(region.as_str());
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder().location_constraint(location).build(),
            );
        }
        create.send().await.map_err(sdk_error)?;
        Ok(())
    }

    async fn folder(&self, bucket: &str, prefix: &str, token: Option<String>) -> Result<Folder, StoreError> {
        let output = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .delimiter("/")
            .set_continuation_token(token)
            .send()
            .await
            .map_err(sdk_error)?;
        let files = output
            .contents()
            .iter()
            // The folder's own placeholder is not one of its files.
            .filter(|o| !(prefix.ends_with('/') && o.key() == Some(prefix)))
            .filter_map(|o| {
                Some(FileEntry {
                    key: o.key()?.to_owned(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    modified: o
                        .last_modified()
                        .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos())),
                })
            })
            .collect();
        Ok(Folder {
            folders: output.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_owned)).collect(),
            files,
            next: output.next_continuation_token().filter(|_| output.is_truncated() == Some(true)).map(str::to_owned),
        })
    }

    async fn create_folder(&self, bucket: &str, prefix: &str) -> Result<(), StoreError> {
        self.client.put_object().bucket(bucket).key(prefix).body(Vec::new().into()).send().await.map_err(sdk_error)?;
        Ok(())
    }

    async fn delete(&self, object: &ObjectRef) -> Result<(), StoreError> {
        self.client.delete_object().bucket(&object.bucket).key(&object.key).send().await.map_err(sdk_error)?;
        Ok(())
    }

    async fn begin_upload(&self, object: &ObjectRef, content_type: &str) -> Result<String, StoreError> {
        let create = self.client.create_multipart_upload().bucket(&object.bucket).key(&object.key);
        let output = create.content_type(content_type).send().await.map_err(sdk_error)?;
        output.upload_id().map(str::to_owned).ok_or_else(|| StoreError::Rejected("no upload id".into()))
    }

    async fn finish_upload(
        &self,
        object: &ObjectRef,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<(), StoreError> {
        let parts = parts
            .iter()
            .map(|part| CompletedPart::builder().part_number(part.number as i32).e_tag(&part.etag).build())
            .collect();
        let upload = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
        let complete = self.client.complete_multipart_upload().bucket(&object.bucket).key(&object.key);
        complete.upload_id(upload_id).multipart_upload(upload).send().await.map_err(sdk_error)?;
        Ok(())
    }

    async fn abort_upload(&self, object: &ObjectRef, upload_id: &str) -> Result<(), StoreError> {
        let abort = self.client.abort_multipart_upload().bucket(&object.bucket).key(&object.key);
        abort.upload_id(upload_id).send().await.map_err(sdk_error)?;
        Ok(())
    }

    async fn read(&self, object: &ObjectRef, max: u64) -> Result<Vec<u8>, StoreError> {
        let output = self
            .client
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .range(format!("bytes=0-{}", max.max(1) - 1))
            .send()
            .await
            .map_err(sdk_error)?;
        let body = output.body.collect().await.map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(body.to_vec())
    }

    async fn allow_origin(&self, bucket: &str, origin: &str) -> Result<(), StoreError> {
        let rules = match self.client.get_bucket_cors().bucket(bucket).send().await {
            Ok(output) => output.cors_rules().to_vec(),
            Err(error) if service_code(&error).is_some_and(|(_, code)| code == "NoSuchCORSConfiguration") => Vec::new(),
            Err(error) => return Err(sdk_error(error)),
        };
        let (ours, mut others): (Vec<CorsRule>, Vec<CorsRule>) =
            rules.into_iter().partition(|rule| rule.id() == Some(CORS_RULE));
        let mut origins: Vec<String> = ours.iter().flat_map(|rule| rule.allowed_origins().to_vec()).collect();
        if origins.iter().any(|o| o == origin) {
            return Ok(());
        }
        origins.push(origin.to_owned());
        let rule = CorsRule::builder()
            .id(CORS_RULE)
            .set_allowed_origins(Some(origins))
            .allowed_methods("GET")
            .allowed_methods("HEAD")
            .allowed_methods("PUT")
            .allowed_headers("*")
            .expose_headers("ETag")
            .max_age_seconds(3600)
            .build()
            .map_err(|e| StoreError::Rejected(e.to_string()))?;
        others.push(rule);
        let cors = CorsConfiguration::builder()
            .set_cors_rules(Some(others))
            .build()
            .map_err(|e| StoreError::Rejected(e.to_string()))?;
        self.client.put_bucket_cors().bucket(bucket).cors_configuration(cors).send().await.map_err(sdk_error)?;
        Ok(())
    }

    async fn link(&self, object: &ObjectRef, what: &LinkFor, expires: Duration) -> Result<String, StoreError> {
        let config = PresigningConfig::expires_in(expires).map_err(|e| StoreError::Rejected(e.to_string()))?;
        let request = match what {
            LinkFor::Download => {
                let get = self.client.get_object().bucket(&object.bucket).key(&object.key);
                get.presigned(config).await.map_err(sdk_error)?
            }
            LinkFor::Upload { content_type } => {
                let put = self.client.put_object().bucket(&object.bucket).key(&object.key);
                put.content_type(content_type).presigned(config).await.map_err(sdk_error)?
            }
            LinkFor::Part { upload_id, number } => {
                let part = self.client.upload_part().bucket(&object.bucket).key(&object.key);
                let part = part.upload_id(upload_id).part_number(*number as i32);
                part.presigned(config).await.map_err(sdk_error)?
            }
        };
        Ok(request.uri().to_owned())
    }
}
