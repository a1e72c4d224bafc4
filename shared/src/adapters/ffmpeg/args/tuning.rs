//! Probing a title (`crf: auto`): its sample windows are cut from the source once, at the size
//! scores are computed at ([`scored_size`]) and the output's rate, losslessly, into one file;
//! each probe encodes that file as the task would (its size, codec and preset) at one CRF and
//! is scored with VMAF against it, one frame in [`SCORED_EVERY`].

use super::transcode::{Rate, video_codec_args};
use super::*;
use crate::domain::task::SCORED_EVERY;

/// Where a title's samples are, and how they were cut.
#[derive(Clone, Copy, Debug)]
pub struct Samples<'a> {
    /// The lossless file of every window, one after the other.
    pub path: &'a Path,
    /// The output's frame rate (the task's, or the source's when known).
    pub fps: Option<f64>,
    /// The size they were cut at: the size scores are computed at.
    pub size: Size,
}

/// The run that cuts the `windows` (start and length in the source, seconds) from `input` into
/// `samples`.
pub fn cut_samples(input: &str, windows: &[(f64, f64)], samples: Samples<'_>) -> Result<Vec<String>, MediaFailure> {
    debug_assert!(input.starts_with("http://127.0.0.1:"), "the source is read from the loopback server");
    let mut args = head();
    for (start, length) in windows {
        source_input(&mut args, input, Some(*start), Some(*length));
    }
    let rate = samples.fps.map(|fps| format!("fps={},", ratio(fps))).unwrap_or_default();
    let Size { width, height } = samples.size;
    let mut graph = String::new();
    for i in 0..windows.len() {
        graph.push_str(&format!(
            "[{i}:v:0]setpts=PTS-STARTPTS,{rate}scale={width}:{height}:flags=bicubic,setsar=1,format=yuv420p[w{i}];"
        ));
    }
    graph.extend((0..windows.len()).map(|i| format!("[w{i}]")));
    graph.push_str(&format!("concat=n={}:v=1:a=0[samples]", windows.len()));
    args.extend(["-filter_complex".into(), graph, "-map".into(), "[samples]".into()]);
    args.extend(strings(["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"]));
    args.extend(["-f".into(), "matroska".into(), file_at(samples.path)?]);
    Ok(args)
}

/// The run that encodes the `samples` at `frame` size with the task's `codec` and `rate`, into
/// `probe`.
pub fn encode_probe(
    samples: Samples<'_>,
    frame: Size,
    codec: VideoCodec,
    crf: u8,
    max_kbps: Option<u32>,
    probe: &Path,
) -> Result<Vec<String>, MediaFailure> {
    let mut args = head();
    args.extend(strings(["-protocol_whitelist", "file", "-i"]));
    args.push(file_at(samples.path)?);
    args.extend(["-vf".into(), format!("scale={}:{},setsar=1,format=yuv420p", frame.width, frame.height)]);
    args.extend(strings(["-map", "0:v:0"]));
    video_codec_args(&mut args, codec, Container::Mkv, Rate { crf: Some(crf), kbps: None, max_kbps });
    args.extend(["-f".into(), "matroska".into(), file_at(probe)?]);
    Ok(args)
}

/// The run that scores `probe` against the `samples` by VMAF, frame by frame into `log`.
pub fn score_probe(
    probe: &Path,
    samples: Samples<'_>,
    log: &Path,
    threads: usize,
) -> Result<Vec<String>, MediaFailure> {
    let mut args = head();
    args.extend(strings(["-protocol_whitelist", "file", "-i"]));
    args.push(file_at(probe)?);
    args.push("-i".into());
    args.push(file_at(samples.path)?);
    let Size { width, height } = samples.size;
    let log = plain_path(log)?;
    let graph = format!(
        "[0:v:0]framestep={SCORED_EVERY},scale={width}:{height}:flags=bicubic,setsar=1,format=yuv420p[d];\
         [1:v:0]framestep={SCORED_EVERY}[r];\
         [d][r]libvmaf=log_fmt=json:log_path={log}:n_threads={threads}:shortest=1[s]"
    );
    args.extend(["-filter_complex".into(), graph, "-map".into(), "[s]".into(), "-f".into(), "null".into(), "-".into()]);
    Ok(args)
}

/// A scratch file as an ffmpeg output or input, refused when its path is not plain.
fn file_at(path: &Path) -> Result<String, MediaFailure> {
    plain_path(path)?;
    Ok(file(path))
}
