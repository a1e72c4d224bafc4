//! Pictures taken over the input in one decode: sampled snapshots and sprite sheets (written
//! as numbered files, [`PlannedOutput::sequence`]), decoded in parts side by side when the input
//! is long, and the cover picture.

use super::*;
use crate::domain::task::{CoverSpec, Grid, Pictures, SampleSpec, SpriteSpec};

/// The first frame at or after each multiple of `interval` seconds.
fn every(interval: f64) -> String {
    format!("select='gte(t,selected_n*{})'", ratio(interval))
}

/// Each picture the filters let through (at most `count`), encoded as a still.
fn picture_frames(args: &mut Vec<String>, format: ImageFormat, count: usize) {
    args.extend(strings(["-fps_mode", "passthrough", "-frames:v"]));
    args.push(count.to_string());
    args.push("-an".into());
    args.extend(image_encoder(format).0.iter().map(|s| (*s).to_owned()));
}

/// The pictures' grid over the source, or why there is none.
fn grid(setup: &RenderRequest<'_>, pictures: Pictures) -> Result<Grid, MediaFailure> {
    pictures
        .grid(setup.source, setup.limits.max_duration_s)
        .map_err(|why| source_error(ErrorCode::InvalidTimeRange, why))
}

/// How the grid's pictures are read: the whole input, or (a part) from the grid point it
/// starts at, exactly, for the pictures it takes. Also where the output goes and how many
/// pictures it holds.
fn picture_input(
    setup: &RenderRequest<'_>,
    input: &str,
    grid: Grid,
) -> Result<(Vec<String>, f64, usize), MediaFailure> {
    let mut args = head();
    match setup.part {
        None => {
            source_input(&mut args, input, None, Some(setup.limits.max_duration_s + 1.0));
            Ok((args, 0.0, grid.count))
        }
        Some(Part::Video(chunk)) => {
            source_input(&mut args, input, Some(chunk.start), None);
            let count = (chunk.length.unwrap_or(0.0) / grid.interval).round() as usize;
            Ok((args, chunk.start, count))
        }
        Some(Part::Audio) => Err(source_error(ErrorCode::Internal, "pictures have no sound part")),
    }
}

/// Where a grid's pictures go: numbered files, or (a part) the frames of one QuickTime file
/// that the join reads back.
fn picture_output(
    setup: &RenderRequest<'_>,
    args: &mut Vec<String>,
    format: ImageFormat,
    count: usize,
    size: Size,
) -> PlannedOutput {
    match setup.part {
        Some(part) => {
            let path = setup.workdir.join(part_name(part));
            picture_frames(args, format, count);
            args.extend(strings(["-f", "mov"]));
            args.push(file(&path));
            PlannedOutput {
                path,
                slot: OutputSlot::Main(0),
                content_type: "video/quicktime",
                timed: true,
                max_duration: None,
                size: Some(size),
                sequence: false,
                index_last: false,
            }
        }
        None => {
            let path = setup.workdir.join(format!("out-%d.{format}"));
            picture_frames(args, format, count);
            args.extend(strings(["-f", "image2", "-start_number", "0"]));
            args.push(file(&path));
            PlannedOutput::pictures(path, image_encoder(format).1, size)
        }
    }
}

pub(super) fn sample(
    setup: &RenderRequest<'_>,
    input: &str,
    spec: &SampleSpec,
    plan: &mut Plan,
) -> Result<(), MediaFailure> {
    let frame = display_size(setup.source)?.fit(spec.width, spec.height, false, false);
    let grid = grid(setup, spec.pictures())?;
    let (mut args, offset, count) = picture_input(setup, input, grid)?;
    let filters = [every(grid.interval), format!("scale={}:{}", frame.width, frame.height), "setsar=1".into()];
    let graph = video_graph(setup, &mut args, &filters, &spec.watermarks, frame, Clock::Timed(offset), plan)?;
    args.extend(["-filter_complex".into(), graph, "-map".into(), "[vout]".into()]);
    let output = picture_output(setup, &mut args, spec.format, count, frame);
    plan.runs.push(Run { attempts: vec![args], output, label: None });
    Ok(())
}

/// A sprite's thumbnail size for `source`.
pub fn sprite_tile(spec: &SpriteSpec, source: &MediaInfo) -> Result<Size, MediaFailure> {
    Ok(display_size(source)?.fit(spec.width, spec.height, false, true))
}

/// A sprite's thumbnails, tiled into sheets (a part keeps them apart: the join tiles them).
pub(super) fn sprite(
    setup: &RenderRequest<'_>,
    input: &str,
    spec: &SpriteSpec,
    plan: &mut Plan,
) -> Result<(), MediaFailure> {
    let tile = sprite_tile(spec, setup.source)?;
    let grid = grid(setup, spec.pictures())?;
    let (mut args, _, count) = picture_input(setup, input, grid)?;
    let pictures = source_pictures(setup.source.signal(), 0);
    let mut graph = format!("{pictures}{},scale={}:{},setsar=1", every(grid.interval), tile.width, tile.height);
    let size = match setup.part {
        Some(_) => tile,
        None => {
            graph.push_str(&format!(",tile={}x{}", spec.columns, spec.rows));
            Size::new(tile.width * spec.columns, tile.height * spec.rows)
        }
    };
    graph.push_str("[vout]");
    args.extend(["-filter_complex".into(), graph, "-map".into(), "[vout]".into()]);
    let output = picture_output(setup, &mut args, spec.format, count, size);
    plan.runs.push(Run { attempts: vec![args], output, label: None });
    Ok(())
}

/// Joins the parts of a sample or sprite task (their pictures in order, in the files of
/// `list`): each picture copied out as a file, or tiled into sheets.
pub fn join_pictures(spec: &TaskSpec, list: &Path, workdir: &Path) -> Result<Run, MediaFailure> {
    plain_path(list)?;
    plain_path(workdir)?;
    let mut args = head();
    args.extend(strings(["-protocol_whitelist", "file", "-f", "concat", "-safe", "1", "-i"]));
    args.push(file(list));
    let format = match spec {
        TaskSpec::Sample(spec) => {
            args.extend(strings(["-map", "0:v:0", "-c:v", "copy"]));
            spec.format
        }
        TaskSpec::Sprite(spec) => {
            args.extend(["-filter_complex".into(), format!("[0:v:0]tile={}x{}[vout]", spec.columns, spec.rows)]);
            args.extend(strings(["-map", "[vout]"]));
            args.extend(image_encoder(spec.format).0.iter().map(|s| (*s).to_owned()));
            spec.format
        }
        _ => return Err(source_error(ErrorCode::Internal, "only pictures are joined into pictures")),
    };
    let path = workdir.join(format!("out-%d.{format}"));
    args.extend(strings(["-fps_mode", "passthrough", "-an", "-f", "image2", "-start_number", "0"]));
    args.push(file(&path));
    let output =
        PlannedOutput { size: None, ..PlannedOutput::pictures(path, image_encoder(format).1, Size::new(0, 0)) };
    Ok(Run { attempts: vec![args], output, label: None })
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
            "{}{},{filters}scale={}:{},setsar=1[vout]",
            source_pictures(setup.source.signal(), 0),
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
            index_last: false,
        },
        label: None,
    });
    Ok(())
}
