//! Measuring outputs against their source, for the tests and the bench.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, ensure};

/// The SSIM of each frame of `encoded` against the same frame of `reference`, the reference
/// scaled to `size` first when given (an encode at another size).
pub fn ssim_per_frame(
    ffmpeg: &Path,
    encoded: &Path,
    reference: &Path,
    size: Option<(u32, u32)>,
) -> anyhow::Result<Vec<f64>> {
    let dir = tempfile::tempdir()?;
    let stats = dir.path().join("ssim.log");
    let reference_filter = size.map_or("[1:v]null[ref]".to_owned(), |(w, h)| format!("[1:v]scale={w}:{h}[ref]"));
    let output = Command::new(ffmpeg)
        .args(["-hide_banner", "-nostats", "-loglevel", "error", "-i"])
        .arg(encoded)
        .arg("-i")
        .arg(reference)
        .args(["-lavfi", &format!("{reference_filter};[0:v][ref]ssim=stats_file={}", stats.display())])
        .args(["-f", "null", "-"])
        .output()
        .with_context(|| format!("cannot run {}", ffmpeg.display()))?;
    ensure!(output.status.success(), "ssim: {}", String::from_utf8_lossy(&output.stderr));
    std::fs::read_to_string(&stats)?
        .lines()
        .map(|line| {
            let all = line.split_whitespace().find_map(|field| field.strip_prefix("All:")).context("no All:")?;
            Ok(all.parse::<f64>()?)
        })
        .collect()
}

/// The mean SSIM over every frame (see [`ssim_per_frame`]).
pub fn ssim(ffmpeg: &Path, encoded: &Path, reference: &Path, size: Option<(u32, u32)>) -> anyhow::Result<f64> {
    let frames = ssim_per_frame(ffmpeg, encoded, reference, size)?;
    ensure!(!frames.is_empty(), "no frame was compared");
    Ok(frames.iter().sum::<f64>() / frames.len() as f64)
}
