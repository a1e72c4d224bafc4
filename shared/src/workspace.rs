//! What a worker invocation works with, for tasks and parts alike: its hold on the work, its
//! scratch directory, the upload opened for reading, the watermark images.

use std::path::Path;
use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use tempfile::TempDir;
use tokio::io::AsyncReadExt;

use crate::domain::attempt::Lease;
use crate::domain::error::{ErrorCode, TaskError};
use crate::domain::job::{Job, Task};
use crate::domain::object::ObjectRef;
use crate::domain::sniff::png_size;
use crate::ports::{ObjectStore, StoredObject, WatermarkImage};
use crate::process::{Invocation, read_failure};

/// The invocation's hold on a task or part: `lease` long, never past its deadline.
pub(crate) fn lease(invocation: &Invocation, lease: TimeDelta) -> Lease {
    let now = Utc::now();
    let until = invocation.deadline.map_or(now + lease, |deadline| deadline.min(now + lease));
    Lease { holder: invocation.request_id.clone(), now, until }
}

/// The invocation's own directory in `scratch`, removed when dropped.
pub(crate) fn scratch_dir(scratch: &Path, invocation: &Invocation) -> Result<TempDir, TaskError> {
    tempfile::Builder::new().prefix(&format!("{}-", sanitize(&invocation.request_id))).tempdir_in(scratch).map_err(
        |e| TaskError::new(ErrorCode::Internal, format!("cannot create scratch dir in {}: {e}", scratch.display())),
    )
}

/// Request ids are ours to trust less than fully: keep them to a safe file-name alphabet.
fn sanitize(request_id: &str) -> String {
    let safe: String = request_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(64).collect();
    if safe.is_empty() { "invocation".into() } else { safe }
}

/// The upload the job was prepared for, to be read as it is used: still there, still the same
/// object, not empty.
pub(crate) async fn open_upload(objects: &Arc<dyn ObjectStore>, job: &Job) -> Result<Arc<StoredObject>, TaskError> {
    let head = objects
        .head(&job.input)
        .await
        .map_err(|e| read_failure(job, &e))?
        .ok_or_else(|| TaskError::new(ErrorCode::SourceNotFound, format!("{} no longer exists", job.input)))?;
    if let (Some(stored), Some(expected)) = (&head.etag, &job.input_etag)
        && stored != expected
    {
        return Err(job.replaced());
    }
    if head.size == 0 {
        return Err(TaskError::new(ErrorCode::SourceEmpty, "the uploaded file is empty"));
    }
    Ok(Arc::new(StoredObject {
        store: objects.clone(),
        object: job.input.clone(),
        etag: job.input_etag.clone(),
        size: head.size,
    }))
}

/// The task's image watermarks, downloaded into `workdir` and checked to be PNGs.
pub(crate) async fn fetch_watermarks(
    objects: &dyn ObjectStore,
    task: &Task,
    workdir: &Path,
) -> Result<Vec<WatermarkImage>, TaskError> {
    let mut images = Vec::new();
    for (i, image) in task.spec.watermarks().iter().filter_map(|mark| mark.image.as_ref()).enumerate() {
        let path = workdir.join(format!("watermark-{i}.png"));
        let object = ObjectRef::new(&image.bucket, &image.key);
        let invalid =
            |what: &str| TaskError::new(ErrorCode::InvalidWatermarkImage, format!("watermark image {object} {what}"));
        match objects.download(&object, None, &path).await {
            Ok(Some(size)) if size > 0 => {}
            Ok(_) => return Err(invalid("is missing or empty")),
            Err(e) => return Err(e.task_error(&format!("read watermark image {object}"))),
        }
        let mut header = [0u8; 24];
        let read = match tokio::fs::File::open(&path).await {
            Ok(mut file) => file.read_exact(&mut header).await.map(|_| ()),
            Err(e) => Err(e),
        };
        match (read, png_size(&header)) {
            (Ok(()), Some((width, height))) if width > 0 && height > 0 => {
                images.push(WatermarkImage { path, width, height });
            }
            _ => return Err(invalid("is not a PNG")),
        }
    }
    Ok(images)
}
