//! Animated GIF (palette) and WebP previews.

use super::*;

pub(super) fn animated(
    setup: &RenderRequest<'_>,
    input: &str,
    spec: &AnimatedSpec,
    plan: &mut Plan,
) -> Result<(), MediaFailure> {
    let source = setup.source;
    let (box_width, box_height) = spec.size_box();
    let frame = display_size(source)?.fit(box_width, box_height, false, false);
    if let Some(duration) = source.duration.filter(|duration| spec.start >= *duration) {
        return Err(source_error(
            ErrorCode::InvalidTimeRange,
            format!("start {}s is past the end of the source ({duration:.2}s)", ratio(spec.start)),
        ));
    }
    let length = spec.length(source.duration);
    let pictures = source_pictures(source.signal(), 0);
    let scale = format!("{},scale={}:{}:flags=lanczos", fps_filter(spec.fps), frame.width, frame.height);
    let mut args = head();
    source_input(&mut args, input, Some(spec.start), Some(length));
    let (graph, codec, content_type): (String, Vec<String>, _) = match spec.format {
        AnimatedFormat::Gif => (
            format!(
                "{pictures}{scale},split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer:bayer_scale=5[vout]"
            ),
            strings(["-loop", "0", "-f", "gif"]).collect(),
            "image/gif",
        ),
        AnimatedFormat::Webp => (
            format!("{pictures}{scale}[vout]"),
            ["-c:v", "libwebp", "-lossless", "0", "-quality", &spec.quality.to_string(), "-loop", "0", "-f", "webp"]
                .into_iter()
                .map(str::to_owned)
                .collect(),
            "image/webp",
        ),
    };
    args.extend(["-filter_complex".into(), graph, "-map".into(), "[vout]".into(), "-an".into()]);
    args.extend(codec);
    let path = setup.workdir.join(format!("out-0.{}", spec.format));
    args.push(file(&path));
    plan.runs.push(Run {
        attempts: vec![args],
        output: PlannedOutput {
            path,
            slot: OutputSlot::Main(0),
            content_type,
            timed: true,
            max_duration: None,
            size: Some(frame),
            sequence: false,
            index_last: false,
        },
        label: None,
    });
    Ok(())
}
