//! The snapshot task: still images at time points of the input.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::fields::{NumberOrText, is_zero, parse_number, validate_size};
use super::marks::{WatermarkSpec, validate_watermarks};
use crate::domain::validation::Violations;

const MAX_TIME_POINTS: usize = 50;

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

named_enum!(ImageFormat { #[default] Jpg => "jpg", Png => "png" });
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

impl fmt::Display for TimePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimePoint::Seconds(seconds) => write!(f, "{seconds}s"),
            TimePoint::Percent(pct) => write!(f, "{pct}%"),
        }
    }
}

serde_via_str!(TimePoint);

impl SnapshotSpec {
    pub(super) fn validate(&self, field: &str, errors: &mut Violations) {
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
