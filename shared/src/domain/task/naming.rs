//! Output names: which of a task's outputs a file is ([`OutputSlot`]), its name for one upload
//! ([`OutputNames`]), and the rules of a custom name pattern.
//!
//! Placeholders are filled in one pass: text that comes from the upload's key (`{inputName}`,
//! `{inputFormat}`) is never read as a placeholder itself.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::adaptive::AdaptiveSpec;
use super::ladder::MAX_RENDITIONS;
use super::spec::TaskSpec;
use super::stills::{MAX_PICTURES, SpriteSpec};
use crate::domain::validation::Violations;

/// What a relative URI keeps as it is: RFC 3986's unreserved characters.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `name` as a relative reference from a playlist in the same directory.
pub fn uri_reference(name: &str) -> String {
    utf8_percent_encode(name, UNRESERVED).to_string()
}

/// Which of a task's outputs a file is, for its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputSlot {
    /// Output `n` (`{number}`): a snapshot's `n`th picture; the only output of most tasks; an
    /// adaptive task's master playlist.
    Main(usize),
    /// An adaptive task's playlist of one rendition (`{subStreamNumber}`).
    SubStream(usize),
    /// The initialization segment of a rendition's fMP4 segments.
    Init(usize),
    /// A media segment of a rendition (`{segmentNumber}`).
    Segment { stream: usize, number: u32 },
    /// A sprite's WebVTT map of its thumbnails.
    Map,
}

/// How many numbered outputs a task's record (and its events) lists: enough for every snapshot,
/// few enough that a task of a thousand pictures with long names stays within DynamoDB's item
/// and SNS's and SQS's message sizes.
pub const MAX_LISTED: usize = 100;

impl OutputSlot {
    /// Whether the job record lists this output: segments are many and their playlists name
    /// them; pictures past the first [`MAX_LISTED`] follow their numbering.
    pub fn is_listed(self) -> bool {
        match self {
            OutputSlot::Main(number) => number < MAX_LISTED,
            OutputSlot::SubStream(_) | OutputSlot::Map => true,
            OutputSlot::Init(_) | OutputSlot::Segment { .. } => false,
        }
    }
}

/// How one task's outputs are named for one upload.
#[derive(Clone, Copy, Debug)]
pub struct OutputNames<'a> {
    pub spec: &'a TaskSpec,
    /// The task's index.
    pub position: usize,
    /// The upload's file name without its extension (`{inputName}`), and the extension
    /// (`{inputFormat}`, empty without one).
    pub input_name: &'a str,
    pub input_format: &'a str,
}

impl OutputNames<'_> {
    /// The file name of the output in `slot`.
    pub fn name(&self, slot: OutputSlot) -> String {
        let (number, stream, segment) = match slot {
            OutputSlot::Main(number) => (number, 0, String::new()),
            OutputSlot::Map => (0, 0, String::new()),
            OutputSlot::SubStream(stream) => (0, stream, String::new()),
            OutputSlot::Init(stream) => (0, stream, "init".to_owned()),
            OutputSlot::Segment { stream, number } => (0, stream, number.to_string()),
        };
        let (pattern, format) = self.spec.slot_pattern(slot);
        fill(
            &pattern,
            |placeholder| match placeholder {
                "{number}" => Some(number.to_string()),
                "{subStreamNumber}" => Some(stream.to_string()),
                "{segmentNumber}" => Some(segment.clone()),
                other => self.common(other, format, str::to_owned),
            },
            str::to_owned,
        )
    }

    /// The names of init (`init`) or media segments as a DASH segment template: the rendition
    /// and segment numbers as `$RepresentationID$` and `$Number$`, the rest URI-encoded.
    pub fn dash_template(&self, init: bool) -> String {
        let slot = if init { OutputSlot::Init(0) } else { OutputSlot::Segment { stream: 0, number: 0 } };
        let (pattern, format) = self.spec.slot_pattern(slot);
        fill(
            &pattern,
            |placeholder| match placeholder {
                "{subStreamNumber}" => Some("$RepresentationID$".to_owned()),
                "{segmentNumber}" if init => Some("init".to_owned()),
                "{segmentNumber}" => Some("$Number$".to_owned()),
                other => self.common(other, format, uri_reference),
            },
            uri_reference,
        )
    }

    /// The placeholders every output's name may hold.
    fn common(&self, placeholder: &str, format: &str, text: impl Fn(&str) -> String) -> Option<String> {
        match placeholder {
            "{definition}" => Some(text(&self.spec.definition_or(self.position))),
            "{format}" => Some(text(format)),
            "{inputName}" => Some(text(self.input_name)),
            "{inputFormat}" => Some(text(self.input_format)),
            _ => None,
        }
    }
}

