//! The task spec: one processing item of a workflow, read from a workflow file with every
//! problem named, defaults filled in, and checked.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::adaptive::AdaptiveSpec;
use super::animated::AnimatedSpec;
use super::marks::WatermarkSpec;
use super::preset;
use super::quality::QualityMetric;
use super::snapshot::SnapshotSpec;
use super::stills::{CoverSpec, Pictures, SampleSpec, SpriteSpec};
use super::transcode::{Encode, TranscodeSpec};
use super::tuning::Tuning;
use super::watermark::WatermarkTaskSpec;
use crate::domain::media::{MediaInfo, Size};
use crate::domain::validation::{Violations, deserialize_all};

const KINDS: &str = "transcode, snapshot, sample, sprite, cover, animated, watermark or adaptive";

/// The most tasks a workflow may hold (a job and its tasks are written in one transaction).
pub const MAX_TASKS: usize = 20;

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

    pub(super) fn definition(&self) -> Option<&str> {
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

    pub(super) fn custom_output_name(&self) -> Option<&str> {
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

    /// The transcode a task amounts to, for the kinds that are one.
    pub fn as_transcode(&self) -> Option<TranscodeSpec> {
        match self {
            TaskSpec::Transcode(spec) => Some(spec.clone()),
            TaskSpec::Watermark(spec) => Some(spec.as_transcode()),
            _ => None,
        }
    }

    /// Whether the task is tuned for each title (`crf: auto`, `renditions: auto`).
    pub fn tuned_per_title(&self) -> bool {
        match self {
            TaskSpec::Adaptive(spec) => spec.renditions.is_auto(),
            other => other.as_transcode().is_some_and(|spec| spec.tuned().is_some() && spec.video_codec().is_some()),
        }
    }

    /// What a task tuned per title (`crf: auto`, `renditions: auto`) is encoded at when its
    /// title cannot be probed (`why`): the codec's default CRF, a ladder by the picture size of
    /// `source`. `None` for a task not tuned.
    pub fn untuned(&self, source: Option<&MediaInfo>, why: String) -> Option<Tuning> {
        match self {
            TaskSpec::Adaptive(spec) if spec.renditions.is_auto() => {
                let (codec, bounds) = (spec.video_codec(), spec.bounds());
                let video = source.and_then(|s| s.video.as_ref()).filter(|v| v.width > 0 && v.height > 0);
                let fallback = video.map_or_else(Vec::new, |v| {
                    bounds.fallback(codec, Size::new(v.width, v.height), spec.fps.or(v.fps))
                });
                Some(Tuning::untuned_ladder(codec, bounds.top_vmaf, fallback, why))
            }
            other => {
                let spec = other.as_transcode()?;
                Some(Tuning::untuned(spec.video_codec()?, spec.tuned()?, why))
            }
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

    /// What the task's video outputs are scored by, if it asks.
    pub fn quality(&self) -> Option<QualityMetric> {
        match self {
            // A title tuned for a VMAF is measured by it.
            TaskSpec::Transcode(spec) => spec.quality.or(spec.tuned().map(|_| QualityMetric::Vmaf)),
            TaskSpec::Adaptive(spec) => spec.quality.or(spec.renditions.is_auto().then_some(QualityMetric::Vmaf)),
            _ => None,
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
        self.check_output_name(field, errors);
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
