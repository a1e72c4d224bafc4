//! What the task kinds share: named enums, numbers written as text, serde helpers, sizes.

use serde::Deserialize;

use crate::domain::validation::Violations;

const MAX_DIMENSION: u32 = 8192;

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

pub(super) fn parse_number(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| format!("{text:?} is not a non-negative number"))
}

/// Numbers or strings in workflow files, kept as their string form in records.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum NumberOrText {
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

pub(super) fn is_false(value: &bool) -> bool {
    !*value
}

pub(super) fn is_zero(value: &u32) -> bool {
    *value == 0
}

pub(super) fn validate_size(width: u32, height: u32, field: &str, errors: &mut Violations) {
    errors.check(width <= MAX_DIMENSION, format!("{field}.width"), format!("must be at most {MAX_DIMENSION}"));
    errors.check(height <= MAX_DIMENSION, format!("{field}.height"), format!("must be at most {MAX_DIMENSION}"));
}
