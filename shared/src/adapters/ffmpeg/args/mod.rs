//! The ffmpeg argument builder: pure functions from a task spec and the probed source to the
//! exact ffmpeg runs that render it (one module per task kind, `overlay` for watermarks), and
//! from a served upload to the ffprobe runs that probe it.
//!
//! Safety rules every run follows (see the golden tests):
//! - inputs are opened with a protocol whitelist (`http,tcp` only for the upload, read from the
//!   loopback server of [`super::serve`]; `file` for our own files), the upload only through the demuxers of
//!   [`DEMUXERS`] (so a playlist or concat list disguised as a video is refused) and watermark
//!   images only as PNG;
//! - every path is one of ours (`file:` + the scratch dir, never an object key);
//! - user text never enters argv or a filter graph: text watermarks are drawn into PNGs by
//!   [`super::text`] and overlaid like images.
//!
//! Pure: imports the domain (and the port's request types) only.

use std::path::{Path, PathBuf};

use crate::domain::chunk::{Chunk, Part};
use crate::domain::error::ErrorCode;
use crate::domain::media::{Hdr, MediaInfo, Signal, Size};
use crate::domain::task::{
    AdaptiveSpec, AnimatedFormat, AnimatedSpec, AudioCodec, AudioSpec, Container, Corner, ImageFormat, Length,
    OutputSlot, SnapshotSpec, TaskSpec, TranscodeSpec, VideoCodec, WatermarkSpec, default_crf, rgb,
};
use crate::ports::{MediaFailure, RenderRequest};

use super::text::{MIN_SIZE, TextImage};

mod adaptive;
mod animated;
mod overlay;
mod quality;
mod snapshot;
mod stills;
mod transcode;
mod tuning;

use adaptive::adaptive;
pub use adaptive::{DASH_INIT, DASH_MEDIA, ENCODED, Packaging, hls_streams, master_name, package, stream_playlist};
use animated::animated;
use overlay::{Clock, video_graph};
pub use quality::{Reference, Scored, Scoring, metric_filter, score, scored_size};
use snapshot::snapshot;
use stills::{cover, sample, sprite};
pub use stills::{join_pictures, sprite_tile};
use transcode::transcode;
pub use transcode::{concat_list, join, part_name, video_frame};
pub use tuning::{ProbeEncode, ProbeRun, Samples, cut_samples, probe};

/// Demuxers an upload may be opened with: audio and video containers and elementary streams
/// (camera, phone, screen-recorder, broadcast and streaming formats). Never playlists (hls,
/// dash), lists (concat), image sequences or single images (image2, *_pipe), subtitles or
/// network protocols (rtp, rtsp, sdp).
pub const DEMUXERS: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,live_flv,mpegts,mpeg,mxf,gxf,dv,asf,nut,\
rm,ogg,wtv,ivf,h264,hevc,m4v,mpegvideo,mp3,aac,ac3,eac3,dts,dtshd,truehd,mlp,loas,flac,wav,w64,aiff,caf,amr,\
amrnb,amrwb,au,wv,ape,tta,tak,mpc,mpc8,dsf,xwma,qcp,voc,gif";

/// ffmpeg's log lines that do not mean damage: decoders say them when they start in the
/// middle of a stream (a seek, an open GOP).
const BENIGN: [&str; 4] = [
    "mmco: unref short failure",
    "co located POCs unavailable",
    "Missing reference picture",
    "reference picture missing during reorder",
];

/// Whether an error line from ffmpeg counts as a decode error.
pub fn is_decode_error(line: &str) -> bool {
    !BENIGN.iter().any(|benign| line.contains(benign))
}

/// The runs for one task and the text files they read.
#[derive(Debug, PartialEq)]
pub struct Plan {
    /// Text watermarks to draw into PNG files before running.
    pub text_images: Vec<PlannedText>,
    pub runs: Vec<Run>,
}

/// A text watermark to draw: into `path`, shrunk if needed to fit `room` (width, height).
#[derive(Debug, PartialEq)]
pub struct PlannedText {
    pub path: PathBuf,
    pub image: TextImage,
    pub room: (u32, u32),
}

/// One output file and how to make it.
#[derive(Debug, PartialEq)]
pub struct Run {
    /// Argument lists to try in turn until one writes the output: a snapshot tries a fast
    /// seek, then decoding from the start (streams whose keyframes a seek cannot find), then
    /// the last picture (a time past the real end).
    pub attempts: Vec<Vec<String>>,
    pub output: PlannedOutput,
    /// What the output shows, for messages ("time point 5s"); `None` for a whole-file output.
    pub label: Option<String>,
}

