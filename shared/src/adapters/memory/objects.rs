//! Objects in memory: entity tags count the writes, so tests can tell their order.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use futures::StreamExt;

use crate::domain::object::{ObjectHead, ObjectRef, OutputMarker};
use crate::ports::{
    ByteStream, KeyPage, Listed, ObjectStore, PutCondition, RequestCounter, StoreError, Unfinished, UploadedPart,
};

use super::{InParts, Memory};

impl Memory {
    fn readable(&self, object: &ObjectRef) -> Result<(), StoreError> {
        match self.state().denied.contains(&object.bucket) {
            true => Err(StoreError::AccessDenied(format!("{object}: AccessDenied: Access Denied"))),
            false => Ok(()),
        }
    }
}

#[async_trait]
impl ObjectStore for Memory {
    fn counted(self: Arc<Self>, counter: Arc<RequestCounter>) -> Arc<dyn ObjectStore> {
        Arc::new(Counted { memory: self, counter })
    }

    async fn head(&self, object: &ObjectRef) -> Result<Option<ObjectHead>, StoreError> {
        self.readable(object)?;
        Ok(self.state().objects.get(object).map(|stored| ObjectHead {
            size: stored.data.len() as u64,
            etag: Some(stored.etag.clone()),
            marker: stored.marker.clone(),
            last_modified: Some(stored.written_at),
            ..ObjectHead::default()
        }))
    }

    async fn download(&self, object: &ObjectRef, etag: Option<&str>, to: &Path) -> Result<Option<u64>, StoreError> {
        self.readable(object)?;
        let stored = self.state().objects.get(object).cloned();
        match stored {
            Some(stored) if etag.is_some_and(|etag| etag != stored.etag) => {
                Err(StoreError::Conflict(object.to_string()))
            }
            Some(stored) => {
                std::fs::write(to, &stored.data)?;
                Ok(Some(stored.data.len() as u64))
            }
            None => Ok(None),
        }
    }

    async fn read(
        &self,
        object: &ObjectRef,
        etag: Option<&str>,
        from: u64,
        to: Option<u64>,
    ) -> Result<ByteStream, StoreError> {
        self.readable(object)?;
        let stored =
            self.state().objects.get(object).cloned().ok_or_else(|| StoreError::Rejected("NoSuchKey".into()))?;
        if etag.is_some_and(|etag| etag != stored.etag) {
            return Err(StoreError::Conflict(object.to_string()));
        }
        let end = to.map_or(stored.data.len(), |to| (to as usize).min(stored.data.len()));
        let bytes = Bytes::from(stored.data[(from as usize).min(end)..end].to_vec());
        Ok(futures::stream::iter([Ok(bytes)]).boxed())
    }

    async fn list(&self, bucket: &str, prefix: &str, _token: Option<String>) -> Result<KeyPage, StoreError> {
        let mut objects: Vec<Listed> = self
            .state()
            .objects
            .iter()
            .filter(|(o, _)| o.bucket == bucket && o.key.starts_with(prefix))
            .map(|(o, stored)| Listed {
                key: o.key.clone(),
                size: stored.data.len() as u64,
                etag: Some(stored.etag.clone()),
                last_modified: Some(stored.written_at),
            })
            .collect();
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(KeyPage { objects, next: None })
    }

    async fn delete(&self, object: &ObjectRef) -> Result<(), StoreError> {
        self.state().objects.remove(object);
        Ok(())
    }

    async fn put(
        &self,
        from: &Path,
        to: &ObjectRef,
        _content_type: &str,
        marker: &OutputMarker,
        condition: &PutCondition,
    ) -> Result<u64, StoreError> {
        let data = std::fs::read(from)?;
        let size = data.len() as u64;
        self.store_if(to, data, marker, condition)?;
        Ok(size)
    }

    async fn begin_parts(
        &self,
        to: &ObjectRef,
        _content_type: &str,
        marker: &OutputMarker,
    ) -> Result<String, StoreError> {
        let mut state = self.state();
        let id = format!("parts-{}", state.in_parts.len() + 1);
        let upload = InParts { to: to.clone(), marker: marker.clone(), parts: Default::default(), begun: Utc::now() };
        state.in_parts.insert(id.clone(), upload);
        Ok(id)
    }

    async fn put_part(&self, to: &ObjectRef, id: &str, number: u32, body: Bytes) -> Result<UploadedPart, StoreError> {
        let mut state = self.state();
        if state.failing_parts > 0 {
            state.failing_parts -= 1;
            return Err(StoreError::Unavailable(format!("{to}: part {number}: SlowDown")));
        }
        let upload = state.in_parts.get_mut(id).filter(|u| &u.to == to).ok_or_else(|| no_upload(to, id))?;
        let etag = format!("\"{number}-{}\"", body.len());
        upload.parts.insert(number, body);
        Ok(UploadedPart { number, etag })
    }

