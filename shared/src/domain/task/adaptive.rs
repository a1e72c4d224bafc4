//! The adaptive task (MPS AdaptiveDynamicStreaming): a ladder of renditions of the input,
//! packaged as HLS (MPEG-TS or fMP4 segments) or DASH, with a master playlist over them.
//!
//! The ladder is decided on the probed source ([`AdaptiveSpec::ladder`]): renditions above the
//! source's size or bitrate are dropped, not stretched, and one always remains. With
//! `renditions: auto` it is chosen for each title within the task's `ladder` bounds (see
//! [`ladder`](super::ladder)).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::fields::{is_false, validate_size};
use super::ladder::{LadderBounds, MAX_RENDITIONS, Rendition, Renditions, Rung};
use super::marks::{WatermarkSpec, validate_watermarks};
use super::parallel::Parallel;
use super::quality::QualityMetric;
use super::transcode::{
    AudioCodec, AudioSpec, Container, Encode, TranscodeSpec, Trim, VideoCodec, validate_audio, validate_chunking,
};
use super::tuning::Tuning;
use crate::domain::media::{MediaInfo, Size};
use crate::domain::validation::Violations;

/// Renditions of the input for players that switch between them as bandwidth allows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptiveSpec {
    /// Label in the output names (`{definition}`); an MPS HLS template id (100210–100280)
    /// gives a ladder of that template's one rendition when `renditions` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    #[serde(default)]
    pub format: StreamFormat,
    /// HLS segments: `ts` (the default for H.264) or `fmp4` (the default for H.265, which HLS
    /// carries only in fMP4). DASH segments are always fMP4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_type: Option<SegmentType>,
    /// Target segment length in seconds; segments start on keyframes aligned across renditions.
    #[serde(default = "AdaptiveSpec::default_segment_seconds")]
    pub segment_seconds: f64,
    /// `h264` (default) or `h265`, for every rendition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<VideoCodec>,
    /// Frame rate of every rendition; the source's without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
    /// The renditions listed, or `auto`: chosen for each title within `ladder`.
    #[serde(default, skip_serializing_if = "Renditions::is_none")]
    pub renditions: Renditions,
    /// What `renditions: auto` keeps to (count, heights, the top's cap and VMAF).
    #[serde(default, rename = "ladder", skip_serializing_if = "Option::is_none")]
    pub bounds: Option<LadderBounds>,
    /// AAC; 128 kbps at the source's rate and channels unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioSpec>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub remove_audio: bool,
    /// Adds a rendition of the sound alone (HLS), for the slowest connections; with no
    /// renditions, the output is sound only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub audio_only: bool,
    /// Keeps renditions larger or of a higher bitrate than the source (scaled up).
    #[serde(default, skip_serializing_if = "is_false")]
    pub keep_above_source: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub keep_metadata: bool,
    /// Burnt into every rendition alike: placed on the largest, scaled with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watermarks: Vec<WatermarkSpec>,
    #[serde(default, skip_serializing_if = "Parallel::is_auto")]
    pub parallel: Parallel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_seconds: Option<f64>,
    /// The master playlist's name pattern; renditions and segments are named from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_name: Option<String>,
    /// Scores every rendition against the source (`vmaf`, `ssim` or `psnr`); off unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<QualityMetric>,
}

impl Default for AdaptiveSpec {
    fn default() -> Self {
        Self {
            definition: None,
            format: StreamFormat::default(),
            segment_type: None,
            segment_seconds: Self::default_segment_seconds(),
            codec: None,
            fps: None,
            renditions: Renditions::default(),
            bounds: None,
            audio: None,
            remove_audio: false,
            audio_only: false,
            keep_above_source: false,
            keep_metadata: false,
            watermarks: Vec::new(),
            parallel: Parallel::default(),
            chunk_seconds: None,
            output_name: None,
            quality: None,
        }
    }
}

