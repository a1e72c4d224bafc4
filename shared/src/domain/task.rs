//! Task specs: the processing items of a workflow (transcode, snapshot, animated image,
//! watermark) with their parameters, validation and output names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::chunk::{MIN_CHUNK_SECONDS, Parallel};
use super::validation::{Violations, deserialize_all};

/// One processing item of a workflow. Serialized with a `type` tag, as in workflow files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TaskSpec {
    Transcode(TranscodeSpec),
    #[serde(alias = "screenshot")]
    Snapshot(SnapshotSpec),
    #[serde(alias = "animated_graphic")]
    Animated(AnimatedSpec),
    /// Burns watermarks into a copy of the input (re-encoded with the transcode defaults).
    Watermark(WatermarkTaskSpec),
}

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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crf: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
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
}

/// Still images at time points of the input (MPS "snapshot by time offset").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    pub times: Vec<TimePoint>,
    #[serde(default)]
    pub format: ImageFormat,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub width: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub height: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watermarks: Vec<WatermarkSpec>,
    /// Placeholders `{inputName}`, `{definition}`, `{number}` (0-based), `{format}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_name: Option<String>,
}

/// An animated GIF or WebP of a stretch of the input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnimatedSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    #[serde(default)]
    pub format: AnimatedFormat,
    /// Seconds from the start of the input.
    #[serde(default)]
    pub start: f64,
    /// Seconds; defaults to [`AnimatedSpec::DEFAULT_LENGTH`] after `start` (or the end of the
    /// input, if sooner). At most [`AnimatedSpec::MAX_LENGTH`] after `start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
    #[serde(default = "AnimatedSpec::default_fps")]
    pub fps: f64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub width: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub height: u32,
    /// WebP quality, 1–100.
    #[serde(default = "AnimatedSpec::default_quality")]
    pub quality: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_name: Option<String>,
}

impl AnimatedSpec {
    /// Seconds an animation covers when `end` is not given.
    pub const DEFAULT_LENGTH: f64 = 10.0;
    /// The longest animation, in seconds: GIF and WebP are previews, not videos.
    pub const MAX_LENGTH: f64 = 60.0;
    /// Without `width` and `height`, the picture fits in this square (source size if smaller).
    pub const DEFAULT_BOX: u32 = 480;

    fn default_fps() -> f64 {
        10.0
    }
    fn default_quality() -> u8 {
        75
    }

    /// Seconds of the source to animate, from `start`: up to `end`, or the default length, and
    /// never past `source_end` when that is known.
    pub fn length(&self, source_end: Option<f64>) -> f64 {
        let end = self.end.unwrap_or(self.start + Self::DEFAULT_LENGTH);
        let end = source_end.map_or(end, |source_end| end.min(source_end));
        (end - self.start).max(0.0)
    }

    /// The box the picture is fitted into: the spec's, else the default square.
    pub fn size_box(&self) -> (u32, u32) {
        if self.width == 0 && self.height == 0 {
            (Self::DEFAULT_BOX, Self::DEFAULT_BOX)
        } else {
            (self.width, self.height)
        }
    }
}

impl Default for AnimatedSpec {
    fn default() -> Self {
        Self {
            definition: None,
            format: AnimatedFormat::default(),
            start: 0.0,
            end: None,
            fps: Self::default_fps(),
            width: 0,
            height: 0,
            quality: Self::default_quality(),
            output_name: None,
        }
    }
}

/// A copy of the input with watermarks burnt in.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatermarkTaskSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    #[serde(default)]
    pub container: Container,
    pub watermarks: Vec<WatermarkSpec>,
    /// As for a transcode: the source's metadata is dropped unless this is set.
    #[serde(default, skip_serializing_if = "is_false")]
    pub keep_metadata: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_name: Option<String>,
    /// As for a transcode.
    #[serde(default, skip_serializing_if = "Parallel::is_auto")]
    pub parallel: Parallel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_seconds: Option<f64>,
}

