//! Choosing a title's CRF (`crf: auto`, and a ladder's, see [`ladder`](super::ladder)): the sample windows of the task's stretch of the source
//! are cut once (losslessly, at the size scores are computed at); each probe encodes them as the
//! task would (size, rate, codec, preset; no sound, no watermarks) at one CRF and scores them
//! with VMAF; the domain's [`CrfSearch`] says which CRF to probe next and which to choose. A title that cannot
//! be probed (no libvmaf, a source of unknown length, a failed sample) is encoded at the codec's
//! default CRF, and its tuning says why: the task goes on.

use std::path::PathBuf;
use std::time::Instant;

use tracing::{info, warn};

use super::args::{self, ProbeEncode, Samples};
use super::quality::{cores, frame_scores};
use super::run::allowed;
use super::{Ffmpeg, read_failure, serve};
use crate::domain::error::ErrorCode;
use crate::domain::media::Size;
use crate::domain::task::{
    CrfSearch, MIN_SAMPLE_SECONDS, OutputSlot, Probe, QualityMetric, Target, TaskSpec, TranscodeSpec, Trim, Tuning,
    VideoCodec, default_max_kbps, sample_windows,
};
use crate::ports::{MediaFailure, RenderRequest, RenderedFile};

impl Ffmpeg {
    /// The title's tuning, for a whole task that asks: a transcode's `crf: auto`, a ladder's
    /// `renditions: auto`. What cannot be probed gets the task's untuned form, saying why.
    pub(super) async fn tune_title(&self, request: &RenderRequest<'_>) -> Option<Tuning> {
        let video = request.source.video.as_ref()?;
        let started = Instant::now();
        let searched = match request.spec {
            TaskSpec::Transcode(spec) => self.search(request, spec, spec.video_codec()?, spec.tuned()?).await,
            TaskSpec::Adaptive(spec) if spec.renditions.is_auto() && video.width > 0 && video.height > 0 => {
                self.search_ladder(request, spec, Size::new(video.width, video.height), spec.fps.or(video.fps)).await
            }
            _ => return None,
        };
        let probe_seconds = started.elapsed().as_secs_f64();
        let tuning = match searched {
            Ok(tuning) => {
                info!(%tuning, probes = tuning.probes.len(), seconds = probe_seconds, "title tuned");
                tuning
            }
            Err(failure) => {
                warn!(%failure, "title not tuned");
                request.spec.untuned(Some(request.source), failure.message)?
            }
        };
        Some(Tuning { probe_seconds, ..tuning })
    }

    /// Cuts the title's samples, then probes them until the search has chosen.
    async fn search(
        &self,
        request: &RenderRequest<'_>,
        spec: &TranscodeSpec,
        codec: VideoCodec,
        target: Target,
    ) -> Result<Tuning, MediaFailure> {
        let video = spec.video.clone().unwrap_or_default();
        let frame = args::video_frame(request.source, &video)?;
        let fps = video.fps.or(request.source.video.as_ref().and_then(|v| v.fps));
        // Held under a cap as QVBR is: the task's, or the default for the output's picture.
        let max_kbps = target.max_kbps.unwrap_or_else(|| default_max_kbps(codec, frame, fps));
        let target = Target { max_kbps: Some(max_kbps), ..target };
        let cut = self.cut_samples(request, &spec.trim(), fps, MIN_SAMPLE_SECONDS).await?;
        let search = CrfSearch::new(codec, target);
        let mut probes = Vec::new();
        while let Some(crf) = search.next(&probes) {
            let encode = ProbeEncode { frame, codec, crf, max_kbps: Some(max_kbps) };
            probes.push(self.probe_at(&cut, encode, request).await?);
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
    /// shorter than `shortest` seconds), once, at the size scores are computed at; fails where
    /// the title cannot be probed (no libvmaf, a source of unknown length, a failed read).
    pub(super) async fn cut_samples(
        &self,
        request: &RenderRequest<'_>,
        trim: &Trim,
        fps: Option<f64>,
        shortest: f64,
    ) -> Result<Cut, MediaFailure> {
        let filter = args::metric_filter(QualityMetric::Vmaf);
        if !self.has_filter(filter).await {
            return Err(MediaFailure::new(ErrorCode::Internal, format!("this ffmpeg has no {filter} filter")));
        }
        let source = request.source;
        let span = trim.resolve(source.duration).map_err(|why| MediaFailure::new(ErrorCode::InvalidTimeRange, why))?;
        let length = span
            .length()
            .or(source.duration.map(|duration| duration - span.start))
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
            seconds: windows.iter().map(|(_, length)| length).sum(),
        };
        let served = serve(request.upload.clone(), "ffmpeg").await?;
        self.ffmpeg(args::cut_samples(served.url(), &windows, cut.samples())?, allowed(request.stop_by)?, None).await?;
        match read_failure(&served) {
            Some(failure) => Err(failure),
            None => Ok(cut),
        }
    }

    /// Encodes the samples at one CRF and scores them (one run): their bitrate and mean VMAF.
    pub(super) async fn probe_at(
        &self,
        cut: &Cut,
        encode: ProbeEncode,
        request: &RenderRequest<'_>,
    ) -> Result<Probe, MediaFailure> {
        let (crf, height) = (encode.crf, encode.frame.height);
        let probe = request.workdir.join(format!("probe-{height}-{crf}.mkv"));
        let log = request.workdir.join(format!("probe-{height}-{crf}.json"));
        let run = args::probe(cut.samples(), encode, &probe, &log, cores())?;
        self.ffmpeg(run, allowed(request.stop_by)?, None).await?;
        let size = tokio::fs::metadata(&probe).await.map(|m| m.len()).unwrap_or(0);
        let text = tokio::fs::read_to_string(&log).await.unwrap_or_default();
        let frames = frame_scores(QualityMetric::Vmaf, &text);
        let _ = tokio::fs::remove_file(&probe).await;
        let _ = tokio::fs::remove_file(&log).await;
        if size == 0 || frames.is_empty() {
            return Err(MediaFailure::new(ErrorCode::Internal, format!("the probe at CRF {crf} wrote nothing")));
        }
        let vmaf = frames.iter().sum::<f64>() / frames.len() as f64;
        Ok(Probe { crf, kbps: size as f64 * 8.0 / cut.seconds / 1000.0, vmaf, height: None })
    }
}

/// A title's sample windows, cut into one lossless file: where, at what rate and size, and how
/// many seconds of the source they hold.
pub(super) struct Cut {
    path: PathBuf,
    fps: Option<f64>,
    size: Size,
    pub seconds: f64,
}

impl Cut {
    fn samples(&self) -> Samples<'_> {
        Samples { path: &self.path, fps: self.fps, size: self.size }
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
