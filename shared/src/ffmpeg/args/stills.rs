//! Pictures taken over the input in one decode: sampled snapshots and sprite sheets (written
//! as numbered files, [`PlannedOutput::sequence`]) and the cover picture.

use super::*;
use crate::domain::task::{CoverSpec, MAX_PICTURES, SampleSpec, SpriteSpec};

/// The first frame at or after each multiple of `interval` seconds.
fn every(interval: f64) -> String {
    format!("select='gte(t,selected_n*{})'", ratio(interval))
}

/// Numbered pictures from 0, as many as the filters let through.
fn picture_sequence(args: &mut Vec<String>, format: ImageFormat, path: &Path) {
    args.extend(strings(["-fps_mode", "passthrough", "-frames:v"]));
    args.push(MAX_PICTURES.to_string());
    args.push("-an".into());
    args.extend(image_encoder(format).0.iter().map(|s| (*s).to_owned()));
    args.extend(strings(["-f", "image2", "-start_number", "0"]));
    args.push(file(path));
}

pub(super) fn sample(
    setup: &RenderRequest<'_>,
    input: &str,
    spec: &SampleSpec,
    plan: &mut Plan,
) -> Result<(), MediaFailure> {
    let source = setup.source;
    let frame = display_size(source)?.fit(spec.width, spec.height, false, false);
    let interval =
        spec.interval_seconds(source.duration).map_err(|why| source_error(ErrorCode::InvalidTimeRange, why))?;
    let mut args = head();
    source_input(&mut args, input, None, Some(setup.limits.max_duration_s + 1.0));
    let filters = [every(interval), format!("scale={}:{}", frame.width, frame.height), "setsar=1".into()];
    let graph = video_graph(setup, &mut args, &filters, &spec.watermarks, frame, Clock::Timed(0.0), plan)?;
    args.extend(["-filter_complex".into(), graph, "-map".into(), "[vout]".into()]);
    let path = setup.workdir.join(format!("out-%d.{}", spec.format));
    picture_sequence(&mut args, spec.format, &path);
    plan.runs.push(Run {
        attempts: vec![args],
        output: PlannedOutput::pictures(path, image_encoder(spec.format).1, frame),
        label: None,
    });
    Ok(())
}

/// A sprite's thumbnail size for `source`.
pub fn sprite_tile(spec: &SpriteSpec, source: &MediaInfo) -> Result<Size, MediaFailure> {
    Ok(display_size(source)?.fit(spec.width, spec.height, false, true))
}

pub(super) fn sprite(
    setup: &RenderRequest<'_>,
    input: &str,
    spec: &SpriteSpec,
    plan: &mut Plan,
) -> Result<(), MediaFailure> {
    let source = setup.source;
    let tile = sprite_tile(spec, source)?;
    let interval =
        spec.interval_seconds(source.duration).map_err(|why| source_error(ErrorCode::InvalidTimeRange, why))?;
    let mut args = head();
    source_input(&mut args, input, None, Some(setup.limits.max_duration_s + 1.0));
    let graph = format!(
        "[0:v:0]{},scale={}:{},setsar=1,tile={}x{}[vout]",
        every(interval),
        tile.width,
        tile.height,
        spec.columns,
        spec.rows
    );
    args.extend(["-filter_complex".into(), graph, "-map".into(), "[vout]".into()]);
    let path = setup.workdir.join(format!("out-%d.{}", spec.format));
    picture_sequence(&mut args, spec.format, &path);
    let sheet = Size::new(tile.width * spec.columns, tile.height * spec.rows);
    plan.runs.push(Run {
        attempts: vec![args],
        output: PlannedOutput::pictures(path, image_encoder(spec.format).1, sheet),
        label: None,
    });
    Ok(())
}

/// The cover: among two pictures a second from the first [`CoverSpec::SCAN_SECONDS`], those
/// neither black nor white (mean luma) nor flat (luma entropy, as mid-fade), the most typical
/// of them (ffmpeg's `thumbnail`: closest to their average histogram). Without any, the most
/// typical of all; without a picture there, the first one.
pub(super) fn cover(
    setup: &RenderRequest<'_>,
    input: &str,
    spec: &CoverSpec,
    plan: &mut Plan,
) -> Result<(), MediaFailure> {
    let frame = display_size(setup.source)?.fit(spec.width, spec.height, false, false);
    let (encoder, content_type) = image_encoder(spec.format);
    let path = setup.workdir.join(format!("out-0.{}", spec.format));
    let candidates = (CoverSpec::SCAN_SECONDS * CoverSpec::CANDIDATES_PER_SECOND) as u32;
    let (low, high) = CoverSpec::LUMA;
    let judged = format!(
        "signalstats,entropy,\
         metadata=mode=select:key=lavfi.signalstats.YAVG:function=expr:expr='between(VALUE1,{low},{high})',\
         metadata=mode=select:key=lavfi.entropy.normalized_entropy.normal.Y:function=greater:value={},",
        ratio(CoverSpec::MIN_ENTROPY)
    );
    let attempt = |filters: &str| {
        let mut args = head();
        source_input(&mut args, input, None, Some(CoverSpec::SCAN_SECONDS));
        let graph = format!(
            "[0:v:0]{},{filters}scale={}:{},setsar=1[vout]",
            every(1.0 / CoverSpec::CANDIDATES_PER_SECOND),
            frame.width,
            frame.height
        );
        args.extend(["-filter_complex".into(), graph, "-map".into(), "[vout]".into()]);
        args.extend(strings(["-frames:v", "1", "-an"]));
        args.extend(encoder.iter().map(|s| (*s).to_owned()));
        args.extend(strings(["-f", "image2", "-update", "1"]));
        args.push(file(&path));
        args
    };
    let typical = format!("thumbnail=n={candidates},");
    plan.runs.push(Run {
        attempts: vec![attempt(&format!("{judged}{typical}")), attempt(&typical), attempt("")],
        output: PlannedOutput {
            path,
            slot: OutputSlot::Main(0),
            content_type,
            timed: false,
            max_duration: None,
            size: Some(frame),
            sequence: false,
        },
        label: None,
    });
    Ok(())
}
