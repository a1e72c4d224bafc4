//! Encodes tuned per title (`crf: auto`): a few sample windows of the source are encoded at a
//! few CRFs and scored with VMAF; the rate–quality curve through those probes picks the highest
//! CRF (the fewest bits) whose predicted VMAF meets the target, within the bitrate cap.
//!
//! The probes are chosen one after the other ([`CrfSearch::next`]): the codec's default first,
//! then where the curve so far says the target lies, until the choice falls between two probes
//! (or [`MAX_PROBES`] were made). The curve is the straight line between neighbouring probes
//! (for VMAF through three or more, the monotone cubic through them), VMAF against CRF and the
//! logarithm of the bitrate against CRF; past the probes it goes on along the nearest segment
//! (or, with one probe, along typical slopes).
//!
//! An encode is always held under a bitrate cap, as QVBR's maximum bitrate holds it: the task's
//! `max_kbps`, or [`default_max_kbps`] for the output's picture.

use std::fmt;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use super::super::media::Size;
use super::quality::Window;
use super::rate::Target;
use super::transcode::VideoCodec;

/// Each sample window lasts this long (seconds).
pub const SAMPLE_SECONDS: f64 = 2.0;
/// The shortest window of a CRF search: a title too short for [`MIN_SAMPLES`] windows of
/// [`SAMPLE_SECONDS`] to be about [`SAMPLED_SHARE`] of it (under 100 s) gets shorter ones. A
/// ladder's windows are never shorter: its hull is read across a dozen curves, which shorter
/// samples make noisier (bench section 8: sports −8 % instead of −11 %).
pub const MIN_SAMPLE_SECONDS: f64 = 1.0;
/// About this share of a title is sampled, in [`MIN_SAMPLES`] to [`MAX_SAMPLES`] windows.
pub const SAMPLED_SHARE: f64 = 0.04;
pub const MIN_SAMPLES: usize = 2;
pub const MAX_SAMPLES: usize = 8;
/// At most this many CRFs are probed.
pub const MAX_PROBES: usize = 3;
/// Before anything is measured: how many VMAF points a CRF step costs, and how many CRF steps
/// halve the bitrate (x264 and x265 near VMAF 90).
const VMAF_PER_CRF: f64 = 1.5;
const CRF_PER_HALVING: f64 = 6.0;
/// A probe moves at least this many CRF steps from the one before, at most [`MAX_STEP`].
const MIN_STEP: i32 = 2;
const MAX_STEP: i32 = 10;

/// The windows of a title of `length` seconds that are encoded to probe it: about
/// [`SAMPLED_SHARE`] of it, in windows spread evenly over it; a short title gets one window per
/// four windows' worth of its length (at least one), and shorter windows, down to `shortest`.
pub fn sample_windows(length: f64, shortest: f64) -> Vec<Window> {
    let wanted = ((length * SAMPLED_SHARE / SAMPLE_SECONDS).round() as usize).clamp(MIN_SAMPLES, MAX_SAMPLES);
    let count = wanted.min(((length / (4.0 * SAMPLE_SECONDS)).floor() as usize).max(1));
    let shortest = shortest.min(SAMPLE_SECONDS);
    let each = (length * SAMPLED_SHARE / count as f64).clamp(shortest, SAMPLE_SECONDS).min(length);
    (0..count)
        .map(|i| {
            let middle = (i as f64 + 0.5) * length / count as f64;
            Window { start: (middle - each / 2.0).clamp(0.0, length - each), length: Some(each) }
        })
        .collect()
}

/// What one CRF gave over all the samples: bitrate (kbit/s) and mean VMAF.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub crf: u8,
    pub kbps: f64,
    pub vmaf: f64,
    /// The height encoded at, for a probe of a ladder's sizes (`renditions: auto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// The CRF chosen for a title, and why; for a ladder (`renditions: auto`), its top rung's, with
/// every rung in `ladder`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tuning {
    pub crf: u8,
    pub target_vmaf: f64,
    /// The VMAF and bitrate the probes predict at `crf`; unset when nothing could be measured
    /// (then `crf` is the codec's default and `note` says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_vmaf: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_kbps: Option<f64>,
    /// The bitrate cap (`max_kbps`) asked for a higher CRF than the target did.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub capped: bool,
    /// The cap the encode is held to (kbit/s): the task's `max_kbps`, or the default for its
    /// picture ([`default_max_kbps`], then `default_cap`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_kbps: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default_cap: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<Probe>,
    /// Seconds of the source encoded per probe, and the wall-clock seconds probing took.
    pub sampled_seconds: f64,
    pub probe_seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The renditions chosen for a ladder, from the largest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ladder: Vec<LadderRung>,
}

