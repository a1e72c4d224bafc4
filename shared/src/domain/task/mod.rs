//! Task specs: the processing items of a workflow (transcode, snapshot, animated image,
//! watermark, adaptive streaming) with their parameters, validation and output names. One module per task kind;
//! what they share (output names, the `type` tag, sizes, serde helpers) is here.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::chunk::Encode;
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
    #[serde(alias = "adaptive_dynamic_streaming")]
    Adaptive(AdaptiveSpec),
    #[serde(alias = "sample_snapshot")]
    Sample(SampleSpec),
    #[serde(alias = "image_sprite")]
    Sprite(SpriteSpec),
    Cover(CoverSpec),
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

pub(crate) fn parse_number(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| format!("{text:?} is not a non-negative number"))
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

pub(crate) fn is_false(value: &bool) -> bool {
    !*value
}

pub(crate) fn is_zero(value: &u32) -> bool {
    *value == 0
}

mod adaptive;
mod animated;
mod naming;
pub mod preset;
mod snapshot;
mod stills;
mod transcode;
mod watermark;

pub use adaptive::{AdaptiveSpec, MAX_RENDITIONS, Rendition, Rung, SegmentType, StreamFormat};
pub use animated::{AnimatedFormat, AnimatedSpec};
pub use naming::{OutputNames, OutputSlot};
pub use snapshot::{ImageFormat, SnapshotSpec, TimePoint};
pub use stills::{CoverSpec, Grid, MAX_PICTURES, Pictures, SampleSpec, SpriteSpec, tile_count, webvtt};
pub use transcode::{AudioCodec, AudioSpec, Container, Span, TranscodeSpec, Trim, VideoCodec, VideoSpec};

const KINDS: &str = "transcode, snapshot, sample, sprite, cover, animated, watermark or adaptive";
pub use watermark::{Corner, ImageSource, Length, WatermarkSpec, WatermarkTaskSpec, rgb};

/// The most tasks a workflow may hold (a job and its tasks are written in one transaction).
pub const MAX_TASKS: usize = 20;
const MAX_DIMENSION: u32 = 8192;

