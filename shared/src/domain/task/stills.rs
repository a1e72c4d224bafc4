//! Pictures taken over the whole input in one pass: sampled snapshots (MPS SampleSnapshot),
//! image sprites with their WebVTT map (MPS ImageSprite), and a cover picture.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::fields::{is_zero, validate_size};
use super::marks::{WatermarkSpec, validate_watermarks};
use super::parallel::Parallel;
use super::snapshot::{ImageFormat, TimePoint};
use super::transcode::validate_chunking;
use crate::domain::media::{MediaInfo, Size};
use crate::domain::validation::Violations;

/// Pictures every `interval`: seconds, or percent of the input's length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    /// Default 10% (MPS's sampled template 10): ten pictures, from the first frame on.
    #[serde(default = "ten_percent")]
    pub interval: TimePoint,
    #[serde(default)]
    pub format: ImageFormat,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub width: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub height: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watermarks: Vec<WatermarkSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_name: Option<String>,
    /// Decode in parts side by side: `auto` (when one worker would not comfortably decode the
    /// input), `off`, or a number of parts; as for a transcode.
    #[serde(default, skip_serializing_if = "Parallel::is_auto")]
    pub parallel: Parallel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_seconds: Option<f64>,
}

fn ten_percent() -> TimePoint {
    TimePoint::Percent(10.0)
}

impl Default for SampleSpec {
    fn default() -> Self {
        Self {
            definition: None,
            interval: ten_percent(),
            format: ImageFormat::default(),
            width: 0,
            height: 0,
            watermarks: Vec::new(),
            output_name: None,
            parallel: Parallel::default(),
            chunk_seconds: None,
        }
    }
}

/// The most pictures a sampled task or a sprite takes.
pub const MAX_PICTURES: usize = 1000;
/// The shortest interval, in seconds.
const MIN_INTERVAL: f64 = 0.1;

/// The seconds between pictures for a source of `duration` seconds, or why there are none.
fn interval_seconds(interval: TimePoint, duration: Option<f64>) -> Result<f64, String> {
    let seconds = interval
        .resolve(duration)
        .ok_or_else(|| format!("an interval of {interval} needs the source's length, which is unknown"))?;
    Ok(seconds.max(MIN_INTERVAL))
}

fn validate_interval(interval: TimePoint, field: &str, errors: &mut Violations) {
    let ok = match interval {
        TimePoint::Seconds(seconds) => seconds >= MIN_INTERVAL,
        TimePoint::Percent(pct) => pct > 0.0 && pct <= 100.0,
    };
    errors.check(ok, format!("{field}.interval"), format!("must be at least {MIN_INTERVAL} s, or 0–100%"));
}

impl SampleSpec {
    pub fn pictures(&self) -> Pictures {
        Pictures { interval: self.interval, parallel: self.parallel, chunk_seconds: self.chunk_seconds }
    }

    pub(super) fn validate(&self, field: &str, errors: &mut Violations) {
        validate_interval(self.interval, field, errors);
        validate_size(self.width, self.height, field, errors);
        validate_watermarks(&self.watermarks, field, errors);
        validate_chunking(self.parallel, self.chunk_seconds, field, errors);
    }
}

/// Pictures taken on a grid over the input, and how their decode is spread over workers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pictures {
    pub interval: TimePoint,
    pub parallel: Parallel,
    pub chunk_seconds: Option<f64>,
}

/// The grid of pictures over one source: every `interval` seconds, `count` of them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grid {
    pub interval: f64,
    pub count: usize,
}

impl Pictures {
    /// The grid over `source`, decoded no further than `max_duration`: a picture at each
    /// multiple of the interval up to the last frame, at most [`MAX_PICTURES`]; all of them
    /// when the source's length is unknown.
    pub fn grid(&self, source: &MediaInfo, max_duration: f64) -> Result<Grid, String> {
        let interval = interval_seconds(self.interval, source.duration)?;
        let count = match source.duration {
            Some(duration) => {
                let frame = 1.0 / source.video.as_ref().and_then(|v| v.fps).filter(|fps| *fps > 0.0).unwrap_or(25.0);
                tile_count(interval, duration.min(max_duration) - frame)
            }
            None => MAX_PICTURES,
        };
        Ok(Grid { interval, count })
    }
}

