//! Scoring outputs against the source: one decode of the source's stretch, split to each
//! rendition scored; both sides brought to the same clock (from 0), rate and size (the
//! source's, at most [`SCORED_WITHIN`]), and one frame in [`SCORED_EVERY`] compared.

use super::*;
use crate::domain::task::{QualityMetric, SCORED_EVERY, SCORED_WITHIN};

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
}

/// The run that scores, and the per-frame log each scored stream writes, in stream order.
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

pub fn score(
    metric: QualityMetric,
    scored: Scored<'_>,
    reference: Reference<'_>,
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
    args.extend(["-i".into(), file(scored.path)]);
    source_input(&mut args, reference.input, Some(reference.start), reference.length);
    let size = scored_size(reference.size);
    let rate = reference.fps.map(|fps| format!("fps={},", ratio(fps))).unwrap_or_default();
    // Frames are dropped before they are scaled: only those compared cost a scaling.
    let common = format!(
        "setpts=PTS-STARTPTS,{rate}framestep={SCORED_EVERY},scale={}:{}:flags=bicubic,setsar=1,format=yuv420p",
        size.width, size.height
    );
    let mut graph = format!("[1:v:0]{common},split={streams}");
    graph.extend((0..streams).map(|i| format!("[r{i}]")));
    let mut logs = Vec::with_capacity(streams);
    for i in 0..streams {
        let log = workdir.join(format!("quality-{i}.{}", if metric == QualityMetric::Vmaf { "json" } else { "log" }));
        let path = plain_path(&log)?;
        let compare = match metric {
            QualityMetric::Vmaf => format!("libvmaf=log_fmt=json:log_path={path}:n_threads={threads}"),
            QualityMetric::Ssim | QualityMetric::Psnr => format!("{}=stats_file={path}", metric_filter(metric)),
        };
        graph.push_str(&format!(";[0:v:{i}]{common}[d{i}];[d{i}][r{i}]{compare}:shortest=1[s{i}]"));
        logs.push(log);
    }
    args.extend(["-filter_complex".into(), graph]);
    for i in 0..streams {
        args.extend(["-map".into(), format!("[s{i}]"), "-f".into(), "null".into(), "-".into()]);
    }
    Ok(Scoring { args, logs })
}
