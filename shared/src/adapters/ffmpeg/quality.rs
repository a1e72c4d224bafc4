//! Scoring what a task rendered against its source, when the task asks (`quality`): a
//! transcode's output once it is written (or joined), each rendition of a ladder once it is
//! encoded. A score that cannot be made is a warning on the task, never its failure: the
//! outputs are good whatever their score.

use std::path::Path;
use std::process::Stdio;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::args::{self, Reference, Scored};
use super::run::allowed;
use super::{Ffmpeg, NO_GCONV};
use crate::domain::error::ErrorCode;
use crate::domain::media::{MediaInfo, Size};
use crate::domain::task::{OutputSlot, QualityMetric, QualityScore, TaskSpec, scored_windows};
use crate::ports::{MediaFailure, RenderedFile};

/// What a task's outputs are compared with: the metric, the stretch of the source they were
/// made from, and how long they last.
#[derive(Clone, Copy, Debug)]
pub(super) struct Comparison<'a> {
    pub metric: QualityMetric,
    pub reference: Reference<'a>,
    /// The stretch's length, or the rest of the source.
    pub lasts: Option<f64>,
}

impl<'a> Comparison<'a> {
    /// What `spec`'s outputs are compared with, reading the source from `input`; `None` when
    /// the task asks for no score or the source has no pictures.
    pub fn of(spec: &TaskSpec, source: &MediaInfo, input: &'a str) -> Option<Self> {
        let metric = spec.quality()?;
        let video = source.video.as_ref().filter(|v| v.width > 0 && v.height > 0)?;
        let (start, length, fps) = match spec {
            TaskSpec::Transcode(spec) => {
                let span = spec.trim().resolve(source.duration).ok()?;
                (span.start, span.length(), spec.video.as_ref().and_then(|v| v.fps))
            }
            TaskSpec::Adaptive(spec) => (0.0, None, spec.fps),
            _ => return None,
        };
        let size = Size::new(video.width, video.height);
        let reference = Reference { input, start, length, size, fps: fps.or(video.fps), signal: source.signal() };
        Some(Self { metric, reference, lasts: length.or(source.duration.map(|d| d - start)) })
    }
}

impl Ffmpeg {
    /// Scores the `scored` file's video streams (whole, or in windows when it is long); one
    /// score per stream, in order.
    pub(super) async fn score(
        &self,
        comparison: Comparison<'_>,
        scored: Scored<'_>,
        workdir: &Path,
        stop_by: Option<DateTime<Utc>>,
    ) -> Result<Vec<QualityScore>, MediaFailure> {
        let Comparison { metric, reference, lasts } = comparison;
        let filter = args::metric_filter(metric);
        if !self.has_filter(filter).await {
            return Err(MediaFailure::new(ErrorCode::Internal, format!("this ffmpeg has no {filter} filter")));
        }
        let threads = cores();
        let mut frames = vec![Vec::new(); scored.streams.max(1)];
        for (number, window) in scored_windows(lasts, reference.fps).into_iter().enumerate() {
            let scoring = args::score(metric, scored, reference, (window, number), workdir, threads)?;
            self.ffmpeg(scoring.args, allowed(stop_by)?, None).await?;
            for (stream, log) in scoring.logs.iter().enumerate() {
                let text = tokio::fs::read_to_string(log).await.map_err(|e| {
                    MediaFailure::new(ErrorCode::Internal, format!("cannot read the scores in {}: {e}", log.display()))
                })?;
                frames[stream].extend(frame_scores(metric, &text));
            }
        }
        let mut scores = Vec::with_capacity(frames.len());
        for stream in frames {
            let score = QualityScore::of(metric, stream)
                .ok_or_else(|| MediaFailure::new(ErrorCode::Internal, "no frame could be compared with the source"))?;
            scores.push(score);
        }
        info!(%metric, scores = ?scores.iter().map(|s| s.mean).collect::<Vec<_>>(), "outputs scored");
        Ok(scores)
    }

    /// Whether this ffmpeg build has the filter `name` (`ffmpeg -filters`, read once).
    pub(super) async fn has_filter(&self, name: &str) -> bool {
        let listed = self
            .filters
            .get_or_init(|| async {
                let mut command = tokio::process::Command::new(&self.ffmpeg);
                command.env_clear().env(NO_GCONV.0, NO_GCONV.1).stdin(Stdio::null()).kill_on_drop(true);
                match command.args(["-hide_banner", "-filters"]).output().await {
                    Ok(output) => String::from_utf8_lossy(&output.stdout).into_owned(),
                    Err(error) => {
                        warn!(%error, "cannot list ffmpeg's filters");
                        String::new()
                    }
                }
            })
            .await;
        listed.lines().any(|line| line.split_whitespace().nth(1) == Some(name))
    }