/// Thumbnails every `interval` tiled `columns` × `rows` per sheet, and a WebVTT file mapping
/// each stretch of the input to its thumbnail (`sheet.jpg#xywh=x,y,w,h`), as players show
/// previews over their seek bar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpriteSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    /// Default 10 s.
    #[serde(default = "ten_seconds")]
    pub interval: TimePoint,
    /// A thumbnail's size; default 160 wide, the height following.
    #[serde(default = "SpriteSpec::default_width", skip_serializing_if = "is_zero")]
    pub width: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub height: u32,
    #[serde(default = "SpriteSpec::default_grid")]
    pub columns: u32,
    #[serde(default = "SpriteSpec::default_grid")]
    pub rows: u32,
    #[serde(default)]
    pub format: ImageFormat,
    /// The sheets' name pattern; the WebVTT file is named like MPS's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_name: Option<String>,
    /// As for sampled pictures.
    #[serde(default, skip_serializing_if = "Parallel::is_auto")]
    pub parallel: Parallel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_seconds: Option<f64>,
}

fn ten_seconds() -> TimePoint {
    TimePoint::Seconds(10.0)
}

impl Default for SpriteSpec {
    fn default() -> Self {
        Self {
            definition: None,
            interval: ten_seconds(),
            width: Self::default_width(),
            height: 0,
            columns: Self::default_grid(),
            rows: Self::default_grid(),
            format: ImageFormat::default(),
            output_name: None,
            parallel: Parallel::default(),
            chunk_seconds: None,
        }
    }
}

impl SpriteSpec {
    /// The WebVTT map's name.
    pub const MAP_NAME: &str = "{inputName}_imageSprite_{definition}.vtt";

    fn default_width() -> u32 {
        160
    }
    fn default_grid() -> u32 {
        10
    }

    pub fn pictures(&self) -> Pictures {
        Pictures { interval: self.interval, parallel: self.parallel, chunk_seconds: self.chunk_seconds }
    }

    pub fn per_sheet(&self) -> usize {
        (self.columns * self.rows) as usize
    }

    pub(super) fn validate(&self, field: &str, errors: &mut Violations) {
        validate_interval(self.interval, field, errors);
        validate_size(self.width, self.height, field, errors);
        for (name, count) in [("columns", self.columns), ("rows", self.rows)] {
            errors.check((1..=20).contains(&count), format!("{field}.{name}"), "must be 1–20");
        }
        validate_chunking(self.parallel, self.chunk_seconds, field, errors);
    }
}

/// The WebVTT map of a sprite: thumbnail `k` covers `[k·interval, (k+1)·interval)` (the last
/// up to `duration`) and sits at its place in sheet `k / per_sheet`, named by `sheet`.
pub fn webvtt(
    spec: &SpriteSpec,
    tiles: usize,
    interval: f64,
    duration: f64,
    tile: Size,
    sheet: impl Fn(usize) -> String,
) -> String {
    let mut text = String::from("WEBVTT\n");
    let per_sheet = spec.per_sheet().max(1);
    let columns = spec.columns.max(1) as usize;
    for k in 0..tiles {
        let start = k as f64 * interval;
        let end = ((k + 1) as f64 * interval).min(duration).max(start);
        let place = k % per_sheet;
        let (x, y) = ((place % columns) as u32 * tile.width, (place / columns) as u32 * tile.height);
        let _ = write!(
            text,
            "\n{} --> {}\n{}#xywh={x},{y},{},{}\n",
            clock(start),
            clock(end),
            sheet(k / per_sheet),
            tile.width,
            tile.height
        );
    }
    text
}

/// How many thumbnails an interval takes of a source whose last frame starts at `last_frame`.
pub fn tile_count(interval: f64, last_frame: f64) -> usize {
    (((last_frame.max(0.0) + 1e-6) / interval).floor() as usize + 1).min(MAX_PICTURES)
}