impl WatermarkTaskSpec {
    /// The equivalent transcode: container defaults, source size, these watermarks.
    pub fn as_transcode(&self) -> TranscodeSpec {
        TranscodeSpec {
            definition: self.definition.clone(),
            container: self.container,
            watermarks: self.watermarks.clone(),
            keep_metadata: self.keep_metadata,
            output_name: self.output_name.clone(),
            parallel: self.parallel,
            chunk_seconds: self.chunk_seconds,
            ..TranscodeSpec::default()
        }
    }
}

/// An image or text overlay, placed relative to a corner of the picture.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatermarkSpec {
    /// A PNG in S3; its bucket defaults to the workflow's trigger bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default)]
    pub origin: Corner,
    /// Horizontal distance from the origin corner: pixels or percent of the picture width.
    #[serde(default)]
    pub x: Length,
    #[serde(default)]
    pub y: Length,
    /// Image width (pixels or percent of the picture width); the height keeps the aspect.
    /// Defaults to the image's own width.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<Length>,
    /// Text size: pixels or percent of the picture height. Defaults to 5%.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub font_size: Option<Length>,
    /// Text colour: a name (`white`) or `#RRGGBB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Width of the outline drawn around text, so that it reads on any picture: pixels or
    /// percent of the font size. Defaults to 8%; 0 draws none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outline: Option<Length>,
    /// Outline colour; defaults to black for light text and white for dark text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outline_color: Option<String>,
    /// Also draw a soft shadow below and right of the text.
    #[serde(default, skip_serializing_if = "is_false")]
    pub shadow: bool,
    /// 0 (invisible) to 1 (opaque, the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opacity: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSource {
    #[serde(default)]
    pub bucket: String,
    pub key: String,
}

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)+ }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

named_enum!(
    /// Output container of a transcode.
    Container { #[default] Mp4 => "mp4", Webm => "webm", Mkv => "mkv", Mov => "mov", Mp3 => "mp3", M4a => "m4a" }
);
named_enum!(VideoCodec { #[default] H264 => "h264", H265 => "h265", Vp9 => "vp9" });
named_enum!(AudioCodec { #[default] Aac => "aac", Opus => "opus", Mp3 => "mp3" });
named_enum!(ImageFormat { #[default] Jpg => "jpg", Png => "png" });
named_enum!(AnimatedFormat { #[default] Gif => "gif", Webp => "webp" });

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

/// The corner a watermark is placed from (MPS names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Corner {
    #[default]
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
}

/// A distance: pixels (`16`, `"16px"`) or percent of a reference (`"5%"`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Length {
    Px(u32),
    Percent(f64),
}

impl Default for Length {
    fn default() -> Self {
        Length::Px(0)
    }
}

impl Length {
    /// Pixels of this length against a reference size (the picture's width or height).
    pub fn resolve(self, reference: u32) -> u32 {
        match self {
            Length::Px(px) => px,
            Length::Percent(pct) => (f64::from(reference) * pct / 100.0).round() as u32,
        }
    }
}

/// A time in the input: seconds (`3.5`, `"3.5s"`) or percent of its duration (`"10%"`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TimePoint {
    Seconds(f64),
    Percent(f64),
}

impl TimePoint {
    /// Seconds from the start for an input of `duration` seconds, if that is known.
    pub fn resolve(self, duration: Option<f64>) -> Option<f64> {
        match self {
            TimePoint::Seconds(seconds) => Some(seconds),
            TimePoint::Percent(pct) => duration.map(|d| d * pct / 100.0),
        }
    }
}

fn parse_number(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| format!("{text:?} is not a non-negative number"))
}

impl FromStr for Length {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        if let Some(pct) = text.strip_suffix('%') {
            return parse_number(pct).map(Length::Percent);
        }
        let px = text.strip_suffix("px").unwrap_or(text);
        px.trim()
            .parse::<u32>()
            .map(Length::Px)
            .map_err(|_| format!("{text:?} is not a length: use pixels (16, \"16px\") or a percentage (\"5%\")"))
    }
}

impl FromStr for TimePoint {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        if let Some(pct) = text.strip_suffix('%') {
            return parse_number(pct).map(TimePoint::Percent);
        }
        parse_number(text.strip_suffix('s').unwrap_or(text))
            .map(TimePoint::Seconds)
            .map_err(|_| format!("{text:?} is not a time point: use seconds (3.5, \"3.5s\") or \"10%\""))
    }
}

impl fmt::Display for Length {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Length::Px(px) => write!(f, "{px}px"),
            Length::Percent(pct) => write!(f, "{pct}%"),
        }
    }
}

impl fmt::Display for TimePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimePoint::Seconds(seconds) => write!(f, "{seconds}s"),
            TimePoint::Percent(pct) => write!(f, "{pct}%"),
        }
    }
}

