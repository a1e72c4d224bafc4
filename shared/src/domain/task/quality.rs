//! Quality scores: how close an output's pictures are to its source's, by VMAF, SSIM or PSNR,
//! for the video tasks that ask (`quality: vmaf`).

use std::fmt;

use serde::{Deserialize, Serialize};

named_enum!(
    /// The measure a video task's outputs are scored by.
    QualityMetric {
        /// Netflix's VMAF (model v0.6.1, 0–100): predicted viewer opinion.
        #[default]
        Vmaf => "vmaf",
        /// Structural similarity (0–1), over all planes.
        Ssim => "ssim",
        /// Peak signal-to-noise ratio in dB, over all planes.
        Psnr => "psnr",
    }
);

/// One frame in this many is scored: the cost of a score is bounded by it.
pub const SCORED_EVERY: u32 = 5;

/// An output longer than [`SCORED_WINDOWS`] × [`WINDOW_SECONDS`] is scored in that many windows
/// of that length, spread over it: what a score costs stops growing with the output's length.
pub const SCORED_WINDOWS: usize = 12;
pub const WINDOW_SECONDS: f64 = 10.0;

/// A stretch of an output that is scored, from its start (seconds); `length: None` is all of it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub start: f64,
    pub length: Option<f64>,
}

impl Window {
    pub const WHOLE: Window = Window { start: 0.0, length: None };
}

/// The windows of an output of `length` seconds (unknown: all of it) at `fps` frames a second
/// that are scored: all of it when it is short, else [`SCORED_WINDOWS`] windows spread evenly
/// from its start to its end, each starting on one of its frames.
pub fn scored_windows(length: Option<f64>, fps: Option<f64>) -> Vec<Window> {
    let Some(length) = length.filter(|l| *l > SCORED_WINDOWS as f64 * WINDOW_SECONDS) else {
        return vec![Window::WHOLE];
    };
    let step = (length - WINDOW_SECONDS) / (SCORED_WINDOWS - 1) as f64;
    let on_a_frame = |at: f64| fps.filter(|f| *f > 0.0).map_or(at, |fps| (at * fps).floor() / fps);
    (0..SCORED_WINDOWS).map(|i| Window { start: on_a_frame(i as f64 * step), length: Some(WINDOW_SECONDS) }).collect()
}

/// Scores are computed on pictures no larger than this (VMAF's model is made for 1080p):
/// a larger source and its outputs are both scaled down to it.
pub const SCORED_WITHIN: (u32, u32) = (1920, 1080);

/// PSNR of identical pictures is infinite; it is recorded as this.
pub const PSNR_IDENTICAL: f64 = 100.0;

/// An output's score (or one rendition's, for a ladder's manifest): over the scored frames, the
/// mean, the mean of the worst 1 % (at least one frame) and the worst.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QualityScore {
    pub metric: QualityMetric,
    pub mean: f64,
    pub low_1pct: f64,
    pub min: f64,
    /// How many frames were scored (one in [`SCORED_EVERY`]).
    pub frames: u32,
    /// The rendition scored, for a score among several (a ladder's renditions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

impl QualityScore {
    /// The score of `frames` (one value a frame); `None` when no frame was scored.
    pub fn of(metric: QualityMetric, frames: impl IntoIterator<Item = f64>) -> Option<Self> {
        let mut values: Vec<f64> = frames
            .into_iter()
            .map(|v| if v.is_infinite() && v > 0.0 { PSNR_IDENTICAL } else { v })
            .filter(|v| v.is_finite())
            .collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let worst = values.len().div_ceil(100);
        let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len() as f64;
        Some(Self {
            metric,
            mean: rounded(mean(&values)),
            low_1pct: rounded(mean(&values[..worst])),
            min: rounded(values[0]),
            frames: values.len() as u32,
            width: None,
            height: None,
        })
    }

    /// The score, said as a rendition's (`WxH`).
    pub fn of_rendition(self, width: u32, height: u32) -> Self {
        Self { width: Some(width), height: Some(height), ..self }
    }
}

fn rounded(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

impl fmt::Display for QualityScore {
    /// `VMAF 95.12 (1 % low 90.40, min 88.01)`, with the rendition first when there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(width), Some(height)) = (self.width, self.height) {
            write!(f, "{width}x{height}: ")?;
        }
        let digits = if self.metric == QualityMetric::Ssim { 4 } else { 2 };
        write!(
            f,
            "{} {:.digits$} (1 % low {:.digits$}, min {:.digits$})",
            self.metric.as_str().to_uppercase(),
            self.mean,
            self.low_1pct,
            self.min
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_score_has_the_mean_the_worst_percent_and_the_worst_frame() {
        let frames = (0..200).map(|i| {
            if i < 2 {
                50.0
            } else if i < 4 {
                60.0
            } else {
                90.0
            }
        });
        let score = QualityScore::of(QualityMetric::Vmaf, frames).unwrap();
        assert_eq!(score.frames, 200);
        assert_eq!(score.min, 50.0);
        assert_eq!(score.low_1pct, 50.0, "the worst 2 of 200 frames");
        assert!((score.mean - (2.0 * 50.0 + 2.0 * 60.0 + 196.0 * 90.0) / 200.0).abs() < 1e-3);
        assert_eq!(score.to_string(), "VMAF 89.30 (1 % low 50.00, min 50.00)");
    }

    #[test]
    fn a_short_output_is_scored_whole_and_a_long_one_in_windows_on_its_frames() {
        assert_eq!(scored_windows(Some(120.0), Some(25.0)), vec![Window::WHOLE]);
        assert_eq!(scored_windows(None, Some(25.0)), vec![Window::WHOLE], "a length not known: all of it");
        let windows = scored_windows(Some(7200.0), Some(29.97));
        assert_eq!(windows.len(), SCORED_WINDOWS);
        assert_eq!(windows[0], Window { start: 0.0, length: Some(WINDOW_SECONDS) });
        let last = windows[SCORED_WINDOWS - 1];
        assert!(last.start <= 7200.0 - WINDOW_SECONDS && last.start > 7180.0, "ends at the end: {last:?}");
        for window in &windows {
            let frames = window.start * 29.97;
            assert!((frames - frames.round()).abs() < 1e-6, "on a frame: {window:?}");
        }
    }

    #[test]
    fn few_frames_still_have_a_worst_percent_and_identical_pictures_a_finite_psnr() {
        let score = QualityScore::of(QualityMetric::Psnr, [f64::INFINITY, 40.0, f64::NAN]).unwrap();
        assert_eq!((score.frames, score.min, score.low_1pct), (2, 40.0, 40.0), "NaN is not a frame's score");
        assert_eq!(score.mean, (PSNR_IDENTICAL + 40.0) / 2.0);
        assert_eq!(QualityScore::of(QualityMetric::Ssim, []), None);
        let rendition = QualityScore::of(QualityMetric::Ssim, [0.98765]).unwrap().of_rendition(640, 360);
        assert_eq!(rendition.to_string(), "640x360: SSIM 0.9877 (1 % low 0.9877, min 0.9877)");
    }
}