impl Tuning {
    /// The codec's default CRF, because the title could not be probed (`why`).
    pub fn untuned(codec: VideoCodec, target: Target, why: impl Into<String>) -> Self {
        let crf = default_crf(codec);
        Tuning {
            crf,
            target_vmaf: target.vmaf,
            predicted_vmaf: None,
            predicted_kbps: None,
            capped: false,
            max_kbps: target.max_kbps,
            default_cap: false,
            probes: Vec::new(),
            sampled_seconds: 0.0,
            probe_seconds: 0.0,
            note: Some(format!("crf auto not tuned, encoded at the default CRF {crf}: {}", why.into())),
            ladder: Vec::new(),
        }
    }

    /// A ladder (`renditions: auto`) of `fallback` rungs by picture size, because the title
    /// could not be probed (`why`).
    pub fn untuned_ladder(codec: VideoCodec, top_vmaf: f64, fallback: Vec<LadderRung>, why: impl Into<String>) -> Self {
        let target = Target { vmaf: top_vmaf, max_kbps: None };
        Tuning {
            note: Some(format!("renditions auto not tuned, a ladder of bitrates by picture size: {}", why.into())),
            ladder: fallback,
            ..Tuning::untuned(codec, target, "")
        }
    }
}

/// `CRF 26 for VMAF 93: 93.4 predicted at 2150 kbps (2 probes of 4.0 s, 6.5 s)`, or
/// `CRF 23 (not tuned)`.
impl fmt::Display for Tuning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.ladder.is_empty() {
            return self.fmt_ladder(f);
        }
        let (Some(vmaf), Some(kbps)) = (self.predicted_vmaf, self.predicted_kbps) else {
            return write!(f, "CRF {} (not tuned)", self.crf);
        };
        write!(
            f,
            "CRF {} for VMAF {}: {vmaf:.1} predicted at {kbps:.0} kbps ({})",
            self.crf,
            self.target_vmaf,
            self.probing()
        )?;
        match (self.capped, self.default_cap, self.max_kbps) {
            (true, true, Some(cap)) => write!(f, ", held under the default cap of {cap} kbps"),
            (true, _, _) => f.write_str(", capped by max_kbps"),
            _ => Ok(()),
        }
    }
}

impl Tuning {
    /// `2 probes of 2.4 s, 1.9 s`: how many, over how much of the source, and how long they took.
    fn probing(&self) -> String {
        let count = self.probes.len();
        let probes = if count == 1 { "probe" } else { "probes" };
        // A title shorter than a tenth of a second (one picture) is sampled whole.
        let sampled = match self.sampled_seconds < 0.1 {
            true => format!("{:.2}", self.sampled_seconds),
            false => format!("{:.1}", self.sampled_seconds),
        };
        format!("{count} {probes} of {sampled} s, {:.1} s", self.probe_seconds)
    }

    /// `ladder of 3 for VMAF 95 at the top: 1280x720 CRF 24 (…), … (12 probes of 4.0 s, 20.1 s)`,
    /// or `ladder of 3 by picture size (not tuned): 1280x720 at 2765 kbps, …`.
    fn fmt_ladder(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rungs: Vec<String> = self.ladder.iter().map(ToString::to_string).collect();
        let count = rungs.len();
        if self.predicted_vmaf.is_none() {
            return write!(f, "ladder of {count} by picture size (not tuned): {}", rungs.join(", "));
        }
        write!(
            f,
            "ladder of {count} for VMAF {} at the top: {} ({})",
            self.target_vmaf,
            rungs.join(", "),
            self.probing()
        )?;
        match (self.capped, self.max_kbps) {
            (true, Some(cap)) => write!(f, ", top held under {cap} kbps"),
            _ => Ok(()),
        }
    }
}

/// One rung of a ladder chosen for a title: its size, its CRF and what the probes predict there
/// (or, not probed, a bitrate).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LadderRung {
    pub width: u32,
    pub height: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crf: Option<u8>,
    /// The bitrate predicted at `crf`, or the one the rung is encoded at.
    pub kbps: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmaf: Option<f64>,
    /// The cap a CRF rung is held to (its bandwidth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_kbps: Option<u32>,
}