/// Numbers or strings in workflow files, kept as their string form in records.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Int(u64),
    Float(f64),
    Text(String),
}

macro_rules! serde_via_str {
    ($($name:ident),+) => {$(
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = match NumberOrText::deserialize(deserializer)? {
                    NumberOrText::Int(n) => n.to_string(),
                    NumberOrText::Float(n) => n.to_string(),
                    NumberOrText::Text(text) => text,
                };
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )+};
}
serde_via_str!(Length, TimePoint);

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

const COLOURS: [(&str, [u8; 3]); 11] = [
    ("white", [255, 255, 255]),
    ("black", [0, 0, 0]),
    ("gray", [128, 128, 128]),
    ("grey", [128, 128, 128]),
    ("red", [255, 0, 0]),
    ("green", [0, 128, 0]),
    ("blue", [0, 0, 255]),
    ("yellow", [255, 255, 0]),
    ("cyan", [0, 255, 255]),
    ("magenta", [255, 0, 255]),
    ("orange", [255, 165, 0]),
];
const COLOUR_RULE: &str =
    "must be #RRGGBB or one of white, black, gray, red, green, blue, yellow, cyan, magenta, orange";

/// A text colour as red, green, blue: `#RRGGBB` or a colour name.
pub fn rgb(color: &str) -> Option<[u8; 3]> {
    if let Some(hex) = color.strip_prefix('#') {
        let channel = |i: usize| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok());
        return match (hex.len(), channel(0), channel(2), channel(4)) {
            (6, Some(r), Some(g), Some(b)) => Some([r, g, b]),
            _ => None,
        };
    }
    COLOURS.iter().find(|(name, _)| name.eq_ignore_ascii_case(color)).map(|(_, rgb)| *rgb)
}

/// The most tasks a workflow may hold (a job and its tasks are written in one transaction).
pub const MAX_TASKS: usize = 20;
const MAX_TIME_POINTS: usize = 50;
const MAX_WATERMARKS: usize = 4;
const MAX_DIMENSION: u32 = 8192;
const MAX_TEXT: usize = 256;

