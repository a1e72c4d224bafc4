//! How a task is spread over workers: `parallel` and the bounds of `chunk_seconds`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most video chunks one task is split into.
pub const MAX_CHUNKS: u32 = 64;
/// The shortest chunk worth a worker of its own, in seconds.
pub const MIN_CHUNK_SECONDS: f64 = 5.0;
/// How long `auto` makes a chunk unless `chunk_seconds` says.
pub const DEFAULT_CHUNK_SECONDS: f64 = 120.0;

/// How a transcode is spread over workers: `auto` (in chunks only when one invocation would not
/// comfortably encode it), `off`, or a number of video chunks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Parallel {
    #[default]
    Auto,
    Off,
    Chunks(u32),
}

impl Parallel {
    pub fn is_auto(&self) -> bool {
        *self == Parallel::Auto
    }
}

impl fmt::Display for Parallel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Parallel::Auto => f.write_str("auto"),
            Parallel::Off => f.write_str("off"),
            Parallel::Chunks(n) => write!(f, "{n}"),
        }
    }
}

impl Serialize for Parallel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Parallel::Chunks(n) => serializer.serialize_u32(*n),
            other => serializer.serialize_str(&other.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Parallel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = Parallel;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{Expected}")
            }

            fn visit_str<E: serde::de::Error>(self, word: &str) -> Result<Parallel, E> {
                match word {
                    "auto" => Ok(Parallel::Auto),
                    "off" => Ok(Parallel::Off),
                    _ => Err(E::custom(format_args!("{word:?}: must be {}", Expected))),
                }
            }

            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Parallel, E> {
                u32::try_from(n)
                    .ok()
                    .filter(|n| (1..=MAX_CHUNKS).contains(n))
                    .map(Parallel::Chunks)
                    .ok_or_else(|| E::custom(format_args!("{n}: must be {}", Expected)))
            }

            // Stores hand numbers back signed or as floats.
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Parallel, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::custom(format_args!("{n}: must be {}", Expected))),
                }
            }

            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Parallel, E> {
                match n.fract() == 0.0 && n >= 0.0 {
                    true => self.visit_u64(n as u64),
                    false => Err(E::custom(format_args!("{n}: must be {}", Expected))),
                }
            }
        }

        /// What a `parallel` value may be, for messages.
        struct Expected;

        impl fmt::Display for Expected {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "\"auto\", \"off\" or a number of chunks 1–{MAX_CHUNKS}")
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}
