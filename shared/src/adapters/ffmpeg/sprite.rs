//! A sprite's WebVTT map, written once its sheets are: each stretch of the input pointed at its
//! thumbnail by the sheet's published name.

use std::path::Path;

use crate::domain::error::ErrorCode;
use crate::domain::limits::Limits;
use crate::domain::media::MediaInfo;
use crate::domain::task::{OutputNames, OutputSlot, SpriteSpec, uri_reference, webvtt};
use crate::ports::{MediaFailure, RenderedFile};

use super::args;

/// The map of the `sheets` rendered for `spec` from `source`, written beside them in `workdir`.
pub(super) async fn map(
    spec: &SpriteSpec,
    names: OutputNames<'_>,
    source: &MediaInfo,
    limits: &Limits,
    workdir: &Path,
    sheets: usize,
) -> Result<RenderedFile, MediaFailure> {
    let grid = spec
        .pictures()
        .grid(source, limits.max_duration_s)
        .map_err(|why| MediaFailure::new(ErrorCode::InvalidTimeRange, why))?;
    let duration = source.duration.unwrap_or(0.0).min(limits.max_duration_s);
    let tiles = grid.count.min(sheets * spec.per_sheet());
    let tile = args::sprite_tile(spec, source)?;
    let text =
        webvtt(spec, tiles, grid.interval, duration, tile, |sheet| uri_reference(&names.name(OutputSlot::Main(sheet))));
    let path = workdir.join("sprite.vtt");
    tokio::fs::write(&path, text)
        .await
        .map_err(|e| MediaFailure::new(ErrorCode::Internal, format!("cannot write {}: {e}", path.display())))?;
    Ok(RenderedFile {
        path,
        slot: OutputSlot::Map,
        content_type: "text/vtt",
        duration: None,
        width: None,
        height: None,
        quality: Vec::new(),
        tuning: None,
        index: None,
    })
}