impl TaskSpec {
    /// Reads one task of a workflow file, naming every field whose type does not fit (see
    /// [`deserialize_all`]). The `type` tag is read first and the task's own fields after it,
    /// so that paths reach into the task.
    pub fn from_value(mut value: Value, field: &str, errors: &mut Violations) -> Option<TaskSpec> {
        let kind = match value.as_object_mut().map(|task| task.remove("type")) {
            Some(Some(Value::String(kind))) => kind,
            Some(_) => {
                errors.check(false, format!("{field}.type"), format!("is required: {KINDS}"));
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
            "adaptive" | "adaptive_dynamic_streaming" => deserialize_all(value, field, errors).map(TaskSpec::Adaptive),
            "sample" | "sample_snapshot" => deserialize_all(value, field, errors).map(TaskSpec::Sample),
            "sprite" | "image_sprite" => deserialize_all(value, field, errors).map(TaskSpec::Sprite),
            "cover" => deserialize_all(value, field, errors).map(TaskSpec::Cover),
            other => {
                errors.check(false, format!("{field}.type"), format!("unknown task type {other:?}: use {KINDS}"));
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
            TaskSpec::Adaptive(_) => "adaptive",
            TaskSpec::Sample(_) => "sample",
            TaskSpec::Sprite(_) => "sprite",
            TaskSpec::Cover(_) => "cover",
        }
    }

    fn definition(&self) -> Option<&str> {
        match self {
            TaskSpec::Transcode(spec) => spec.definition.as_deref(),
            TaskSpec::Snapshot(spec) => spec.definition.as_deref(),
            TaskSpec::Animated(spec) => spec.definition.as_deref(),
            TaskSpec::Watermark(spec) => spec.definition.as_deref(),
            TaskSpec::Adaptive(spec) => spec.definition.as_deref(),
            TaskSpec::Sample(spec) => spec.definition.as_deref(),
            TaskSpec::Sprite(spec) => spec.definition.as_deref(),
            TaskSpec::Cover(spec) => spec.definition.as_deref(),
        }
    }

    fn custom_output_name(&self) -> Option<&str> {
        match self {
            TaskSpec::Transcode(spec) => spec.output_name.as_deref(),
            TaskSpec::Snapshot(spec) => spec.output_name.as_deref(),
            TaskSpec::Animated(spec) => spec.output_name.as_deref(),
            TaskSpec::Watermark(spec) => spec.output_name.as_deref(),
            TaskSpec::Adaptive(spec) => spec.output_name.as_deref(),
            TaskSpec::Sample(spec) => spec.output_name.as_deref(),
            TaskSpec::Sprite(spec) => spec.output_name.as_deref(),
            TaskSpec::Cover(spec) => spec.output_name.as_deref(),
        }
    }

    /// File extension of the outputs, which is also `{format}`.
    pub fn format(&self) -> &'static str {
        match self {
            TaskSpec::Transcode(spec) => spec.container.as_str(),
            TaskSpec::Snapshot(spec) => spec.format.as_str(),
            TaskSpec::Animated(spec) => spec.format.as_str(),
            TaskSpec::Watermark(spec) => spec.container.as_str(),
            TaskSpec::Adaptive(spec) => spec.playlist_format(),
            TaskSpec::Sample(spec) => spec.format.as_str(),
            TaskSpec::Sprite(spec) => spec.format.as_str(),
            TaskSpec::Cover(spec) => spec.format.as_str(),
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
            TaskSpec::Adaptive(_) => "{inputName}_adaptiveDynamicStreaming_{definition}.{format}",
            TaskSpec::Sample(_) => "{inputName}_sampleSnapshot_{definition}_{number}.{format}",
            TaskSpec::Sprite(_) => "{inputName}_imageSprite_{definition}_{number}.{format}",
            TaskSpec::Cover(_) => "{inputName}_cover_{definition}.{format}",
        }
        .to_owned()
    }

    /// The name pattern of an output in `slot`, and its `{format}`.
    pub(super) fn slot_pattern(&self, slot: OutputSlot) -> (String, &'static str) {
        let segments = match self {
            TaskSpec::Adaptive(spec) => spec.segment_format(),
            _ => self.format(),
        };
        match slot {
            OutputSlot::Main(_) => (self.output_name_pattern(), self.format()),
            OutputSlot::SubStream(_) => (AdaptiveSpec::SUB_STREAM_NAME.to_owned(), "m3u8"),
            OutputSlot::Init(_) => (AdaptiveSpec::SEGMENT_NAME.to_owned(), "mp4"),
            OutputSlot::Segment { .. } => (AdaptiveSpec::SEGMENT_NAME.to_owned(), segments),
            OutputSlot::Map => (SpriteSpec::MAP_NAME.to_owned(), "vtt"),
        }
    }

    /// The output whose name is the longest the task may write.
    pub fn longest_slot(&self) -> OutputSlot {
        match self {
            TaskSpec::Adaptive(_) => OutputSlot::Segment { stream: MAX_RENDITIONS, number: 99_999 },
            TaskSpec::Sample(_) | TaskSpec::Sprite(_) => OutputSlot::Main(MAX_PICTURES - 1),
            _ => OutputSlot::Main(self.output_count().saturating_sub(1)),
        }
    }

    /// How many files the task writes at least (as many as it knows before it runs).
    pub fn output_count(&self) -> usize {
        match self {
            TaskSpec::Snapshot(spec) => spec.times.len().max(1),
            _ => 1,
        }
    }

    /// The output name with `{definition}` and `{format}` filled in and `{inputName}` and
    /// `{number}` left as they are.
    pub fn name_pattern(&self, position: usize) -> String {
        self.slot_name_pattern(position, OutputSlot::Main(0))
    }

    /// The name pattern of `slot` with `{definition}` and `{format}` filled in.
    fn slot_name_pattern(&self, position: usize, slot: OutputSlot) -> String {
        let (pattern, format) = self.slot_pattern(slot);
        let definition = self.definition_or(position);
        naming::fill(
            &pattern,
            |placeholder| match placeholder {
                "{definition}" => Some(definition.clone()),
                "{format}" => Some(format.to_owned()),
                _ => None,
            },
            str::to_owned,
        )
    }

    /// Every name pattern the task writes (an adaptive task's rendition playlists and segments
    /// too): what two tasks or workflows are compared by.
    pub fn name_patterns(&self, position: usize) -> Vec<String> {
        let mut patterns = vec![self.name_pattern(position)];
        let more: &[OutputSlot] = match self {
            TaskSpec::Adaptive(_) => {
                &[OutputSlot::SubStream(0), OutputSlot::Init(0), OutputSlot::Segment { stream: 0, number: 0 }]
            }
            TaskSpec::Sprite(_) => &[OutputSlot::Map],
            _ => &[],
        };
        for slot in more {
            patterns.push(self.slot_name_pattern(position, *slot));
        }
        patterns
    }

    /// Whether an output could be named like an upload of the same name: `{inputName}` alone or
    /// with one extension (`clip.mp4` for the upload `clip.mov`, or for `clip.mp4` itself;
    /// `{inputName}.{inputFormat}` is the upload's own name).
    pub fn names_outputs_like_uploads(&self, position: usize) -> bool {
        let pattern = self.name_pattern(position).replace("{number}", "0");
        match pattern.strip_prefix("{inputName}") {
            Some("") => true,
            // `{inputFormat}` is the upload's own extension.
            Some(rest) => rest
                .strip_prefix('.')
                .is_some_and(|ext| ext == "{inputFormat}" || (!ext.contains('.') && !ext.contains('{'))),
            None => false,
        }
    }

    /// `{definition}`: the spec's label, else the task's 1-based position.
    pub fn definition_or(&self, position: usize) -> String {
        self.definition().map_or_else(|| (position + 1).to_string(), str::to_owned)
    }

    /// The transcode a task amounts to, for the kinds that are one.
    pub fn as_transcode(&self) -> Option<TranscodeSpec> {
        match self {
            TaskSpec::Transcode(spec) => Some(spec.clone()),
            TaskSpec::Watermark(spec) => Some(spec.as_transcode()),
            _ => None,
        }
    }

    /// The grid of pictures a sample or sprite task takes.
    pub fn pictures(&self) -> Option<Pictures> {
        match self {
            TaskSpec::Sample(spec) => Some(spec.pictures()),
            TaskSpec::Sprite(spec) => Some(spec.pictures()),
            _ => None,
        }
    }

    /// What splitting the task in chunks needs to know, for the kinds that can be split.
    pub fn encode(&self) -> Option<Encode> {
        match self {
            TaskSpec::Adaptive(spec) => spec.encode(),
            other => other.as_transcode()?.encode(),
        }
    }

    pub fn watermarks(&self) -> &[WatermarkSpec] {
        match self {
            TaskSpec::Transcode(spec) => &spec.watermarks,
            TaskSpec::Snapshot(spec) => &spec.watermarks,
            TaskSpec::Watermark(spec) => &spec.watermarks,
            TaskSpec::Sample(spec) => &spec.watermarks,
            TaskSpec::Adaptive(spec) => &spec.watermarks,
            _ => &[],
        }
    }

    /// Fills defaults that depend on the workflow (watermark image bucket) and what a
    /// transcode's or adaptive task's preset template (its `definition`) says.
    pub(crate) fn resolve_defaults(&mut self, trigger_bucket: &str) {
        match self {
            TaskSpec::Transcode(spec) => {
                if let Some(preset) = spec.definition.as_deref().and_then(preset::find) {
                    preset.apply(spec);
                }
            }
            TaskSpec::Adaptive(spec) => {
                if let Some(preset) = spec.definition.as_deref().and_then(preset::find_hls) {
                    preset.apply_adaptive(spec);
                }
            }
            _ => {}
        }
        let watermarks = match self {
            TaskSpec::Transcode(spec) => &mut spec.watermarks,
            TaskSpec::Snapshot(spec) => &mut spec.watermarks,
            TaskSpec::Watermark(spec) => &mut spec.watermarks,
            TaskSpec::Sample(spec) => &mut spec.watermarks,
            TaskSpec::Adaptive(spec) => &mut spec.watermarks,
            _ => return,
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
            if let (TaskSpec::Transcode(_), Some(refusal)) = (self, preset::refusal(definition)) {
                errors.check(false, format!("{field}.definition"), refusal);
            }
        }
        if let Some(pattern) = self.custom_output_name() {
            naming::validate_output_name(
                pattern,
                matches!(self, TaskSpec::Snapshot(s) if s.times.len() > 1)
                    || matches!(self, TaskSpec::Sample(_) | TaskSpec::Sprite(_)),
                &format!("{field}.output_name"),
                errors,
            );
        }
        match self {
            TaskSpec::Transcode(spec) => spec.validate(field, errors),
            TaskSpec::Snapshot(spec) => spec.validate(field, errors),
            TaskSpec::Animated(spec) => spec.validate(field, errors),
            TaskSpec::Adaptive(spec) => spec.validate(field, errors),
            TaskSpec::Sample(spec) => spec.validate(field, errors),
            TaskSpec::Sprite(spec) => spec.validate(field, errors),
            TaskSpec::Cover(spec) => spec.validate(field, errors),
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

pub(crate) fn validate_size(width: u32, height: u32, field: &str, errors: &mut Violations) {
    errors.check(width <= MAX_DIMENSION, format!("{field}.width"), format!("must be at most {MAX_DIMENSION}"));
    errors.check(height <= MAX_DIMENSION, format!("{field}.height"), format!("must be at most {MAX_DIMENSION}"));
}

#[cfg(test)]
mod tests {
    use super::watermark::COLOUR_RULE;
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
    fn a_task_holds_up_to_ten_marks_each_with_a_window_that_ends_after_it_starts() {
        let mark =
            WatermarkSpec { text: Some("x".into()), start: Some(2.0), end: Some(5.0), ..WatermarkSpec::default() };
        let task = |marks: usize, end: f64| {
            TaskSpec::Watermark(WatermarkTaskSpec {
                watermarks: vec![WatermarkSpec { end: Some(end), ..mark.clone() }; marks],
                ..WatermarkTaskSpec::default()
            })
        };
        assert!(violations(&task(10, 5.0)).is_empty());
        assert_eq!(violations(&task(11, 5.0)), vec!["tasks[0].watermarks: at most 10"]);
        assert_eq!(violations(&task(1, 2.0)), vec!["tasks[0].watermarks[0].end: must be after start"]);
        assert!(mark.shows_at(2.0) && mark.shows_at(5.0) && !mark.shows_at(5.1) && !mark.shows_at(1.9));
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
                "tasks[0].output_name: knows only {inputName}, {inputFormat}, {definition}, {number} and {format}",
                "tasks[0].output_name: needs {inputName}: without it every upload would write the same file",
            ]
        );
    }

    #[test]
    fn loudness_targets_are_lufs_between_minus_70_and_minus_5() {
        for (target, ok) in [(-16.0, true), (-70.0, true), (-5.0, true), (-4.0, false), (0.0, false), (-80.0, false)] {
            let spec = TaskSpec::Transcode(TranscodeSpec {
                audio: Some(AudioSpec { loudness: Some(target), ..AudioSpec::default() }),
                ..TranscodeSpec::default()
            });
            assert_eq!(violations(&spec).is_empty(), ok, "{target}: {:?}", violations(&spec));
        }
    }

    #[test]
    fn a_transcode_named_by_an_hls_template_is_refused() {
        let spec = TaskSpec::Transcode(TranscodeSpec { definition: Some("100230".into()), ..TranscodeSpec::default() });
        assert_eq!(
            violations(&spec),
            vec!["tasks[0].definition: 100230 is an MPS HLS template: use it in an adaptive task"]
        );
        let label = TaskSpec::Snapshot(SnapshotSpec {
            definition: Some("100230".into()),
            times: vec![TimePoint::Seconds(1.0)],
            ..SnapshotSpec::default()
        });
        assert!(violations(&label).is_empty(), "only transcodes follow templates");
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