fn clock(seconds: f64) -> String {
    let millis = (seconds * 1000.0).round() as u64;
    format!("{:02}:{:02}:{:02}.{:03}", millis / 3_600_000, millis / 60_000 % 60, millis / 1000 % 60, millis % 1000)
}

/// A representative picture of the input, chosen by [`CoverSpec::RULE`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    #[serde(default)]
    pub format: ImageFormat,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub width: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub height: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_name: Option<String>,
}

impl CoverSpec {
    /// How far into the input the cover is looked for, in seconds.
    pub const SCAN_SECONDS: f64 = 120.0;
    /// Candidates per second.
    pub const CANDIDATES_PER_SECOND: f64 = 2.0;
    /// Mean luma (0–255) a candidate must have: not black, not white.
    pub const LUMA: (u8, u8) = (32, 224);
    /// The least luma entropy (share of 8 bits) a candidate must have: not a flat picture,
    /// as in the middle of a fade.
    pub const MIN_ENTROPY: f64 = 0.55;

    pub(super) fn validate(&self, field: &str, errors: &mut Violations) {
        validate_size(self.width, self.height, field, errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sprite_map_points_each_stretch_at_its_tile() {
        let spec = SpriteSpec { columns: 2, rows: 2, ..SpriteSpec::default() };
        let tile = Size::new(160, 90);
        let map = webvtt(&spec, 5, 10.0, 42.5, tile, |sheet| format!("clip%20a_{sheet}.jpg"));
        assert_eq!(
            map,
            "WEBVTT\n\n00:00:00.000 --> 00:00:10.000\nclip%20a_0.jpg#xywh=0,0,160,90\n\
             \n00:00:10.000 --> 00:00:20.000\nclip%20a_0.jpg#xywh=160,0,160,90\n\
             \n00:00:20.000 --> 00:00:30.000\nclip%20a_0.jpg#xywh=0,90,160,90\n\
             \n00:00:30.000 --> 00:00:40.000\nclip%20a_0.jpg#xywh=160,90,160,90\n\
             \n00:00:40.000 --> 00:00:42.500\nclip%20a_1.jpg#xywh=0,0,160,90\n"
        );
        assert_eq!(clock(3725.25), "01:02:05.250");
    }

    #[test]
    fn thumbnails_are_taken_up_to_the_last_frame() {
        assert_eq!(tile_count(10.0, 41.96), 5, "0, 10, 20, 30, 40");
        assert_eq!(tile_count(3.0, 11.96), 4, "0, 3, 6, 9: nothing at 12");
        assert_eq!(tile_count(3.0, 12.0), 5, "a frame at 12 s");
        assert_eq!(tile_count(0.1, 1e6), MAX_PICTURES);
    }

    #[test]
    fn intervals_are_seconds_or_percent_of_a_known_length() {
        let sampled = SampleSpec::default();
        let source = |duration| MediaInfo { duration, ..MediaInfo::default() };
        assert_eq!(sampled.pictures().grid(&source(Some(50.0)), 600.0), Ok(Grid { interval: 5.0, count: 10 }));
        assert!(sampled.pictures().grid(&source(None), 600.0).unwrap_err().contains("needs the source's length"));
        let sprite = SpriteSpec::default().pictures();
        assert_eq!(sprite.grid(&source(Some(50.0)), 30.0), Ok(Grid { interval: 10.0, count: 3 }), "to the limit");
        assert_eq!(sprite.grid(&source(None), 600.0), Ok(Grid { interval: 10.0, count: MAX_PICTURES }));
        let mut errors = Violations::default();
        SampleSpec { interval: TimePoint::Seconds(0.0), ..sampled }.validate("t", &mut errors);
        SpriteSpec { columns: 0, ..SpriteSpec::default() }.validate("t", &mut errors);
        assert_eq!(
            errors.into_messages(),
            vec!["t.interval: must be at least 0.1 s, or 0–100%", "t.columns: must be 1–20"]
        );
    }
}