/// `1280x720 CRF 24 (2400 kbps, VMAF 95.1)`, or `640x360 at 690 kbps`.
impl fmt::Display for LadderRung {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.crf, self.vmaf) {
            (Some(crf), Some(vmaf)) => {
                write!(f, "{}x{} CRF {crf} ({:.0} kbps, VMAF {vmaf:.1})", self.width, self.height, self.kbps)
            }
            _ => write!(f, "{}x{} at {:.0} kbps", self.width, self.height, self.kbps),
        }
    }
}

/// Bits per pixel of each frame that [`default_max_kbps`] allows an H.264 encode: about 1.6
/// times the top rung of Apple's H.264 ladder (1920x1080 at 7.8 Mbit/s, 30 fps), so that only
/// pictures no ladder would pay for (heavy noise, grain in the dark) meet it.
pub const DEFAULT_CAP_BITS_PER_PIXEL: f64 = 0.2;

/// The bitrate cap (kbit/s) `crf: auto` holds an encode of `frame` at `fps` to when the task
/// sets no `max_kbps`: [`DEFAULT_CAP_BITS_PER_PIXEL`] for H.264, a third less for H.265 and
/// VP9, which need that much fewer bits for the same picture; frame rates counted from 24 to 60
/// (30 when unknown).
pub fn default_max_kbps(codec: VideoCodec, frame: Size, fps: Option<f64>) -> u32 {
    let efficiency = match codec {
        VideoCodec::H264 => 1.0,
        VideoCodec::H265 | VideoCodec::Vp9 => 2.0 / 3.0,
    };
    let fps = fps.filter(|fps| fps.is_finite() && *fps > 0.0).unwrap_or(30.0).clamp(24.0, 60.0);
    let pixels = f64::from(frame.width) * f64::from(frame.height);
    (DEFAULT_CAP_BITS_PER_PIXEL * efficiency * pixels * fps / 1000.0).ceil() as u32
}

/// A codec's CRF when the task sets none.
pub fn default_crf(codec: VideoCodec) -> u8 {
    match codec {
        VideoCodec::H264 => 23,
        VideoCodec::H265 => 28,
        VideoCodec::Vp9 => 32,
    }
}

/// The CRFs `auto` chooses from: past them a codec's pictures are either wasteful or poor.
pub(super) fn auto_range(codec: VideoCodec) -> RangeInclusive<u8> {
    match codec {
        VideoCodec::H264 => 15..=40,
        VideoCodec::H265 => 17..=42,
        VideoCodec::Vp9 => 18..=55,
    }
}

/// The search for one title's CRF.
#[derive(Clone, Debug)]
pub struct CrfSearch {
    codec: VideoCodec,
    target: Target,
}

impl CrfSearch {
    pub fn new(codec: VideoCodec, target: Target) -> Self {
        Self { codec, target }
    }

    /// The CRF probed first: the codec's default.
    pub fn first(codec: VideoCodec) -> u8 {
        default_crf(codec)
    }

    /// The CRF to probe next after `probes`, or `None` when the choice is made.
    pub fn next(&self, probes: &[Probe]) -> Option<u8> {
        let Some(last) = probes.last() else { return Some(Self::first(self.codec)) };
        if probes.len() >= MAX_PROBES {
            return None;
        }
        let chosen = self.choose(probes).crf;
        let (low, high) = probes.iter().fold((u8::MAX, u8::MIN), |(lo, hi), p| (lo.min(p.crf), hi.max(p.crf)));
        // Between two probes, or next to one: the curve is measured there. Once two probes gave
        // the title's own slope, two steps past the nearest are near enough.
        let near = if probes.len() >= 2 { 2 } else { 1 };
        let known = (probes.len() >= 2 && (low..=high).contains(&chosen))
            || probes.iter().any(|p| p.crf.abs_diff(chosen) <= near);
        if known {
            return None;
        }
        let range = auto_range(self.codec);
        let step = (i32::from(chosen) - i32::from(last.crf)).clamp(-MAX_STEP, MAX_STEP);
        let step = step.signum() * step.abs().max(MIN_STEP);
        let next = (i32::from(last.crf) + step).clamp(i32::from(*range.start()), i32::from(*range.end())) as u8;
        (!probes.iter().any(|p| p.crf == next)).then_some(next)
    }

