//! Ladders chosen per title (`renditions: auto`): the title's sample windows are encoded at a
//! few sizes and a few CRFs each and scored with VMAF at one size; the upper hull of all those
//! rate–quality curves (at each bitrate, the size that looks best there) gives the renditions.
//!
//! The top rung is the fewest bits on the hull that reach the bounds' `top_vmaf`, held under
//! `max_kbps` (or the default cap of the largest size); the bottom is the hull's cheapest point
//! from [`LOWEST_KBPS`] up (a title whose top costs less than that gets one rung, and when the
//! largest size's probes show that, the smaller sizes are not probed). Between them the rungs
//! are spaced evenly on the logarithm of the
//! bitrate, at least [`MIN_STEP_RATIO`] apart, each the best picture the hull has for its bits,
//! never smaller than the rung below. Every rung is a CRF held under a cap of
//! [`CAP_HEADROOM`] times its predicted bitrate, so that its bandwidth is bounded for players.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor, value::SeqAccessDeserializer};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::super::media::Size;
use super::fields::is_zero;
use super::rate::TARGET_VMAF;
use super::transcode::VideoCodec;
use super::tuning::{Curve, LadderRung, Probe, auto_range, default_crf, default_max_kbps};
use crate::domain::validation::Violations;

/// The heights (the short side, for a picture taller than wide) an automatic ladder chooses
/// from, besides the largest its bounds and the source allow.
pub const LADDER_HEIGHTS: [u32; 7] = [240, 360, 540, 720, 1080, 1440, 2160];
/// The lowest rung's bitrate is not chosen below this (kbit/s): Apple's lowest rung.
pub const LOWEST_KBPS: f64 = 145.0;
/// Neighbouring rungs differ in bitrate by at least this factor.
pub const MIN_STEP_RATIO: f64 = 1.5;
/// A rung's cap is this many times its predicted bitrate (the peak Apple's authoring spec
/// allows a VOD rendition against its average).
pub const CAP_HEADROOM: f64 = 2.0;
/// Past the CRFs probed at a size, its curve is read this many steps further at most.
const READ_PAST: u8 = 3;

/// The most renditions a ladder holds.
pub const MAX_RENDITIONS: usize = 10;

/// One rung of the ladder as asked: a size (0 follows the other side) and a bitrate, or a
/// constant quality held under a maximum rate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rendition {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub width: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub height: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate_kbps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crf: Option<u8>,
    /// The most a CRF rendition may spend, in kbps (what its BANDWIDTH is held to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_kbps: Option<u32>,
}

/// One rendition as it is encoded for a source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rung {
    pub size: Size,
    pub bitrate_kbps: Option<u32>,
    pub crf: Option<u8>,
    pub max_kbps: Option<u32>,
}

/// A ladder's renditions: listed, or chosen for each title within [`LadderBounds`].
#[derive(Clone, Debug, PartialEq)]
pub enum Renditions {
    Listed(Vec<Rendition>),
    Auto,
}

impl Default for Renditions {
    fn default() -> Self {
        Renditions::Listed(Vec::new())
    }
}

impl From<Vec<Rendition>> for Renditions {
    fn from(listed: Vec<Rendition>) -> Self {
        Renditions::Listed(listed)
    }
}

impl Renditions {
    /// The renditions listed (none for `auto`).
    pub fn listed(&self) -> &[Rendition] {
        match self {
            Renditions::Listed(listed) => listed,
            Renditions::Auto => &[],
        }
    }

    pub fn is_auto(&self) -> bool {
        matches!(self, Renditions::Auto)
    }

    /// Neither listed nor `auto`: a ladder of sound alone.
    pub fn is_none(&self) -> bool {
        matches!(self, Renditions::Listed(listed) if listed.is_empty())
    }
}

impl Serialize for Renditions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Renditions::Listed(listed) => listed.serialize(serializer),
            Renditions::Auto => serializer.serialize_str("auto"),
        }
    }
}