impl TaskSpec {
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
    fn slot_pattern(&self, slot: OutputSlot) -> (String, &'static str) {
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
        fill(
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
}

impl TaskSpec {
    /// Checks a custom `output_name`.
    pub(super) fn check_output_name(&self, field: &str, errors: &mut Violations) {
        if let Some(pattern) = self.custom_output_name() {
            validate_output_name(
                pattern,
                matches!(self, TaskSpec::Snapshot(s) if s.times.len() > 1)
                    || matches!(self, TaskSpec::Sample(_) | TaskSpec::Sprite(_)),
                &format!("{field}.output_name"),
                errors,
            );
        }
    }
}

/// `pattern` with each placeholder `value` knows replaced in one pass, and the text between
/// them (placeholders it does not know included) passed through `literal`.
fn fill(pattern: &str, value: impl Fn(&str) -> Option<String>, literal: impl Fn(&str) -> String) -> String {
    let mut filled = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        let tail = &rest[open..];
        let known = tail.find('}').map(|close| &tail[..=close]).and_then(|p| Some((p.len(), value(p)?)));
        match known {
            Some((length, text)) => {
                filled.push_str(&literal(&rest[..open]));
                filled.push_str(&text);
                rest = &tail[length..];
            }
            None => {
                filled.push_str(&literal(&rest[..=open]));
                rest = &tail[1..];
            }
        }
    }
    filled.push_str(&literal(rest));
    filled
}

/// The placeholders a custom `output_name` may hold.
const PLACEHOLDERS: [&str; 5] = ["{inputName}", "{inputFormat}", "{definition}", "{number}", "{format}"];

fn validate_output_name(pattern: &str, needs_number: bool, field: &str, errors: &mut Violations) {
    let mut rest = pattern.to_owned();
    for placeholder in PLACEHOLDERS {
        rest = rest.replace(placeholder, "");
    }
    errors.check(!pattern.trim().is_empty() && pattern.len() <= 255, field, "must be 1–255 characters");
    errors.check(!pattern.contains('/'), field, "must not contain '/': outputs go to the output dir");
    errors.check(
        !rest.contains('{') && !rest.contains('}'),
        field,
        "knows only {inputName}, {inputFormat}, {definition}, {number} and {format}",
    );
    errors.check(!needs_number || pattern.contains("{number}"), field, "needs {number}: the task writes several files");
    errors.check(
        pattern.contains("{inputName}"),
        field,
        "needs {inputName}: without it every upload would write the same file",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::task::{AdaptiveSpec, AnimatedFormat, AnimatedSpec, SnapshotSpec, StreamFormat, TranscodeSpec};

    fn names<'a>(spec: &'a TaskSpec, position: usize, input_name: &'a str) -> OutputNames<'a> {
        OutputNames { spec, position, input_name, input_format: "mov" }
    }

    #[test]
    fn output_names_should_follow_mps_patterns() {
        let transcode = TaskSpec::Transcode(TranscodeSpec::default());
        assert_eq!(names(&transcode, 0, "clip").name(OutputSlot::Main(0)), "clip_transcode_1.mp4");
        let snapshot = TaskSpec::Snapshot(SnapshotSpec { definition: Some("thumb".into()), ..SnapshotSpec::default() });
        assert_eq!(names(&snapshot, 1, "clip").name(OutputSlot::Main(2)), "clip_snapshotByTimeOffset_thumb_2.jpg");
        let animated = TaskSpec::Animated(AnimatedSpec { format: AnimatedFormat::Webp, ..AnimatedSpec::default() });
        assert_eq!(names(&animated, 2, "clip").name(OutputSlot::Main(0)), "clip_animatedGraphic_3.webp");
        let kept = TaskSpec::Transcode(TranscodeSpec {
            output_name: Some("{inputName}-from-{inputFormat}.{format}".into()),
            ..TranscodeSpec::default()
        });
        assert_eq!(names(&kept, 0, "clip").name(OutputSlot::Main(0)), "clip-from-mov.mp4");
    }

    #[test]
    fn adaptive_outputs_are_named_like_mps_names_them() {
        let hls = TaskSpec::Adaptive(AdaptiveSpec { definition: Some("ladder".into()), ..AdaptiveSpec::default() });
        let name = |slot| names(&hls, 0, "clip").name(slot);
        assert_eq!(name(OutputSlot::Main(0)), "clip_adaptiveDynamicStreaming_ladder.m3u8");
        assert_eq!(name(OutputSlot::SubStream(2)), "clip_adaptiveDynamicStreaming_ladder_2.m3u8");
        assert_eq!(name(OutputSlot::Segment { stream: 2, number: 7 }), "clip_adaptiveDynamicStreaming_ladder_2_7.ts");
        assert_eq!(name(OutputSlot::Init(1)), "clip_adaptiveDynamicStreaming_ladder_1_init.mp4");
        let dash = TaskSpec::Adaptive(AdaptiveSpec { format: StreamFormat::Dash, ..AdaptiveSpec::default() });
        assert_eq!(names(&dash, 3, "clip").name(OutputSlot::Main(0)), "clip_adaptiveDynamicStreaming_4.mpd");
        assert_eq!(
            names(&dash, 3, "clip").name(OutputSlot::Segment { stream: 0, number: 1 }),
            "clip_adaptiveDynamicStreaming_4_0_1.m4s"
        );
        let dash_names = names(&dash, 3, "my $clip {format}");
        assert_eq!(
            dash_names.dash_template(false),
            "my%20%24clip%20%7Bformat%7D_adaptiveDynamicStreaming_4_$RepresentationID$_$Number$.m4s"
        );
        assert_eq!(
            dash_names.dash_template(true),
            "my%20%24clip%20%7Bformat%7D_adaptiveDynamicStreaming_4_$RepresentationID$_init.mp4"
        );
        assert_eq!(hls.name_patterns(0).len(), 4, "master, rendition playlists, init and media segments");
        assert!(OutputSlot::SubStream(0).is_listed() && !OutputSlot::Segment { stream: 0, number: 1 }.is_listed());
        assert!(OutputSlot::Main(99).is_listed() && !OutputSlot::Main(100).is_listed() && OutputSlot::Map.is_listed());
    }

    #[test]
    fn when_input_name_contains_placeholder_text_should_not_expand_it() {
        let transcode = TaskSpec::Transcode(TranscodeSpec {
            output_name: Some("{inputName}.{inputFormat}.{format}".into()),
            ..TranscodeSpec::default()
        });
        let tricky =
            OutputNames { spec: &transcode, position: 0, input_name: "{inputFormat}", input_format: "{format}" };
        assert_eq!(tricky.name(OutputSlot::Main(0)), "{inputFormat}.{format}.mp4");
    }
}
