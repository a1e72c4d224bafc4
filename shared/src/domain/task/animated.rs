//! The animated task: a GIF or WebP of a stretch of the input.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::fields::{is_zero, validate_size};
use crate::domain::validation::Violations;

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

named_enum!(AnimatedFormat { #[default] Gif => "gif", Webp => "webp" });

impl AnimatedSpec {
    pub(super) fn validate(&self, field: &str, errors: &mut Violations) {
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
