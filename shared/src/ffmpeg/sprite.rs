//! A sprite's WebVTT map, written once its sheets are: each stretch of the input pointed at its
//! thumbnail by the sheet's published name.

use crate::domain::job::ErrorCode;
use crate::domain::streaming::uri_reference;
use crate::domain::task::{OutputSlot, SpriteSpec, tile_count, webvtt};
use crate::ports::{MediaFailure, RenderRequest, RenderedFile};

use super::args;

/// The map of the `sheets` rendered for `spec`, written beside them.
pub(super) async fn map(
    request: &RenderRequest<'_>,
    spec: &SpriteSpec,
    sheets: usize,
) -> Result<RenderedFile, MediaFailure> {
    let source = request.source;
    let failure = |why: String| MediaFailure::new(ErrorCode::InvalidTimeRange, why);
    let interval = spec.interval_seconds(source.duration).map_err(failure)?;
    let duration = source.duration.unwrap_or(0.0).min(request.limits.max_duration_s);
    let frame = 1.0 / source.video.as_ref().and_then(|v| v.fps).filter(|fps| *fps > 0.0).unwrap_or(25.0);
    let tiles = tile_count(interval, duration - frame).min(sheets * spec.per_sheet());
    let tile = args::sprite_tile(spec, source)?;
    let text = webvtt(spec, tiles, interval, duration, tile, |sheet| {
        uri_reference(&request.names.name(OutputSlot::Main(sheet)))
    });
    let path = request.workdir.join("sprite.vtt");
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
    })
}