impl TaskSpec {
    /// Reads one task of a workflow file, naming every field whose type does not fit (see
    /// [`deserialize_all`]). The `type` tag is read first and the task's own fields after it,
    /// so that paths reach into the task.
    pub fn from_value(mut value: Value, field: &str, errors: &mut Violations) -> Option<TaskSpec> {
        let kind = match value.as_object_mut().map(|task| task.remove("type")) {
            Some(Some(Value::String(kind))) => kind,
            Some(_) => {
                errors.check(false, format!("{field}.type"), "is required: transcode, snapshot, animated or watermark");
                return None;
            }
            None => {
                errors.check(false, field, "must be a task with a type");
                return None;
            }
        };
        match kind.as_str() {
            "transcode" => deserialize_all(value, field, errors).map(TaskSpec::Transcode),
            "snapshot" | "screenshot" => deserialize_all(value, field, errors).map(TaskSpec::Snapshot),
            "animated" | "animated_graphic" => deserialize_all(value, field, errors).map(TaskSpec::Animated),
            "watermark" => deserialize_all(value, field, errors).map(TaskSpec::Watermark),
            other => {
                errors.check(
                    false,
                    format!("{field}.type"),
                    format!("unknown task type {other:?}: use transcode, snapshot, animated or watermark"),
                );
                None
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            TaskSpec::Transcode(_) => "transcode",
            TaskSpec::Snapshot(_) => "snapshot",
            TaskSpec::Animated(_) => "animated",
            TaskSpec::Watermark(_) => "watermark",
        }
    }

    fn definition(&self) -> Option<&str> {
        match self {
            TaskSpec::Transcode(spec) => spec.definition.as_deref(),
            TaskSpec::Snapshot(spec) => spec.definition.as_deref(),
            TaskSpec::Animated(spec) => spec.definition.as_deref(),
            TaskSpec::Watermark(spec) => spec.definition.as_deref(),
        }
    }

    fn custom_output_name(&self) -> Option<&str> {
        match self {
            TaskSpec::Transcode(spec) => spec.output_name.as_deref(),
            TaskSpec::Snapshot(spec) => spec.output_name.as_deref(),
            TaskSpec::Animated(spec) => spec.output_name.as_deref(),
            TaskSpec::Watermark(spec) => spec.output_name.as_deref(),
        }
    }

    /// File extension of the outputs, which is also `{format}`.
    pub fn format(&self) -> &'static str {
        match self {
            TaskSpec::Transcode(spec) => spec.container.as_str(),
            TaskSpec::Snapshot(spec) => spec.format.as_str(),
            TaskSpec::Animated(spec) => spec.format.as_str(),
            TaskSpec::Watermark(spec) => spec.container.as_str(),
        }
    }

    /// MPS-style output name pattern unless the spec sets its own.
    pub fn output_name_pattern(&self) -> String {
        if let Some(custom) = self.custom_output_name() {
            return custom.to_owned();
        }
        match self {
            TaskSpec::Transcode(_) => "{inputName}_transcode_{definition}.{format}",
            TaskSpec::Snapshot(_) => "{inputName}_snapshotByTimeOffset_{definition}_{number}.{format}",
            TaskSpec::Animated(_) => "{inputName}_animatedGraphic_{definition}.{format}",
            TaskSpec::Watermark(_) => "{inputName}_watermark_{definition}.{format}",
        }
        .to_owned()
    }

    /// The output file name for an input named `input_name`; `number` counts the outputs of
    /// tasks that make several (snapshots), from 0. `position` is the task's index.
    pub fn output_name(&self, position: usize, input_name: &str, number: usize) -> String {
        self.output_name_pattern()
            .replace("{definition}", &self.definition_or(position))
            .replace("{format}", self.format())
            .replace("{number}", &number.to_string())
            .replace("{inputName}", input_name)
    }

    /// How many files the task writes.
    pub fn output_count(&self) -> usize {
        match self {
            TaskSpec::Snapshot(spec) => spec.times.len().max(1),
            _ => 1,
        }
    }

    /// The output name with `{definition}` and `{format}` filled in and `{inputName}` and
    /// `{number}` left as they are: what two tasks or workflows are compared by.
    pub fn name_pattern(&self, position: usize) -> String {
        self.output_name_pattern()
            .replace("{definition}", &self.definition_or(position))
            .replace("{format}", self.format())
    }

    /// Whether an output could be named like an upload of the same name: `{inputName}` alone or
    /// with one extension (`clip.mp4` for the upload `clip.mov`, or for `clip.mp4` itself).
    pub fn names_outputs_like_uploads(&self, position: usize) -> bool {
        let pattern = self.name_pattern(position).replace("{number}", "0");
        match pattern.strip_prefix("{inputName}") {
            Some("") => true,
            Some(rest) => rest.strip_prefix('.').is_some_and(|ext| !ext.contains('.') && !ext.contains('{')),
            None => false,
        }
    }

