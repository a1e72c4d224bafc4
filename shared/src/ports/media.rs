//! Media: probing an upload, finding keyframes, rendering a task or a part, joining parts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::objects::StoredObject;
use crate::domain::chunk::Part;
use crate::domain::error::{ErrorCode, TaskError};
use crate::domain::limits::Limits;
use crate::domain::media::MediaInfo;
use crate::domain::task::{OutputNames, OutputSlot, QualityScore, TaskSpec, Tuning};

/// A watermark image fetched for a task, with its size in pixels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatermarkImage {
    pub path: PathBuf,
    pub width: u32,
    pub height: u32,
}

/// Where a render reports how far it got, as a fraction of its work (0.0 to 1.0).
#[derive(Clone)]
pub struct ProgressMeter(Arc<dyn Fn(f64) + Send + Sync>);

impl ProgressMeter {
    pub fn new(report: impl Fn(f64) + Send + Sync + 'static) -> Self {
        Self(Arc::new(report))
    }

    pub fn report(&self, fraction: f64) {
        (self.0)(fraction.clamp(0.0, 1.0));
    }
}

impl std::fmt::Debug for ProgressMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressMeter")
    }
}

/// A task's work: what the worker hands the media tool.
#[derive(Clone, Debug)]
pub struct RenderRequest<'a> {
    pub spec: &'a TaskSpec,
    /// The outputs' names, for outputs that name each other (playlists).
    pub names: OutputNames<'a>,
    /// The upload, read as the render goes (never copied to disk first).
    pub upload: Arc<StoredObject>,
    /// One part of a chunked transcode, or (`None`) the whole task.
    pub part: Option<Part>,
    pub source: &'a MediaInfo,
    /// The job's limits; what is decoded is held to them too (a header may not tell).
    pub limits: &'a Limits,
    /// Local copies of the spec's image watermarks, in the order of its watermarks (text
    /// watermarks have no entry).
    pub watermark_images: &'a [WatermarkImage],
    /// Where outputs are written; the caller removes it.
    pub workdir: &'a Path,
    /// When rendering must have stopped (the invocation's deadline less a margin for the
    /// uploads); past it the render fails with `InternalError.Timeout`.
    pub stop_by: Option<DateTime<Utc>>,
    pub progress: Option<ProgressMeter>,
    /// The title's CRF, chosen before its parts were sent (`crf: auto`); a whole task without
    /// it is tuned by the render itself.
    pub tuning: Option<Tuning>,
    /// Where outputs written front to back are announced; without it every output is written
    /// whole before it is handed back.
    pub feed: Option<Feed>,
}

/// An [`OutputFeed`] a request can carry.
#[derive(Clone)]
pub struct Feed(pub Arc<dyn OutputFeed>);

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Feed")
    }
}

/// What a render made: the files, and what went wrong without failing it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rendered {
    pub files: Vec<RenderedFile>,
    pub warnings: Vec<String>,
}

/// A file the media tool wrote and checked, and which of the task's outputs it is.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedFile {
    pub path: PathBuf,
    pub slot: OutputSlot,
    pub content_type: &'static str,
    pub duration: Option<f64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Its scores against the source, when the task asked (see [`QualityScore`]).
    pub quality: Vec<QualityScore>,
    /// The CRF chosen for its title, and what the probes predicted (`crf: auto`).
    pub tuning: Option<Tuning>,
    /// An index the file holds at its end and its output holds at the front (see
    /// [`MovedIndex`]); `None` when the file is stored as it is.
    pub index: Option<MovedIndex>,
}

/// An index a file was written with last (an MP4's `moov`, so that the file could be written
/// front to back and sent while it was written) and that its stored output holds at the front,
/// where players want it. The output is the file's bytes up to `at`, then `index`, then the
/// file's bytes from `at` up to `end` (where the old index began).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MovedIndex {
    pub at: u64,
    /// The index as stored: what it points at shifted by its own size.
    pub index: Bytes,
    pub end: u64,
}

impl MovedIndex {
    /// The size of the output it makes.
    pub fn output_size(&self) -> u64 {
        self.end + self.index.len() as u64
    }
}

/// Told when the media tool starts a file it writes front to back, so that the file can be
/// sent while it grows. The file may be started again (a retried run): the feed must check what
/// it sent against the finished file.
pub trait OutputFeed: Send + Sync {
    fn writing(&self, path: &Path, slot: OutputSlot, content_type: &'static str);
}

/// Why the media tool failed, with the MPS error code for the task record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct MediaFailure {
    pub code: ErrorCode,
    pub message: String,
}

impl MediaFailure {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl From<MediaFailure> for TaskError {
    fn from(failure: MediaFailure) -> Self {
        TaskError { code: failure.code, message: failure.message }
    }
}

/// What probing an upload found, and how much of it was read to find out.
#[derive(Clone, Debug, PartialEq)]
pub struct Probed {
    pub media: MediaInfo,
    pub bytes_read: u64,
}

/// Why probing failed, and how much of the upload was read to find out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{failure}")]
pub struct ProbeFailure {
    pub failure: MediaFailure,
    pub bytes_read: u64,
}

/// Probes and renders media (ffmpeg).
#[async_trait]
pub trait MediaTool: Send + Sync {
    /// Probes a stored upload with ranged reads: headers, and where it really ends.
    async fn probe(&self, source: Arc<StoredObject>) -> Result<Probed, ProbeFailure>;
    /// For each of `times` (seconds from `start`, the source's first timestamp), the video
    /// keyframe a seek to it lands on, also from `start`; `None` where that is not known.
    async fn keyframes(
        &self,
        source: Arc<StoredObject>,
        start: f64,
        times: &[f64],
    ) -> Result<Vec<Option<f64>>, MediaFailure>;
    /// Chooses the title's CRF or ladder for a task that asks (`crf: auto`, `renditions: auto`;
    /// `None` for the others) by probing sample windows of the source; what cannot be probed is
    /// encoded at the codec's default, and the tuning says why. Fails where the attempt cannot
    /// go on (the upload unreadable or replaced, no time left), to be tried again.
    async fn tune(&self, request: &RenderRequest<'_>) -> Result<Option<Tuning>, MediaFailure>;
    /// Renders a task, or one part of a chunked transcode.
    async fn render(&self, request: &RenderRequest<'_>) -> Result<Rendered, MediaFailure>;
    /// Joins the rendered parts of a chunked task into its outputs.
    async fn join(&self, request: &JoinRequest<'_>) -> Result<Rendered, MediaFailure>;
}

/// The parts of a chunked task, on local files: what the worker hands the media tool to join.
#[derive(Debug)]
pub struct JoinRequest<'a> {
    pub spec: &'a TaskSpec,
    pub names: OutputNames<'a>,
    /// The source's probe: what a ladder was decided on.
    pub source: &'a MediaInfo,
    /// The upload, opened when the joined outputs are scored against it (the task's `quality`).
    pub upload: Option<Arc<StoredObject>>,
    /// The video chunks in order, each a file directly in `workdir`.
    pub chunks: &'a [PathBuf],
    pub audio: Option<&'a Path>,
    pub limits: &'a Limits,
    /// Where the output is written; the caller removes it.
    pub workdir: &'a Path,
    pub stop_by: Option<DateTime<Utc>>,
    /// The title's CRF the parts were encoded at (`crf: auto`).
    pub tuning: Option<&'a Tuning>,
    /// Where outputs written front to back are announced (see [`RenderRequest::feed`]).
    pub feed: Option<Feed>,
}
