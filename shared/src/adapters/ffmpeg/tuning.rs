//! Choosing a title's CRF (`crf: auto`, and a ladder's, see [`ladder`](super::ladder)): the
//! sample windows of the task's stretch of the source are cut once (losslessly, as Ut Video, at
//! the size scores are computed at), the first probe made as they are cut; each probe encodes
//! them as the task would (size, rate, codec, preset; no sound, no watermarks) at one CRF and
//! scores them with VMAF; the domain's [`CrfSearch`] says which CRF to probe next and which to
//! choose. A title that cannot be probed (no libvmaf, a source of unknown length, a sample
//! ffmpeg cannot encode) is encoded at the codec's default CRF, and its tuning says why: the task
//! goes on. An attempt that cannot go on (the upload unreadable or replaced, no time left) fails
//! as its render would, and is tried again: a passing fault never leaves a title untuned.

use std::path::PathBuf;
use std::time::Instant;

use tracing::{debug, info, warn};

use super::args::{self, ProbeEncode, ProbeRun, Samples};
use super::quality::{cores, frame_scores};
use super::run::allowed;
use super::{Ffmpeg, read_failure, serve};
use crate::domain::error::ErrorCode;
use crate::domain::media::{Signal, Size};
use crate::domain::task::{
    CrfSearch, MIN_SAMPLE_SECONDS, OutputSlot, Probe, QualityMetric, Target, TaskSpec, TranscodeSpec, Trim, Tuning,
    VideoCodec, default_max_kbps, sample_windows,
};
use crate::ports::{MediaFailure, RenderRequest, RenderedFile};

impl Ffmpeg {
    /// The title's tuning, for a whole task that asks: a transcode's `crf: auto`, a ladder's
    /// `renditions: auto`. What cannot be probed gets the task's untuned form, saying why; an
    /// attempt that cannot go on fails.
    pub(super) async fn tune_title(&self, request: &RenderRequest<'_>) -> Result<Option<Tuning>, MediaFailure> {
        let Some(video) = request.source.video.as_ref() else { return Ok(None) };
        let started = Instant::now();
        let searched = match request.spec {
            TaskSpec::Transcode(spec) => match (spec.video_codec(), spec.tuned()) {
                (Some(codec), Some(target)) => self.search(request, spec, codec, target).await,
                _ => return Ok(None),
            },
            TaskSpec::Adaptive(spec) if spec.renditions.is_auto() && video.width > 0 && video.height > 0 => {
                self.search_ladder(request, spec, Size::new(video.width, video.height), spec.fps.or(video.fps)).await
            }
            _ => return Ok(None),
        };
        let probe_seconds = started.elapsed().as_secs_f64();
        let tuning = match searched {
            Ok(tuning) => {
                info!(%tuning, probes = tuning.probes.len(), seconds = probe_seconds, "title tuned");
                tuning
            }
            Err(NotTuned::Title(failure)) => {
                warn!(%failure, "title not tuned");
                let Some(untuned) = request.spec.untuned(Some(request.source), failure.message) else {
                    return Ok(None);
                };
                untuned
            }
            Err(NotTuned::Attempt(failure)) => {
                warn!(%failure, "tuning stopped: the attempt fails");
                return Err(failure);
            }
        };
        Ok(Some(Tuning { probe_seconds, ..tuning }))
    }

