//! The media tool over a pinned ffmpeg/ffprobe pair (the Lambda layer's `/opt/bin`, or any
//! binaries named by `FFMPEG_PATH`/`FFPROBE_PATH`).
//!
//! Both run with a cleared environment and an argument vector (no shell), on blocking threads
//! off the async executor. [`args`] decides every argument.

pub mod args;
pub mod probe;
pub mod text;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use ffmpeg_sidecar::command::FfmpegCommand;
use ffmpeg_sidecar::event::{FfmpegEvent, LogLevel};
use tracing::{debug, warn};

use crate::domain::job::ErrorCode;
use crate::domain::media::MediaInfo;
use crate::ports::{MediaFailure, MediaTool, RenderRequest, Rendered};

/// How long a probe may take; probes read headers, not whole files.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);
/// How many of ffmpeg's error lines a failure message quotes.
const QUOTED_ERRORS: usize = 3;

/// [`MediaTool`] running ffmpeg and ffprobe.
#[derive(Clone, Debug)]
pub struct Ffmpeg {
    ffmpeg: PathBuf,
    ffprobe: PathBuf,
    font: PathBuf,
}

impl Ffmpeg {
    pub fn new(ffmpeg: PathBuf, ffprobe: PathBuf, font: PathBuf) -> Self {
        Self { ffmpeg, ffprobe, font }
    }

    /// Runs ffprobe on `file`; `demuxers` limits what may open it.
    async fn ffprobe(&self, file: &Path, demuxers: Option<&str>) -> Result<(bool, Vec<u8>, String), MediaFailure> {
        let mut command = tokio::process::Command::new(&self.ffprobe);
        command.env_clear().stdin(Stdio::null()).kill_on_drop(true);
        command.args(["-hide_banner", "-v", "error", "-protocol_whitelist", "file"]);
        if let Some(demuxers) = demuxers {
            command.args(["-format_whitelist", demuxers]);
        }
        command.args(["-print_format", "json", "-show_format", "-show_streams"]);
        command.arg(format!("file:{}", args::plain_path(file)?));
        let output = tokio::time::timeout(PROBE_TIMEOUT, command.output())
            .await
            .map_err(|_| MediaFailure::new(ErrorCode::SourceCorrupt, "probing the file did not finish in time"))?
            .map_err(|e| {
                MediaFailure::new(ErrorCode::Internal, format!("cannot run {}: {e}", self.ffprobe.display()))
            })?;
        Ok((output.status.success(), output.stdout, String::from_utf8_lossy(&output.stderr).into_owned()))
    }

    /// Runs ffmpeg with `args`, stopping it when `allowed` runs out; on failure returns its
    /// error lines.
    async fn ffmpeg(&self, args: Vec<String>, allowed: Option<Duration>) -> Result<(), MediaFailure> {
        let binary = self.ffmpeg.clone();
        debug!(args = ?args, "running ffmpeg");
        let outcome = tokio::task::spawn_blocking(move || run_ffmpeg(&binary, &args, allowed))
            .await
            .map_err(|e| MediaFailure::new(ErrorCode::Internal, format!("ffmpeg thread failed: {e}")))?
            .map_err(|e| {
                MediaFailure::new(ErrorCode::Internal, format!("cannot run {}: {e}", self.ffmpeg.display()))
            })?;
        match outcome {
            Ran::Finished { errors } => {
                if !errors.is_empty() {
                    warn!(errors = ?errors, "ffmpeg succeeded with errors");
                }
                Ok(())
            }
            Ran::Failed { errors } => Err(classify_run_failure(&errors)),
            Ran::Stopped { after } => Err(MediaFailure::new(
                ErrorCode::Timeout,
                format!("stopped after {:.1}s: the invocation would have ended before ffmpeg", after.as_secs_f64()),
            )),
        }
    }

    /// Checks a written output and describes it: present, not empty, as long as planned.
    async fn check(&self, output: &args::PlannedOutput) -> Result<Rendered, MediaFailure> {
        let size = tokio::fs::metadata(&output.path).await.map(|m| m.len()).unwrap_or(0);
        if size == 0 {
            return Err(MediaFailure::new(
                ErrorCode::SourceCorrupt,
                "ffmpeg decoded no picture or sound for this output: the source is damaged or too short",
            ));
        }
        let facts = match self.ffprobe(&output.path, None).await? {
            (true, json, _) => probe::parse(&json).ok(),
            (false, _, _) => None,
        };
        let video = facts.as_ref().and_then(|f| f.video.as_ref()).filter(|v| v.width > 0);
        // A still image has no duration, whatever its container says.
        let duration = facts.as_ref().and_then(|f| f.duration).filter(|_| output.timed);
        if let (Some(expected), Some(actual)) = (output.expected_duration, duration) {
            // ffmpeg stops quietly where a damaged source ends; a short output tells.
            if actual + (expected * 0.05).max(1.0) < expected {
                return Err(MediaFailure::new(
                    ErrorCode::SourceCorrupt,
                    format!("the source ends early or is damaged: decoded {actual:.2}s of {expected:.2}s"),
                ));
            }
        }
        Ok(Rendered {
            path: output.path.clone(),
            number: output.number,
            content_type: output.content_type,
            duration,
            width: video.map(|v| v.width).or(output.size.map(|s| s.width)),
            height: video.map(|v| v.height).or(output.size.map(|s| s.height)),
        })
    }
}

/// How an ffmpeg run ended.
enum Ran {
    Finished {
        errors: Vec<String>,
    },
    Failed {
        errors: Vec<String>,
    },
    /// Killed by the watchdog when its time ran out.
    Stopped {
        after: Duration,
    },
}

