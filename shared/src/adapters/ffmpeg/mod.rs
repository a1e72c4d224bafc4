//! The media tool over a pinned ffmpeg/ffprobe pair (the Lambda layer's `/opt/bin`, or any
//! binaries named by `FFMPEG_PATH`/`FFPROBE_PATH`).
//!
//! Both run with a cleared environment and an argument vector (no shell), off the async
//! executor. [`args`] decides every argument. Uploads are probed and rendered through [`serve`]
//! (ranged reads over loopback, streamed as ffmpeg decodes: no copy on disk); renders count what
//! ffmpeg reports while decoding, so that damaged or cut sources fail or warn instead of passing
//! as frozen or short outputs.
//!
//! Imports the domain and the ports; never the use-cases.

pub mod args;
mod join;
mod ladder;
pub mod mp4;
pub mod probe;
mod quality;
mod run;
pub mod serve;
mod sprite;
mod streaming;
pub mod text;
mod tuning;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::{debug, warn};

use crate::domain::error::ErrorCode;
use crate::domain::media::MediaInfo;
use crate::domain::task::{OutputSlot, QualityScore, TaskSpec, Tuning};
use crate::ports::{
    Feed, JoinRequest, MediaFailure, MediaTool, MovedIndex, ProbeFailure, Probed, RenderRequest, Rendered,
    RenderedFile, StoreError, StoredObject,
};

use self::args::{PlannedOutput, PlannedText, Run, Scored};
use self::quality::{Comparison, attach_rendition_scores, not_measured};
use self::run::{Health, Ran, RunShare, Signal, StopOnDrop, allowed, classify_run_failure, run_ffmpeg};
use self::serve::Served;
use self::streaming::Ladder;
use self::text::TextError;
use self::tuning::attach_tuning;

/// The one variable ffmpeg and ffprobe get in their otherwise empty environment: a gconv
/// module path that cannot exist. Static glibc builds (the layer's) otherwise load the host's
/// iconv modules, which do not fit them, and crash on the first MPEG-TS file (whose service
/// names are converted with iconv); without modules glibc's built-in conversions are used.
const NO_GCONV: (&str, &str) = ("GCONV_PATH", "/dev/null/gconv");

/// How long a probe may take; probes read headers and the last seconds, not whole files.
const PROBE_TIMEOUT: Duration = Duration::from_secs(120);
/// How far before the end the tail read starts, in seconds.
const TAIL_SECONDS: f64 = 3.0;
/// Decode errors a render may meet and still succeed (with a warning), if also at most one
/// per [`FRAMES_PER_ERROR`] frames; beyond, the source counts as damaged.
pub const DECODE_ERROR_LIMIT: usize = 10;
pub const FRAMES_PER_ERROR: u64 = 20;

/// [`MediaTool`] running ffmpeg and ffprobe.
#[derive(Clone, Debug)]
pub struct Ffmpeg {
    ffmpeg: PathBuf,
    ffprobe: PathBuf,
    font: PathBuf,
    /// `ffmpeg -filters`, read once: what this build can do.
    filters: Arc<tokio::sync::OnceCell<String>>,
}

impl Ffmpeg {
    pub fn new(ffmpeg: PathBuf, ffprobe: PathBuf, font: PathBuf) -> Self {
        Self { ffmpeg, ffprobe, font, filters: Arc::default() }
    }

    /// Runs ffprobe with `args`: whether it succeeded, its stdout and its stderr.
    async fn ffprobe(&self, args: Vec<String>) -> Result<(bool, Vec<u8>, String), MediaFailure> {
        let mut command = tokio::process::Command::new(&self.ffprobe);
        command.env_clear().env(NO_GCONV.0, NO_GCONV.1).stdin(Stdio::null()).kill_on_drop(true).args(args);
        let output = tokio::time::timeout(PROBE_TIMEOUT, command.output())
            .await
            // Slow reads are ours (storage, the network), not the upload's fault: retried.
            .map_err(|_| {
                MediaFailure::new(
                    ErrorCode::Internal,
                    format!("probing the upload took longer than {} s", PROBE_TIMEOUT.as_secs()),
                )
            })?
            .map_err(|e| {
                MediaFailure::new(ErrorCode::Internal, format!("cannot run {}: {e}", self.ffprobe.display()))
            })?;
        Ok((output.status.success(), output.stdout, String::from_utf8_lossy(&output.stderr).into_owned()))
    }

