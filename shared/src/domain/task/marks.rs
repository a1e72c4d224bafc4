//! Watermarks: images and text placed from a corner of the picture, for a time window. Every
//! kind that writes pictures may carry them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::fields::{NumberOrText, is_false, parse_number};
use crate::domain::validation::Violations;

const MAX_WATERMARKS: usize = 10;
const MAX_TEXT: usize = 256;

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
    /// When the mark shows, in seconds of the output: from `start` (default 0) to `end`
    /// (default: the end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
}

impl WatermarkSpec {
    /// Whether the mark shows at `at` seconds of the output.
    pub fn shows_at(&self, at: f64) -> bool {
        at >= self.start.unwrap_or(0.0) && self.end.is_none_or(|end| at <= end)
    }

    /// Whether the mark shows for a time window only.
    pub fn is_timed(&self) -> bool {
        self.start.is_some_and(|start| start > 0.0) || self.end.is_some()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSource {
    #[serde(default)]
    pub bucket: String,
    pub key: String,
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

impl fmt::Display for Length {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Length::Px(px) => write!(f, "{px}px"),
            Length::Percent(pct) => write!(f, "{pct}%"),
        }
    }
}

serde_via_str!(Length);

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
pub(super) const COLOUR_RULE: &str =
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

pub(super) fn validate_watermarks(marks: &[WatermarkSpec], field: &str, errors: &mut Violations) {
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
        if let Some(start) = mark.start {
            errors.check(start.is_finite() && start >= 0.0, format!("{field}.start"), "must be 0 or more seconds");
        }
        if let Some(end) = mark.end {
            errors.check(
                end.is_finite() && end > mark.start.unwrap_or(0.0),
                format!("{field}.end"),
                "must be after start",
            );
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
