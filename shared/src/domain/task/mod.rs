//! Task specs: the processing items of a workflow (transcode, snapshot, animated image,
//! watermark, adaptive streaming, samples, sprites, cover) with their parameters, validation and
//! output names. One module per task kind; `spec` holds the `type`-tagged [`TaskSpec`] over
//! them, `naming` their output names, `fields` and `marks` what several kinds share.
//!
//! Siblings import each other by module (`super::transcode::…`); this file only names them.

#[macro_use]
mod fields;
mod adaptive;
mod animated;
mod ladder;
mod marks;
mod naming;
mod parallel;
pub mod preset;
mod quality;
mod rate;
mod snapshot;
mod spec;
mod stills;
mod transcode;
mod tuning;
mod watermark;

#[cfg(test)]
mod tests;

pub use adaptive::{AdaptiveSpec, SegmentType, StreamFormat};
pub use animated::{AnimatedFormat, AnimatedSpec};
pub use ladder::{LadderBounds, LadderChoice, MAX_RENDITIONS, Rendition, Renditions, Rung, choose_ladder};
pub use marks::{Corner, ImageSource, Length, WatermarkSpec, rgb};
pub use naming::{OutputNames, OutputSlot, uri_reference};
pub use parallel::{DEFAULT_CHUNK_SECONDS, MAX_CHUNKS, MIN_CHUNK_SECONDS, Parallel};
pub use quality::{
    PSNR_IDENTICAL, QualityMetric, QualityScore, SCORED_EVERY, SCORED_WINDOWS, SCORED_WITHIN, WINDOW_SECONDS, Window,
    scored_windows,
};
pub use rate::{CAP_BUFFER_SECONDS, Crf, DEFAULT_TARGET_VMAF, Target};
pub use snapshot::{ImageFormat, SnapshotSpec, TimePoint};
pub use spec::{MAX_TASKS, TaskSpec};
pub use stills::{CoverSpec, Grid, MAX_PICTURES, Pictures, SampleSpec, SpriteSpec, tile_count, webvtt};
pub use transcode::{AudioCodec, AudioSpec, Container, Encode, Span, TranscodeSpec, Trim, VideoCodec, VideoSpec};
pub use tuning::{
    CrfSearch, LadderRung, MAX_PROBES, MIN_SAMPLE_SECONDS, Probe, SAMPLE_SECONDS, Tuning, default_crf,
    default_max_kbps, sample_windows,
};
pub use watermark::WatermarkTaskSpec;