impl<'de> Deserialize<'de> for Renditions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RenditionsVisitor;
        impl<'de> Visitor<'de> for RenditionsVisitor {
            type Value = Renditions;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of renditions or \"auto\"")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Renditions, E> {
                match value {
                    "auto" => Ok(Renditions::Auto),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Renditions, A::Error> {
                Vec::deserialize(SeqAccessDeserializer::new(seq)).map(Renditions::Listed)
            }
        }
        deserializer.deserialize_any(RenditionsVisitor)
    }
}

/// What an automatic ladder keeps to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LadderBounds {
    /// The most renditions (fewer when the title's bitrates lie close together).
    #[serde(default = "LadderBounds::default_count")]
    pub count: usize,
    /// The smallest and largest heights (the short side, for a picture taller than wide).
    #[serde(default = "LadderBounds::default_min_height")]
    pub min_height: u32,
    #[serde(default = "LadderBounds::default_max_height")]
    pub max_height: u32,
    /// The top rung's cap (kbit/s); the default cap of the largest size without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_kbps: Option<u32>,
    /// The VMAF the top rung reaches with the fewest bits, when the cap allows.
    #[serde(default = "LadderBounds::default_top_vmaf")]
    pub top_vmaf: f64,
}

impl Default for LadderBounds {
    fn default() -> Self {
        Self {
            count: Self::default_count(),
            min_height: Self::default_min_height(),
            max_height: Self::default_max_height(),
            max_kbps: None,
            top_vmaf: Self::default_top_vmaf(),
        }
    }
}

impl LadderBounds {
    fn default_count() -> usize {
        5
    }
    fn default_min_height() -> u32 {
        240
    }
    fn default_max_height() -> u32 {
        1080
    }
    fn default_top_vmaf() -> f64 {
        95.0
    }

    /// The sizes probed for `frame`: each of [`LADDER_HEIGHTS`] within the bounds, and the
    /// largest the bounds and the source allow; from the smallest.
    pub fn sizes(&self, frame: Size) -> Vec<Size> {
        let short = frame.width.min(frame.height);
        let top = self.max_height.min(short);
        let at = |height: u32| match frame.height > frame.width {
            true => frame.fit(height, 0, false, true),
            false => frame.fit(0, height, false, true),
        };
        let mut sizes: Vec<Size> = LADDER_HEIGHTS
            .iter()
            .copied()
            .filter(|h| (self.min_height..top).contains(h))
            .chain([top])
            .map(at)
            .collect();
        sizes.dedup();
        sizes
    }

    /// The heights a ladder of these bounds may hold, for estimating its encode before the
    /// source is known: the largest `count` of them.
    pub fn heights(&self) -> Vec<u32> {
        let mut heights: Vec<u32> =
            LADDER_HEIGHTS.iter().copied().filter(|h| (self.min_height..self.max_height).contains(h)).collect();
        heights.push(self.max_height);
        heights.into_iter().rev().take(self.count).collect()
    }

    /// The CRFs each size is probed at: around the codec's default, six steps (about half the
    /// bitrate) apart.
    pub fn probe_crfs(codec: VideoCodec) -> [u8; 3] {
        let middle = default_crf(codec);
        [middle - 4, middle + 2, middle + 8]
    }

    /// The ladder without probes: the sizes from the largest, `count` of them, each at a
    /// bitrate of [`FALLBACK_BITS_PER_PIXEL`] (a third less for H.265) under the cap.
    pub fn fallback(&self, codec: VideoCodec, frame: Size, fps: Option<f64>) -> Vec<LadderRung> {
        let cap = self.cap(codec, frame, fps);
        self.sizes(frame)
            .into_iter()
            .rev()
            .take(self.count)
            .map(|size| {
                let kbps = f64::from(default_max_kbps(codec, size, fps)) * FALLBACK_BITS_PER_PIXEL
                    / super::tuning::DEFAULT_CAP_BITS_PER_PIXEL;
                let kbps = kbps.min(f64::from(cap)).max(LOWEST_KBPS).round();
                LadderRung { width: size.width, height: size.height, crf: None, kbps, vmaf: None, max_kbps: None }
            })
            .collect()
    }

