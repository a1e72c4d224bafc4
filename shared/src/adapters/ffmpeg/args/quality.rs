//! Scoring outputs against the source: one decode of the source's stretch (or of one window of
//! it), split to each rendition scored; both sides brought to the same clock (from 0), rate and
//! size (the source's, at most [`SCORED_WITHIN`]), and one frame in [`SCORED_EVERY`] compared.

use super::*;
use crate::domain::task::{QualityMetric, SCORED_EVERY, SCORED_WITHIN, Window};

/// What is scored: a file of ours, or a concat list of our chunks, with `streams` video
/// streams (one per rendition).
#[derive(Clone, Copy, Debug)]
pub struct Scored<'a> {
    pub path: &'a Path,
    pub concat: bool,
    pub streams: usize,
}

/// Where the source's stretch to compare with is, and how it is seen.
#[derive(Clone, Copy, Debug)]
pub struct Reference<'a> {
    /// The upload, from the loopback server.
    pub input: &'a str,
    pub start: f64,
    pub length: Option<f64>,
    /// The source's display size.
    pub size: Size,
    /// The outputs' frame rate, when they have one of their own or the source's is known.
    pub fps: Option<f64>,
    /// How the source's pictures are coded: compared as its outputs were made of them
    /// (deinterlaced, in SDR).
    pub signal: Signal,
}

/// The run that scores (one window), and the per-frame log each scored stream writes, in
/// stream order.
#[derive(Debug)]
pub struct Scoring {
    pub args: Vec<String>,
    pub logs: Vec<PathBuf>,
}

/// The size pictures are compared at: the source's, scaled down to fit [`SCORED_WITHIN`]
/// (turned for a portrait source).
pub fn scored_size(source: Size) -> Size {
    let (wide, high) = SCORED_WITHIN;
    let (width, height) = if source.height > source.width { (high, wide) } else { (wide, high) };
    source.fit(width, height, false, true)
}

/// The ffmpeg filter that computes `metric`.
pub fn metric_filter(metric: QualityMetric) -> &'static str {
    match metric {
        QualityMetric::Vmaf => "libvmaf",
        QualityMetric::Ssim => "ssim",
        QualityMetric::Psnr => "psnr",
    }
}

/// The run that scores `window` of the `scored` file (the `number`th window).
pub fn score(
    metric: QualityMetric,
    scored: Scored<'_>,
    reference: Reference<'_>,
    (window, number): (Window, usize),
    workdir: &Path,
    threads: usize,
) -> Result<Scoring, MediaFailure> {
    debug_assert!(reference.input.starts_with("http://127.0.0.1:"), "the source is read from the loopback server");
    plain_path(scored.path)?;
    plain_path(workdir)?;
    let streams = scored.streams.max(1);
    let mut args = head();
    args.extend(strings(["-protocol_whitelist", "file"]));
    if scored.concat {
        args.extend(strings(["-f", "concat", "-safe", "1"]));
    }
    // A window is read from a little before it (a second's worth of whole frames), so that
    // the source frame an output frame was made from is read even when it lies before the
    // window's start; both are brought to the output's rate on that one clock, then cut.
    let preroll = reference.fps.map_or(1.0, |fps| fps.ceil() / fps).min(window.start);
    let from = window.start - preroll;
    if from > 0.0 {
        args.extend(["-ss".into(), seconds(from)]);
    }
    if let Some(length) = window.length {
        args.extend(["-t".into(), seconds(preroll + length)]);
    }
    args.extend(["-i".into(), file(scored.path)]);
    let length = window.length.map(|length| preroll + length).or(reference.length);
    source_input(&mut args, reference.input, Some(reference.start + from), length);
    let size = scored_size(reference.size);
    let rate = reference.fps.map(|fps| format!("{},", fps_filter(fps))).unwrap_or_default();
    // Frames are dropped before they are scaled: only those compared cost a scaling.
    let rest =
        format!("framestep={SCORED_EVERY},scale={}:{}:flags=bicubic,setsar=1,format=yuv420p", size.width, size.height);
    let (scored_side, source_side) = match window == Window::WHOLE {
        // A whole output and its stretch of the source each start from their first frame.
        true => {
            let side = format!("setpts=PTS-STARTPTS,{rate}{rest}");
            (side.clone(), side)
        }
        // A window's frames are put back on the clock the output was made on (ffmpeg moved
        // them by the seek, rounded to each stream's time base: the same rounding is undone),
        // so that the rate is changed exactly as the encode changed it, then cut at the window.
        false => {
            let cut = format!(
                "{rate}trim=start={}:duration={},setpts=PTS-STARTPTS,{rest}",
                seconds(window.start),
                seconds(window.length.unwrap_or(f64::MAX))
            );
            let scored_side = format!("setpts=PTS+round({}/TB),{cut}", seconds(from));
            let (at, start) = (seconds(reference.start + from), seconds(reference.start));
            (scored_side, format!("setpts=PTS+round({at}/TB)-round({start}/TB),{cut}"))
        }
    };
    let mut graph = format!("{}{source_side},split={streams}", source_pictures(reference.signal, 1));
    graph.extend((0..streams).map(|i| format!("[r{i}]")));
    let mut logs = Vec::with_capacity(streams);
    for i in 0..streams {
        let extension = if metric == QualityMetric::Vmaf { "json" } else { "log" };
        let log = workdir.join(format!("quality-{i}-{number}.{extension}"));
        let path = plain_path(&log)?;
        let compare = match metric {
            QualityMetric::Vmaf => format!("libvmaf=log_fmt=json:log_path={path}:n_threads={threads}"),
            QualityMetric::Ssim | QualityMetric::Psnr => format!("{}=stats_file={path}", metric_filter(metric)),
        };
        graph.push_str(&format!(";[0:v:{i}]{scored_side}[d{i}];[d{i}][r{i}]{compare}:shortest=1[s{i}]"));
        logs.push(log);
    }
    args.extend(["-filter_complex".into(), graph]);
    for i in 0..streams {
        args.extend(["-map".into(), format!("[s{i}]"), "-f".into(), "null".into(), "-".into()]);
    }
    Ok(Scoring { args, logs })
}
