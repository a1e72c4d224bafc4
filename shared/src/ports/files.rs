//! Buckets as people browse them: folders and files, and signed links with which a browser
//! reads or writes one object itself (media never passes through the console).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::StoreError;
use crate::domain::object::ObjectRef;

/// One level of a bucket: the folders and files directly under a prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Folder {
    /// Prefixes one level down, each ending with `/`.
    pub folders: Vec<String>,
    pub files: Vec<FileEntry>,
    /// Where the next page starts; `None` on the last.
    pub next: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    pub key: String,
    pub size: u64,
    pub modified: Option<DateTime<Utc>>,
}

/// What a signed link lets its holder do with its one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkFor {
    Download,
    /// A PUT of the object's bytes, with this content type.
    Upload {
        content_type: String,
    },
    /// A PUT of one part of the multipart upload `upload_id` (numbered from 1).
    Part {
        upload_id: String,
        number: u32,
    },
}

/// A part of a multipart upload that is stored: its number and ETag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadedPart {
    pub number: u32,
    pub etag: String,
}

#[async_trait]
pub trait Files: Send + Sync {
    /// The buckets the deployment's credentials can list.
    async fn buckets(&self) -> Result<Vec<String>, StoreError>;
    async fn create_bucket(&self, bucket: &str) -> Result<(), StoreError>;
    /// One page of what is directly under `prefix` (`""`: the bucket's top).
    async fn folder(&self, bucket: &str, prefix: &str, token: Option<String>) -> Result<Folder, StoreError>;
    /// An empty object at `prefix` (ending with `/`), as S3 consoles make folders.
    async fn create_folder(&self, bucket: &str, prefix: &str) -> Result<(), StoreError>;
    async fn delete(&self, object: &ObjectRef) -> Result<(), StoreError>;
    /// The first `max` bytes of `object`: small text a preview needs (playlists, WebVTT).
    async fn read(&self, object: &ObjectRef, max: u64) -> Result<Vec<u8>, StoreError>;
    /// Lets pages of `origin` (`https://host[:port]`) read and write the bucket's objects with
    /// signed links (the bucket's CORS rule for the console; other rules are kept).
    async fn allow_origin(&self, bucket: &str, origin: &str) -> Result<(), StoreError>;
    /// Begins a multipart upload of `object` (a large file sent in parts with [`LinkFor::Part`]
    /// links); its id.
    async fn begin_upload(&self, object: &ObjectRef, content_type: &str) -> Result<String, StoreError>;
    /// Joins the parts into the object.
    async fn finish_upload(
        &self,
        object: &ObjectRef,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<(), StoreError>;
    /// Drops the upload and its stored parts.
    async fn abort_upload(&self, object: &ObjectRef, upload_id: &str) -> Result<(), StoreError>;
    /// A link that allows `what` on `object` only, for `expires`.
    async fn link(&self, object: &ObjectRef, what: &LinkFor, expires: Duration) -> Result<String, StoreError>;
}