    /// Cuts the title's samples with the first probe, then probes them until the search has
    /// chosen.
    async fn search(
        &self,
        request: &RenderRequest<'_>,
        spec: &TranscodeSpec,
        codec: VideoCodec,
        target: Target,
    ) -> Result<Tuning, NotTuned> {
        let video = spec.video.clone().unwrap_or_default();
        let frame = args::video_frame(request.source, &video)?;
        let fps = video.fps.or(request.source.video.as_ref().and_then(|v| v.fps));
        // Held under a cap as QVBR is: the task's, or the default for the output's picture.
        let max_kbps = target.max_kbps.unwrap_or_else(|| default_max_kbps(codec, frame, fps));
        let target = Target { max_kbps: Some(max_kbps), ..target };
        let encode = |crf| ProbeEncode { frame, codec, crf, max_kbps: Some(max_kbps) };
        let first = encode(CrfSearch::first(codec));
        let (cut, first) = self.cut_samples(request, &spec.trim(), fps, MIN_SAMPLE_SECONDS, first).await?;
        let search = CrfSearch::new(codec, target.over(cut.length));
        let mut probes = vec![first];
        while let Some(crf) = search.next(&probes) {
            probes.push(self.probe_at(&cut, encode(crf), request).await?);
        }
        cut.remove().await;
        let choice = search.choose(&probes);
        Ok(Tuning {
            crf: choice.crf,
            target_vmaf: target.vmaf,
            predicted_vmaf: Some(choice.vmaf),
            predicted_kbps: Some(choice.kbps),
            capped: choice.capped,
            max_kbps: Some(max_kbps),
            default_cap: video.max_kbps.is_none(),
            probes,
            sampled_seconds: cut.seconds,
            probe_seconds: 0.0,
            note: None,
            ladder: Vec::new(),
        })
    }

    /// Cuts the sample windows of the task's stretch (`trim`) of the source at `fps` (none
    /// shorter than `shortest` seconds), once, at the size scores are computed at, and makes
    /// the `first` probe of them as they are cut; fails where the title cannot be probed (no
    /// libvmaf, a source of unknown length) or the upload cannot be read.
    pub(super) async fn cut_samples(
        &self,
        request: &RenderRequest<'_>,
        trim: &Trim,
        fps: Option<f64>,
        shortest: f64,
        first: ProbeEncode,
    ) -> Result<(Cut, Probe), NotTuned> {
        let filter = args::metric_filter(QualityMetric::Vmaf);
        if !self.has_filter(filter).await {
            return Err(MediaFailure::new(ErrorCode::Internal, format!("this ffmpeg has no {filter} filter")).into());
        }
        let source = request.source;
        let span = trim.resolve(source.duration).map_err(|why| MediaFailure::new(ErrorCode::InvalidTimeRange, why))?;
        // Within the pictures: sound may run on past them, and a window there holds none.
        let pictures = source.picture_duration().map(|duration| duration - span.start);
        let length = match (span.length(), pictures) {
            (Some(length), Some(pictures)) => Some(length.min(pictures)),
            (length, pictures) => length.or(pictures),
        }
        .filter(|length| *length > 0.0)
        .ok_or_else(|| MediaFailure::new(ErrorCode::Internal, "the source's length is unknown"))?;
        let windows: Vec<(f64, f64)> = sample_windows(length.min(request.limits.max_duration_s), shortest)
            .iter()
            .map(|w| (span.start + w.start, w.length.unwrap_or(length)))
            .collect();
        let cut = Cut {
            path: request.workdir.join("samples.mkv"),
            fps,
            size: args::scored_size(args::display_size(source)?),
            signal: source.signal(),
            seconds: windows.iter().map(|(_, length)| length).sum(),
            length,
        };
        let started = Instant::now();
        let files = ProbeFiles::of(request, first);
        let served = serve(request.upload.clone(), "ffmpeg").await.map_err(NotTuned::Attempt)?;
        let run = args::cut_samples(served.url(), &windows, cut.samples(), files.run())?;
        let made = self.ffmpeg(run, allowed(request.stop_by)?, None).await;
        // A failed read explains a failed cut better than ffmpeg does, and fails the attempt.
        if let Some(failure) = read_failure(&served) {
            return Err(NotTuned::Attempt(failure));
        }
        made?;
        let probe = files.read(cut.seconds).await?;
        debug!(
            windows = windows.len(),
            seconds = cut.seconds,
            ?probe,
            took = started.elapsed().as_secs_f64(),
            "samples cut and probed"
        );
        Ok((cut, probe))
    }