    /// Scores a transcode's one output file in `files`, adding a warning when it cannot.
    pub(super) async fn score_file(
        &self,
        comparison: Comparison<'_>,
        files: &mut [RenderedFile],
        workdir: &Path,
        stop_by: Option<DateTime<Utc>>,
        warnings: &mut Vec<String>,
    ) {
        let Some(file) = files.iter_mut().find(|f| f.slot == OutputSlot::Main(0) && f.width.is_some()) else {
            return;
        };
        let scored = Scored { path: &file.path, concat: false, streams: 1 };
        match self.score(comparison, scored, workdir, stop_by).await {
            Ok(scores) => file.quality = scores,
            Err(failure) => warnings.push(not_measured(comparison.metric, &failure)),
        }
    }
}

/// A ladder's scores, one per rendition, put on its files: each rendition's playlist has its
/// own, the manifest (HLS master playlist, DASH MPD) all of them.
pub(super) fn attach_rendition_scores(files: &mut [RenderedFile], scores: &[QualityScore], sizes: &[Size]) {
    let scores: Vec<QualityScore> =
        scores.iter().zip(sizes).map(|(score, size)| score.clone().of_rendition(size.width, size.height)).collect();
    for file in files {
        match file.slot {
            OutputSlot::Main(0) => file.quality = scores.clone(),
            OutputSlot::SubStream(i) => file.quality = scores.get(i).cloned().into_iter().collect(),
            _ => {}
        }
    }
}

/// The cores libvmaf may use: all of this invocation's.
pub(super) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The warning a score that could not be made leaves on its task.
pub(super) fn not_measured(metric: QualityMetric, failure: &MediaFailure) -> String {
    warn!(%metric, %failure, "outputs not scored");
    format!("quality not measured ({metric}): {}", failure.message)
}

/// The score of each frame in a metric's log: libvmaf's JSON (`frames[].metrics.vmaf`), the
/// ssim filter's stats (`All:`) or the psnr filter's (`psnr_avg:`, `inf` for identical pictures).
pub(super) fn frame_scores(metric: QualityMetric, log: &str) -> Vec<f64> {
    let field = |name: &str| -> Vec<f64> {
        log.lines()
            .filter_map(|line| line.split_whitespace().find_map(|item| item.strip_prefix(name)))
            .filter_map(|value| value.parse().ok())
            .collect()
    };
    match metric {
        QualityMetric::Vmaf => {
            let json: serde_json::Value = serde_json::from_str(log).unwrap_or_default();
            let frames = json["frames"].as_array().cloned().unwrap_or_default();
            frames.iter().filter_map(|frame| frame["metrics"]["vmaf"].as_f64()).collect()
        }
        QualityMetric::Ssim => field("All:"),
        QualityMetric::Psnr => field("psnr_avg:"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_metrics_log_gives_the_score_of_every_frame() {
        let vmaf = r#"{"version":"3.0.0","frames":[{"frameNum":0,"metrics":{"integer_adm2":0.99,"vmaf":97.5}},
            {"frameNum":1,"metrics":{"vmaf":88.25}}],"pooled_metrics":{"vmaf":{"mean":92.9}}}"#;
        assert_eq!(frame_scores(QualityMetric::Vmaf, vmaf), vec![97.5, 88.25]);
        let ssim = "n:1 Y:0.995 U:0.998 V:0.997 All:0.996000 (23.979)\nn:2 Y:0.9 U:0.9 V:0.9 All:0.900000 (10.0)\n";
        assert_eq!(frame_scores(QualityMetric::Ssim, ssim), vec![0.996, 0.9]);
        let psnr = "n:1 mse_avg:0.00 mse_y:0.00 psnr_avg:inf psnr_y:inf\nn:2 mse_avg:3.1 psnr_avg:43.21 psnr_y:42.0\n";
        let frames = frame_scores(QualityMetric::Psnr, psnr);
        assert_eq!((frames[0], frames[1]), (f64::INFINITY, 43.21));
        assert!(frame_scores(QualityMetric::Vmaf, "not json").is_empty());
    }

    #[test]
    fn a_manifest_carries_every_renditions_score_and_a_playlist_its_own() {
        let file = |slot| RenderedFile {
            path: "/tmp/x".into(),
            slot,
            content_type: "application/x-mpegURL",
            duration: None,
            width: None,
            height: None,
            quality: Vec::new(),
            tuning: None,
            index: None,
        };
        let mut files = vec![file(OutputSlot::SubStream(0)), file(OutputSlot::SubStream(1)), file(OutputSlot::Main(0))];
        let score = |mean| QualityScore::of(QualityMetric::Vmaf, [mean]).unwrap();
        attach_rendition_scores(&mut files, &[score(80.0), score(95.0)], &[Size::new(640, 360), Size::new(1280, 720)]);
        assert_eq!(files[0].quality, vec![score(80.0).of_rendition(640, 360)]);
        assert_eq!(files[1].quality, vec![score(95.0).of_rendition(1280, 720)]);
        assert_eq!(files[2].quality.len(), 2, "the master lists both");
    }
}