    /// The top rung's cap: `max_kbps`, or the default cap of the largest size.
    pub fn cap(&self, codec: VideoCodec, frame: Size, fps: Option<f64>) -> u32 {
        let top = self.sizes(frame).last().copied().unwrap_or(frame);
        self.max_kbps.unwrap_or_else(|| default_max_kbps(codec, top, fps))
    }

    pub(super) fn validate(&self, field: &str, errors: &mut Violations) {
        errors.check(
            (1..=MAX_RENDITIONS).contains(&self.count),
            format!("{field}.count"),
            format!("must be 1–{MAX_RENDITIONS}"),
        );
        for (name, height) in [("min_height", self.min_height), ("max_height", self.max_height)] {
            errors.check((64..=4320).contains(&height), format!("{field}.{name}"), "must be 64–4320");
        }
        errors.check(self.min_height <= self.max_height, format!("{field}.min_height"), "must not pass max_height");
        if let Some(kbps) = self.max_kbps {
            errors.check((16..=100_000).contains(&kbps), format!("{field}.max_kbps"), "must be 16–100000");
        }
        errors.check(
            TARGET_VMAF.contains(&self.top_vmaf),
            format!("{field}.top_vmaf"),
            format!("must be {}–{}", TARGET_VMAF.start(), TARGET_VMAF.end()),
        );
    }
}

/// The bits per pixel of each frame a ladder that could not be probed is encoded at (H.264):
/// about Apple's ladder (720p30 at 2.8 Mbit/s, 360p30 at 690 kbit/s).
pub const FALLBACK_BITS_PER_PIXEL: f64 = 0.1;

impl From<&LadderRung> for Rung {
    /// The rung as the ladder's encode takes it.
    fn from(chosen: &LadderRung) -> Self {
        Rung {
            size: Size::new(chosen.width, chosen.height),
            bitrate_kbps: chosen.crf.is_none().then_some(chosen.kbps.round() as u32),
            crf: chosen.crf,
            max_kbps: chosen.max_kbps,
        }
    }
}

/// The ladder the probes choose, from the largest rung, and whether the cap held the top rung
/// below `top_vmaf`.
#[derive(Clone, Debug, PartialEq)]
pub struct LadderChoice {
    pub rungs: Vec<LadderRung>,
    pub capped: bool,
}

impl LadderChoice {
    /// Whether this choice, from the largest size's probes alone, is the ladder: one rung that
    /// costs less than [`LOWEST_KBPS`], below which no player needs another, so that no smaller
    /// size could be a rung of its own and none needs probing.
    pub fn settled(&self) -> bool {
        matches!(self.rungs.as_slice(), [only] if only.kbps < LOWEST_KBPS)
    }
}

/// One point on a size's curve: encoding at `size` with `crf` is predicted to give `kbps` and
/// `vmaf`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Point {
    size: Size,
    crf: u8,
    kbps: f64,
    vmaf: f64,
}

