//! Objects in S3: uploads read (pinned, ranged, streamed), outputs written under conditions.

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

use super::error::StoreError;
use super::files::UploadedPart;
use chrono::{DateTime, Utc};

use crate::domain::object::{ObjectHead, ObjectRef, OutputMarker};
use crate::domain::usage::S3Usage;

/// Bytes of an object as they arrive.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// When a write may happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutCondition {
    /// Only if nothing is stored at the key.
    Absent,
    /// Only if the key still holds the object with this entity tag.
    Unchanged(String),
    /// Whatever is there: only for mediaflow's own work objects (the parts of a chunked task).
    Overwrite,
}

/// Objects in S3. Reads of an upload are pinned to its entity tag: when the key holds another
/// object by then, they fail with `Conflict`.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// `None` when the object does not exist.
    async fn head(&self, object: &ObjectRef) -> Result<Option<ObjectHead>, StoreError>;
    /// Streams the object into a local file; `None` when it does not exist.
    async fn download(&self, object: &ObjectRef, etag: Option<&str>, to: &Path) -> Result<Option<u64>, StoreError>;
    /// The bytes from `from` up to `to` (exclusive; the end of the object when `None`).
    async fn read(
        &self,
        object: &ObjectRef,
        etag: Option<&str>,
        from: u64,
        to: Option<u64>,
    ) -> Result<ByteStream, StoreError>;
    /// One page of the objects under `prefix`, in key order, from `token` (the previous page's
    /// continuation token) on.
    async fn list(&self, bucket: &str, prefix: &str, token: Option<String>) -> Result<KeyPage, StoreError>;
    /// Removes an object of mediaflow's own (a part kept for a join); nothing when it is gone.
    async fn delete(&self, object: &ObjectRef) -> Result<(), StoreError>;
    /// Writes a local file with `marker` if `condition` holds (else `Conflict`); returns its size.
    async fn put(
        &self,
        from: &Path,
        to: &ObjectRef,
        content_type: &str,
        marker: &OutputMarker,
        condition: &PutCondition,
    ) -> Result<u64, StoreError>;
    /// Starts an object written in parts (a file sent while it is written), with `marker`;
    /// the upload's id.
    async fn begin_parts(
        &self,
        to: &ObjectRef,
        content_type: &str,
        marker: &OutputMarker,
    ) -> Result<String, StoreError>;
    /// Stores part `number` (from 1; a number sent again replaces the part) of upload `id`.
    async fn put_part(&self, to: &ObjectRef, id: &str, number: u32, body: Bytes) -> Result<UploadedPart, StoreError>;
    /// Makes `parts` (in order) the object if `condition` holds (else `Conflict`); parts
    /// stored and not named are dropped.
    async fn finish_parts(
        &self,
        to: &ObjectRef,
        id: &str,
        parts: &[UploadedPart],
        condition: &PutCondition,
    ) -> Result<(), StoreError>;
    /// Drops upload `id` and its parts.
    async fn abort_parts(&self, to: &ObjectRef, id: &str) -> Result<(), StoreError>;
    /// The uploads in parts begun under `prefix` of `bucket` and neither finished nor dropped.
    async fn unfinished_parts(&self, bucket: &str, prefix: &str) -> Result<Vec<Unfinished>, StoreError>;
    /// The same store, counting every request it sends to S3 (retries too: S3 bills them) into
    /// `counter`.
    fn counted(self: Arc<Self>, counter: Arc<RequestCounter>) -> Arc<dyn ObjectStore>;
}

/// S3 requests by price class and the bytes they moved, counted as they are sent: what one
/// invocation used.
#[derive(Debug, Default)]
pub struct RequestCounter {
    get_requests: AtomicU64,
    put_requests: AtomicU64,
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
}

impl RequestCounter {
    /// A request S3 bills at its GET rate (GET, HEAD and the others).
    pub fn get(&self) {
        self.get_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A request S3 bills at its PUT rate (PUT, COPY, POST, LIST) carrying `bytes`.
    pub fn put(&self, bytes: u64) {
        self.put_requests.fetch_add(1, Ordering::Relaxed);
        self.bytes_written.fetch_add(bytes, Ordering::Relaxed);
    }

    /// `bytes` of an object sent back.
    pub fn read(&self, bytes: u64) {
        self.bytes_read.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn usage(&self) -> S3Usage {
        S3Usage {
            get_requests: self.get_requests.load(Ordering::Relaxed),
            put_requests: self.put_requests.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
        }
    }
}

/// An object as a listing shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
}

/// An upload in parts neither finished nor dropped: where, its id, when it was begun.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unfinished {
    pub object: ObjectRef,
    pub id: String,
    pub begun: Option<DateTime<Utc>>,
}

/// A page of listed objects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPage {
    pub objects: Vec<Listed>,
    /// Where the next page starts; `None` on the last.
    pub next: Option<String>,
}

/// One stored upload, read on demand.
#[derive(Clone)]
pub struct StoredObject {
    pub store: Arc<dyn ObjectStore>,
    pub object: ObjectRef,
    pub etag: Option<String>,
    pub size: u64,
}

impl std::fmt::Debug for StoredObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredObject").field("object", &self.object).field("size", &self.size).finish()
    }
}

impl StoredObject {
    pub async fn read(&self, from: u64, to: Option<u64>) -> Result<ByteStream, StoreError> {
        self.store.read(&self.object, self.etag.as_deref(), from, to).await
    }
}