    /// The headers of the served upload, then where its media really ends.
    async fn probe_served(&self, served: &Served) -> Result<MediaInfo, MediaFailure> {
        let (ok, json, stderr) = self.ffprobe(args::header_probe(served.url())).await?;
        if !ok {
            warn!(stderr = %stderr.trim(), "probe failed");
            return Err(probe::classify_failure(&stderr));
        }
        let mut media = probe::parse(&json)?;
        // A picture too large for ffmpeg to allocate is reported with its claimed size, so
        // that the workflow's limit names it.
        if let (Some(video), Some((width, height))) = (media.video.as_mut(), probe::refused_picture_size(&stderr))
            && (video.width == 0 || video.height == 0)
        {
            (video.width, video.height) = (width, height);
        }
        if media.video.is_none() && media.audio.is_none() {
            return Err(MediaFailure::new(ErrorCode::SourceNoMedia, "the file has no audio or video stream"));
        }
        if let Some(duration) = media.duration {
            let start = media.start_time.unwrap_or(0.0);
            let (ok, json, stderr) =
                self.ffprobe(args::tail_probe(served.url(), start + duration - TAIL_SECONDS)).await?;
            if probe::truncated(&stderr) {
                warn!(stderr = %stderr.trim(), "the upload ends early");
                let container = media.container.split(',').next().map(probe::container_name).unwrap_or("media");
                return Err(MediaFailure::new(
                    ErrorCode::SourceCorrupt,
                    format!(
                        "the {container} file is incomplete: its data ends before the {duration:.2}s its index announces"
                    ),
                ));
            }
            // Headers of segments and fragmented files may say more (or less) than there is.
            if let Some(end) = probe::last_packet_end(&json).filter(|_| ok) {
                let real = end - start;
                if real > 0.0 && (real - duration).abs() > (duration * 0.02).max(0.5) {
                    debug!(header = duration, real, "the media's real span differs from its header");
                    media.duration = Some(real);
                }
            }
        }
        Ok(media)
    }

    /// Runs ffmpeg with `args`, stopping it when `allowed` runs out; what it reported.
    async fn ffmpeg(
        &self,
        args: Vec<String>,
        allowed: Option<Duration>,
        share: Option<RunShare>,
    ) -> Result<Health, MediaFailure> {
        let binary = self.ffmpeg.clone();
        debug!(args = ?args, "running ffmpeg");
        // ffmpeg runs on a blocking thread, which outlives this future: if the future is
        // dropped (the invocation was cut off), the guard has the watchdog stop ffmpeg.
        let (signals, watch) = mpsc::channel::<Signal>();
        let _stop_if_dropped = StopOnDrop(signals.clone());
        let outcome =
            tokio::task::spawn_blocking(move || run_ffmpeg(&binary, &args, allowed, share.as_ref(), signals, watch))
                .await
                .map_err(|e| MediaFailure::new(ErrorCode::Internal, format!("ffmpeg thread failed: {e}")))?
                .map_err(|e| {
                    MediaFailure::new(ErrorCode::Internal, format!("cannot run {}: {e}", self.ffmpeg.display()))
                })?;
        match outcome {
            Ran::Finished(health) => Ok(health),
            Ran::Failed { errors } => {
                warn!(errors = ?errors, "ffmpeg failed");
                Err(classify_run_failure(&errors))
            }
            Ran::Killed { signal } => {
                warn!(signal, "ffmpeg was killed");
                Err(MediaFailure::new(
                    ErrorCode::Internal,
                    format!("ffmpeg was killed by signal {signal} from outside (e.g. out of memory), not by its input"),
                ))
            }
            Ran::Stopped { after } => Err(MediaFailure::new(
                ErrorCode::Timeout,
                format!("stopped after {:.1}s: the invocation would have ended before ffmpeg", after.as_secs_f64()),
            )),
        }
    }

