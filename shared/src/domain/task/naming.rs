//! Output names: which of a task's outputs a file is ([`OutputSlot`]), its name for one upload
//! ([`OutputNames`]), and the rules of a custom name pattern.
//!
//! Placeholders are filled in one pass: text that comes from the upload's key (`{inputName}`,
//! `{inputFormat}`) is never read as a placeholder itself.

use super::TaskSpec;
use crate::domain::streaming::uri_reference;
use crate::domain::validation::Violations;

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

/// `pattern` with each placeholder `value` knows replaced in one pass, and the text between
/// them (placeholders it does not know included) passed through `literal`.
pub(super) fn fill(pattern: &str, value: impl Fn(&str) -> Option<String>, literal: impl Fn(&str) -> String) -> String {
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

pub(super) fn validate_output_name(pattern: &str, needs_number: bool, field: &str, errors: &mut Violations) {
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