    async fn finish_parts(
        &self,
        to: &ObjectRef,
        id: &str,
        parts: &[UploadedPart],
        condition: &PutCondition,
    ) -> Result<(), StoreError> {
        let (data, marker) = {
            let state = self.state();
            let upload = state.in_parts.get(id).filter(|u| &u.to == to).ok_or_else(|| no_upload(to, id))?;
            let mut data = Vec::new();
            for part in parts {
                let body = upload.parts.get(&part.number).ok_or_else(|| no_upload(to, id))?;
                data.extend_from_slice(body);
            }
            (data, upload.marker.clone())
        };
        self.store_if(to, data, &marker, condition)?;
        self.state().in_parts.remove(id);
        Ok(())
    }

    async fn abort_parts(&self, _to: &ObjectRef, id: &str) -> Result<(), StoreError> {
        self.state().in_parts.remove(id);
        Ok(())
    }

    async fn unfinished_parts(&self, bucket: &str, prefix: &str) -> Result<Vec<Unfinished>, StoreError> {
        let mut found: Vec<Unfinished> = self
            .state()
            .in_parts
            .iter()
            .filter(|(_, upload)| upload.to.bucket == bucket && upload.to.key.starts_with(prefix))
            .map(|(id, upload)| Unfinished { object: upload.to.clone(), id: id.clone(), begun: Some(upload.begun) })
            .collect();
        found.sort_by(|a, b| (&a.object.key, &a.id).cmp(&(&b.object.key, &b.id)));
        Ok(found)
    }
}

impl Memory {
    /// Stores `data` at `to` if `condition` holds, else `Conflict`.
    fn store_if(
        &self,
        to: &ObjectRef,
        data: Vec<u8>,
        marker: &OutputMarker,
        condition: &PutCondition,
    ) -> Result<(), StoreError> {
        let current = self.state().objects.get(to).map(|stored| stored.etag.clone());
        let allowed = match condition {
            PutCondition::Absent => current.is_none(),
            PutCondition::Unchanged(etag) => current.as_ref() == Some(etag),
            PutCondition::Overwrite => true,
        };
        if !allowed {
            return Err(StoreError::Conflict(to.to_string()));
        }
        self.put_object(to.clone(), data, Some(marker.clone()));
        let mut state = self.state();
        if state.lost_put_answers > 0 {
            // Written, and the answer lost: the SDK's retry finds the key taken.
            state.lost_put_answers -= 1;
            return Err(StoreError::Conflict(to.to_string()));
        }
        Ok(())
    }

    /// The uploads in parts begun and neither finished nor dropped.
    pub fn unfinished_uploads(&self) -> usize {
        self.state().in_parts.len()
    }

    /// The numbers of the parts stored of the uploads not finished, in order.
    pub fn parts_begun(&self) -> Vec<u32> {
        self.state().in_parts.values().flat_map(|upload| upload.parts.keys().copied()).collect()
    }

    /// The next `count` part writes fail.
    pub fn fail_parts(&self, count: usize) {
        self.state().failing_parts = count;
    }
}

fn no_upload(to: &ObjectRef, id: &str) -> StoreError {
    StoreError::Rejected(format!("{to}: NoSuchUpload {id}"))
}

/// Buckets are the ones objects were put in (or that were created); links are `memory://`.
#[async_trait]
impl crate::ports::Files for Memory {
    async fn buckets(&self) -> Result<Vec<String>, StoreError> {
        let state = self.state();
        let mut buckets: Vec<String> =
            state.objects.keys().map(|o| o.bucket.clone()).chain(state.buckets.iter().cloned()).collect();
        buckets.sort();
        buckets.dedup();
        Ok(buckets)
    }