    /// The CRF the probes choose: the highest whose predicted VMAF meets the target, raised
    /// as far as the bitrate cap needs (within the codec's `auto` range).
    pub fn choose(&self, probes: &[Probe]) -> Choice {
        let range = auto_range(self.codec);
        let curve = Curve::through(probes);
        let meets = range.clone().rev().find(|crf| curve.vmaf(*crf) >= self.target.vmaf).unwrap_or(*range.start());
        let fits = self
            .target
            .max_kbps
            .map(|cap| range.clone().find(|crf| curve.kbps(*crf) <= f64::from(cap)).unwrap_or(*range.end()));
        let crf = fits.map_or(meets, |fits| fits.max(meets));
        Choice { crf, vmaf: curve.vmaf(crf), kbps: curve.kbps(crf), capped: fits.is_some_and(|fits| fits > meets) }
    }
}

/// A CRF chosen, with the VMAF and bitrate predicted there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Choice {
    pub crf: u8,
    pub vmaf: f64,
    pub kbps: f64,
    pub capped: bool,
}

/// The rate–quality curve through the probes.
pub(super) struct Curve {
    /// (CRF, VMAF, ln kbps), by CRF.
    points: Vec<(f64, f64, f64)>,
}

impl Curve {
    pub(super) fn through(probes: &[Probe]) -> Self {
        let mut points: Vec<(f64, f64, f64)> =
            probes.iter().map(|p| (f64::from(p.crf), p.vmaf, p.kbps.max(1.0).ln())).collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        points.dedup_by(|a, b| a.0 == b.0);
        Self { points }
    }

    pub(super) fn vmaf(&self, crf: u8) -> f64 {
        // VMAF never rises with the CRF: a measured rise is noise, read as flat. Between three
        // or more probes the curve bends as VMAF does (it falls faster as the CRF grows).
        self.at(crf, |p| p.1, -VMAF_PER_CRF, |slope| slope.min(0.0), true).clamp(0.0, 100.0)
    }

    pub(super) fn kbps(&self, crf: u8) -> f64 {
        let halving = -std::f64::consts::LN_2 / CRF_PER_HALVING;
        self.at(crf, |p| p.2, halving, |slope| slope.min(0.0), false).exp()
    }