named_enum!(StreamFormat { #[default] Hls => "hls", Dash => "dash" });
named_enum!(SegmentType { #[default] Ts => "ts", Fmp4 => "fmp4" });

impl AdaptiveSpec {
    /// The shortest and longest segment, in seconds.
    pub const SEGMENT_SECONDS: std::ops::RangeInclusive<f64> = 1.0..=30.0;
    /// The sub-stream (rendition playlist) and segment names, as MPS names them.
    pub const SUB_STREAM_NAME: &str = "{inputName}_adaptiveDynamicStreaming_{definition}_{subStreamNumber}.{format}";
    pub const SEGMENT_NAME: &str =
        "{inputName}_adaptiveDynamicStreaming_{definition}_{subStreamNumber}_{segmentNumber}.{format}";

    fn default_segment_seconds() -> f64 {
        6.0
    }

    pub fn video_codec(&self) -> VideoCodec {
        self.codec.unwrap_or_default()
    }

    pub fn segment_type(&self) -> SegmentType {
        match (self.format, self.segment_type) {
            (StreamFormat::Dash, _) => SegmentType::Fmp4,
            (StreamFormat::Hls, Some(kind)) => kind,
            (StreamFormat::Hls, None) if self.video_codec() == VideoCodec::H265 => SegmentType::Fmp4,
            (StreamFormat::Hls, None) => SegmentType::Ts,
        }
    }

    /// The master playlist's extension, which is its `{format}`.
    pub fn playlist_format(&self) -> &'static str {
        match self.format {
            StreamFormat::Hls => "m3u8",
            StreamFormat::Dash => "mpd",
        }
    }

    /// A media segment's extension.
    pub fn segment_format(&self) -> &'static str {
        match self.segment_type() {
            SegmentType::Ts => "ts",
            SegmentType::Fmp4 => "m4s",
        }
    }

    /// Whether the output keeps sound.
    pub fn has_audio(&self) -> bool {
        !self.remove_audio
    }

    /// The sound as a transcode encodes it: AAC, the only codec every player of HLS and DASH
    /// takes, at the task's settings.
    pub fn audio_transcode(&self) -> TranscodeSpec {
        let audio = AudioSpec {
            codec: Some(AudioCodec::Aac),
            bitrate_kbps: Some(self.audio.as_ref().and_then(|a| a.bitrate_kbps).unwrap_or(128)),
            ..self.audio.clone().unwrap_or_default()
        };
        TranscodeSpec {
            container: Container::M4a,
            audio: Some(audio),
            keep_metadata: self.keep_metadata,
            ..TranscodeSpec::default()
        }
    }

    /// The bounds of `renditions: auto` (the defaults unless set).
    pub fn bounds(&self) -> LadderBounds {
        self.bounds.clone().unwrap_or_default()
    }

    /// What splitting the task in chunks needs to know; `None` without video renditions. An
    /// automatic ladder counts the largest sizes its bounds allow.
    pub fn encode(&self) -> Option<Encode> {
        let sizes = match &self.renditions {
            Renditions::Auto => self.bounds().heights().into_iter().map(|height| (0, height)).collect(),
            Renditions::Listed(listed) => listed.iter().map(|r| (r.width, r.height)).collect(),
        };
        (!self.renditions.is_none()).then(|| Encode {
            codec: self.video_codec(),
            sizes,
            fps: self.fps,
            parallel: self.parallel,
            chunk_seconds: self.chunk_seconds,
            audio: self.has_audio(),
            trim: Trim::default(),
        })
    }

    /// The renditions encoded for `source`. Listed, in the order asked: those above the
    /// source's size or bitrate are dropped unless `keep_above_source`; when that drops them
    /// all, the smallest is kept at the source's size and bitrate. Automatic, the `tuning`'s
    /// (chosen for the title), or without one a ladder by picture size. Empty when the source
    /// has no picture.
    pub fn ladder(&self, source: &MediaInfo, tuning: Option<&Tuning>) -> Vec<Rung> {
        let Some(video) = source.video.as_ref().filter(|v| v.width > 0 && v.height > 0) else {
            return Vec::new();
        };
        let frame = Size::new(video.width, video.height);
        let listed = match &self.renditions {
            Renditions::Listed(listed) => listed,
            Renditions::Auto => {
                let chosen = tuning.map(|t| t.ladder.clone()).filter(|ladder| !ladder.is_empty());
                let fps = self.fps.or(video.fps);
                let ladder = chosen.unwrap_or_else(|| self.bounds().fallback(self.video_codec(), frame, fps));
                return ladder.iter().map(Rung::from).collect();
            }
        };
        let source_kbps = source.bit_rate.map(|rate| u32::try_from(rate / 1000).unwrap_or(u32::MAX));
        let rung = |r: &Rendition| Rung {
            size: frame.fit(r.width, r.height, self.keep_above_source, true),
            bitrate_kbps: r.bitrate_kbps,
            crf: r.crf,
            max_kbps: r.max_kbps,
        };
        let above = |r: &Rendition| {
            r.width > frame.width
                || r.height > frame.height
                || r.bitrate_kbps.zip(source_kbps).is_some_and(|(wanted, has)| wanted > has)
        };
        let kept: Vec<Rung> = listed.iter().filter(|r| self.keep_above_source || !above(r)).map(rung).collect();
        if !kept.is_empty() {
            return kept;
        }
        let smallest = listed.iter().map(rung).min_by_key(|r| (r.size.width * r.size.height, r.bitrate_kbps));
        smallest
            .map(|r| Rung {
                bitrate_kbps: r.bitrate_kbps.map(|k| source_kbps.map_or(k, |has| k.min(has.max(16)))),
                ..r
            })
            .into_iter()
            .collect()
    }

    pub(super) fn validate(&self, field: &str, errors: &mut Violations) {
        let listed = self.renditions.listed();
        let count = listed.len();
        errors.check(
            self.renditions.is_auto() || (count <= MAX_RENDITIONS && (count > 0 || self.audio_only)),
            format!("{field}.renditions"),
            format!("needs 1–{MAX_RENDITIONS} renditions, or auto (or none, with audio_only, for sound alone)"),
        );
        match (&self.bounds, self.renditions.is_auto()) {
            (Some(bounds), true) => bounds.validate(&format!("{field}.ladder"), errors),
            (Some(_), false) => errors.check(false, format!("{field}.ladder"), "goes with renditions: auto"),
            (None, _) => {}
        }
        errors.check(
            self.quality.is_none() || !self.renditions.is_none(),
            format!("{field}.quality"),
            "a ladder of sound alone has no pictures to score",
        );
        let codec = self.video_codec();
        errors.check(
            codec != VideoCodec::Vp9,
            format!("{field}.codec"),
            "must be h264 or h265: HLS and DASH players take those",
        );
        match (self.format, self.segment_type) {
            (StreamFormat::Dash, Some(SegmentType::Ts)) => {
                errors.check(false, format!("{field}.segment_type"), "DASH segments are fmp4")
            }
            (StreamFormat::Hls, Some(SegmentType::Ts)) if codec == VideoCodec::H265 => errors.check(
                false,
                format!("{field}.segment_type"),
                "HLS carries h265 only in fmp4 segments: set segment_type: fmp4",
            ),
            _ => {}
        }
        errors.check(
            Self::SEGMENT_SECONDS.contains(&self.segment_seconds),
            format!("{field}.segment_seconds"),
            "must be 1–30",
        );
        if let Some(fps) = self.fps {
            errors.check(fps > 0.0 && fps <= 120.0, format!("{field}.fps"), "must be above 0 and at most 120");
        }
        for (i, rendition) in listed.iter().enumerate() {
            let field = format!("{field}.renditions[{i}]");
            validate_size(rendition.width, rendition.height, &field, errors);
            errors.check(
                rendition.bitrate_kbps.is_some() != rendition.crf.is_some(),
                &field,
                "needs bitrate_kbps, or crf with max_kbps",
            );
            for (name, kbps) in [("bitrate_kbps", rendition.bitrate_kbps), ("max_kbps", rendition.max_kbps)] {
                if let Some(kbps) = kbps {
                    errors.check((16..=100_000).contains(&kbps), format!("{field}.{name}"), "must be 16–100000");
                }
            }
            if let Some(crf) = rendition.crf {
                errors.check(crf <= 51, format!("{field}.crf"), "must be 0–51");
                errors.check(
                    rendition.max_kbps.is_some(),
                    format!("{field}.max_kbps"),
                    "is needed with crf: a rendition's bandwidth must be bounded for players to choose it",
                );
            }
            if rendition.bitrate_kbps.is_some() {
                errors.check(
                    rendition.max_kbps.is_none(),
                    format!("{field}.max_kbps"),
                    "goes with crf, not bitrate_kbps",
                );
            }
            if listed[..i].contains(rendition) {
                errors.check(false, &field, "repeats an earlier rendition");
            }
        }
        if let Some(audio) = &self.audio {
            errors.check(
                audio.codec.is_none_or(|codec| codec == AudioCodec::Aac),
                format!("{field}.audio.codec"),
                "must be aac: HLS and DASH players take it",
            );
            validate_audio(audio, field, errors);
        }
        errors.check(
            !(self.remove_audio && (self.audio_only || self.audio.is_some())),
            format!("{field}.remove_audio"),
            "leaves no sound for audio_only or audio",
        );
        validate_chunking(self.parallel, self.chunk_seconds, field, errors);
        validate_watermarks(&self.watermarks, field, errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::media::VideoStream;

    fn source(width: u32, height: u32, kbps: u64) -> MediaInfo {
        MediaInfo {
            video: Some(VideoStream { codec: "h264".into(), width, height, ..VideoStream::default() }),
            bit_rate: Some(kbps * 1000),
            ..MediaInfo::default()
        }
    }

    fn rendition(height: u32, kbps: u32) -> Rendition {
        Rendition { height, bitrate_kbps: Some(kbps), ..Rendition::default() }
    }

    fn ladder_of(renditions: Vec<Rendition>) -> AdaptiveSpec {
        AdaptiveSpec { renditions: renditions.into(), ..AdaptiveSpec::default() }
    }

    impl AdaptiveSpec {
        fn ladder_for(&self, source: &MediaInfo) -> Vec<Rung> {
            self.ladder(source, None)
        }
    }

    #[test]
    fn renditions_above_the_source_are_dropped_not_stretched() {
        let spec = ladder_of(vec![rendition(1080, 5000), rendition(720, 3000), rendition(360, 800)]);
        let kept = spec.ladder_for(&source(1280, 720, 4000));
        let sizes: Vec<(u32, u32)> = kept.iter().map(|r| (r.size.width, r.size.height)).collect();
        assert_eq!(sizes, vec![(1280, 720), (640, 360)]);
        let over_bitrate = spec.ladder_for(&source(1920, 1080, 2000));
        assert_eq!(over_bitrate.iter().map(|r| r.size.height).collect::<Vec<_>>(), vec![360], "above 2000 kbps");
        let kept_all = AdaptiveSpec { keep_above_source: true, ..spec.clone() }.ladder_for(&source(640, 360, 500));
        assert_eq!(kept_all.iter().map(|r| r.size.height).collect::<Vec<_>>(), vec![1080, 720, 360]);
    }

    #[test]
    fn one_rendition_remains_at_the_sources_size_and_rate() {
        let spec = ladder_of(vec![rendition(1080, 5000), rendition(720, 3000)]);
        let kept = spec.ladder_for(&source(426, 240, 600));
        assert_eq!(kept.len(), 1);
        assert_eq!((kept[0].size, kept[0].bitrate_kbps), (Size::new(426, 240), Some(600)));
        assert!(spec.ladder(&MediaInfo::default(), None).is_empty(), "no picture, no video rendition");
    }

    #[test]
    fn a_rendition_needs_a_bitrate_or_a_bounded_crf() {
        let mut errors = Violations::default();
        let spec = ladder_of(vec![
            Rendition { height: 720, ..Rendition::default() },
            Rendition { height: 480, crf: Some(23), ..Rendition::default() },
            rendition(360, 800),
            rendition(360, 800),
        ]);
        spec.validate("tasks[0]", &mut errors);
        assert_eq!(
            errors.into_messages(),
            vec![
                "tasks[0].renditions[0]: needs bitrate_kbps, or crf with max_kbps",
                "tasks[0].renditions[1].max_kbps: is needed with crf: a rendition's bandwidth must be bounded for players to choose it",
                "tasks[0].renditions[3]: repeats an earlier rendition",
            ]
        );
    }

    #[test]
    fn hevc_goes_in_fmp4_and_dash_never_in_ts() {
        let hevc = AdaptiveSpec { codec: Some(VideoCodec::H265), ..ladder_of(vec![rendition(720, 2000)]) };
        assert_eq!(hevc.segment_type(), SegmentType::Fmp4);
        let mut errors = Violations::default();
        AdaptiveSpec { segment_type: Some(SegmentType::Ts), ..hevc }.validate("t", &mut errors);
        assert_eq!(
            errors.into_messages(),
            vec!["t.segment_type: HLS carries h265 only in fmp4 segments: set segment_type: fmp4"]
        );
        let dash = AdaptiveSpec { format: StreamFormat::Dash, ..ladder_of(vec![rendition(720, 2000)]) };
        assert_eq!(
            (dash.segment_type(), dash.playlist_format(), dash.segment_format()),
            (SegmentType::Fmp4, "mpd", "m4s")
        );
        let mut errors = Violations::default();
        ladder_of(Vec::new()).validate("t", &mut errors);
        assert_eq!(errors.into_messages().len(), 1, "no renditions and no audio_only");
    }
}
