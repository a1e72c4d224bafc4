//! Publishing a task's outputs: all or none, only while the upload is the one the job was
//! prepared for, never over an object this workflow did not write for this upload, and the last
//! file (a master playlist) after every other, which it names.

use futures::{StreamExt, TryStreamExt, stream};

use super::growing::{GrowingOutputs, with_index_in_front};
use crate::domain::error::{ErrorCode, TaskError};
use crate::domain::job::{Job, OutputFile, Task};
use crate::domain::object::{ObjectHead, ObjectRef, OutputMarker};
use crate::ports::{ObjectStore, PutCondition, RenderedFile, StoreError};

/// How many outputs are checked or written at once (a ladder writes hundreds of segments).
const PUBLISH_CONCURRENCY: usize = 8;

/// Writes the rendered files to their keys, all or none: only while the upload is still the
/// one the job was prepared for, and never over an object that this workflow did not write
/// for this upload (a user's file, another workflow's output). The last file (a master
/// playlist) is written after every other, which it names. What the job lists: the files
/// that are not segments.
pub(super) async fn publish(
    objects: &dyn ObjectStore,
    growing: Option<&GrowingOutputs>,
    job: &Job,
    task: &Task,
    files: Vec<RenderedFile>,
) -> Result<Vec<OutputFile>, TaskError> {
    check_current(objects, job).await?;
    let mut planned: Vec<(RenderedFile, ObjectRef, PutCondition)> = stream::iter(files)
        .map(|file| async move {
            let target = job.output_key(task, file.slot);
            let condition = write_condition(objects, job, &target).await?;
            Ok::<_, TaskError>((file, target, condition))
        })
        .buffered(PUBLISH_CONCURRENCY)
        .try_collect()
        .await?;
    let last = planned.pop();
    let mut outputs: Vec<(bool, OutputFile)> = stream::iter(planned)
        .map(|planned| write(objects, growing, job, planned))
        .buffered(PUBLISH_CONCURRENCY)
        .try_collect()
        .await?;
    if let Some(last) = last {
        outputs.push(write(objects, growing, job, last).await?);
    }
    Ok(outputs.into_iter().filter(|(listed, _)| *listed).map(|(_, output)| output).collect())
}

/// Writes one rendered file with its marker, under its condition; whether the job lists it.
async fn write(
    objects: &dyn ObjectStore,
    growing: Option<&GrowingOutputs>,
    job: &Job,
    (file, target, condition): (RenderedFile, ObjectRef, PutCondition),
) -> Result<(bool, OutputFile), TaskError> {
    let marker = job.output_marker(&target);
    let size = match send(objects, growing, &file, &target, &marker, &condition).await {
        Ok(size) => size,
        Err(StoreError::Conflict(_)) => match objects.head(&target).await {
            // This very write, whose answer was lost on the way: the SDK's retry found the key
            // taken by it.
            Ok(Some(head)) if written_by(&head, job, &target) && Some(head.size) == stored_size(&file).await => {
                head.size
            }
            _ => {
                // Someone wrote the key since we looked: a newer job of this upload, or not us.
                check_current(objects, job).await?;
                return Err(TaskError::new(
                    ErrorCode::OutputConflict,
                    format!("{target} was written by someone else while this task ran; it was left as it is"),
                ));
            }
        },
        Err(e) => return Err(e.task_error(&format!("write {target}"))),
    };
    let output = OutputFile {
        bucket: target.bucket,
        key: target.key,
        size,
        duration: file.duration,
        width: file.width,
        height: file.height,
        quality: file.quality,
        tuning: file.tuning,
    };
    Ok((file.slot.is_listed(), output))
}

/// Sends a rendered file to `target`: by finishing what was sent while it was written, else
/// whole (with its index moved to the front first, when it has one at its end).
async fn send(
    objects: &dyn ObjectStore,
    growing: Option<&GrowingOutputs>,
    file: &RenderedFile,
    target: &ObjectRef,
    marker: &OutputMarker,
    condition: &PutCondition,
) -> Result<u64, StoreError> {
    if let Some(growing) = growing
        && let Some(finished) = growing.finish(file, target, marker, condition).await
    {
        return finished;
    }
    let path = with_index_in_front(file).await?;
    objects.put(&path, target, file.content_type, marker, condition).await
}

/// Whether `head` is an object this job wrote at `target`.
fn written_by(head: &ObjectHead, job: &Job, target: &ObjectRef) -> bool {
    head.marker.as_ref().is_some_and(|marker| marker.is_at(target) && marker.job == job.id.as_str())
}

/// The size of the output `file` makes.
async fn stored_size(file: &RenderedFile) -> Option<u64> {
    match &file.index {
        Some(moved) => Some(moved.output_size()),
        None => tokio::fs::metadata(&file.path).await.ok().map(|metadata| metadata.len()),
    }
}

/// Fails with `SourceFileError.Replaced` when the key now holds a newer upload.
async fn check_current(objects: &dyn ObjectStore, job: &Job) -> Result<(), TaskError> {
    let head = objects.head(&job.input).await.map_err(|e| e.task_error("read the upload"))?;
    match (head.and_then(|head| head.etag), &job.input_etag) {
        (Some(stored), Some(expected)) if &stored != expected => Err(job.replaced()),
        _ => Ok(()),
    }
}

/// How `target` may be written: only if free, or only over this workflow's own earlier
/// output for the same upload key.
async fn write_condition(objects: &dyn ObjectStore, job: &Job, target: &ObjectRef) -> Result<PutCondition, TaskError> {
    let head = objects.head(target).await.map_err(|e| e.task_error(&format!("write {target}")))?;
    match head {
        None => Ok(PutCondition::Absent),
        Some(head)
            if head.marker.as_ref().is_some_and(|m| m.is_at(target) && m.belongs_to(&job.workflow, &job.input)) =>
        {
            Ok(head.etag.map_or(PutCondition::Absent, PutCondition::Unchanged))
        }
        Some(head) => {
            let owner = match &head.marker {
                Some(marker) if marker.is_at(target) => {
                    format!("an output of workflow {:?} for another upload", marker.workflow)
                }
                _ => "not written by this workflow".to_owned(),
            };
            Err(TaskError::new(
                ErrorCode::OutputConflict,
                format!("{target} already exists ({owner}); it was left as it is and nothing was written"),
            ))
        }
    }
}
