//! Snapshots: still images at time points, with fallbacks for pictures that do not decode.

use super::*;

pub(super) fn snapshot(
    setup: &RenderRequest<'_>,
    input: &str,
    spec: &SnapshotSpec,
    plan: &mut Plan,
) -> Result<(), MediaFailure> {
    let source = setup.source;
    let frame = display_size(source)?.fit(spec.width, spec.height, false, false);
    // The last picture starts about one frame before the pictures end (sound may run on).
    let frame_seconds = 1.0 / source.video.as_ref().and_then(|v| v.fps).unwrap_or(25.0);
    let last_picture = source.picture_duration().map(|d| (d - frame_seconds).max(0.0));
    let (encoder, content_type) = image_encoder(spec.format);
    for (number, time) in spec.times.iter().enumerate() {
        let at = time.resolve(source.duration).ok_or_else(|| {
            source_error(
                ErrorCode::InvalidTimeRange,
                format!("time point {time} needs the source duration, which is unknown"),
            )
        })?;
        let at = last_picture.map_or(at, |last| at.min(last));
        let path = setup.workdir.join(format!("out-{number}.{}", spec.format));
        let filters = [format!("scale={}:{}", frame.width, frame.height), "setsar=1".into()];
        // One picture from `seek` (input or output seeking), or every picture (the last stays).
        let mut attempt = |input_seek: Option<f64>, output_seek: Option<f64>, one: bool| {
            let mut args = head();
            source_input(&mut args, input, input_seek, None);
            let graph = video_graph(setup, &mut args, &filters, &spec.watermarks, frame, Clock::Still(at), plan)?;
            args.extend(["-filter_complex".into(), graph, "-map".into(), "[vout]".into()]);
            if let Some(at) = output_seek {
                args.extend(["-ss".into(), seconds(at)]);
            }
            if one {
                args.extend(strings(["-frames:v", "1"]));
            }
            args.push("-an".into());
            args.extend(encoder.iter().map(|s| (*s).to_owned()));
            args.extend(strings(["-f", "image2", "-update", "1"]));
            args.push(file(&path));
            Ok::<_, MediaFailure>(args)
        };
        let mut attempts = vec![attempt(Some(at), None, true)?];
        if at > 0.0 {
            attempts.push(attempt(None, Some(at), true)?);
        }
        attempts.push(attempt(None, None, false)?);
        plan.runs.push(Run {
            attempts,
            output: PlannedOutput {
                path,
                slot: OutputSlot::Main(number),
                content_type,
                timed: false,
                max_duration: None,
                size: Some(frame),
                sequence: false,
                index_last: false,
            },
            label: Some(format!("time point {time}")),
        });
    }
    Ok(())
}
