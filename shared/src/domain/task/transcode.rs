//! The transcode task: another container, codec, size or rate.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::fields::{is_false, is_zero, validate_size};
use super::marks::{WatermarkSpec, validate_watermarks};
use super::parallel::{MIN_CHUNK_SECONDS, Parallel};
use super::quality::QualityMetric;
use super::rate::{Crf, DEFAULT_TARGET_VMAF, TARGET_VMAF, Target};
use crate::domain::validation::Violations;

/// Re-encode the input into another container, codec, size or rate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscodeSpec {
    /// Label in the output name (`{definition}`); defaults to the task's position (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    #[serde(default)]
    pub container: Container,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioSpec>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub remove_audio: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub remove_video: bool,
    /// Copy the source's metadata (title, dates, a phone's GPS location…) into the output.
    /// Off by default: outputs carry no metadata but what playback needs.
    #[serde(default, skip_serializing_if = "is_false")]
    pub keep_metadata: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watermarks: Vec<WatermarkSpec>,
    /// Output file name pattern; placeholders `{inputName}`, `{definition}`, `{format}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_name: Option<String>,
    /// Encode in chunks side by side: `auto` (when one worker would not comfortably finish),
    /// `off`, or a number of chunks. See [`chunk`](super::chunk).
    #[serde(default, skip_serializing_if = "Parallel::is_auto")]
    pub parallel: Parallel,
    /// How long `auto` makes each chunk, in seconds (default 120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_seconds: Option<f64>,
    /// Where the output starts and ends in the source, in seconds; negative counts from the
    /// source's end (MPS's StartTimeOffset and EndTimeOffset). Frame-accurate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
    /// Scores the output against the source (`vmaf`, `ssim` or `psnr`); off unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<QualityMetric>,
}

/// A stretch of the source to keep: `start` and `end` in seconds, negative counting from the
/// end; unset, from the start and to the end.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Trim {
    pub start: Option<f64>,
    pub end: Option<f64>,
}

/// A trim resolved against a source: seconds from its start, to its end without `end`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    pub start: f64,
    pub end: Option<f64>,
}

impl Span {
    pub fn length(&self) -> Option<f64> {
        self.end.map(|end| end - self.start)
    }
}

impl Trim {
    /// The span of a source lasting `duration` seconds (when known), or why there is none.
    pub fn resolve(self, duration: Option<f64>) -> Result<Span, String> {
        let at = |value: f64, name: &str| match (value < 0.0, duration) {
            (false, _) => Ok(value),
            (true, Some(duration)) => Ok((duration + value).max(0.0)),
            (true, None) => Err(format!("{name} {value} s counts from the end, and the source's length is unknown")),
        };
        let start = self.start.map(|start| at(start, "start")).transpose()?.unwrap_or(0.0);
        let end = self.end.map(|end| at(end, "end")).transpose()?;
        if let Some(duration) = duration
            && start >= duration
        {
            return Err(format!("start {start:.3} s is past the end of the {duration:.3} s source"));
        }
        if let Some(end) = end
            && end <= start
        {
            return Err(format!("nothing to keep between {start:.3} s and {end:.3} s"));
        }
        // An end past the source's is its end.
        let end = end.filter(|end| duration.is_none_or(|duration| *end < duration));
        Ok(Span { start, end })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<VideoCodec>,
    /// Pixels; 0 (the default) follows the other side, keeping the aspect ratio.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub width: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub height: u32,
    /// Without it a source smaller than the requested size keeps its size.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_upscale: bool,
    /// Target bitrate; without it (and without `crf`) the codec's default quality is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate_kbps: Option<u32>,
    /// Constant quality: a CRF, or `auto` to choose one for each title (see [`rate`](super::rate)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crf: Option<Crf>,
    /// The VMAF `crf: auto` aims at (default [`DEFAULT_TARGET_VMAF`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_vmaf: Option<f64>,
    /// A bitrate the video stays under (kbit/s), with `crf` (fixed or `auto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_kbps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
}

impl VideoSpec {
    /// The CRF the task sets itself, not `auto`.
    pub fn fixed_crf(&self) -> Option<u8> {
        match self.crf {
            Some(Crf::Fixed(crf)) => Some(crf),
            _ => None,
        }
    }

