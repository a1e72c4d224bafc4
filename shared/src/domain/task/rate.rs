//! A video's rate control by constant quality: a CRF, or `auto` (chosen for each title, see
//! [`tuning`](super::tuning)), and what `auto` aims at.

use std::fmt;
use std::ops::RangeInclusive;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The VMAF `crf: auto` aims at unless the task says (`target_vmaf`): the score above which
/// most viewers see no difference from the source on a TV at usual distance.
pub const DEFAULT_TARGET_VMAF: f64 = 93.0;
/// The targets a task may set.
pub const TARGET_VMAF: RangeInclusive<f64> = 50.0..=99.0;

/// A video's rate control by constant quality: a CRF, or `auto`, chosen for each title.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crf {
    Fixed(u8),
    Auto,
}

impl Serialize for Crf {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Crf::Fixed(crf) => serializer.serialize_u8(*crf),
            Crf::Auto => serializer.serialize_str("auto"),
        }
    }
}

impl<'de> Deserialize<'de> for Crf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CrfVisitor;
        impl Visitor<'_> for CrfVisitor {
            type Value = Crf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a CRF number or \"auto\"")
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Crf, E> {
                u8::try_from(value)
                    .map(Crf::Fixed)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(value), &self))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Crf, E> {
                u64::try_from(value)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(value), &self))
                    .and_then(|value| self.visit_u64(value))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Crf, E> {
                match value {
                    "auto" => Ok(Crf::Auto),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
        }
        deserializer.deserialize_any(CrfVisitor)
    }
}

/// What `crf: auto` aims at: a VMAF, and a bitrate it stays under.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Target {
    pub vmaf: f64,
    pub max_kbps: Option<u32>,
}

/// Seconds of its cap the buffer of a capped CRF encode holds (`-bufsize` is this many times
/// `-maxrate`).
pub const CAP_BUFFER_SECONDS: u32 = 2;

impl Target {
    /// What a title of `seconds` is held to: a cap binds the average rate of a title longer
    /// than the encoder's buffer ([`CAP_BUFFER_SECONDS`]); a shorter one is held by the buffer
    /// (a title of one picture is one keyframe, which a rate per second would starve), so its
    /// choice aims at the VMAF alone.
    pub fn over(self, seconds: f64) -> Self {
        match seconds > f64::from(CAP_BUFFER_SECONDS) {
            true => self,
            false => Self { max_kbps: None, ..self },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cap_binds_only_a_title_longer_than_the_encoders_buffer() {
        let target = Target { vmaf: 93.0, max_kbps: Some(288) };
        assert_eq!(target.over(60.0), target);
        assert_eq!(target.over(2.5), target);
        assert_eq!(target.over(0.04).max_kbps, None, "one picture");
        assert_eq!(target.over(2.0).max_kbps, None);
    }

    #[test]
    fn crf_reads_a_number_or_auto() {
        let read = |text: &str| serde_json::from_str::<Crf>(text).map_err(|e| e.to_string());
        assert_eq!(read("23"), Ok(Crf::Fixed(23)));
        assert_eq!(read("\"auto\""), Ok(Crf::Auto));
        assert!(read("-5").unwrap_err().contains("expected a CRF number or \"auto\""));
        assert!(read("300").is_err() && read("\"high\"").is_err());
        assert_eq!(serde_json::to_string(&Crf::Auto).unwrap(), "\"auto\"");
    }
}
