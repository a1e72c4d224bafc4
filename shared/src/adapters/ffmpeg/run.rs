//! Running ffmpeg: a cleared environment and an argument vector, off the async executor, a
//! watchdog that stops it when its time runs out or nobody waits any more, and what it reported
//! while decoding, judged.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ffmpeg_sidecar::command::FfmpegCommand;
use ffmpeg_sidecar::event::{FfmpegEvent, LogLevel};
use tracing::{debug, warn};

use super::{DECODE_ERROR_LIMIT, FRAMES_PER_ERROR, NO_GCONV, args, probe};
use crate::domain::error::ErrorCode;
use crate::ports::{MediaFailure, ProgressMeter};

/// What is left of the invocation for ffmpeg.
pub(super) fn allowed(stop_by: Option<DateTime<Utc>>) -> Result<Option<Duration>, MediaFailure> {
    match stop_by {
        Some(stop_by) => (stop_by - Utc::now())
            .to_std()
            .map(Some)
            .map_err(|_| MediaFailure::new(ErrorCode::Timeout, "no time left in the invocation to run ffmpeg")),
        None => Ok(None),
    }
}

/// What ffmpeg reported while decoding: errors (the benign ones left out), whether the input
/// ended before its own index, and how many frames it wrote.
#[derive(Debug, Default)]
pub(super) struct Health {
    decode_errors: Vec<String>,
    truncated: bool,
    frames: u64,
}

impl Health {
    /// Fails a damaged source; a few decode errors in a video or animation pass with a
    /// warning, while a still picture decoded with errors is likely garbage and fails.
    pub(super) fn judge(&self, timed: bool) -> Result<Vec<String>, MediaFailure> {
        if self.truncated {
            return Err(MediaFailure::new(
                ErrorCode::SourceCorrupt,
                "the file is incomplete: its data ends before its index says",
            ));
        }
        let (errors, frames) = (self.decode_errors.len(), self.frames);
        if !timed && errors > 0 {
            warn!(errors = ?self.decode_errors.iter().take(5).collect::<Vec<_>>(), count = errors, "damaged picture");
            return Err(MediaFailure::new(
                ErrorCode::SourceCorrupt,
                format!("the file is damaged: {errors} decode errors where the picture was taken"),
            ));
        }
        if errors > DECODE_ERROR_LIMIT && errors as u64 * FRAMES_PER_ERROR > frames {
            warn!(errors = ?self.decode_errors.iter().take(5).collect::<Vec<_>>(), count = errors, frames, "damaged source");
            return Err(MediaFailure::new(
                ErrorCode::SourceCorrupt,
                format!("the file is damaged: {errors} decode errors in {frames} frames"),
            ));
        }
        if errors > 0 {
            warn!(errors = ?self.decode_errors, frames, "decode errors");
            return Ok(vec![format!(
                "{errors} decode errors in {frames} frames: the output may show glitches where the source is damaged"
            )]);
        }
        Ok(Vec::new())
    }
}

/// What the watchdog of an ffmpeg run is told (or concludes when nothing came in time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Signal {
    Finished,
    /// Whoever waited for the run is gone.
    Abandoned,
    OutOfTime,
}

/// Tells the watchdog to stop ffmpeg when the future that runs it is dropped.
pub(super) struct StopOnDrop(pub mpsc::Sender<Signal>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        // After a normal end the watchdog is gone and this goes nowhere.
        let _ = self.0.send(Signal::Abandoned);
    }
}

/// One ffmpeg run's part of its task's progress: it covers `[from, from + span)` of the task
/// and writes about `seconds` of output (ffmpeg reports the output time it reached).
#[derive(Clone, Debug)]
pub(super) struct RunShare {
    pub meter: ProgressMeter,
    pub from: f64,
    pub span: f64,
    pub seconds: f64,
}

impl RunShare {
    pub(super) fn report(&self, time: f64) {
        let done = if self.seconds > 0.0 && self.seconds < f64::MAX { (time / self.seconds).min(1.0) } else { 0.0 };
        self.meter.report(self.from + self.span * done);
    }
}