    /// `{definition}`: the spec's label, else the task's 1-based position.
    pub fn definition_or(&self, position: usize) -> String {
        self.definition().map_or_else(|| (position + 1).to_string(), str::to_owned)
    }

    pub fn watermarks(&self) -> &[WatermarkSpec] {
        match self {
            TaskSpec::Transcode(spec) => &spec.watermarks,
            TaskSpec::Snapshot(spec) => &spec.watermarks,
            TaskSpec::Watermark(spec) => &spec.watermarks,
            TaskSpec::Animated(_) => &[],
        }
    }

    /// Fills defaults that depend on the workflow (watermark image bucket).
    pub(crate) fn resolve_defaults(&mut self, trigger_bucket: &str) {
        let watermarks = match self {
            TaskSpec::Transcode(spec) => &mut spec.watermarks,
            TaskSpec::Snapshot(spec) => &mut spec.watermarks,
            TaskSpec::Watermark(spec) => &mut spec.watermarks,
            TaskSpec::Animated(_) => return,
        };
        for image in watermarks.iter_mut().filter_map(|mark| mark.image.as_mut()) {
            if image.bucket.trim().is_empty() {
                image.bucket = trigger_bucket.to_owned();
            }
        }
    }

    pub(crate) fn validate(&self, field: &str, errors: &mut Violations) {
        if let Some(definition) = self.definition() {
            let ok = !definition.is_empty()
                && definition.len() <= 64
                && definition.chars().all(|c| c.is_ascii_alphanumeric() || "_-".contains(c));
            errors.check(ok, format!("{field}.definition"), "must be 1–64 letters, digits, '_' or '-'");
        }
        if let Some(pattern) = self.custom_output_name() {
            validate_output_name(
                pattern,
                matches!(self, TaskSpec::Snapshot(s) if s.times.len() > 1),
                &format!("{field}.output_name"),
                errors,
            );
        }
        match self {
            TaskSpec::Transcode(spec) => spec.validate(field, errors),
            TaskSpec::Snapshot(spec) => spec.validate(field, errors),
            TaskSpec::Animated(spec) => spec.validate(field, errors),
            TaskSpec::Watermark(spec) => {
                errors.check(
                    !spec.watermarks.is_empty(),
                    format!("{field}.watermarks"),
                    "needs at least one watermark",
                );
                spec.as_transcode().validate(field, errors);
            }
        }
    }
}

fn validate_output_name(pattern: &str, needs_number: bool, field: &str, errors: &mut Violations) {
    const PLACEHOLDERS: [&str; 4] = ["{inputName}", "{definition}", "{number}", "{format}"];
    let mut rest = pattern.to_owned();
    for placeholder in PLACEHOLDERS {
        rest = rest.replace(placeholder, "");
    }
    errors.check(!pattern.trim().is_empty() && pattern.len() <= 255, field, "must be 1–255 characters");
    errors.check(!pattern.contains('/'), field, "must not contain '/': outputs go to the output dir");
    errors.check(
        !rest.contains('{') && !rest.contains('}'),
        field,
        "knows only {inputName}, {definition}, {number} and {format}",
    );
    errors.check(!needs_number || pattern.contains("{number}"), field, "needs {number}: the task writes several files");
    errors.check(
        pattern.contains("{inputName}"),
        field,
        "needs {inputName}: without it every upload would write the same file",
    );
}