    /// Draws the text watermarks, each shrunk to fit its room.
    async fn draw_texts(&self, texts: &[PlannedText]) -> Result<(), MediaFailure> {
        if texts.is_empty() {
            return Ok(());
        }
        let font = tokio::fs::read(&self.font).await.map_err(|e| {
            MediaFailure::new(ErrorCode::Internal, format!("cannot read the font {}: {e}", self.font.display()))
        })?;
        for planned in texts {
            let drawn = planned.image.render_within(&font, planned.room).map_err(|e| match e {
                TextError::DoesNotFit(width, height) => MediaFailure::new(
                    ErrorCode::WatermarkTooLarge,
                    format!("the watermark text does not fit in the {width}x{height} px left for it, even at the smallest size"),
                ),
                other => MediaFailure::new(ErrorCode::Internal, other.to_string()),
            })?;
            tokio::fs::write(&planned.path, drawn.png).await.map_err(|e| {
                MediaFailure::new(ErrorCode::Internal, format!("cannot write {}: {e}", planned.path.display()))
            })?;
        }
        Ok(())
    }

    /// Makes one output: tries the run's argument lists in turn until one writes it, then
    /// judges what ffmpeg reported and checks the file.
    async fn render_run(
        &self,
        run: &Run,
        stop_by: Option<DateTime<Utc>>,
        share: Option<RunShare>,
        feed: Option<&Feed>,
    ) -> Result<(Vec<RenderedFile>, Vec<String>), MediaFailure> {
        let mut failure = None;
        for args in &run.attempts {
            if run.output.sequence {
                let made = numbered(&run.output).await?;
                return self.pictures(run, made, args, stop_by, share).await;
            }
            let _ = tokio::fs::remove_file(&run.output.path).await;
            if let (Some(Feed(feed)), true) = (feed, run.output.index_last) {
                feed.writing(&run.output.path, run.output.slot, run.output.content_type);
            }
            let health = match self.ffmpeg(args.clone(), allowed(stop_by)?, share.clone()).await {
                Ok(health) => health,
                Err(error) if error.code == ErrorCode::Timeout || error.code == ErrorCode::Internal => {
                    return Err(error);
                }
                Err(error) => {
                    failure.get_or_insert(error);
                    continue;
                }
            };
            let size = tokio::fs::metadata(&run.output.path).await.map(|m| m.len()).unwrap_or(0);
            if size == 0 {
                continue;
            }
            let warnings = health.judge(run.output.timed)?;
            return Ok((vec![self.check(&run.output).await?], warnings));
        }
        Err(failure.unwrap_or_else(|| {
            MediaFailure::new(
                ErrorCode::SourceCorrupt,
                "ffmpeg decoded no picture or sound for this output: the source is damaged or too short",
            )
        }))
    }

