//! What a worker invocation works with, for tasks and parts alike: the records, the objects,
//! the media tool and the notifier; its hold on the work, its scratch directory, the upload
//! opened for reading, the watermark images.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tempfile::TempDir;
use tokio::io::AsyncReadExt;
use tracing::{debug, warn};

use super::attempt::Invocation;
use super::growing::GrowingOutputs;
use super::notify::Notifier;
use crate::domain::attempt::Lease;
use crate::domain::error::{ErrorCode, TaskError};
use crate::domain::job::{Job, JobId, Task};
use crate::domain::object::ObjectRef;
use crate::domain::sniff::png_size;
use crate::domain::usage::{OutputSeconds, Usage};
use crate::ports::{Held, JobStore, MediaTool, ObjectStore, StoreError, StoredObject, WatermarkImage};

/// What tasks and parts run with.
#[derive(Clone)]
pub struct Workspace {
    pub jobs: Arc<dyn JobStore>,
    pub objects: Arc<dyn ObjectStore>,
    pub media: Arc<dyn MediaTool>,
    pub notifier: Arc<Notifier>,
    /// Where each invocation gets its own directory (`/tmp` in Lambda).
    pub scratch: PathBuf,
    /// How long a claim holds unless its worker renews it (never past the invocation's
    /// deadline).
    pub lease: TimeDelta,
    /// The time kept back from the deadline to upload outputs and record the outcome.
    pub margin: TimeDelta,
    /// Outputs written front to back go up in parts of this many bytes while they are
    /// written (at least 5 MiB, S3's smallest part); `None`: after they are written.
    pub send_while_writing: Option<u64>,
}

impl fmt::Debug for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workspace").field("scratch", &self.scratch).finish_non_exhaustive()
    }
}

impl Workspace {
    /// The same, with the objects counting `invocation`'s S3 requests.
    pub(super) fn counted(&self, invocation: &Invocation) -> Self {
        Self { objects: self.objects.clone().counted(invocation.requests.clone()), ..self.clone() }
    }

    /// Adds what `invocation` used (and the outputs it wrote, `output`) to task `task` of job
    /// `id` and the job's total, or to the total alone for the job's preparation (`None`). A
    /// failure to record is logged: it never changes what the work came to.
    pub(super) async fn record_usage(
        &self,
        id: &JobId,
        task: Option<u32>,
        invocation: &Invocation,
        output: OutputSeconds,
    ) {
        record_usage(self.jobs.as_ref(), id, task, invocation, output).await;
    }

    /// The invocation's hold on a task or part: `lease` long, never past its deadline.
    pub(super) fn lease(&self, invocation: &Invocation) -> Lease {
        let now = Utc::now();
        let until = invocation.deadline.map_or(now + self.lease, |deadline| deadline.min(now + self.lease));
        Lease { holder: invocation.request_id.clone(), now, until }
    }