/// How an ffmpeg run ended.
#[derive(Debug)]
pub(super) enum Ran {
    Finished(Health),
    Failed {
        errors: Vec<String>,
    },
    /// Killed by the watchdog when its time ran out.
    Stopped {
        after: Duration,
    },
    /// Ended by a signal from outside (the kernel's out-of-memory killer, an operator): says
    /// nothing about the input, whatever ffmpeg logged before.
    Killed {
        signal: i32,
    },
}

/// Runs ffmpeg (cleared environment, argument vector) and collects what it reports; a
/// watchdog thread kills it if it is still running after `allowed`.
pub(super) fn run_ffmpeg(
    binary: &Path,
    args: &[String],
    allowed: Option<Duration>,
    share: Option<&RunShare>,
    signals: mpsc::Sender<Signal>,
    watch: mpsc::Receiver<Signal>,
) -> std::io::Result<Ran> {
    let mut command = FfmpegCommand::new_with_path(binary);
    command.args(args);
    command.as_inner_mut().env_clear().env(NO_GCONV.0, NO_GCONV.1);
    let mut child = command.spawn()?;
    let events = child.iter().map_err(std::io::Error::other)?;
    let child = Arc::new(Mutex::new(child));
    let watchdog = {
        let child = child.clone();
        std::thread::spawn(move || {
            let signal = match allowed {
                Some(allowed) => watch.recv_timeout(allowed).unwrap_or(Signal::OutOfTime),
                None => watch.recv().unwrap_or(Signal::Finished),
            };
            if signal != Signal::Finished
                && let Ok(mut child) = child.lock()
            {
                let _ = child.kill();
            }
            signal == Signal::OutOfTime
        })
    };
    let started = Instant::now();
    let mut errors = Vec::new();
    let mut health = Health::default();
    for event in events {
        match event {
            FfmpegEvent::Log(LogLevel::Error | LogLevel::Fatal, line) => {
                if args::is_decode_error(&line) {
                    health.decode_errors.push(line.clone());
                }
                health.truncated |= probe::truncated(&line);
                errors.push(line);
            }
            FfmpegEvent::Log(LogLevel::Warning, line) => health.truncated |= probe::truncated(&line),
            FfmpegEvent::Progress(progress) => {
                health.frames = health.frames.max(u64::from(progress.frame));
                if let (Some(share), Some(time)) = (share, args::clock_seconds(&progress.time)) {
                    share.report(time);
                }
            }
            // The sidecar's own remarks (about stdout streams we do not use).
            FfmpegEvent::Error(remark) => debug!(%remark, "ffmpeg-sidecar"),
            _ => {}
        }
    }
    let _ = signals.send(Signal::Finished);
    let stopped = watchdog.join().unwrap_or(false);
    let status = child.lock().map_err(|_| std::io::Error::other("ffmpeg child lock poisoned"))?.wait()?;
    Ok(match (stopped, status.success(), status.signal()) {
        (true, _, _) => Ran::Stopped { after: started.elapsed() },
        (false, true, _) => Ran::Finished(health),
        (false, false, Some(signal)) => Ran::Killed { signal },
        (false, false, None) => Ran::Failed { errors },
    })
}