    /// The value at `crf` through the points: on the line through its neighbours, or with
    /// `smooth` and three or more points, on the monotone cubic through them (Fritsch–Carlson);
    /// past them along the nearest segment, or along `slope` through a lone point. Each
    /// segment's slope is kept by `bound`.
    fn at(
        &self,
        crf: u8,
        value: impl Fn(&(f64, f64, f64)) -> f64,
        slope: f64,
        bound: impl Fn(f64) -> f64,
        smooth: bool,
    ) -> f64 {
        let x = f64::from(crf);
        let points = self.points.as_slice();
        let n = points.len();
        match n {
            0 => return f64::NAN,
            1 => return value(&points[0]) + slope * (x - points[0].0),
            _ => {}
        }
        let raw: Vec<f64> = points.windows(2).map(|p| (value(&p[1]) - value(&p[0])) / (p[1].0 - p[0].0)).collect();
        let slopes: Vec<f64> = raw.iter().map(|d| bound(*d)).collect();
        let i = points.windows(2).position(|pair| x <= pair[1].0).unwrap_or(n - 2);
        let (a, b) = (&points[i], &points[i + 1]);
        let inside = (points[0].0..=points[n - 1].0).contains(&x);
        if !smooth || n < 3 || !inside || slopes[i] != raw[i] {
            return value(a) + slopes[i] * (x - a.0);
        }
        let tangent = |k: usize| match k {
            0 => slopes[0],
            k if k == n - 1 => slopes[n - 2],
            k if slopes[k - 1] * slopes[k] <= 0.0 => 0.0,
            k => {
                let (before, after) = (points[k].0 - points[k - 1].0, points[k + 1].0 - points[k].0);
                let (w1, w2) = (2.0 * after + before, after + 2.0 * before);
                (w1 + w2) / (w1 / slopes[k - 1] + w2 / slopes[k])
            }
        };
        let h = b.0 - a.0;
        let t = (x - a.0) / h;
        let (t2, t3) = (t * t, t * t * t);
        (2.0 * t3 - 3.0 * t2 + 1.0) * value(a)
            + (t3 - 2.0 * t2 + t) * h * tangent(i)
            + (-2.0 * t3 + 3.0 * t2) * value(b)
            + (t3 - t2) * h * tangent(i + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H264: VideoCodec = VideoCodec::H264;

    /// A title whose VMAF falls `per_crf` points a CRF step from `at23` and whose bitrate halves
    /// every 6 steps from `kbps23`.
    fn title(at23: f64, per_crf: f64, kbps23: f64) -> impl Fn(u8) -> Probe {
        move |crf| {
            let steps = f64::from(crf) - 23.0;
            Probe { crf, vmaf: (at23 - per_crf * steps).min(100.0), kbps: kbps23 * (-steps / 6.0).exp2(), height: None }
        }
    }

    /// Runs the search on `title` as the adapter does: probe, then choose.
    fn search(target: Target, title: impl Fn(u8) -> Probe) -> (Choice, Vec<u8>) {
        let search = CrfSearch::new(H264, target);
        let mut probes = Vec::new();
        while let Some(crf) = search.next(&probes) {
            probes.push(title(crf));
        }
        (search.choose(&probes), probes.iter().map(|p| p.crf).collect())
    }

    #[test]
    fn an_easy_title_gets_a_higher_crf_and_a_hard_one_a_lower_in_at_most_three_probes() {
        let target = Target { vmaf: 93.0, max_kbps: None };
        // Slides: 98 at CRF 23, two points a step.
        let (easy, probes) = search(target, title(98.0, 2.0, 400.0));
        assert_eq!(easy.crf, 25, "{probes:?}");
        assert!(easy.vmaf >= 93.0 && probes.len() <= MAX_PROBES, "{easy:?} {probes:?}");
        // Football: 86 at CRF 23, 1.2 a step: 6 steps down meets 93.2.
        let (hard, probes) = search(target, title(86.0, 1.2, 6000.0));
        assert_eq!(hard.crf, 17, "{probes:?}");
        assert!((hard.vmaf - 93.2).abs() < 0.01 && probes.len() <= MAX_PROBES, "{hard:?} {probes:?}");
        assert!(hard.kbps > 6000.0, "a hard title spends more than CRF 23 would");
    }

    #[test]
    fn the_cap_wins_over_the_target_and_says_so() {
        let capped = Target { vmaf: 93.0, max_kbps: Some(3001) };
        let (choice, _) = search(capped, title(86.0, 1.2, 6000.0));
        assert!(choice.capped && choice.kbps <= 3001.0, "{choice:?}");
        assert_eq!(choice.crf, 29, "6000 kbps halves to 3000 in 6 steps");
        let (loose, _) = search(Target { vmaf: 93.0, max_kbps: Some(50_000) }, title(86.0, 1.2, 6000.0));
        assert!(!loose.capped && loose.crf == 17);
    }

    #[test]
    fn a_target_out_of_reach_takes_the_end_of_the_range() {
        let (perfect, _) = search(Target { vmaf: 99.0, max_kbps: None }, title(80.0, 0.5, 5000.0));
        assert_eq!(perfect.crf, 15, "the best the range allows");
        // VMAF flat at 100 (a still picture): the highest CRF of the range meets any target.
        let (still, probes) = search(Target { vmaf: 93.0, max_kbps: None }, title(100.0, 0.0, 50.0));
        assert_eq!(still.crf, 40);
        assert!(probes.len() <= MAX_PROBES);
    }

    #[test]
    fn a_measured_rise_of_vmaf_with_the_crf_reads_as_flat() {
        let curve = Curve::through(&[
            Probe { crf: 23, vmaf: 92.0, kbps: 1000.0, height: None },
            Probe { crf: 29, vmaf: 92.5, kbps: 500.0, height: None },
        ]);
        assert_eq!(curve.vmaf(26), 92.0);
        assert!((curve.kbps(26) - 707.1).abs() < 0.1, "between on the log scale: {}", curve.kbps(26));
    }

    #[test]
    fn between_three_probes_the_curve_bends_as_vmaf_does_and_never_rises() {
        // An easy title measured: VMAF falls slowly at first, then fast.
        let probes = [
            Probe { crf: 23, kbps: 667.5, vmaf: 99.49, height: None },
            Probe { crf: 27, kbps: 458.4, vmaf: 98.09, height: None },
            Probe { crf: 37, kbps: 256.0, vmaf: 80.65, height: None },
        ];
        let curve = Curve::through(&probes);
        assert!((curve.vmaf(30) - 94.6).abs() < 0.1, "bent, not straight (92.9): {}", curve.vmaf(30));
        let mut last = curve.vmaf(23);
        for crf in 24..=37 {
            assert!(curve.vmaf(crf) <= last, "falls at every step: {crf}");
            last = curve.vmaf(crf);
        }
        let search = CrfSearch::new(H264, Target { vmaf: 93.0, max_kbps: None });
        assert_eq!(search.choose(&probes).crf, 30);
    }

    #[test]
    fn samples_cover_about_four_percent_of_a_title_spread_over_it() {
        let windows = |length: f64| sample_windows(length, MIN_SAMPLE_SECONDS);
        let seconds = |length: f64| windows(length).iter().map(|w| w.length.unwrap()).sum::<f64>();
        // A minute: two windows, each shorter than the longest, 4 % in all.
        let minute = windows(60.0);
        assert_eq!(minute.len(), 2);
        assert!((minute[0].start - 14.4).abs() < 1e-9 && (minute[0].length.unwrap() - 1.2).abs() < 1e-9);
        assert!((minute[1].start - 44.4).abs() < 1e-9 && (seconds(60.0) - 2.4).abs() < 1e-9);
        // From 100 s on, windows of the longest size.
        assert_eq!((windows(300.0).len(), seconds(300.0)), (6, 12.0));
        assert_eq!((windows(3600.0).len(), seconds(3600.0)), (MAX_SAMPLES, 16.0));
        // Short titles: one window, never under a second unless the title is.
        assert_eq!((windows(30.0).len(), seconds(30.0)), (2, 2.0));
        assert_eq!(windows(5.0), vec![Window { start: 2.0, length: Some(1.0) }]);
        // A ladder's windows keep their length.
        let ladder = sample_windows(60.0, SAMPLE_SECONDS);
        assert_eq!(ladder, vec![Window { start: 14.0, length: Some(2.0) }, Window { start: 44.0, length: Some(2.0) }]);
        assert_eq!(windows(0.5), vec![Window { start: 0.0, length: Some(0.5) }]);
    }

    #[test]
    fn a_tuning_says_what_was_chosen_and_predicted_in_one_line() {
        let target = Target { vmaf: 93.0, max_kbps: None };
        let untuned = Tuning::untuned(H264, target, "this ffmpeg has no libvmaf filter");
        assert_eq!(untuned.to_string(), "CRF 23 (not tuned)");
        assert_eq!(
            untuned.note.as_deref(),
            Some("crf auto not tuned, encoded at the default CRF 23: this ffmpeg has no libvmaf filter")
        );
        let probes = vec![
            Probe { crf: 23, kbps: 3000.0, vmaf: 95.0, height: None },
            Probe { crf: 27, kbps: 2000.0, vmaf: 92.9, height: None },
        ];
        let tuned = Tuning {
            crf: 26,
            predicted_vmaf: Some(93.42),
            predicted_kbps: Some(2150.4),
            probes,
            sampled_seconds: 4.0,
            probe_seconds: 6.54,
            note: None,
            capped: true,
            ..untuned
        };
        assert_eq!(
            tuned.to_string(),
            "CRF 26 for VMAF 93: 93.4 predicted at 2150 kbps (2 probes of 4.0 s, 6.5 s), capped by max_kbps"
        );
        let held = Tuning { max_kbps: Some(5530), default_cap: true, ..tuned };
        assert!(held.to_string().ends_with("6.5 s), held under the default cap of 5530 kbps"), "{held}");
        let once = Tuning { probes: held.probes[..1].to_vec(), sampled_seconds: 2.4, probe_seconds: 0.8, ..held };
        assert!(once.to_string().contains("(1 probe of 2.4 s, 0.8 s)"), "{once}");
    }

    #[test]
    fn the_default_cap_grows_with_the_picture_and_rate_and_shrinks_for_newer_codecs() {
        let hd = Size::new(1280, 720);
        assert_eq!(default_max_kbps(H264, hd, Some(30.0)), 5530);
        assert_eq!(default_max_kbps(H264, hd, None), 5530, "30 fps when unknown");
        assert_eq!(default_max_kbps(H264, Size::new(1920, 1080), Some(30.0)), 12_442);
        assert_eq!(default_max_kbps(H264, hd, Some(60.0)), 11_060);
        assert_eq!(default_max_kbps(H264, hd, Some(240.0)), 11_060, "counted up to 60 fps");
        assert_eq!(default_max_kbps(H264, hd, Some(10.0)), 4424, "counted from 24 fps");
        assert_eq!(default_max_kbps(VideoCodec::H265, hd, Some(30.0)), 3687);
        assert_eq!(default_max_kbps(VideoCodec::Vp9, Size::new(640, 360), Some(25.0)), 768);
    }
}