/// An output file as planned: what it should turn out to be.
#[derive(Debug, PartialEq)]
pub struct PlannedOutput {
    pub path: PathBuf,
    pub slot: OutputSlot,
    pub content_type: &'static str,
    /// Whether the output plays over time (video, audio, animations) or is a still.
    pub timed: bool,
    /// The longest the output may be (the workflow's limit): ffmpeg stops just past it.
    pub max_duration: Option<f64>,
    pub size: Option<Size>,
    /// Numbered files (`path` holds `%d`), as many as the run writes: outputs `Main(0…)`.
    pub sequence: bool,
    /// Written front to back with its index last (an MP4 without `+faststart`), so that it can
    /// be sent while it is written: the index is moved to the front when it is stored.
    pub index_last: bool,
}

impl PlannedOutput {
    /// A task's one video or audio file, held to the workflow's longest duration.
    fn media(path: PathBuf, content_type: &'static str, max_duration: f64, size: Option<Size>) -> Self {
        PlannedOutput {
            path,
            slot: OutputSlot::Main(0),
            content_type,
            timed: true,
            max_duration: Some(max_duration),
            size,
            sequence: false,
            index_last: false,
        }
    }

    /// Pictures of `size` written as numbered files from 0.
    fn pictures(path: PathBuf, content_type: &'static str, size: Size) -> Self {
        PlannedOutput {
            path,
            slot: OutputSlot::Main(0),
            content_type,
            timed: false,
            max_duration: None,
            size: Some(size),
            sequence: true,
            index_last: false,
        }
    }
}

pub(super) fn source_error(code: ErrorCode, message: impl Into<String>) -> MediaFailure {
    MediaFailure::new(code, message)
}

/// The ffprobe arguments that read an upload's headers through the loopback server at `url`.
pub fn header_probe(url: &str) -> Vec<String> {
    let mut args = probe_input(url);
    args.extend(strings(["-print_format", "json", "-show_format", "-show_streams"]));
    args.push(url.to_owned());
    args
}

/// The ffprobe arguments that list the packets from `from` seconds to the end: where the media
/// really ends (a header may say otherwise), and whether the data is cut short.
pub fn tail_probe(url: &str, from: f64) -> Vec<String> {
    let mut args = probe_input(url);
    args.extend(["-read_intervals".into(), format!("{}%", seconds(from.max(0.0)))]);
    args.extend(strings(["-print_format", "json", "-show_entries", "packet=pts_time,dts_time,duration_time"]));
    args.push(url.to_owned());
    args
}

/// The ffprobe arguments that print, for each of `times` (seconds on the file's clock), the
/// first video packet a seek there reads: the keyframe ffmpeg's seek lands on.
pub fn keyframe_probe(url: &str, times: &[f64]) -> Vec<String> {
    let mut args = probe_input(url);
    let intervals: Vec<String> = times.iter().map(|at| format!("{}%+#1", seconds(at.max(0.0)))).collect();
    args.extend(["-read_intervals".into(), intervals.join(",")]);
    args.extend(strings(["-select_streams", "v:0", "-print_format", "json"]));
    args.extend(strings(["-show_entries", "packet=pts_time,flags"]));
    args.push(url.to_owned());
    args
}

/// The ffprobe arguments that describe an output file mediaflow wrote.
pub fn output_probe(path: &Path) -> Result<Vec<String>, MediaFailure> {
    let mut args: Vec<String> =
        strings(["-hide_banner", "-v", "error", "-protocol_whitelist", "file", "-print_format", "json"]).collect();
    args.extend(strings(["-show_format", "-show_streams"]));
    args.push(format!("file:{}", plain_path(path)?));
    Ok(args)
}

fn probe_input(url: &str) -> Vec<String> {
    debug_assert!(url.starts_with("http://127.0.0.1:"), "probes read only the loopback server");
    strings(["-hide_banner", "-v", "warning", "-protocol_whitelist", "http,tcp", "-format_whitelist", DEMUXERS])
        .collect()
}

/// Builds the runs for `setup.spec`, reading the upload from `input`, the loopback server's URL.
pub fn plan(setup: &RenderRequest<'_>, input: &str) -> Result<Plan, MediaFailure> {
    debug_assert!(input.starts_with("http://127.0.0.1:"), "renders read the upload from the loopback server");
    plain_path(setup.workdir)?;
    for image in setup.watermark_images {
        plain_path(&image.path)?;
    }
    let mut plan = Plan { text_images: Vec::new(), runs: Vec::new() };
    match setup.spec {
        TaskSpec::Transcode(spec) => transcode(setup, input, spec, &mut plan)?,
        TaskSpec::Watermark(spec) => transcode(setup, input, &spec.as_transcode(), &mut plan)?,
        TaskSpec::Snapshot(spec) => snapshot(setup, input, spec, &mut plan)?,
        TaskSpec::Animated(spec) => animated(setup, input, spec, &mut plan)?,
        TaskSpec::Adaptive(spec) => adaptive(setup, input, spec, &mut plan)?,
        TaskSpec::Sample(spec) => sample(setup, input, spec, &mut plan)?,
        TaskSpec::Sprite(spec) => sprite(setup, input, spec, &mut plan)?,
        TaskSpec::Cover(spec) => cover(setup, input, spec, &mut plan)?,
    }
    Ok(plan)
}