fn validate_size(width: u32, height: u32, field: &str, errors: &mut Violations) {
    errors.check(width <= MAX_DIMENSION, format!("{field}.width"), format!("must be at most {MAX_DIMENSION}"));
    errors.check(height <= MAX_DIMENSION, format!("{field}.height"), format!("must be at most {MAX_DIMENSION}"));
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

    fn validate(&self, field: &str, errors: &mut Violations) {
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
            if let Some(crf) = video.crf {
                let max = if self.video_codec() == Some(VideoCodec::Vp9) { 63 } else { 51 };
                errors.check(crf <= max, format!("{field}.video.crf"), format!("must be 0–{max} for {codec}"));
            }
            errors.check(
                !(video.crf.is_some() && video.bitrate_kbps.is_some()),
                format!("{field}.video"),
                "set crf or bitrate_kbps, not both",
            );
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
        validate_watermarks(&self.watermarks, field, errors);
        if let Some(seconds) = self.chunk_seconds {
            errors.check(
                self.parallel.is_auto(),
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
}

impl SnapshotSpec {
    fn validate(&self, field: &str, errors: &mut Violations) {
        errors.check(
            (1..=MAX_TIME_POINTS).contains(&self.times.len()),
            format!("{field}.times"),
            format!("needs 1–{MAX_TIME_POINTS} time points"),
        );
        for (i, time) in self.times.iter().enumerate() {
            if let TimePoint::Percent(pct) = time {
                errors.check(*pct <= 100.0, format!("{field}.times[{i}]"), "a percentage must be at most 100%");
            }
        }
        validate_size(self.width, self.height, field, errors);
        validate_watermarks(&self.watermarks, field, errors);
    }
}

impl AnimatedSpec {
    fn validate(&self, field: &str, errors: &mut Violations) {
        errors.check(
            self.start.is_finite() && self.start >= 0.0,
            format!("{field}.start"),
            "must be 0 or more seconds",
        );
        if let Some(end) = self.end {
            errors.check(end.is_finite() && end > self.start, format!("{field}.end"), "must be after start");
            errors.check(
                end - self.start <= Self::MAX_LENGTH,
                format!("{field}.end"),
                format!("must be at most {} s after start", Self::MAX_LENGTH),
            );
        }
        errors.check(self.fps > 0.0 && self.fps <= 30.0, format!("{field}.fps"), "must be above 0 and at most 30");
        errors.check((1..=100).contains(&self.quality), format!("{field}.quality"), "must be 1–100");
        validate_size(self.width, self.height, field, errors);
    }
}

fn validate_watermarks(marks: &[WatermarkSpec], field: &str, errors: &mut Violations) {
    errors.check(marks.len() <= MAX_WATERMARKS, format!("{field}.watermarks"), format!("at most {MAX_WATERMARKS}"));
    for (i, mark) in marks.iter().enumerate() {
        let field = format!("{field}.watermarks[{i}]");
        errors.check(mark.image.is_some() != mark.text.is_some(), &field, "needs exactly one of image or text");
        if let Some(image) = &mark.image {
            errors.check(!image.key.is_empty(), format!("{field}.image.key"), "is required");
            errors.check(mark.font_size.is_none() && mark.color.is_none(), &field, "font_size and color are for text");
        }
        if let Some(text) = &mark.text {
            errors.check(
                !text.trim().is_empty() && text.chars().count() <= MAX_TEXT,
                format!("{field}.text"),
                format!("must be 1–{MAX_TEXT} characters"),
            );
            errors.check(mark.width.is_none(), format!("{field}.width"), "is for images; size text with font_size");
        } else {
            errors.check(
                mark.outline.is_none() && mark.outline_color.is_none() && !mark.shadow,
                &field,
                "outline, outline_color and shadow are for text",
            );
        }
        for (name, color) in [("color", &mark.color), ("outline_color", &mark.outline_color)] {
            if let Some(color) = color {
                errors.check(rgb(color).is_some(), format!("{field}.{name}"), COLOUR_RULE);
            }
        }
        if let Some(opacity) = mark.opacity {
            errors.check((0.0..=1.0).contains(&opacity), format!("{field}.opacity"), "must be 0–1");
        }
        for (name, length) in [
            ("x", Some(mark.x)),
            ("y", Some(mark.y)),
            ("width", mark.width),
            ("font_size", mark.font_size),
            ("outline", mark.outline),
        ] {
            if let Some(Length::Percent(pct)) = length {
                errors.check(pct <= 100.0, format!("{field}.{name}"), "must be at most 100%");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violations(spec: &TaskSpec) -> Vec<String> {
        let mut errors = Violations::default();
        spec.validate("tasks[0]", &mut errors);
        errors.into_messages()
    }

    #[test]
    fn when_yaml_has_type_tag_should_parse_each_kind() {
        let yaml = r#"
- type: transcode
  container: webm
  video: { codec: vp9, width: 640 }
- type: screenshot
  times: [1, "3.5s", "10%"]
  format: png
- type: animated
  format: webp
  start: 1
  end: 3
- type: watermark
  watermarks:
    - text: hello
      origin: BottomRight
      x: 16px
      y: "5%"
"#;
        let tasks: Vec<TaskSpec> = serde_yaml_ng::from_str(yaml).unwrap();
        assert_eq!(tasks.len(), 4);
        let TaskSpec::Snapshot(snapshot) = &tasks[1] else { panic!("not a snapshot") };
        assert_eq!(snapshot.times, vec![TimePoint::Seconds(1.0), TimePoint::Seconds(3.5), TimePoint::Percent(10.0)]);
        let TaskSpec::Watermark(mark) = &tasks[3] else { panic!("not a watermark") };
        assert_eq!(mark.watermarks[0].origin, Corner::BottomRight);
        assert_eq!(mark.watermarks[0].x, Length::Px(16));
        assert_eq!(mark.watermarks[0].y, Length::Percent(5.0));
    }

    #[test]
    fn when_field_is_unknown_should_reject() {
        let result: Result<TaskSpec, _> = serde_json::from_str(r#"{"type":"transcode","containr":"mp4"}"#);
        assert!(result.unwrap_err().to_string().contains("containr"));
    }

    #[test]
    fn when_codec_does_not_fit_container_should_name_field() {
        let spec = TaskSpec::Transcode(TranscodeSpec {
            container: Container::Webm,
            video: Some(VideoSpec { codec: Some(VideoCodec::H264), ..VideoSpec::default() }),
            ..TranscodeSpec::default()
        });
        assert_eq!(violations(&spec), vec!["tasks[0].video.codec: h264 cannot be stored in webm"]);
    }

    #[test]
    fn when_audio_container_gets_watermark_should_reject() {
        let spec = TaskSpec::Transcode(TranscodeSpec {
            container: Container::M4a,
            watermarks: vec![WatermarkSpec { text: Some("x".into()), ..WatermarkSpec::default() }],
            ..TranscodeSpec::default()
        });
        assert_eq!(violations(&spec), vec!["tasks[0].watermarks: m4a holds no video to mark"]);
    }

    #[test]
    fn when_both_streams_removed_should_reject() {
        let spec =
            TaskSpec::Transcode(TranscodeSpec { remove_audio: true, remove_video: true, ..TranscodeSpec::default() });
        assert_eq!(violations(&spec), vec!["tasks[0].remove_audio: removing both audio and video leaves nothing"]);
    }

    #[test]
    fn when_watermark_has_image_and_text_should_reject() {
        let spec = TaskSpec::Watermark(WatermarkTaskSpec {
            watermarks: vec![WatermarkSpec {
                image: Some(ImageSource { bucket: String::new(), key: "logo.png".into() }),
                text: Some("x".into()),
                ..WatermarkSpec::default()
            }],
            ..WatermarkTaskSpec::default()
        });
        assert!(violations(&spec).contains(&"tasks[0].watermarks[0]: needs exactly one of image or text".to_owned()));
    }

    #[test]
    fn when_color_could_inject_filter_options_should_reject() {
        let spec = TaskSpec::Watermark(WatermarkTaskSpec {
            watermarks: vec![WatermarkSpec {
                text: Some("x".into()),
                color: Some("white:fontfile=/etc/passwd".into()),
                ..WatermarkSpec::default()
            }],
            ..WatermarkTaskSpec::default()
        });
        assert_eq!(violations(&spec), vec![format!("tasks[0].watermarks[0].color: {COLOUR_RULE}")]);
    }

    #[test]
    fn colours_are_names_or_hex() {
        assert_eq!(rgb("#FFcc00"), Some([255, 204, 0]));
        assert_eq!(rgb("White"), Some([255, 255, 255]));
        assert_eq!(rgb("#FFF"), None);
        assert_eq!(rgb("#GG0000"), None);
        assert_eq!(rgb("chartreuse"), None);
    }

    #[test]
    fn when_snapshot_has_no_times_should_reject() {
        let spec = TaskSpec::Snapshot(SnapshotSpec::default());
        assert_eq!(violations(&spec), vec!["tasks[0].times: needs 1–50 time points"]);
    }

    #[test]
    fn when_animated_end_before_start_should_reject() {
        let spec = TaskSpec::Animated(AnimatedSpec { start: 3.0, end: Some(2.0), ..AnimatedSpec::default() });
        assert_eq!(violations(&spec), vec!["tasks[0].end: must be after start"]);
    }

    #[test]
    fn when_output_name_has_unknown_placeholder_or_slash_should_reject() {
        let spec = TaskSpec::Transcode(TranscodeSpec {
            output_name: Some("../{name}.mp4".into()),
            ..TranscodeSpec::default()
        });
        assert_eq!(
            violations(&spec),
            vec![
                "tasks[0].output_name: must not contain '/': outputs go to the output dir",
                "tasks[0].output_name: knows only {inputName}, {definition}, {number} and {format}",
                "tasks[0].output_name: needs {inputName}: without it every upload would write the same file",
            ]
        );
    }

    #[test]
    fn output_names_should_follow_mps_patterns() {
        let transcode = TaskSpec::Transcode(TranscodeSpec::default());
        assert_eq!(transcode.output_name(0, "clip", 0), "clip_transcode_1.mp4");
        let snapshot = TaskSpec::Snapshot(SnapshotSpec { definition: Some("thumb".into()), ..SnapshotSpec::default() });
        assert_eq!(snapshot.output_name(1, "clip", 2), "clip_snapshotByTimeOffset_thumb_2.jpg");
        let animated = TaskSpec::Animated(AnimatedSpec { format: AnimatedFormat::Webp, ..AnimatedSpec::default() });
        assert_eq!(animated.output_name(2, "clip", 0), "clip_animatedGraphic_3.webp");
    }

    #[test]
    fn when_input_name_contains_placeholder_text_should_not_expand_it() {
        let transcode = TaskSpec::Transcode(TranscodeSpec::default());
        assert_eq!(transcode.output_name(0, "{format}", 0), "{format}_transcode_1.mp4");
    }

    #[test]
    fn lengths_and_time_points_should_resolve_against_reference() {
        assert_eq!(Length::Percent(10.0).resolve(1920), 192);
        assert_eq!(Length::Px(16).resolve(1920), 16);
        assert_eq!(TimePoint::Percent(50.0).resolve(Some(10.0)), Some(5.0));
        assert_eq!(TimePoint::Percent(50.0).resolve(None), None);
        assert_eq!("3.5s".parse::<TimePoint>(), Ok(TimePoint::Seconds(3.5)));
        assert!("-1".parse::<TimePoint>().is_err());
        assert!("abc".parse::<Length>().is_err());
    }

    #[test]
    fn codecs_should_follow_container_defaults_unless_removed() {
        let webm = TranscodeSpec { container: Container::Webm, ..TranscodeSpec::default() };
        assert_eq!(webm.video_codec(), Some(VideoCodec::Vp9));
        assert_eq!(webm.audio_codec(), Some(AudioCodec::Opus));
        let silent = TranscodeSpec { remove_audio: true, ..TranscodeSpec::default() };
        assert_eq!(silent.audio_codec(), None);
        let mp3 = TranscodeSpec { container: Container::Mp3, ..TranscodeSpec::default() };
        assert_eq!(mp3.video_codec(), None);
        assert_eq!(mp3.audio_codec(), Some(AudioCodec::Mp3));
    }
}