    /// Encodes the samples at one CRF and scores them (one run): their bitrate and mean VMAF.
    pub(super) async fn probe_at(
        &self,
        cut: &Cut,
        encode: ProbeEncode,
        request: &RenderRequest<'_>,
    ) -> Result<Probe, NotTuned> {
        let started = Instant::now();
        let files = ProbeFiles::of(request, encode);
        self.ffmpeg(args::probe(cut.samples(), files.run())?, allowed(request.stop_by)?, None).await?;
        let probe = files.read(cut.seconds).await?;
        debug!(?probe, took = started.elapsed().as_secs_f64(), "probed");
        Ok(probe)
    }
}

/// Why a title was not tuned.
#[derive(Debug)]
pub(super) enum NotTuned {
    /// The title cannot be probed: it is encoded untuned, saying why.
    Title(MediaFailure),
    /// This attempt cannot go on (the upload unreadable or replaced, no time left): it fails, as
    /// its render would, and is tried again.
    Attempt(MediaFailure),
}

/// A failure of a probe's own run: the title's, unless the attempt is out of time or its
/// upload was replaced.
impl From<MediaFailure> for NotTuned {
    fn from(failure: MediaFailure) -> Self {
        match failure.code {
            ErrorCode::Timeout | ErrorCode::SourceReplaced => NotTuned::Attempt(failure),
            _ => NotTuned::Title(failure),
        }
    }
}

/// Where one probe's encode and its frame scores are written, in the task's scratch dir.
struct ProbeFiles {
    encode: ProbeEncode,
    probe: PathBuf,
    log: PathBuf,
}

impl ProbeFiles {
    fn of(request: &RenderRequest<'_>, encode: ProbeEncode) -> Self {
        let name = format!("probe-{}-{}", encode.frame.height, encode.crf);
        let (probe, log) = (request.workdir.join(format!("{name}.mkv")), request.workdir.join(format!("{name}.json")));
        Self { encode, probe, log }
    }

    fn run(&self) -> ProbeRun<'_> {
        ProbeRun { encode: self.encode, probe: &self.probe, log: &self.log, threads: cores() }
    }

    /// What the probe measured over `seconds` of samples: bitrate and mean VMAF; the files go.
    async fn read(self, seconds: f64) -> Result<Probe, MediaFailure> {
        let size = tokio::fs::metadata(&self.probe).await.map(|m| m.len()).unwrap_or(0);
        let text = tokio::fs::read_to_string(&self.log).await.unwrap_or_default();
        let frames = frame_scores(QualityMetric::Vmaf, &text);
        let _ = tokio::fs::remove_file(&self.probe).await;
        let _ = tokio::fs::remove_file(&self.log).await;
        let crf = self.encode.crf;
        if size == 0 || frames.is_empty() {
            return Err(MediaFailure::new(ErrorCode::Internal, format!("the probe at CRF {crf} wrote nothing")));
        }
        let vmaf = frames.iter().sum::<f64>() / frames.len() as f64;
        Ok(Probe { crf, kbps: size as f64 * 8.0 / seconds / 1000.0, vmaf, height: None })
    }
}

/// A title's sample windows, cut into one lossless file: where, at what rate and size, and how
/// many seconds of the source they hold.
pub(super) struct Cut {
    path: PathBuf,
    fps: Option<f64>,
    size: Size,
    signal: Signal,
    pub seconds: f64,
    /// How long the stretch they were cut from lasts.
    pub length: f64,
}

impl Cut {
    fn samples(&self) -> Samples<'_> {
        Samples { path: &self.path, fps: self.fps, size: self.size, signal: self.signal }
    }

    pub async fn remove(&self) {
        let _ = tokio::fs::remove_file(&self.path).await;
    }
}

/// Puts the title's tuning on a task's first output (a transcode's file, a ladder's master
/// playlist), and says on the task why a title was not tuned.
pub(super) fn attach_tuning(files: &mut [RenderedFile], tuning: Option<&Tuning>, warnings: &mut Vec<String>) {
    let Some(tuning) = tuning else { return };
    if let Some(note) = &tuning.note {
        warnings.push(note.clone());
    }
    if let Some(file) = files.iter_mut().find(|f| f.slot == OutputSlot::Main(0)) {
        file.tuning = Some(tuning.clone());
    }
}