/// A failed render of a source that probed fine, in one sentence: damaged media, a bad
/// watermark image, or ours (ffmpeg's own lines go to the log).
pub(super) fn classify_run_failure(errors: &[String]) -> MediaFailure {
    let text = errors.join("\n");
    // Downloaded watermark images are `watermark-<n>.png`, opened with the png_pipe demuxer.
    if text.contains("watermark-") || text.contains("png_pipe") {
        return MediaFailure::new(ErrorCode::InvalidWatermarkImage, "the watermark image cannot be decoded as a PNG");
    }
    let damaged = [
        "Invalid data",
        "partial file",
        "corrupt",
        "Error while decoding",
        "moov atom",
        "error splitting",
        "Invalid NAL",
    ];
    if damaged.iter().any(|sign| text.contains(sign)) {
        return MediaFailure::new(ErrorCode::SourceCorrupt, "the file is damaged: ffmpeg could not decode it");
    }
    MediaFailure::new(ErrorCode::Internal, "ffmpeg failed unexpectedly; its messages are in the worker's log")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_failures_name_damaged_sources_bad_watermarks_or_ours_without_ffmpegs_words() {
        let damaged = [
            "[h264 @ 0x1] Invalid NAL unit size (280257 > 197505).".to_owned(),
            "file:/tmp/r/input: corrupt input packet in stream 0".to_owned(),
        ];
        let failure = classify_run_failure(&damaged);
        assert_eq!(
            failure,
            MediaFailure::new(ErrorCode::SourceCorrupt, "the file is damaged: ffmpeg could not decode it")
        );
        let watermark = ["[png_pipe @ 0x1] Invalid PNG signature".to_owned()];
        assert_eq!(classify_run_failure(&watermark).code, ErrorCode::InvalidWatermarkImage);
        let ours = classify_run_failure(&["Unknown encoder 'libfoo'".to_owned()]);
        assert_eq!(ours.code, ErrorCode::Internal);
        assert!(!ours.message.contains("libfoo"));
    }

    /// Children of this process named ffmpeg (found through /proc, by parent, never by name alone).
    fn ffmpeg_children() -> Vec<String> {
        let tasks = std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten();
        let children = tasks.filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok());
        let pids: Vec<String> =
            children.flat_map(|list| list.split_whitespace().map(str::to_owned).collect::<Vec<_>>()).collect();
        pids.into_iter()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|name| name.trim() == "ffmpeg")
            })
            .collect()
    }

    #[test]
    fn an_ffmpeg_killed_from_outside_is_not_blamed_on_its_input() {
        // GIVEN a long encode (whatever it logged so far, e.g. decode errors of a damaged input)
        let args: Vec<String> = [
            "-hide_banner",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25:duration=600",
            "-vf",
            "noise=alls=20",
            "-c:v",
            "mpeg4",
            "-f",
            "null",
            "-",
        ]
        .map(str::to_owned)
        .into();
        let (signals, watch) = mpsc::channel::<Signal>();
        let running = std::thread::spawn(move || run_ffmpeg(Path::new("ffmpeg"), &args, None, None, signals, watch));
        // WHEN the kernel's out-of-memory killer (here: kill -9) ends ffmpeg halfway
        let pid = (0..100)
            .find_map(|_| {
                std::thread::sleep(Duration::from_millis(50));
                ffmpeg_children().pop()
            })
            .expect("ffmpeg running");
        std::thread::sleep(Duration::from_millis(300));
        assert!(std::process::Command::new("kill").args(["-9", &pid]).status().is_ok_and(|s| s.success()));
        // THEN the run says it was killed, not that its input failed
        let ran = running.join().expect("the run's thread").expect("ffmpeg ran");
        assert!(matches!(ran, Ran::Killed { signal: 9 }), "{ran:?}");
    }

    #[test]
    fn a_few_decode_errors_warn_and_many_fail_as_damage() {
        let health = |errors: usize, frames: u64| Health {
            decode_errors: vec!["error while decoding MB 1 2".into(); errors],
            truncated: false,
            frames,
        };
        assert_eq!(health(0, 100).judge(true), Ok(vec![]));
        assert_eq!(
            health(3, 100).judge(true),
            Ok(vec!["3 decode errors in 100 frames: the output may show glitches where the source is damaged".into()])
        );
        assert_eq!(health(50, 100_000).judge(true).map(|w| w.len()), Ok(1), "50 errors in an hour pass");
        assert_eq!(health(202, 200).judge(true).unwrap_err().code, ErrorCode::SourceCorrupt);
        assert_eq!(health(1, 1).judge(false).unwrap_err().code, ErrorCode::SourceCorrupt, "a damaged picture");
        let cut = Health { truncated: true, ..health(0, 100) };
        assert_eq!(cut.judge(true).unwrap_err().code, ErrorCode::SourceCorrupt);
        assert!(!args::is_decode_error("[h264 @ 0x1] mmco: unref short failure"));
    }
}