    async fn create_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        self.state().buckets.insert(bucket.to_owned());
        Ok(())
    }

    /// Uploads are ids only: a finished one is an object whose bytes are the parts' ETags.
    async fn begin_upload(&self, object: &ObjectRef, _content_type: &str) -> Result<String, StoreError> {
        Ok(format!("upload-{}", object.key.len()))
    }

    async fn finish_upload(
        &self,
        object: &ObjectRef,
        _upload_id: &str,
        parts: &[crate::ports::UploadedPart],
    ) -> Result<(), StoreError> {
        let bytes = parts.iter().map(|part| part.etag.as_str()).collect::<Vec<_>>().join(",");
        self.put_object(object.clone(), bytes.into_bytes(), None);
        Ok(())
    }

    async fn abort_upload(&self, _object: &ObjectRef, _upload_id: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn read(&self, object: &ObjectRef, max: u64) -> Result<Vec<u8>, StoreError> {
        let stored = self.object(object).ok_or_else(|| StoreError::Rejected("NoSuchKey".into()))?;
        Ok(stored.into_iter().take(max as usize).collect())
    }

    async fn allow_origin(&self, bucket: &str, origin: &str) -> Result<(), StoreError> {
        self.state().origins.entry(bucket.to_owned()).or_default().insert(origin.to_owned());
        Ok(())
    }

    async fn folder(
        &self,
        bucket: &str,
        prefix: &str,
        _token: Option<String>,
    ) -> Result<crate::ports::Folder, StoreError> {
        let mut folder = crate::ports::Folder::default();
        let mut keys: Vec<(String, u64)> = self
            .state()
            .objects
            .iter()
            .filter(|(o, _)| o.bucket == bucket && o.key.starts_with(prefix))
            .filter(|(o, _)| !(prefix.ends_with('/') && o.key == prefix))
            .map(|(o, stored)| (o.key.clone(), stored.data.len() as u64))
            .collect();
        keys.sort();
        for (key, size) in keys {
            match key[prefix.len()..].split_once('/') {
                Some((name, _)) => {
                    let sub = format!("{prefix}{name}/");
                    if !folder.folders.contains(&sub) {
                        folder.folders.push(sub);
                    }
                }
                None => folder.files.push(crate::ports::FileEntry { key, size, modified: None }),
            }
        }
        Ok(folder)
    }

    async fn create_folder(&self, bucket: &str, prefix: &str) -> Result<(), StoreError> {
        self.put_object(ObjectRef::new(bucket, prefix), Vec::new(), None);
        Ok(())
    }

    async fn delete(&self, object: &ObjectRef) -> Result<(), StoreError> {
        ObjectStore::delete(self, object).await
    }

    async fn link(
        &self,
        object: &ObjectRef,
        what: &crate::ports::LinkFor,
        _expires: std::time::Duration,
    ) -> Result<String, StoreError> {
        let method = match what {
            crate::ports::LinkFor::Download => "get".to_owned(),
            crate::ports::LinkFor::Upload { .. } => "put".to_owned(),
            crate::ports::LinkFor::Part { upload_id, number } => format!("part={number}&upload={upload_id}"),
        };
        Ok(format!("memory://{}/{}?{method}", object.bucket, object.key))
    }
}

/// The memory's objects, each call counted as the one S3 request it stands for.
struct Counted {
    memory: Arc<Memory>,
    counter: Arc<RequestCounter>,
}

#[async_trait]
impl ObjectStore for Counted {
    async fn head(&self, object: &ObjectRef) -> Result<Option<ObjectHead>, StoreError> {
        self.counter.get();
        self.memory.head(object).await
    }

    async fn download(&self, object: &ObjectRef, etag: Option<&str>, to: &Path) -> Result<Option<u64>, StoreError> {
        self.counter.get();
        let size = self.memory.download(object, etag, to).await?;
        self.counter.read(size.unwrap_or_default());
        Ok(size)
    }

    async fn read(
        &self,
        object: &ObjectRef,
        etag: Option<&str>,
        from: u64,
        to: Option<u64>,
    ) -> Result<ByteStream, StoreError> {
        self.counter.get();
        let counter = self.counter.clone();
        let stream = self.memory.read(object, etag, from, to).await?;
        Ok(Box::pin(stream.inspect(move |chunk| {
            if let Ok(bytes) = chunk {
                counter.read(bytes.len() as u64);
            }
        })))
    }

    async fn list(&self, bucket: &str, prefix: &str, token: Option<String>) -> Result<KeyPage, StoreError> {
        self.counter.put(0);
        self.memory.list(bucket, prefix, token).await
    }

    async fn delete(&self, object: &ObjectRef) -> Result<(), StoreError> {
        self.memory.delete(object).await
    }

    async fn put(
        &self,
        from: &Path,
        to: &ObjectRef,
        content_type: &str,
        marker: &OutputMarker,
        condition: &PutCondition,
    ) -> Result<u64, StoreError> {
        let size = tokio::fs::metadata(from).await.map(|m| m.len()).unwrap_or_default();
        self.counter.put(size);
        self.memory.put(from, to, content_type, marker, condition).await
    }

    async fn begin_parts(
        &self,
        to: &ObjectRef,
        content_type: &str,
        marker: &OutputMarker,
    ) -> Result<String, StoreError> {
        self.counter.put(0);
        self.memory.begin_parts(to, content_type, marker).await
    }

    async fn put_part(&self, to: &ObjectRef, id: &str, number: u32, body: Bytes) -> Result<UploadedPart, StoreError> {
        self.counter.put(body.len() as u64);
        self.memory.put_part(to, id, number, body).await
    }

    async fn finish_parts(
        &self,
        to: &ObjectRef,
        id: &str,
        parts: &[UploadedPart],
        condition: &PutCondition,
    ) -> Result<(), StoreError> {
        self.counter.put(0);
        self.memory.finish_parts(to, id, parts, condition).await
    }

    async fn abort_parts(&self, to: &ObjectRef, id: &str) -> Result<(), StoreError> {
        self.memory.abort_parts(to, id).await
    }

    async fn unfinished_parts(&self, bucket: &str, prefix: &str) -> Result<Vec<Unfinished>, StoreError> {
        self.counter.put(0);
        self.memory.unfinished_parts(bucket, prefix).await
    }

    fn counted(self: Arc<Self>, counter: Arc<RequestCounter>) -> Arc<dyn ObjectStore> {
        self.memory.clone().counted(counter)
    }
}