/// The seconds of an ffmpeg clock (`00:01:02.50` in its progress lines); `None` for `N/A` and
/// negative times.
pub fn clock_seconds(clock: &str) -> Option<f64> {
    let mut seconds = 0.0;
    let clock = clock.trim();
    if clock.starts_with('-') {
        return None;
    }
    for part in clock.split(':') {
        let value: f64 = part.parse().ok().filter(|v: &f64| v.is_finite())?;
        seconds = seconds * 60.0 + value;
    }
    Some(seconds)
}

/// Our paths go into argv and filter graphs: keep them free of anything either would read as
/// syntax.
pub(crate) fn plain_path(path: &Path) -> Result<&str, MediaFailure> {
    path.to_str()
        .filter(|p| p.starts_with('/') && p.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c)))
        .ok_or_else(|| source_error(ErrorCode::Internal, format!("unsafe scratch path {}", path.display())))
}

pub(super) fn file(path: &Path) -> String {
    format!("file:{}", path.display())
}

pub(super) fn strings<const N: usize>(items: [&str; N]) -> impl Iterator<Item = String> {
    items.into_iter().map(str::to_owned)
}

pub(super) fn head() -> Vec<String> {
    strings(["-hide_banner", "-nostdin", "-y"]).collect()
}

/// The upload as input, optionally cut to `[start, start + length)`.
pub(super) fn source_input(args: &mut Vec<String>, input: &str, start: Option<f64>, length: Option<f64>) {
    args.extend(strings(["-protocol_whitelist", "http,tcp", "-format_whitelist", DEMUXERS]));
    if let Some(start) = start.filter(|s| *s > 0.0) {
        args.extend(["-ss".into(), seconds(start)]);
    }
    if let Some(length) = length {
        args.extend(["-t".into(), seconds(length)]);
    }
    args.extend(["-i".into(), input.to_owned()]);
}

pub(super) fn seconds(value: f64) -> String {
    format!("{value:.3}")
}

/// Makes each interlaced picture one progressive picture at the same rate (frames not flagged
/// interlaced pass as they are).
const DEINTERLACE: &str = "bwdif=mode=send_frame:deint=interlaced";

/// Brings HDR pictures to SDR (BT.709, 8 bits): linear light at SDR's 100 nits, BT.709
/// primaries, highlights compressed smoothly (Möbius: what SDR holds stays as it is).
fn to_sdr(hdr: Hdr) -> String {
    let transfer = match hdr {
        Hdr::Pq => "smpte2084",
        Hdr::Hlg => "arib-std-b67",
    };
    format!(
        "zscale=tin={transfer}:t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=mobius:desat=0,\
         zscale=t=bt709:m=bt709:r=tv,format=yuv420p"
    )
}

/// The source's pictures as a graph takes them from input `input`: `[0:v:0]`, deinterlaced
/// when the `signal` is interlaced and brought to SDR when it is HDR; filters follow.
pub(super) fn source_pictures(signal: Signal, input: usize) -> String {
    let mut graph = format!("[{input}:v:0]");
    if signal.interlaced {
        graph.push_str(DEINTERLACE);
        graph.push(',');
    }
    if let Some(hdr) = signal.hdr {
        graph.push_str(&to_sdr(hdr));
        graph.push(',');
    }
    graph
}

/// The `fps` filter to `fps` frames a second, which keeps the source's last picture even when
/// the source lasts less than one frame of the output (a video of one picture).
pub(super) fn fps_filter(fps: f64) -> String {
    format!("fps={}:eof_action=pass", ratio(fps))
}

pub(super) fn ratio(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A picture's encoder arguments and content type.
pub(super) fn image_encoder(format: ImageFormat) -> (&'static [&'static str], &'static str) {
    match format {
        ImageFormat::Jpg => (&["-c:v", "mjpeg", "-q:v", "2"], "image/jpeg"),
        ImageFormat::Png => (&["-c:v", "png"], "image/png"),
    }
}

pub(super) fn display_size(source: &MediaInfo) -> Result<Size, MediaFailure> {
    match &source.video {
        Some(video) if video.width > 0 && video.height > 0 => Ok(Size::new(video.width, video.height)),
        _ => Err(source_error(ErrorCode::SourceNoVideo, "the source has no video stream")),
    }
}

#[cfg(test)]
mod tests;
