//! Watermarks as overlays: image marks and text drawn into PNGs, placed from a corner.

use super::*;

/// Black for light text, white for dark text.
fn contrasting(rgb: [u8; 3]) -> [u8; 3] {
    let [r, g, b] = rgb.map(f64::from);
    if 0.299 * r + 0.587 * g + 0.114 * b > 127.0 { [0, 0, 0] } else { [255, 255, 255] }
}

/// Adds each watermark as an overlay input — a downloaded PNG, or text the adapter draws into
/// a PNG — and returns the graph of the source's pictures (see [`source_pictures`]) through
/// `filters` with the marks on top, labelled `[vout]`.
/// A mark that does not fit in the picture fails the task: it could not be drawn as asked.
pub(super) fn video_graph(
    setup: &RenderRequest<'_>,
    args: &mut Vec<String>,
    filters: &[String],
    marks: &[WatermarkSpec],
    frame: Size,
    clock: Clock,
    plan: &mut Plan,
) -> Result<String, MediaFailure> {
    let mut graph = format!("{}{}", source_pictures(setup.source.signal(), 0), filters.join(","));
    let mut images = setup.watermark_images.iter();
    let mut inputs = 0;
    for (i, mark) in marks.iter().enumerate() {
        if let Clock::Still(at) = clock
            && !mark.shows_at(at)
        {
            // Its image, if it has one, stays in the order of the marks.
            if mark.image.is_some() {
                images.next();
            }
            continue;
        }
        inputs += 1;
        let opacity = mark.opacity.unwrap_or(1.0);
        let (x, y) = (mark.x.resolve(frame.width), mark.y.resolve(frame.height));
        let too_large = |size: String| {
            source_error(
                ErrorCode::WatermarkTooLarge,
                format!(
                    "watermark {} ({size}, {x},{y} px from {:?}) does not fit in the {}x{} picture",
                    i + 1,
                    mark.origin,
                    frame.width,
                    frame.height
                ),
            )
        };
        let mut steps = Vec::new();
        let input = match &mark.text {
            Some(text) => {
                let path = setup.workdir.join(format!("text-{i}.png"));
                let room = (frame.width.saturating_sub(x), frame.height.saturating_sub(y));
                if room.0 < MIN_SIZE || room.1 < MIN_SIZE {
                    return Err(too_large("text".into()));
                }
                if !plan.text_images.iter().any(|planned| planned.path == path) {
                    let color = rgb(mark.color.as_deref().unwrap_or("white"))
                        .ok_or_else(|| source_error(ErrorCode::Internal, "unknown text colour"))?;
                    let size = mark.font_size.unwrap_or(Length::Percent(5.0)).resolve(frame.height).max(MIN_SIZE);
                    let image = TextImage {
                        text: text.clone(),
                        size,
                        rgb: color,
                        opacity,
                        outline: mark.outline.unwrap_or(Length::Percent(8.0)).resolve(size),
                        outline_rgb: mark.outline_color.as_deref().and_then(rgb).unwrap_or_else(|| contrasting(color)),
                        shadow: mark.shadow,
                    };
                    plan.text_images.push(PlannedText { path: path.clone(), image, room });
                }
                steps.push("format=rgba".to_owned());
                path
            }
            None => {
                let image = images
                    .next()
                    .ok_or_else(|| source_error(ErrorCode::Internal, format!("watermark image {i} was not fetched")))?;
                let (width, height) = match mark.width {
                    Some(width) => {
                        let scaled = width.resolve(frame.width).max(1);
                        steps.push(format!("scale={scaled}:-1"));
                        let height = (f64::from(image.height) * f64::from(scaled) / f64::from(image.width)).round();
                        (scaled, height as u32)
                    }
                    None => (image.width, image.height),
                };
                if x + width > frame.width || y + height > frame.height {
                    return Err(too_large(format!("{width}x{height} px")));
                }
                steps.push("format=rgba".to_owned());
                if opacity < 1.0 {
                    steps.push(format!("colorchannelmixer=aa={}", ratio(opacity)));
                }
                image.path.clone()
            }
        };
        args.extend(strings(["-protocol_whitelist", "file", "-f", "png_pipe", "-i"]));
        args.push(file(&input));
        let (px, py) = corner(mark.origin, x, y);
        let enable = match clock {
            Clock::Timed(offset) if mark.is_timed() => {
                let from = seconds(mark.start.unwrap_or(0.0) - offset);
                match mark.end {
                    Some(end) => format!(":enable='between(t,{from},{})'", seconds(end - offset)),
                    None => format!(":enable='gte(t,{from})'"),
                }
            }
            _ => String::new(),
        };
        graph.push_str(&format!(
            "[base{i}];[{inputs}:v]{steps}[mark{i}];[base{i}][mark{i}]overlay=x={px}:y={py}{enable}",
            steps = steps.join(","),
        ));
    }
    graph.push_str("[vout]");
    Ok(graph)
}

/// What the frames of a graph's output are on the output's clock: a video or animation whose
/// first frame is `offset` seconds into it (a chunk's), or one still picture taken at a time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Clock {
    Timed(f64),
    Still(f64),
}

/// Overlay coordinates from a corner: offsets grow inwards from that corner.
fn corner(origin: Corner, x: u32, y: u32) -> (String, String) {
    let (right, bottom) = (format!("main_w-overlay_w-{x}"), format!("main_h-overlay_h-{y}"));
    match origin {
        Corner::TopLeft => (x.to_string(), y.to_string()),
        Corner::TopRight => (right, y.to_string()),
        Corner::BottomLeft => (x.to_string(), bottom),
        Corner::BottomRight => (right, bottom),
    }
}