    /// Runs a run that writes numbered pictures (one decode over the input, no fallbacks):
    /// each picture it wrote, in order.
    async fn pictures(
        &self,
        run: &Run,
        stale: Vec<(usize, PathBuf)>,
        args: &[String],
        stop_by: Option<DateTime<Utc>>,
        share: Option<RunShare>,
    ) -> Result<(Vec<RenderedFile>, Vec<String>), MediaFailure> {
        for (_, path) in stale {
            let _ = tokio::fs::remove_file(path).await;
        }
        let health = self.ffmpeg(args.to_vec(), allowed(stop_by)?, share).await?;
        // A pass over the whole input: judged like a video, not like one picture.
        let warnings = health.judge(true)?;
        let output = &run.output;
        let files: Vec<RenderedFile> = numbered(output)
            .await?
            .into_iter()
            .map(|(number, path)| RenderedFile {
                path,
                slot: OutputSlot::Main(number),
                content_type: output.content_type,
                duration: None,
                width: output.size.map(|s| s.width),
                height: output.size.map(|s| s.height),
                quality: Vec::new(),
                tuning: None,
                index: None,
            })
            .collect();
        if files.is_empty() {
            return Err(MediaFailure::new(
                ErrorCode::SourceCorrupt,
                "ffmpeg decoded no picture for this output: the source is damaged or too short",
            ));
        }
        Ok((files, warnings))
    }

    /// Describes a written output: probed, and within the workflow's duration limit.
    async fn check(&self, output: &PlannedOutput) -> Result<RenderedFile, MediaFailure> {
        let list = args::output_probe(&output.path)?;
        let facts = match self.ffprobe(list).await? {
            (true, json, _) => probe::parse(&json).ok(),
            (false, _, _) => None,
        };
        let video = facts.as_ref().and_then(|f| f.video.as_ref()).filter(|v| v.width > 0);
        // A still image has no duration, whatever its container says.
        let duration = facts.as_ref().and_then(|f| f.duration).filter(|_| output.timed);
        if let (Some(max), Some(actual)) = (output.max_duration, duration)
            && actual > max + 0.5
        {
            return Err(MediaFailure::new(
                ErrorCode::DurationTooLong,
                format!("the file lasts longer than this workflow accepts: more than {max}s decoded"),
            ));
        }
        Ok(RenderedFile {
            path: output.path.clone(),
            slot: output.slot,
            content_type: output.content_type,
            duration,
            width: video.map(|v| v.width).or(output.size.map(|s| s.width)),
            height: video.map(|v| v.height).or(output.size.map(|s| s.height)),
            quality: Vec::new(),
            tuning: None,
            index: match output.index_last {
                true => moved_index(&output.path).await?,
                false => None,
            },
        })
    }
}

/// The index of an MP4 written with it last, moved to the front.
async fn moved_index(path: &Path) -> Result<Option<MovedIndex>, MediaFailure> {
    let owned = path.to_owned();
    let moved = tokio::task::spawn_blocking(move || mp4::index_to_front(&owned)).await;
    let failure = |e: String| MediaFailure::new(ErrorCode::Internal, format!("{}: {e}", path.display()));
    moved.map_err(|e| failure(e.to_string()))?.map_err(|e| failure(e.to_string()))
}