/// Runs ffmpeg (cleared environment, argument vector) and collects its error lines; a
/// watchdog thread kills it if it is still running after `allowed`.
fn run_ffmpeg(binary: &Path, args: &[String], allowed: Option<Duration>) -> std::io::Result<Ran> {
    let mut command = FfmpegCommand::new_with_path(binary);
    command.args(args);
    command.as_inner_mut().env_clear();
    let mut child = command.spawn()?;
    let events = child.iter().map_err(std::io::Error::other)?;
    let child = Arc::new(Mutex::new(child));
    let (finished, finished_signal) = mpsc::channel::<()>();
    let watchdog = allowed.map(|allowed| {
        let child = child.clone();
        std::thread::spawn(move || match finished_signal.recv_timeout(allowed) {
            Err(RecvTimeoutError::Timeout) => {
                if let Ok(mut child) = child.lock() {
                    let _ = child.kill();
                }
                true
            }
            _ => false,
        })
    });
    let started = Instant::now();
    let mut errors = Vec::new();
    for event in events {
        match event {
            FfmpegEvent::Log(LogLevel::Error | LogLevel::Fatal, line) => errors.push(line),
            // The sidecar's own remarks (about stdout streams we do not use).
            FfmpegEvent::Error(remark) => debug!(%remark, "ffmpeg-sidecar"),
            _ => {}
        }
    }
    let _ = finished.send(());
    let stopped = watchdog.is_some_and(|watchdog| watchdog.join().unwrap_or(false));
    let status = child.lock().map_err(|_| std::io::Error::other("ffmpeg child lock poisoned"))?.wait()?;
    Ok(match (stopped, status.success()) {
        (true, _) => Ran::Stopped { after: started.elapsed() },
        (false, true) => Ran::Finished { errors },
        (false, false) => Ran::Failed { errors },
    })
}

/// A failed render of a source that probed fine: damaged media, a bad watermark image, or ours.
fn classify_run_failure(errors: &[String]) -> MediaFailure {
    let quoted: Vec<String> =
        errors.iter().rev().take(QUOTED_ERRORS).rev().map(|line| probe::strip_context(line)).collect();
    let text = errors.join("\n");
    // Downloaded watermark images are `watermark-<n>.png`, opened with the png_pipe demuxer.
    let code = if text.contains("watermark-") || text.contains("png_pipe") {
        ErrorCode::InvalidWatermarkImage
    } else if [
        "Invalid data",
        "partial file",
        "corrupt",
        "Error while decoding",
        "moov atom",
        "error splitting",
        "Invalid NAL",
    ]
    .iter()
    .any(|sign| text.contains(sign))
    {
        ErrorCode::SourceCorrupt
    } else {
        ErrorCode::Internal
    };
    let detail = if quoted.is_empty() { "no error output".to_owned() } else { quoted.join("; ") };
    MediaFailure::new(code, format!("ffmpeg failed: {detail}"))
}

#[async_trait]
impl MediaTool for Ffmpeg {
    async fn probe(&self, file: &Path) -> Result<MediaInfo, MediaFailure> {
        let (ok, json, stderr) = self.ffprobe(file, Some(args::DEMUXERS)).await?;
        if !ok {
            return Err(probe::classify_failure(&stderr));
        }
        let info = probe::parse(&json)?;
        if info.video.is_none() && info.audio.is_none() {
            return Err(MediaFailure::new(ErrorCode::SourceNoMedia, "the file has no audio or video stream"));
        }
        Ok(info)
    }

    async fn render(&self, request: &RenderRequest<'_>) -> Result<Vec<Rendered>, MediaFailure> {
        let plan = args::plan(request)?;
        if !plan.text_images.is_empty() {
            let font = tokio::fs::read(&self.font).await.map_err(|e| {
                MediaFailure::new(ErrorCode::Internal, format!("cannot read the font {}: {e}", self.font.display()))
            })?;
            for (path, text) in &plan.text_images {
                let png = text.render_png(&font).map_err(|e| MediaFailure::new(ErrorCode::Internal, e.to_string()))?;
                tokio::fs::write(path, png).await.map_err(|e| {
                    MediaFailure::new(ErrorCode::Internal, format!("cannot write {}: {e}", path.display()))
                })?;
            }
        }
        let mut rendered = Vec::with_capacity(plan.runs.len());
        for run in plan.runs {
            let allowed = match request.stop_by {
                Some(stop_by) => Some((stop_by - Utc::now()).to_std().map_err(|_| {
                    MediaFailure::new(ErrorCode::Timeout, "no time left in the invocation to run ffmpeg")
                })?),
                None => None,
            };
            self.ffmpeg(run.args, allowed).await?;
            rendered.push(self.check(&run.output).await?);
        }
        Ok(rendered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_failures_name_damaged_sources_bad_watermarks_or_ours() {
        let damaged = [
            "[h264 @ 0x1] Invalid NAL unit size (280257 > 197505).".to_owned(),
            "file:/tmp/r/input: corrupt input packet in stream 0".to_owned(),
        ];
        let failure = classify_run_failure(&damaged);
        assert_eq!(failure.code, ErrorCode::SourceCorrupt);
        assert_eq!(
            failure.message,
            "ffmpeg failed: Invalid NAL unit size (280257 > 197505).; corrupt input packet in stream 0"
        );
        let watermark = ["[png_pipe @ 0x1] Invalid PNG signature".to_owned()];
        assert_eq!(classify_run_failure(&watermark).code, ErrorCode::InvalidWatermarkImage);
        assert_eq!(classify_run_failure(&["Unknown encoder 'libfoo'".to_owned()]).code, ErrorCode::Internal);
    }
}