/// Chooses the ladder from `probes` (each with its size's height) within `bounds`, for a
/// source whose frame is `frame`.
pub fn choose_ladder(
    codec: VideoCodec,
    bounds: &LadderBounds,
    frame: Size,
    fps: Option<f64>,
    probes: &[Probe],
) -> LadderChoice {
    let cap = f64::from(bounds.cap(codec, frame, fps));
    let hull = hull(codec, &bounds.sizes(frame), probes);
    let Some(cheapest) = hull.first().copied() else { return LadderChoice { rungs: Vec::new(), capped: false } };
    let under_cap: Vec<&Point> = hull.iter().filter(|o| o.kbps <= cap).collect();
    let meets = under_cap.iter().find(|o| o.vmaf >= bounds.top_vmaf).copied();
    let top = *meets.or(under_cap.last().copied()).unwrap_or(&cheapest);
    let capped = meets.is_none() && hull.iter().any(|o| o.vmaf >= bounds.top_vmaf);
    // Below Apple's lowest rung no player needs another: a title that cheap gets one.
    let bottom = *hull.iter().find(|o| o.kbps >= LOWEST_KBPS).filter(|o| o.kbps < top.kbps).unwrap_or(&top);
    let ratio = top.kbps / bottom.kbps;
    let steps = match ratio > 1.0 {
        true => ((ratio.ln() / MIN_STEP_RATIO.ln()).floor() as usize).min(bounds.count.saturating_sub(1)),
        false => 0,
    };
    let mut chosen: Vec<Point> = Vec::new();
    for i in 0..=steps {
        let budget = match steps {
            0 => top.kbps,
            _ => bottom.kbps * ratio.powf(i as f64 / steps as f64),
        };
        let below = chosen.last();
        let best = hull
            .iter()
            .filter(|o| o.kbps <= budget * 1.0001)
            .filter(|o| below.is_none_or(|b| o.kbps > b.kbps && o.size.height >= b.size.height))
            .max_by(|a, b| a.vmaf.total_cmp(&b.vmaf));
        if let Some(best) = best {
            chosen.push(*best);
        }
    }
    let rungs = chosen
        .iter()
        .rev()
        .map(|o| LadderRung {
            width: o.size.width,
            height: o.size.height,
            crf: Some(o.crf),
            kbps: o.kbps.round(),
            vmaf: Some((o.vmaf * 10.0).round() / 10.0),
            max_kbps: Some((o.kbps * CAP_HEADROOM).min(cap).max(o.kbps).ceil() as u32),
        })
        .collect();
    LadderChoice { rungs, capped }
}