/// The files of a numbered output that are there (`out-%d.jpg`: `out-0.jpg`, `out-1.jpg`…),
/// in order.
async fn numbered(output: &PlannedOutput) -> Result<Vec<(usize, PathBuf)>, MediaFailure> {
    let internal = |e: std::io::Error| MediaFailure::new(ErrorCode::Internal, format!("cannot list pictures: {e}"));
    let name = output.path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let (prefix, suffix) = name.split_once("%d").unwrap_or((name, ""));
    let dir = output.path.parent().unwrap_or(Path::new("."));
    let mut found = Vec::new();
    let mut entries = tokio::fs::read_dir(dir).await.map_err(internal)?;
    while let Some(entry) = entries.next_entry().await.map_err(internal)? {
        let file = entry.file_name().to_string_lossy().into_owned();
        let number = file.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(suffix)).and_then(|n| n.parse().ok());
        if let Some(number) = number {
            found.push((number, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

#[async_trait]
impl MediaTool for Ffmpeg {
    async fn probe(&self, source: Arc<StoredObject>) -> Result<Probed, ProbeFailure> {
        let served = serve(source, "ffprobe").await.map_err(|failure| ProbeFailure { failure, bytes_read: 0 })?;
        let result = self.probe_served(&served).await;
        let bytes_read = served.bytes_read();
        match result {
            Ok(media) => Ok(Probed { media, bytes_read }),
            Err(failure) => Err(ProbeFailure { failure: read_failure(&served).unwrap_or(failure), bytes_read }),
        }
    }

    async fn keyframes(
        &self,
        source: Arc<StoredObject>,
        start: f64,
        times: &[f64],
    ) -> Result<Vec<Option<f64>>, MediaFailure> {
        let served = serve(source, "ffprobe").await?;
        let on_clock: Vec<f64> = times.iter().map(|at| start + at).collect();
        let (ok, json, stderr) = self.ffprobe(args::keyframe_probe(served.url(), &on_clock)).await?;
        if let Some(failure) = read_failure(&served) {
            return Err(failure);
        }
        if !ok {
            warn!(stderr = %stderr.trim(), "keyframe probe failed");
            return Err(probe::classify_failure(&stderr));
        }
        Ok(probe::keyframes(&json, times.len(), start))
    }

    async fn tune(&self, request: &RenderRequest<'_>) -> Result<Option<Tuning>, MediaFailure> {
        self.tune_title(request).await
    }

    async fn render(&self, request: &RenderRequest<'_>) -> Result<Rendered, MediaFailure> {
        // A whole title is tuned here; a chunked one was before its parts were sent.
        if request.tuning.is_none()
            && request.part.is_none()
            && let Some(tuning) = self.tune_title(request).await?
        {
            return self.render_tuned(&RenderRequest { tuning: Some(tuning), ..request.clone() }).await;
        }
        self.render_tuned(request).await
    }

    async fn join(&self, request: &JoinRequest<'_>) -> Result<Rendered, MediaFailure> {
        self.join_parts(request).await
    }
}

impl Ffmpeg {
    /// Renders a task whose title's CRF, if it asks for one, is chosen.
    async fn render_tuned(&self, request: &RenderRequest<'_>) -> Result<Rendered, MediaFailure> {
        let served = serve(request.upload.clone(), "ffmpeg").await?;
        let plan = args::plan(request, served.url())?;
        self.draw_texts(&plan.text_images).await?;
        let mut rendered = Rendered::default();
        let mut failed = Vec::new();
        let runs = plan.runs.len().max(1) as f64;
        for (i, run) in plan.runs.iter().enumerate() {
            let share = request.progress.clone().map(|meter| RunShare {
                meter,
                from: i as f64 / runs,
                span: 1.0 / runs,
                seconds: run.output.max_duration.into_iter().chain(request.source.duration).fold(f64::MAX, f64::min),
            });
            if let Some(share) = &share {
                share.report(0.0);
            }
            let made = self.render_run(run, request.stop_by, share, request.feed.as_ref()).await;
            // ffmpeg may take a read cut short for the end of the file: any failed read fails
            // the render.
            if let Some(failure) = read_failure(&served) {
                return Err(failure);
            }
            match made {
                Ok((files, warnings)) => {
                    rendered.files.extend(files);
                    rendered.warnings.extend(prefixed(run, warnings));
                }
                // One snapshot that cannot be made does not lose the others.
                Err(failure) if run.label.is_some() && !failure.code.is_retryable() => failed.push((run, failure)),
                Err(failure) => return Err(failure),
            }
        }
        if rendered.files.is_empty()
            && let Some((_, failure)) = failed.first()
        {
            return Err(failure.clone());
        }
        for (run, failure) in failed {
            rendered
                .warnings
                .extend(prefixed(run, vec![format!("not written: {} ({})", failure.message, failure.code)]));
        }
        let comparison = Comparison::of(request.spec, request.source, served.url()).filter(|_| request.part.is_none());
        if let (Some(comparison), TaskSpec::Transcode(_)) = (comparison, request.spec) {
            let Rendered { files, warnings } = &mut rendered;
            self.score_file(comparison, files, request.workdir, request.stop_by, warnings).await;
        }
        if let (TaskSpec::Sprite(spec), None) = (request.spec, request.part) {
            let sheets = rendered.files.len();
            let map = sprite::map(spec, request.names, request.source, request.limits, request.workdir, sheets);
            rendered.files.push(map.await?);
        }
        if let (TaskSpec::Adaptive(spec), None) = (request.spec, request.part) {
            let encoded =
                rendered.files.pop().ok_or_else(|| MediaFailure::new(ErrorCode::Internal, "no ladder encoded"))?;
            let ladder = Ladder {
                spec,
                names: request.names,
                source: request.source,
                video: &encoded.path,
                concat: false,
                sound: None,
                levels_from: &encoded.path,
                workdir: request.workdir,
                duration: encoded.duration,
                tuning: request.tuning.as_ref(),
            };
            rendered.files = self.package_scored(comparison, &ladder, &mut rendered.warnings, request.stop_by).await?;
        }
        if request.part.is_none() {
            attach_tuning(&mut rendered.files, request.tuning.as_ref(), &mut rendered.warnings);
        }
        Ok(rendered)
    }

    /// Cuts an encoded ladder into its outputs, each rendition scored first when the task asks
    /// (no scores, and a warning, when that cannot be done).
    async fn package_scored(
        &self,
        comparison: Option<Comparison<'_>>,
        ladder: &Ladder<'_>,
        warnings: &mut Vec<String>,
        stop_by: Option<DateTime<Utc>>,
    ) -> Result<Vec<RenderedFile>, MediaFailure> {
        let sizes = ladder.sizes();
        let scores = self.score_ladder(comparison, ladder, sizes.len(), warnings, stop_by).await;
        let mut files = self.package(ladder, stop_by).await?;
        attach_rendition_scores(&mut files, &scores, &sizes);
        Ok(files)
    }

    /// Scores each of an encoded ladder's `streams` renditions (before it is cut into
    /// segments); no scores, and a warning, when that cannot be done.
    async fn score_ladder(
        &self,
        comparison: Option<Comparison<'_>>,
        ladder: &Ladder<'_>,
        streams: usize,
        warnings: &mut Vec<String>,
        stop_by: Option<DateTime<Utc>>,
    ) -> Vec<QualityScore> {
        let Some(comparison) = comparison else { return Vec::new() };
        let scored = Scored { path: ladder.video, concat: ladder.concat, streams };
        match self.score(comparison, scored, ladder.workdir, stop_by).await {
            Ok(scores) => scores,
            Err(failure) => {
                warnings.push(not_measured(comparison.metric, &failure));
                Vec::new()
            }
        }
    }
}

/// The upload served to `reader` (ffprobe or ffmpeg) over loopback.
async fn serve(upload: Arc<StoredObject>, reader: &str) -> Result<Served, MediaFailure> {
    Served::start(upload)
        .await
        .map_err(|e| MediaFailure::new(ErrorCode::Internal, format!("cannot serve the upload to {reader}: {e}")))
}

/// Why a read of the served upload failed, if one did: it explains a failed run better than
/// ffmpeg's guess does, and a run that seemed to succeed read less than the file.
fn read_failure(served: &Served) -> Option<MediaFailure> {
    served.failure().map(|error| match error {
        StoreError::Conflict(_) => {
            MediaFailure::new(ErrorCode::SourceReplaced, "the upload was replaced while it was read")
        }
        error => MediaFailure::new(ErrorCode::Internal, format!("cannot read the upload: {error}")),
    })
}

/// Warnings about one output, named by its label when the task writes several.
fn prefixed(run: &Run, warnings: Vec<String>) -> impl Iterator<Item = String> + '_ {
    warnings.into_iter().map(move |warning| match &run.label {
        Some(label) => format!("{label}: {warning}"),
        None => warning,
    })
}