    /// Keeps the invocation's hold on `held` (attempt `attempts` of job `id`) alive while the
    /// work runs: every quarter of the lease, on to a whole lease from then, never past the
    /// invocation's deadline. A worker that dies stops renewing, and its work is free again a
    /// lease later, not at its invocation's deadline. Stops when dropped.
    pub(super) fn heartbeat(&self, id: &JobId, held: Held, attempts: u32, invocation: &Invocation) -> Heartbeat {
        let (jobs, id, span, deadline) = (self.jobs.clone(), id.clone(), self.lease, invocation.deadline);
        let every = (span / 4).to_std().unwrap_or(std::time::Duration::from_secs(30));
        Heartbeat(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let until = Utc::now() + span;
                let until = deadline.map_or(until, |deadline| deadline.min(until));
                if let Err(error) = jobs.renew(&id, held, attempts, until).await {
                    warn!(job_id = %id, ?held, %error, "hold not renewed; trying again");
                }
            }
        }))
    }

    /// How long to wait before asking again for work another worker holds until `lease_until`
    /// (`seen`: the hold found at the last ask), or `None` to step aside. A live holder renews
    /// its hold every quarter of a lease: wait until its next renewal is due; a hold renewed
    /// since the last ask has a live holder, and one that was not runs out a lease after the
    /// holder's last renewal (its worker died): wait for that. Only within this invocation's
    /// time.
    pub(super) fn wait_for(
        &self,
        lease_until: DateTime<Utc>,
        seen: Option<DateTime<Utc>>,
        invocation: &Invocation,
    ) -> Option<std::time::Duration> {
        if seen.is_some_and(|seen| lease_until > seen) {
            return None;
        }
        let now = Utc::now();
        let second = TimeDelta::seconds(1);
        let ask_at = match seen {
            None => (lease_until + second).min(now + self.lease / 4 + second),
            Some(_) => lease_until + second,
        };
        let in_time = self.stop_by(invocation).is_none_or(|stop_by| ask_at + self.margin < stop_by);
        in_time.then(|| (ask_at - now).to_std().unwrap_or_default())
    }

    /// When rendering must have stopped: the invocation's deadline less the margin.
    pub(super) fn stop_by(&self, invocation: &Invocation) -> Option<DateTime<Utc>> {
        invocation.deadline.map(|deadline| deadline - self.margin)
    }

    /// Where a task's outputs written front to back are followed and sent as they grow.
    pub(super) fn growing_outputs(&self, job: &Job, task: &Task) -> Option<Arc<GrowingOutputs>> {
        let part = self.send_while_writing?;
        Some(Arc::new(GrowingOutputs::new(self.objects.clone(), job, task, part)))
    }

    /// The invocation's own directory in the scratch directory, removed when dropped.
    pub(super) fn scratch_dir(&self, invocation: &Invocation) -> Result<TempDir, TaskError> {
        let prefix = format!("{}-", sanitize(&invocation.request_id));
        tempfile::Builder::new()
            .prefix(&prefix)
            .tempdir_in(&self.scratch)
            .map_err(|e| TaskError::internal(format!("cannot create scratch dir in {}: {e}", self.scratch.display())))
    }

    /// The upload the job was prepared for, to be read as it is used: still there, still the
    /// same object, not empty.
    pub(super) async fn open_upload(&self, job: &Job) -> Result<Arc<StoredObject>, TaskError> {
        open_upload(&self.objects, job).await
    }

    /// The task's image watermarks, downloaded into `workdir` and checked to be PNGs.
    pub(super) async fn fetch_watermarks(&self, task: &Task, workdir: &Path) -> Result<Vec<WatermarkImage>, TaskError> {
        let mut images = Vec::new();
        for (i, image) in task.spec.watermarks().iter().filter_map(|mark| mark.image.as_ref()).enumerate() {
            let path = workdir.join(format!("watermark-{i}.png"));
            let object = ObjectRef::new(&image.bucket, &image.key);
            let invalid = |what: &str| {
                TaskError::new(ErrorCode::InvalidWatermarkImage, format!("watermark image {object} {what}"))
            };
            match self.objects.download(&object, None, &path).await {
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
}

/// A running heartbeat ([`Workspace::heartbeat`]); stopped when dropped.
pub(super) struct Heartbeat(tokio::task::JoinHandle<()>);

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// [`Workspace::record_usage`], for the preparation too.
pub(super) async fn record_usage(
    jobs: &dyn JobStore,
    id: &JobId,
    task: Option<u32>,
    invocation: &Invocation,
    output: OutputSeconds,
) {
    let usage = Usage { output, ..invocation.usage() };
    match jobs.add_usage(id, task, &invocation.run_id, &usage).await {
        Ok(()) => debug!(job_id = %id, ?task, %usage, "usage recorded"),
        Err(error) => warn!(job_id = %id, ?task, %error, %usage, "usage not recorded"),
    }
}

/// Request ids are ours to trust less than fully: keep them to a safe file-name alphabet.
fn sanitize(request_id: &str) -> String {
    let safe: String = request_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(64).collect();
    if safe.is_empty() { "invocation".into() } else { safe }
}

/// The upload `job` was prepared for, opened for reading: still there, still the same object,
/// not empty.
pub(super) async fn open_upload(objects: &Arc<dyn ObjectStore>, job: &Job) -> Result<Arc<StoredObject>, TaskError> {
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

/// A failed read of the job's upload: replaced (the pinned read found another object), refused
/// by S3 for good, or ours.
pub(super) fn read_failure(job: &Job, error: &StoreError) -> TaskError {
    match error {
        StoreError::Conflict(_) => job.replaced(),
        error => error.task_error("read the upload"),
    }
}