/// The upper hull of every size's curve: the points no other point beats with as few bits, by
/// bitrate.
fn hull(codec: VideoCodec, sizes: &[Size], probes: &[Probe]) -> Vec<Point> {
    let range = auto_range(codec);
    let mut options = Vec::new();
    for size in sizes {
        let at_size: Vec<Probe> = probes.iter().filter(|p| p.height == Some(size.height)).copied().collect();
        let (Some(low), Some(high)) = (at_size.iter().map(|p| p.crf).min(), at_size.iter().map(|p| p.crf).max()) else {
            continue;
        };
        let curve = Curve::through(&at_size);
        let from = low.saturating_sub(READ_PAST).max(*range.start());
        let to = high.saturating_add(READ_PAST).min(*range.end());
        options.extend((from..=to).map(|crf| Point { size: *size, crf, kbps: curve.kbps(crf), vmaf: curve.vmaf(crf) }));
    }
    options.sort_by(|a, b| a.kbps.total_cmp(&b.kbps));
    let mut best = f64::NEG_INFINITY;
    options.retain(|o| {
        let better = o.vmaf > best;
        best = best.max(o.vmaf);
        better
    });
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    const H264: VideoCodec = VideoCodec::H264;
    const HD: Size = Size { width: 1280, height: 720 };

    /// A title measured as encoders behave: at each size the bitrate halves every 6 CRF steps
    /// from `kbps720` (scaled by the size's pixels), and VMAF falls 1.2 a step from a ceiling
    /// the size sets (a small picture, upscaled, never looks like the source).
    fn title(kbps720: f64, vmaf23: f64) -> impl Fn(Size, u8) -> Probe {
        move |size, crf| {
            let share = f64::from(size.width * size.height) / f64::from(HD.width * HD.height);
            let steps = f64::from(crf) - 23.0;
            let ceiling = 100.0 - 30.0 * (1.0 - share.sqrt());
            Probe {
                crf,
                kbps: kbps720 * share.powf(0.75) * (-steps / 6.0).exp2(),
                vmaf: (vmaf23 - 1.2 * steps).min(ceiling),
                height: Some(size.height),
            }
        }
    }

    fn probes_of(bounds: &LadderBounds, frame: Size, title: impl Fn(Size, u8) -> Probe) -> Vec<Probe> {
        let crfs = LadderBounds::probe_crfs(H264);
        bounds.sizes(frame).into_iter().flat_map(|size| crfs.map(|crf| title(size, crf))).collect()
    }

    #[test]
    fn renditions_read_a_list_or_auto() {
        let read = |text: &str| serde_json::from_str::<Renditions>(text).map_err(|e| e.to_string());
        assert_eq!(read("\"auto\""), Ok(Renditions::Auto));
        assert_eq!(
            read(r#"[{"height": 360, "bitrate_kbps": 800}]"#),
            Ok(Renditions::Listed(vec![Rendition { height: 360, bitrate_kbps: Some(800), ..Rendition::default() }]))
        );
        assert!(read(r#"[{"hieght": 360}]"#).unwrap_err().contains("unknown field `hieght`"));
        assert!(read("\"best\"").unwrap_err().contains("a list of renditions or \"auto\""));
        assert_eq!(serde_json::to_string(&Renditions::Auto).unwrap(), "\"auto\"");
    }

    #[test]
    fn the_sizes_probed_lie_within_the_bounds_and_the_source() {
        let bounds = LadderBounds::default();
        let heights = |frame: Size| bounds.sizes(frame).iter().map(|s| (s.width, s.height)).collect::<Vec<_>>();
        assert_eq!(heights(HD), vec![(426, 240), (640, 360), (960, 540), (1280, 720)]);
        assert_eq!(heights(Size::new(3840, 2160)).last(), Some(&(1920, 1080)), "max_height 1080");
        assert_eq!(heights(Size::new(1000, 600)).last(), Some(&(1000, 600)), "the source's own size on top");
        assert_eq!(heights(Size::new(720, 1280))[0], (240, 426), "a portrait picture's short side");
        let narrow = LadderBounds { min_height: 360, max_height: 540, ..LadderBounds::default() };
        assert_eq!(narrow.sizes(HD).iter().map(|s| s.height).collect::<Vec<_>>(), vec![360, 540]);
        assert_eq!(LadderBounds { count: 3, ..LadderBounds::default() }.heights(), vec![1080, 720, 540]);
    }

    #[test]
    fn an_easy_title_gets_a_short_cheap_ladder_and_a_hard_one_a_long_dear_one() {
        let bounds = LadderBounds::default();
        let easy = choose_ladder(H264, &bounds, HD, Some(30.0), &probes_of(&bounds, HD, title(400.0, 99.0)));
        let hard = choose_ladder(H264, &bounds, HD, Some(30.0), &probes_of(&bounds, HD, title(3000.0, 90.0)));
        let top = |choice: &LadderChoice| choice.rungs[0];
        assert!(top(&easy).vmaf.unwrap() >= 95.0 && top(&hard).vmaf.unwrap() >= 95.0, "{easy:?} {hard:?}");
        assert!(top(&easy).kbps * 5.0 < top(&hard).kbps, "{easy:?} {hard:?}");
        assert!(easy.rungs.len() < hard.rungs.len() && hard.rungs.len() <= bounds.count, "{easy:?} {hard:?}");
        for choice in [&easy, &hard] {
            for pair in choice.rungs.windows(2) {
                let (upper, lower) = (pair[0], pair[1]);
                assert!(upper.kbps >= lower.kbps * MIN_STEP_RATIO * 0.999, "spaced: {choice:?}");
                assert!(upper.height >= lower.height && upper.vmaf > lower.vmaf, "{choice:?}");
            }
            assert!(choice.rungs.iter().all(|r| r.max_kbps.unwrap() as f64 >= r.kbps), "{choice:?}");
            assert!(choice.rungs.last().unwrap().kbps >= LOWEST_KBPS || choice.rungs.len() == 1, "{choice:?}");
        }
        assert_eq!(top(&hard).height, 720, "the hard title's top rung is at the largest size");
        assert!(hard.rungs.last().unwrap().height < 720, "and its bottom smaller: {hard:?}");
    }

    #[test]
    fn at_low_rates_a_smaller_picture_wins_as_the_hull_says() {
        let bounds = LadderBounds::default();
        let probes = probes_of(&bounds, HD, title(6000.0, 88.0));
        let hull = hull(H264, &bounds.sizes(HD), &probes);
        let cheapest = hull.first().unwrap();
        let dearest = hull.last().unwrap();
        assert_eq!((cheapest.size.height, dearest.size.height), (240, 720), "{hull:?}");
        for pair in hull.windows(2) {
            assert!(pair[1].kbps > pair[0].kbps && pair[1].vmaf > pair[0].vmaf, "rising: {hull:?}");
        }
    }

    #[test]
    fn the_cap_holds_the_top_rung_and_says_so() {
        let bounds = LadderBounds { max_kbps: Some(3000), ..LadderBounds::default() };
        let choice = choose_ladder(H264, &bounds, HD, Some(30.0), &probes_of(&bounds, HD, title(6000.0, 88.0)));
        assert!(choice.capped, "{choice:?}");
        assert!(choice.rungs.iter().all(|r| r.kbps <= 3000.0 && r.max_kbps.unwrap() <= 3000), "{choice:?}");
        // A title whose top rung costs less than Apple's lowest rung needs no other.
        let cheap = choose_ladder(H264, &bounds, HD, Some(30.0), &probes_of(&bounds, HD, title(60.0, 99.0)));
        assert_eq!(cheap.rungs.len(), 1, "{cheap:?}");
        assert!(cheap.rungs[0].height == 720 && cheap.rungs[0].kbps < LOWEST_KBPS, "{cheap:?}");
        let one = LadderBounds { count: 1, ..LadderBounds::default() };
        let single = choose_ladder(H264, &one, HD, Some(30.0), &probes_of(&one, HD, title(6000.0, 88.0)));
        assert_eq!(single.rungs.len(), 1);
        assert!(choose_ladder(H264, &bounds, HD, None, &[]).rungs.is_empty(), "nothing probed, nothing chosen");
    }

    #[test]
    fn the_largest_sizes_probes_settle_a_ladder_of_one_cheap_rung_and_no_other() {
        let bounds = LadderBounds::default();
        let largest = |title: &dyn Fn(Size, u8) -> Probe| -> Vec<Probe> {
            LadderBounds::probe_crfs(H264).into_iter().map(|crf| title(HD, crf)).collect()
        };
        // A still picture reaches the top VMAF at 720p for a few dozen kbps: one rung, settled
        let still = title(60.0, 99.0);
        let settled = choose_ladder(H264, &bounds, HD, Some(30.0), &largest(&still));
        assert!(settled.settled(), "{settled:?}");
        assert_eq!(settled, choose_ladder(H264, &bounds, HD, Some(30.0), &probes_of(&bounds, HD, still)));
        // A title whose top costs more than Apple's lowest rung needs the smaller sizes' probes
        for busy in [title(400.0, 99.0), title(3000.0, 90.0)] {
            let choice = choose_ladder(H264, &bounds, HD, Some(30.0), &largest(&busy));
            assert!(!choice.settled(), "{choice:?}");
        }
    }

    #[test]
    fn a_ladder_not_probed_follows_the_picture_size() {
        let rungs = LadderBounds { count: 3, ..LadderBounds::default() }.fallback(H264, HD, Some(30.0));
        let described: Vec<String> = rungs.iter().map(ToString::to_string).collect();
        assert_eq!(described, vec!["1280x720 at 2765 kbps", "960x540 at 1556 kbps", "640x360 at 692 kbps"]);
        assert_eq!(Rung::from(&rungs[0]).bitrate_kbps, Some(2765));
    }

    #[test]
    fn bounds_are_checked() {
        let mut errors = Violations::default();
        LadderBounds { count: 0, min_height: 720, max_height: 360, max_kbps: Some(5), top_vmaf: 100.0 }
            .validate("t.ladder", &mut errors);
        assert_eq!(
            errors.into_messages(),
            vec![
                "t.ladder.count: must be 1–10",
                "t.ladder.min_height: must not pass max_height",
                "t.ladder.max_kbps: must be 16–100000",
                "t.ladder.top_vmaf: must be 50–99",
            ]
        );
    }
}