    /// What `crf: auto` aims at; `None` without it.
    pub fn tuned(&self) -> Option<Target> {
        (self.crf == Some(Crf::Auto))
            .then(|| Target { vmaf: self.target_vmaf.unwrap_or(DEFAULT_TARGET_VMAF), max_kbps: self.max_kbps })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<AudioCodec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate_kbps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u8>,
    /// Integrated loudness to normalise to, in LUFS (EBU R128: -23 for broadcast, -16 is
    /// usual for streaming); unset leaves the level as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loudness: Option<f64>,
}

impl AudioSpec {
    /// The quietest and loudest loudness targets, in LUFS.
    pub const LOUDNESS: std::ops::RangeInclusive<f64> = -70.0..=-5.0;
}

named_enum!(
    /// Output container of a transcode.
    Container { #[default] Mp4 => "mp4", Webm => "webm", Mkv => "mkv", Mov => "mov", Mp3 => "mp3", M4a => "m4a" }
);
named_enum!(VideoCodec { #[default] H264 => "h264", H265 => "h265", Vp9 => "vp9" });
named_enum!(AudioCodec { #[default] Aac => "aac", Opus => "opus", Mp3 => "mp3" });
impl Container {
    /// Containers that hold sound only.
    pub fn is_audio_only(self) -> bool {
        matches!(self, Self::Mp3 | Self::M4a)
    }

    pub fn default_video_codec(self) -> Option<VideoCodec> {
        match self {
            Self::Mp4 | Self::Mov | Self::Mkv => Some(VideoCodec::H264),
            Self::Webm => Some(VideoCodec::Vp9),
            Self::Mp3 | Self::M4a => None,
        }
    }

    pub fn default_audio_codec(self) -> AudioCodec {
        match self {
            Self::Webm => AudioCodec::Opus,
            Self::Mp3 => AudioCodec::Mp3,
            Self::Mp4 | Self::Mov | Self::Mkv | Self::M4a => AudioCodec::Aac,
        }
    }

    pub fn allows_video(self, codec: VideoCodec) -> bool {
        match self {
            Self::Mp4 | Self::Mov => matches!(codec, VideoCodec::H264 | VideoCodec::H265),
            Self::Webm => codec == VideoCodec::Vp9,
            Self::Mkv => true,
            Self::Mp3 | Self::M4a => false,
        }
    }

    pub fn allows_audio(self, codec: AudioCodec) -> bool {
        match self {
            Self::Mp4 | Self::Mov => matches!(codec, AudioCodec::Aac | AudioCodec::Mp3),
            Self::Webm => codec == AudioCodec::Opus,
            Self::Mkv => true,
            Self::Mp3 => codec == AudioCodec::Mp3,
            Self::M4a => codec == AudioCodec::Aac,
        }
    }
}

impl TranscodeSpec {
    /// The video codec the output will have, `None` when it has no video.
    pub fn video_codec(&self) -> Option<VideoCodec> {
        if self.remove_video {
            return None;
        }
        self.video.as_ref().and_then(|video| video.codec).or(self.container.default_video_codec())
    }

    /// The audio codec the output will have, `None` when it has no audio.
    pub fn audio_codec(&self) -> Option<AudioCodec> {
        if self.remove_audio {
            return None;
        }
        Some(self.audio.as_ref().and_then(|audio| audio.codec).unwrap_or(self.container.default_audio_codec()))
    }

    /// What `crf: auto` aims at, when the output has video and the task asks for it.
    pub fn tuned(&self) -> Option<Target> {
        self.video_codec().and(self.video.as_ref()).and_then(VideoSpec::tuned)
    }

    pub fn trim(&self) -> Trim {
        Trim { start: self.start, end: self.end }
    }

    /// What splitting the task in chunks needs to know; `None` without video.
    pub fn encode(&self) -> Option<Encode> {
        if self.container.is_audio_only() {
            return None;
        }
        let video = self.video.as_ref();
        Some(Encode {
            codec: self.video_codec()?,
            sizes: vec![video.map_or((0, 0), |v| (v.width, v.height))],
            fps: video.and_then(|v| v.fps),
            parallel: self.parallel,
            chunk_seconds: self.chunk_seconds,
            audio: self.audio_codec().is_some(),
            trim: self.trim(),
        })
    }

    pub(super) fn validate(&self, field: &str, errors: &mut Violations) {
        let container = self.container;
        errors.check(
            !(self.remove_audio && self.remove_video),
            format!("{field}.remove_audio"),
            "removing both audio and video leaves nothing",
        );
        if container.is_audio_only() {
            errors.check(self.video.is_none(), format!("{field}.video"), format!("{container} holds no video"));
            errors.check(
                self.watermarks.is_empty(),
                format!("{field}.watermarks"),
                format!("{container} holds no video to mark"),
            );
            errors.check(!self.remove_audio, format!("{field}.remove_audio"), format!("{container} holds only audio"));
        }
        if self.remove_video {
            errors.check(self.watermarks.is_empty(), format!("{field}.watermarks"), "the video is removed");
        }
        errors.check(
            self.quality.is_none() || !(self.remove_video || container.is_audio_only()),
            format!("{field}.quality"),
            "an output without video has no pictures to score",
        );
        if let Some(video) = &self.video {
            let codec = video.codec.unwrap_or(VideoCodec::default());
            if video.codec.is_some() {
                errors.check(
                    container.allows_video(codec),
                    format!("{field}.video.codec"),
                    format!("{codec} cannot be stored in {container}"),
                );
            }
            validate_size(video.width, video.height, &format!("{field}.video"), errors);
            if let Some(kbps) = video.bitrate_kbps {
                errors.check(
                    (16..=100_000).contains(&kbps),
                    format!("{field}.video.bitrate_kbps"),
                    "must be 16–100000",
                );
            }
            if let Some(crf) = video.fixed_crf() {
                let max = if self.video_codec() == Some(VideoCodec::Vp9) { 63 } else { 51 };
                errors.check(crf <= max, format!("{field}.video.crf"), format!("must be 0–{max} for {codec}"));
            }
            errors.check(
                !(video.crf.is_some() && video.bitrate_kbps.is_some()),
                format!("{field}.video"),
                "set crf or bitrate_kbps, not both",
            );
            if let Some(target) = video.target_vmaf {
                errors.check(
                    video.crf == Some(Crf::Auto),
                    format!("{field}.video.target_vmaf"),
                    "is what crf: auto aims at: set crf: auto with it",
                );
                errors.check(
                    TARGET_VMAF.contains(&target),
                    format!("{field}.video.target_vmaf"),
                    format!("must be {}–{}", TARGET_VMAF.start(), TARGET_VMAF.end()),
                );
            }
            if let Some(kbps) = video.max_kbps {
                errors.check(
                    video.crf.is_some(),
                    format!("{field}.video.max_kbps"),
                    "caps a constant-quality encode: set crf (a number or auto) with it",
                );
                errors.check((16..=100_000).contains(&kbps), format!("{field}.video.max_kbps"), "must be 16–100000");
            }
            if let Some(fps) = video.fps {
                errors.check(
                    fps > 0.0 && fps <= 120.0,
                    format!("{field}.video.fps"),
                    "must be above 0 and at most 120",
                );
            }
        }
        if let Some(audio) = &self.audio {
            if let Some(codec) = audio.codec {
                errors.check(
                    container.allows_audio(codec),
                    format!("{field}.audio.codec"),
                    format!("{codec} cannot be stored in {container}"),
                );
            }
            validate_audio(audio, field, errors);
        }
        validate_watermarks(&self.watermarks, field, errors);
        validate_chunking(self.parallel, self.chunk_seconds, field, errors);
        for (name, value) in [("start", self.start), ("end", self.end)] {
            if let Some(value) = value {
                errors.check(value.is_finite(), format!("{field}.{name}"), "must be a number of seconds");
            }
        }
        if let (Some(start), Some(end)) = (self.start, self.end)
            && (start >= 0.0) == (end >= 0.0)
        {
            errors.check(end > start, format!("{field}.end"), "must be after start");
        }
    }
}

/// The checks of an audio section that hold in every container.
pub(super) fn validate_audio(audio: &AudioSpec, field: &str, errors: &mut Violations) {
    if let Some(target) = audio.loudness {
        errors.check(
            AudioSpec::LOUDNESS.contains(&target),
            format!("{field}.audio.loudness"),
            "must be -70 to -5 LUFS (-23 for broadcast, -16 for streaming)",
        );
    }
    if let Some(kbps) = audio.bitrate_kbps {
        errors.check((8..=512).contains(&kbps), format!("{field}.audio.bitrate_kbps"), "must be 8–512");
    }
    if let Some(rate) = audio.sample_rate {
        const RATES: [u32; 6] = [8000, 16000, 22050, 24000, 44100, 48000];
        errors.check(
            RATES.contains(&rate),
            format!("{field}.audio.sample_rate"),
            "must be one of 8000, 16000, 22050, 24000, 44100, 48000",
        );
    }
    if let Some(channels) = audio.channels {
        errors.check((1..=2).contains(&channels), format!("{field}.audio.channels"), "must be 1 or 2");
    }
}

/// `parallel` and `chunk_seconds` of a task encoded in chunks.
pub(super) fn validate_chunking(parallel: Parallel, chunk_seconds: Option<f64>, field: &str, errors: &mut Violations) {
    if let Some(seconds) = chunk_seconds {
        errors.check(
            parallel.is_auto(),
            format!("{field}.chunk_seconds"),
            "only with parallel: auto (a number of chunks sets their length)",
        );
        errors.check(
            (MIN_CHUNK_SECONDS..=3600.0).contains(&seconds),
            format!("{field}.chunk_seconds"),
            format!("must be {MIN_CHUNK_SECONDS}–3600"),
        );
    }
}

/// What splitting a task in chunks needs to know of the video it encodes.
#[derive(Clone, Debug, PartialEq)]
pub struct Encode {
    pub codec: VideoCodec,
    /// The sizes asked for, one per picture encoded from each frame (a ladder's renditions);
    /// `0` follows the other side.
    pub sizes: Vec<(u32, u32)>,
    pub fps: Option<f64>,
    pub parallel: Parallel,
    pub chunk_seconds: Option<f64>,
    /// Whether sound is encoded too (one more part).
    pub audio: bool,
    /// The stretch of the source the output keeps.
    pub trim: Trim,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trim(start: Option<f64>, end: Option<f64>) -> Trim {
        Trim { start, end }
    }

    #[test]
    fn a_trim_counts_negative_times_from_the_end() {
        assert_eq!(trim(None, None).resolve(Some(12.0)), Ok(Span { start: 0.0, end: None }));
        assert_eq!(trim(Some(2.0), Some(-3.0)).resolve(Some(12.0)), Ok(Span { start: 2.0, end: Some(9.0) }));
        assert_eq!(trim(Some(-4.0), None).resolve(Some(12.0)), Ok(Span { start: 8.0, end: None }));
        assert_eq!(trim(Some(-40.0), Some(30.0)).resolve(Some(12.0)), Ok(Span { start: 0.0, end: None }), "clamped");
        assert_eq!(trim(Some(2.0), Some(5.0)).resolve(None), Ok(Span { start: 2.0, end: Some(5.0) }));
    }

    #[test]
    fn a_trim_that_keeps_nothing_says_why() {
        assert_eq!(
            trim(Some(20.0), None).resolve(Some(12.0)),
            Err("start 20.000 s is past the end of the 12.000 s source".into())
        );
        assert_eq!(
            trim(Some(5.0), Some(-8.0)).resolve(Some(12.0)),
            Err("nothing to keep between 5.000 s and 4.000 s".into())
        );
        assert!(trim(None, Some(-2.0)).resolve(None).unwrap_err().contains("the source's length is unknown"));
    }
}
