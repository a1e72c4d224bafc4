//! The ffmpeg argument builder: pure functions from a task spec and the probed source to the
//! exact ffmpeg runs that render it, and from a served upload to the ffprobe runs that probe it.
//!
//! Safety rules every run follows (see the golden tests):
//! - inputs are opened with a protocol whitelist (`http,tcp` only for the upload, read from the
//!   loopback server of [`super::serve`]; `file` for our own files), the upload only through the demuxers of
//!   [`DEMUXERS`] (so a playlist or concat list disguised as a video is refused) and watermark
//!   images only as PNG;
//! - every path is one of ours (`file:` + the scratch dir, never an object key);
//! - user text never enters argv or a filter graph: text watermarks are drawn into PNGs by
//!   [`super::text`] and overlaid like images.

use std::path::{Path, PathBuf};

use crate::domain::chunk::Part;
use crate::domain::job::ErrorCode;
use crate::domain::media::{MediaInfo, Size};
use crate::domain::task::{
    AnimatedFormat, AnimatedSpec, AudioCodec, Container, Corner, ImageFormat, Length, SnapshotSpec, TaskSpec,
    TranscodeSpec, VideoCodec, WatermarkSpec, rgb,
};
use crate::ports::{MediaFailure, RenderRequest};

use super::text::{MIN_SIZE, TextImage};

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
    pub number: usize,
    pub content_type: &'static str,
    /// Whether the output plays over time (video, audio, animations) or is a still.
    pub timed: bool,
    /// The longest the output may be (the workflow's limit): ffmpeg stops just past it.
    pub max_duration: Option<f64>,
    pub size: Option<Size>,
}

fn source_error(code: ErrorCode, message: impl Into<String>) -> MediaFailure {
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

fn file(path: &Path) -> String {
    format!("file:{}", path.display())
}

fn strings<const N: usize>(items: [&str; N]) -> impl Iterator<Item = String> {
    items.into_iter().map(str::to_owned)
}

fn head() -> Vec<String> {
    strings(["-hide_banner", "-nostdin", "-y"]).collect()
}

/// The upload as input, optionally cut to `[start, start + length)`.
fn source_input(args: &mut Vec<String>, input: &str, start: Option<f64>, length: Option<f64>) {
    args.extend(strings(["-protocol_whitelist", "http,tcp", "-format_whitelist", DEMUXERS]));
    if let Some(start) = start.filter(|s| *s > 0.0) {
        args.extend(["-ss".into(), seconds(start)]);
    }
    if let Some(length) = length {
        args.extend(["-t".into(), seconds(length)]);
    }
    args.extend(["-i".into(), input.to_owned()]);
}

fn seconds(value: f64) -> String {
    format!("{value:.3}")
}

fn ratio(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Black for light text, white for dark text.
fn contrasting(rgb: [u8; 3]) -> [u8; 3] {
    let [r, g, b] = rgb.map(f64::from);
    if 0.299 * r + 0.587 * g + 0.114 * b > 127.0 { [0, 0, 0] } else { [255, 255, 255] }
}

/// Adds each watermark as an overlay input — a downloaded PNG, or text the adapter draws into
/// a PNG — and returns the graph `[0:v:0]<filters>` with the marks on top, labelled `[vout]`.
/// A mark that does not fit in the picture fails the task: it could not be drawn as asked.
fn video_graph(
    setup: &RenderRequest<'_>,
    args: &mut Vec<String>,
    filters: &[String],
    marks: &[WatermarkSpec],
    frame: Size,
    plan: &mut Plan,
) -> Result<String, MediaFailure> {
    let mut graph = format!("[0:v:0]{}", filters.join(","));
    let mut images = setup.watermark_images.iter();
    for (i, mark) in marks.iter().enumerate() {
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
        graph.push_str(&format!(
            "[base{i}];[{input}:v]{steps}[mark{i}];[base{i}][mark{i}]overlay=x={px}:y={py}",
            input = i + 1,
            steps = steps.join(","),
        ));
    }
    graph.push_str("[vout]");
    Ok(graph)
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

fn display_size(source: &MediaInfo) -> Result<Size, MediaFailure> {
    match &source.video {
        Some(video) if video.width > 0 && video.height > 0 => Ok(Size::new(video.width, video.height)),
        _ => Err(source_error(ErrorCode::SourceNoVideo, "the source has no video stream")),
    }
}

/// The whole transcode, or one part of a chunked one (`setup.part`): a video chunk, cut from
/// the source at its borders and starting at time 0, or the whole audio.
fn transcode(
    setup: &RenderRequest<'_>,
    input: &str,
    spec: &TranscodeSpec,
    plan: &mut Plan,
) -> Result<(), MediaFailure> {
    let source = setup.source;
    if !spec.watermarks.is_empty() && source.video.is_none() {
        return Err(source_error(ErrorCode::SourceNoVideo, "the source has no video stream to mark"));
    }
    let mut video = spec.video_codec().filter(|_| source.video.is_some());
    let mut audio = spec.audio_codec().filter(|_| source.audio.is_some());
    if video.is_none() && audio.is_none() {
        return Err(source_error(
            ErrorCode::SourceNoMedia,
            "nothing to write: the source has none of the streams this task keeps",
        ));
    }
    // What is decoded is held to the limit too: a header may not say how long a file is.
    let max_duration = setup.limits.max_duration_s;
    let mut until = Some(max_duration + 1.0);
    let mut chunk = None;
    match setup.part {
        None => {}
        Some(Part::Video(part)) => {
            audio = None;
            // A chunk ends at its border (`trim` below); the last one at the limit, in its own
            // time.
            until = match part.length {
                Some(_) => None,
                None => until.map(|until| until - part.start),
            };
            chunk = Some(part);
        }
        Some(Part::Audio) => video = None,
    }
    let mut args = head();
    source_input(&mut args, input, chunk.map(|c| c.start), None);
    let mut size = None;
    if let Some(codec) = video {
        let params = spec.video.clone().unwrap_or_default();
        let frame = display_size(source)?.fit(params.width, params.height, params.allow_upscale, true);
        size = Some(frame);
        let mut filters = Vec::new();
        if let Some(length) = chunk.and_then(|c| c.length) {
            // From where the seek put 0, so the end falls on the border. (An input `-t` counts
            // from the first frame kept, half a frame later, and a length rounded to the
            // millisecond can then take one frame more.)
            filters.push(format!("trim=end={}", seconds(length)));
        }
        if chunk.is_some_and(|c| c.start > 0.0) {
            // Each later chunk starts at 0; the join lays it after the one before.
            filters.push("setpts=PTS-STARTPTS".to_owned());
        }
        if let Some(fps) = params.fps {
            filters.push(format!("fps={}", ratio(fps)));
        }
        filters.push(format!("scale={}:{}", frame.width, frame.height));
        filters.push("setsar=1".into());
        let mut graph = video_graph(setup, &mut args, &filters, &spec.watermarks, frame, plan)?;
        graph.insert_str(graph.len() - "[vout]".len(), ",format=yuv420p");
        args.extend(["-filter_complex".into(), graph, "-map".into(), "[vout]".into()]);
        video_codec_args(&mut args, codec, spec.container, params.crf, params.bitrate_kbps);
    }
    if let Some(codec) = audio {
        args.extend(strings(["-map", "0:a:0"]));
        let params = spec.audio.clone().unwrap_or_default();
        let (encoder, kbps) = match codec {
            AudioCodec::Aac => ("aac", 128),
            AudioCodec::Opus => ("libopus", 96),
            AudioCodec::Mp3 => ("libmp3lame", 128),
        };
        args.extend([
            "-c:a".into(),
            encoder.into(),
            "-b:a".into(),
            format!("{}k", params.bitrate_kbps.unwrap_or(kbps)),
        ]);
        if let Some(rate) = params.sample_rate {
            args.extend(["-ar".into(), rate.to_string()]);
        }
        if let Some(channels) = params.channels {
            args.extend(["-ac".into(), channels.to_string()]);
        }
    }
    metadata_args(&mut args, spec.keep_metadata);
    if let Some(until) = until {
        args.extend(["-t".into(), seconds(until)]);
    }
    let (path, muxer, content_type) = match setup.part {
        // Parts are MP4 whatever the output: every codec fits, and its times are exact.
        Some(part) => (setup.workdir.join(part_name(part)), "mp4", "video/mp4"),
        None => {
            let (muxer, content_type) = muxer(spec.container);
            (setup.workdir.join(format!("out-0.{}", spec.container)), muxer, content_type)
        }
    };
    if setup.part.is_none() && matches!(spec.container, Container::Mp4 | Container::Mov | Container::M4a) {
        args.extend(strings(["-movflags", "+faststart"]));
    }
    args.extend(["-f".into(), muxer.into(), file(&path)]);
    plan.runs.push(Run {
        attempts: vec![args],
        output: PlannedOutput { path, number: 0, content_type, timed: true, max_duration: Some(max_duration), size },
        label: None,
    });
    Ok(())
}

/// The file a part of a chunked transcode is written to, in the worker's scratch directory.
pub fn part_name(part: Part) -> &'static str {
    match part {
        Part::Video(_) => "chunk.mp4",
        Part::Audio => "audio.mp4",
    }
}

/// Titles, dates, a phone's GPS location: none of it leaves with the output unless asked.
/// Rotation is applied to the pictures themselves (autorotate), so nothing is lost for playback.
fn metadata_args(args: &mut Vec<String>, keep: bool) {
    if !keep {
        args.extend(strings(["-map_metadata", "-1", "-map_chapters", "-1"]));
    }
}

/// The muxer and content type of an output container.
fn muxer(container: Container) -> (&'static str, &'static str) {
    match container {
        Container::Mp4 => ("mp4", "video/mp4"),
        Container::Mov => ("mov", "video/quicktime"),
        Container::Mkv => ("matroska", "video/x-matroska"),
        Container::Webm => ("webm", "video/webm"),
        Container::Mp3 => ("mp3", "audio/mpeg"),
        Container::M4a => ("ipod", "audio/mp4"),
    }
}

/// The list of video chunks the concat demuxer reads, in order (names relative to the list).
pub fn concat_list(chunks: &[&str]) -> String {
    let mut list = String::from("ffconcat version 1.0\n");
    for chunk in chunks {
        list.push_str(&format!("file {chunk}\n"));
    }
    list
}

/// Joins the encoded parts of a chunked transcode into its output, copying the streams: the
/// video chunks in the order of `list` (written by [`concat_list`]), the audio from `audio`.
pub fn join(
    spec: &TranscodeSpec,
    list: &Path,
    audio: Option<&Path>,
    workdir: &Path,
    max_duration: f64,
) -> Result<Run, MediaFailure> {
    for path in [list, workdir].into_iter().chain(audio) {
        plain_path(path)?;
    }
    let mut args = head();
    args.extend(strings(["-protocol_whitelist", "file", "-f", "concat", "-safe", "1", "-i"]));
    args.push(file(list));
    if let Some(audio) = audio {
        args.extend(strings(["-protocol_whitelist", "file", "-f", "mp4", "-i"]));
        args.push(file(audio));
    }
    args.extend(strings(["-map", "0:v:0"]));
    if audio.is_some() {
        args.extend(strings(["-map", "1:a:0"]));
    }
    args.extend(strings(["-c", "copy"]));
    metadata_args(&mut args, spec.keep_metadata);
    if matches!(spec.container, Container::Mp4 | Container::Mov) {
        args.extend(strings(["-movflags", "+faststart"]));
    }
    let (muxer, content_type) = muxer(spec.container);
    let path = workdir.join(format!("out-0.{}", spec.container));
    args.extend(["-f".into(), muxer.into(), file(&path)]);
    Ok(Run {
        attempts: vec![args],
        output: PlannedOutput {
            path,
            number: 0,
            content_type,
            timed: true,
            max_duration: Some(max_duration),
            size: None,
        },
        label: None,
    })
}

fn video_codec_args(
    args: &mut Vec<String>,
    codec: VideoCodec,
    container: Container,
    crf: Option<u8>,
    kbps: Option<u32>,
) {
    let rate_control = |args: &mut Vec<String>, default_crf: u8| match kbps {
        Some(kbps) => args.extend([
            "-b:v".into(),
            format!("{kbps}k"),
            "-maxrate".into(),
            format!("{}k", kbps * 3 / 2),
            "-bufsize".into(),
            format!("{}k", kbps * 2),
        ]),
        None => args.extend(["-crf".into(), crf.unwrap_or(default_crf).to_string()]),
    };
    match codec {
        VideoCodec::H264 => {
            args.extend(strings(["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high"]));
            rate_control(args, 23);
        }
        VideoCodec::H265 => {
            args.extend(strings(["-c:v", "libx265", "-preset", "veryfast", "-x265-params", "log-level=error"]));
            rate_control(args, 28);
            if matches!(container, Container::Mp4 | Container::Mov) {
                // Apple players want the hvc1 tag.
                args.extend(strings(["-tag:v", "hvc1"]));
            }
        }
        VideoCodec::Vp9 => {
            args.extend(strings(["-c:v", "libvpx-vp9", "-deadline", "good", "-cpu-used", "4", "-row-mt", "1"]));
            if kbps.is_none() {
                // Constant quality in VP9 needs a zero target bitrate.
                args.extend(strings(["-b:v", "0"]));
            }
            rate_control(args, 32);
        }
    }
}

fn snapshot(setup: &RenderRequest<'_>, input: &str, spec: &SnapshotSpec, plan: &mut Plan) -> Result<(), MediaFailure> {
    let source = setup.source;
    let frame = display_size(source)?.fit(spec.width, spec.height, false, false);
    // The last picture starts about one frame before the end.
    let last_picture =
        source.duration.map(|d| (d - 1.0 / source.video.as_ref().and_then(|v| v.fps).unwrap_or(25.0)).max(0.0));
    let (encoder, content_type): (&[&str], _) = match spec.format {
        ImageFormat::Jpg => (&["-c:v", "mjpeg", "-q:v", "2"], "image/jpeg"),
        ImageFormat::Png => (&["-c:v", "png"], "image/png"),
    };
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
            let graph = video_graph(setup, &mut args, &filters, &spec.watermarks, frame, plan)?;
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
            output: PlannedOutput { path, number, content_type, timed: false, max_duration: None, size: Some(frame) },
            label: Some(format!("time point {time}")),
        });
    }
    Ok(())
}

fn animated(setup: &RenderRequest<'_>, input: &str, spec: &AnimatedSpec, plan: &mut Plan) -> Result<(), MediaFailure> {
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
    let scale = format!("fps={},scale={}:{}:flags=lanczos", ratio(spec.fps), frame.width, frame.height);
    let mut args = head();
    source_input(&mut args, input, Some(spec.start), Some(length));
    let (graph, codec, content_type): (String, Vec<String>, _) = match spec.format {
        AnimatedFormat::Gif => (
            format!(
                "[0:v:0]{scale},split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer:bayer_scale=5[vout]"
            ),
            strings(["-loop", "0", "-f", "gif"]).collect(),
            "image/gif",
        ),
        AnimatedFormat::Webp => (
            format!("[0:v:0]{scale}[vout]"),
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
        output: PlannedOutput { path, number: 0, content_type, timed: true, max_duration: None, size: Some(frame) },
        label: None,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffmpeg_clocks_are_read_as_seconds() {
        assert_eq!(clock_seconds("00:01:02.50"), Some(62.5));
        assert_eq!(clock_seconds("01:00:00.00"), Some(3600.0));
        assert_eq!(clock_seconds("N/A"), None);
        assert_eq!(clock_seconds("-00:00:00.02"), None);
    }
    use crate::domain::limits::Limits;
    use crate::domain::media::{AudioStream, VideoStream};
    use crate::domain::task::{AudioSpec, ImageSource, TimePoint, VideoSpec, WatermarkTaskSpec};
    use std::sync::Arc;

    use crate::domain::object::ObjectRef;
    use crate::ports::{StoredObject, WatermarkImage};

    fn source(width: u32, height: u32, audio: bool) -> MediaInfo {
        MediaInfo {
            container: "mov,mp4,m4a,3gp,3g2,mj2".into(),
            duration: Some(10.0),
            stream_count: 1 + u32::from(audio),
            video: Some(VideoStream { codec: "h264".into(), width, height, fps: Some(25.0), frames: Some(250) }),
            audio: audio.then(|| AudioStream { codec: "aac".into(), sample_rate: Some(48000), channels: Some(2) }),
            ..MediaInfo::default()
        }
    }

    /// The loopback server's address of the upload.
    const URL: &str = "http://127.0.0.1:4567/0123abcd";

    fn upload() -> Arc<StoredObject> {
        let store = Arc::new(crate::adapters::memory::Memory::default());
        Arc::new(StoredObject { store, object: ObjectRef::new("media", "in/clip.mp4"), etag: None, size: 1 })
    }

    fn run_plan(spec: &TaskSpec, source: &MediaInfo, images: &[WatermarkImage]) -> Result<Plan, MediaFailure> {
        run_part(spec, source, images, None)
    }

    fn run_part(
        spec: &TaskSpec,
        source: &MediaInfo,
        images: &[WatermarkImage],
        part: Option<Part>,
    ) -> Result<Plan, MediaFailure> {
        let request = RenderRequest {
            spec,
            part,
            source,
            limits: &Limits { max_duration_s: 600.0, ..Limits::default() },
            upload: upload(),
            watermark_images: images,
            workdir: Path::new("/tmp/req-1"),
            stop_by: None,
            progress: None,
        };
        plan(&request, URL)
    }

    /// The first way each output is made.
    fn args_of(plan: &Plan) -> Vec<String> {
        plan.runs.iter().map(|run| run.attempts[0].join(" ")).collect()
    }

    const INPUT: &str = "-hide_banner -nostdin -y -protocol_whitelist http,tcp -format_whitelist \
        mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,live_flv,mpegts,mpeg,mxf,gxf,dv,asf,nut,rm,ogg,wtv,ivf,h264,\
        hevc,m4v,mpegvideo,mp3,aac,ac3,eac3,dts,dtshd,truehd,mlp,loas,flac,wav,w64,aiff,caf,amr,amrnb,amrwb,au,wv,\
        ape,tta,tak,mpc,mpc8,dsf,xwma,qcp,voc,gif";

    /// What every transcode adds: no metadata, the duration limit (600 s + 1).
    const TAIL: &str = "-map_metadata -1 -map_chapters -1 -t 601.000";

    #[test]
    fn golden_chunked_transcode_parts_and_join() {
        use crate::domain::chunk::Chunk;
        let spec = TranscodeSpec {
            video: Some(VideoSpec { height: 720, ..VideoSpec::default() }),
            keep_metadata: false,
            ..TranscodeSpec::default()
        };
        let task = TaskSpec::Transcode(spec.clone());
        let source = source(1920, 1080, true);
        let video = "-c:v libx264 -preset veryfast -profile:v high -crf 23 -map_metadata -1 -map_chapters -1";
        // the first chunk keeps the source's times; it ends at its border in the source
        let first = run_part(&task, &source, &[], Some(Part::Video(Chunk { start: 0.0, length: Some(150.02) })));
        assert_eq!(
            args_of(&first.unwrap()),
            vec![format!(
                "{INPUT} -i {URL} -filter_complex [0:v:0]trim=end=150.020,scale=1280:720,setsar=1,format=yuv420p[vout] \
                 -map [vout] {video} -f mp4 file:/tmp/req-1/chunk.mp4"
            )]
        );
        // a later one is cut from its border, and starts at 0
        let later = Some(Part::Video(Chunk { start: 150.02, length: Some(150.0) }));
        assert_eq!(
            args_of(&run_part(&task, &source, &[], later).unwrap()),
            vec![format!(
                "{INPUT} -ss 150.020 -i {URL} -filter_complex \
                 [0:v:0]trim=end=150.000,setpts=PTS-STARTPTS,scale=1280:720,setsar=1,format=yuv420p[vout] \
                 -map [vout] {video} -f mp4 file:/tmp/req-1/chunk.mp4"
            )]
        );
        // the last one runs to the workflow's limit
        let last = run_part(&task, &source, &[], Some(Part::Video(Chunk { start: 450.06, length: None }))).unwrap();
        assert!(args_of(&last)[0].ends_with("-map_chapters -1 -t 150.940 -f mp4 file:/tmp/req-1/chunk.mp4"));
        // the audio, whole
        assert_eq!(
            args_of(&run_part(&task, &source, &[], Some(Part::Audio)).unwrap()),
            vec![format!("{INPUT} -i {URL} -map 0:a:0 -c:a aac -b:a 128k {TAIL} -f mp4 file:/tmp/req-1/audio.mp4")]
        );
        // the join copies both into the output's container
        let list = Path::new("/tmp/req-1/chunks.ffconcat");
        let join = join(&spec, list, Some(Path::new("/tmp/req-1/audio.mp4")), Path::new("/tmp/req-1"), 600.0).unwrap();
        assert_eq!(
            join.attempts[0].join(" "),
            "-hide_banner -nostdin -y -protocol_whitelist file -f concat -safe 1 -i file:/tmp/req-1/chunks.ffconcat \
             -protocol_whitelist file -f mp4 -i file:/tmp/req-1/audio.mp4 -map 0:v:0 -map 1:a:0 -c copy \
             -map_metadata -1 -map_chapters -1 -movflags +faststart -f mp4 file:/tmp/req-1/out-0.mp4"
        );
        assert_eq!(
            concat_list(&["chunk-0.mp4", "chunk-1.mp4"]),
            "ffconcat version 1.0\nfile chunk-0.mp4\nfile chunk-1.mp4\n"
        );
    }

    #[test]
    fn golden_transcode_h264_mp4_downscaled_with_audio() {
        let spec = TaskSpec::Transcode(TranscodeSpec {
            video: Some(VideoSpec { width: 640, ..VideoSpec::default() }),
            ..TranscodeSpec::default()
        });
        let plan = run_plan(&spec, &source(1920, 1080, true), &[]).unwrap();
        assert_eq!(
            args_of(&plan),
            vec![format!(
                "{INPUT} -i {URL} \
             -filter_complex [0:v:0]scale=640:360,setsar=1,format=yuv420p[vout] -map [vout] \
             -c:v libx264 -preset veryfast -profile:v high -crf 23 \
             -map 0:a:0 -c:a aac -b:a 128k {TAIL} -movflags +faststart -f mp4 file:/tmp/req-1/out-0.mp4"
            )]
        );
        let output = &plan.runs[0].output;
        assert_eq!(
            (output.content_type, output.max_duration, output.size),
            ("video/mp4", Some(600.0), Some(Size::new(640, 360)))
        );
    }

    #[test]
    fn golden_transcode_vp9_webm_bitrate_fps_without_audio_source() {
        let spec = TaskSpec::Transcode(TranscodeSpec {
            container: Container::Webm,
            video: Some(VideoSpec { bitrate_kbps: Some(800), fps: Some(12.5), ..VideoSpec::default() }),
            audio: Some(AudioSpec { bitrate_kbps: Some(64), ..AudioSpec::default() }),
            ..TranscodeSpec::default()
        });
        let plan = run_plan(&spec, &source(640, 272, false), &[]).unwrap();
        assert_eq!(
            args_of(&plan),
            vec![format!(
                "{INPUT} -i {URL} \
             -filter_complex [0:v:0]fps=12.5,scale=640:272,setsar=1,format=yuv420p[vout] -map [vout] \
             -c:v libvpx-vp9 -deadline good -cpu-used 4 -row-mt 1 -b:v 800k -maxrate 1200k -bufsize 1600k \
             {TAIL} -f webm file:/tmp/req-1/out-0.webm"
            )]
        );
    }

    #[test]
    fn golden_transcode_h265_keeps_size_and_tags_hvc1_and_metadata_when_asked() {
        let spec = TaskSpec::Transcode(TranscodeSpec {
            video: Some(VideoSpec {
                codec: Some(VideoCodec::H265),
                width: 4000,
                crf: Some(30),
                ..VideoSpec::default()
            }),
            remove_audio: true,
            keep_metadata: true,
            ..TranscodeSpec::default()
        });
        let plan = run_plan(&spec, &source(1280, 720, true), &[]).unwrap();
        assert_eq!(
            args_of(&plan),
            vec![format!(
                "{INPUT} -i {URL} \
             -filter_complex [0:v:0]scale=1280:720,setsar=1,format=yuv420p[vout] -map [vout] \
             -c:v libx265 -preset veryfast -x265-params log-level=error -crf 30 -tag:v hvc1 \
             -t 601.000 -movflags +faststart -f mp4 file:/tmp/req-1/out-0.mp4"
            )]
        );
    }

    #[test]
    fn golden_transcode_audio_only_m4a() {
        let spec = TaskSpec::Transcode(TranscodeSpec {
            container: Container::M4a,
            audio: Some(AudioSpec { sample_rate: Some(44100), channels: Some(1), ..AudioSpec::default() }),
            ..TranscodeSpec::default()
        });
        let plan = run_plan(&spec, &source(640, 360, true), &[]).unwrap();
        assert_eq!(
            args_of(&plan),
            vec![format!(
                "{INPUT} -i {URL} -map 0:a:0 -c:a aac -b:a 128k -ar 44100 -ac 1 \
             {TAIL} -movflags +faststart -f ipod file:/tmp/req-1/out-0.m4a"
            )]
        );
    }

    fn logo() -> WatermarkImage {
        WatermarkImage { path: PathBuf::from("/tmp/req-1/watermark-0.png"), width: 136, height: 123 }
    }

    #[test]
    fn golden_watermark_task_with_image_and_outlined_text() {
        let spec = TaskSpec::Watermark(WatermarkTaskSpec {
            watermarks: vec![
                WatermarkSpec {
                    image: Some(ImageSource { bucket: "media".into(), key: "logo.png".into() }),
                    origin: Corner::TopRight,
                    x: Length::Px(16),
                    y: Length::Percent(5.0),
                    width: Some(Length::Percent(10.0)),
                    opacity: Some(0.5),
                    ..WatermarkSpec::default()
                },
                WatermarkSpec {
                    text: Some("© mediaflow: 'quoted' [x]".into()),
                    origin: Corner::BottomLeft,
                    x: Length::Px(10),
                    y: Length::Px(10),
                    color: Some("#FFCC00".into()),
                    ..WatermarkSpec::default()
                },
            ],
            ..WatermarkTaskSpec::default()
        });
        let plan = run_plan(&spec, &source(1920, 1080, true), &[logo()]).unwrap();
        assert_eq!(
            args_of(&plan),
            vec![format!(
                "{INPUT} -i {URL} \
             -protocol_whitelist file -f png_pipe -i file:/tmp/req-1/watermark-0.png \
             -protocol_whitelist file -f png_pipe -i file:/tmp/req-1/text-1.png \
             -filter_complex [0:v:0]scale=1920:1080,setsar=1[base0];\
             [1:v]scale=192:-1,format=rgba,colorchannelmixer=aa=0.5[mark0];\
             [base0][mark0]overlay=x=main_w-overlay_w-16:y=54[base1];\
             [2:v]format=rgba[mark1];[base1][mark1]overlay=x=10:y=main_h-overlay_h-10,format=yuv420p[vout] -map [vout] \
             -c:v libx264 -preset veryfast -profile:v high -crf 23 \
             -map 0:a:0 -c:a aac -b:a 128k {TAIL} -movflags +faststart -f mp4 file:/tmp/req-1/out-0.mp4"
            )]
        );
        let text = TextImage {
            text: "© mediaflow: 'quoted' [x]".into(),
            size: 54,
            rgb: [255, 204, 0],
            opacity: 1.0,
            outline: 4,
            outline_rgb: [0, 0, 0],
            shadow: false,
        };
        assert_eq!(
            plan.text_images,
            vec![PlannedText { path: PathBuf::from("/tmp/req-1/text-1.png"), image: text, room: (1910, 1070) }]
        );
    }

    #[test]
    fn a_watermark_larger_than_the_picture_fails_instead_of_vanishing() {
        let spec = TaskSpec::Watermark(WatermarkTaskSpec {
            watermarks: vec![WatermarkSpec {
                image: Some(ImageSource { bucket: "media".into(), key: "logo.png".into() }),
                origin: Corner::TopRight,
                ..WatermarkSpec::default()
            }],
            ..WatermarkTaskSpec::default()
        });
        let error = run_plan(&spec, &source(64, 48, false), &[logo()]).unwrap_err();
        assert_eq!(
            error,
            MediaFailure::new(
                ErrorCode::WatermarkTooLarge,
                "watermark 1 (136x123 px, 0,0 px from TopRight) does not fit in the 64x48 picture"
            )
        );
        assert!(run_plan(&spec, &source(640, 360, false), &[logo()]).is_ok());
    }

    #[test]
    fn golden_snapshots_clamp_to_last_picture_resolve_percent_and_fall_back_to_decoding() {
        let spec = TaskSpec::Snapshot(SnapshotSpec {
            times: vec![TimePoint::Seconds(1.5), TimePoint::Percent(50.0), TimePoint::Seconds(99.0)],
            format: ImageFormat::Png,
            width: 320,
            ..SnapshotSpec::default()
        });
        let plan = run_plan(&spec, &source(640, 272, false), &[]).unwrap();
        let graph = "-filter_complex [0:v:0]scale=320:136,setsar=1[vout] -map [vout]";
        let fast = |at: &str, n: usize| {
            format!(
                "{INPUT} -ss {at} -i {URL} {graph} -frames:v 1 -an -c:v png -f image2 -update 1 file:/tmp/req-1/out-{n}.png"
            )
        };
        assert_eq!(args_of(&plan), vec![fast("1.500", 0), fast("5.000", 1), fast("9.960", 2)]);
        let fallbacks: Vec<String> = plan.runs[1].attempts[1..].iter().map(|a| a.join(" ")).collect();
        assert_eq!(
            fallbacks,
            [
                format!(
                    "{INPUT} -i {URL} {graph} -ss 5.000 -frames:v 1 -an -c:v png -f image2 -update 1 file:/tmp/req-1/out-1.png"
                ),
                format!("{INPUT} -i {URL} {graph} -an -c:v png -f image2 -update 1 file:/tmp/req-1/out-1.png"),
            ]
        );
        assert_eq!(plan.runs[2].output.number, 2);
        assert_eq!(plan.runs[2].label.as_deref(), Some("time point 99s"));
    }

    #[test]
    fn golden_snapshot_at_zero_does_not_seek() {
        let spec = TaskSpec::Snapshot(SnapshotSpec { times: vec![TimePoint::Seconds(0.0)], ..SnapshotSpec::default() });
        let plan = run_plan(&spec, &source(135, 99, false), &[]).unwrap();
        assert_eq!(
            args_of(&plan),
            vec![format!(
                "{INPUT} -i {URL} -filter_complex [0:v:0]scale=135:99,setsar=1[vout] -map [vout] \
             -frames:v 1 -an -c:v mjpeg -q:v 2 -f image2 -update 1 file:/tmp/req-1/out-0.jpg"
            )]
        );
        assert_eq!(plan.runs[0].attempts.len(), 2, "then the last picture");
    }

    #[test]
    fn golden_gif_uses_palette_and_cuts_range() {
        let spec =
            TaskSpec::Animated(AnimatedSpec { start: 1.0, end: Some(3.0), width: 320, ..AnimatedSpec::default() });
        let plan = run_plan(&spec, &source(640, 272, false), &[]).unwrap();
        assert_eq!(
            args_of(&plan),
            vec![format!(
                "{INPUT} -ss 1.000 -t 2.000 -i {URL} \
             -filter_complex [0:v:0]fps=10,scale=320:136:flags=lanczos,split[a][b];[a]palettegen=stats_mode=diff[p];\
             [b][p]paletteuse=dither=bayer:bayer_scale=5[vout] -map [vout] -an -loop 0 -f gif file:/tmp/req-1/out-0.gif"
            )]
        );
    }

    #[test]
    fn golden_webp_without_end_covers_the_default_length_at_the_default_size() {
        let spec = TaskSpec::Animated(AnimatedSpec {
            format: AnimatedFormat::Webp,
            start: 8.0,
            fps: 5.0,
            ..AnimatedSpec::default()
        });
        let plan = run_plan(&spec, &source(640, 272, false), &[]).unwrap();
        assert_eq!(
            args_of(&plan),
            vec![format!(
                "{INPUT} -ss 8.000 -t 2.000 -i {URL} \
             -filter_complex [0:v:0]fps=5,scale=480:204:flags=lanczos[vout] -map [vout] -an \
             -c:v libwebp -lossless 0 -quality 75 -loop 0 -f webp file:/tmp/req-1/out-0.webp"
            )]
        );
        let long = MediaInfo { duration: Some(36_000.0), ..source(1920, 1080, false) };
        let gif = TaskSpec::Animated(AnimatedSpec::default());
        let plan = run_plan(&gif, &long, &[]).unwrap();
        assert!(args_of(&plan)[0].contains("-t 10.000 -i"), "a 10-hour input makes a 10-second GIF");
        assert!(args_of(&plan)[0].contains("scale=480:270"), "not 1080p");
    }

    #[test]
    fn when_animated_starts_past_end_should_fail_invalid_time() {
        let spec = TaskSpec::Animated(AnimatedSpec { start: 12.0, ..AnimatedSpec::default() });
        let error = run_plan(&spec, &source(640, 272, false), &[]).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidTimeRange);
    }

    #[test]
    fn when_source_has_no_video_should_fail_visual_tasks_and_keep_audio_transcodes() {
        let audio_only = MediaInfo { video: None, ..source(0, 0, true) };
        let snapshot =
            TaskSpec::Snapshot(SnapshotSpec { times: vec![TimePoint::Seconds(1.0)], ..SnapshotSpec::default() });
        assert_eq!(run_plan(&snapshot, &audio_only, &[]).unwrap_err().code, ErrorCode::SourceNoVideo);
        let transcode = TaskSpec::Transcode(TranscodeSpec::default());
        let plan = run_plan(&transcode, &audio_only, &[]).unwrap();
        assert!(!plan.runs[0].attempts[0].contains(&"-filter_complex".to_owned()));
        let silent = TaskSpec::Transcode(TranscodeSpec { remove_audio: true, ..TranscodeSpec::default() });
        assert_eq!(run_plan(&silent, &audio_only, &[]).unwrap_err().code, ErrorCode::SourceNoMedia);
    }

    #[test]
    fn when_scratch_path_has_syntax_characters_should_refuse() {
        let spec = TaskSpec::Transcode(TranscodeSpec::default());
        let request = RenderRequest {
            spec: &spec,
            part: None,
            source: &source(640, 360, false),
            limits: &Limits::default(),
            upload: upload(),
            watermark_images: &[],
            workdir: Path::new("/tmp/a:b"),
            stop_by: None,
            progress: None,
        };
        let result = plan(&request, URL);
        assert_eq!(result.unwrap_err().code, ErrorCode::Internal);
    }

    #[test]
    fn runs_read_the_upload_only_from_the_loopback_server_and_the_rest_only_from_scratch() {
        let spec = TaskSpec::Snapshot(SnapshotSpec { times: vec![TimePoint::Seconds(1.0)], ..SnapshotSpec::default() });
        let plan = run_plan(&spec, &source(640, 360, false), &[]).unwrap();
        for args in plan.runs.iter().flat_map(|run| &run.attempts) {
            let inputs: Vec<_> = args.windows(2).filter(|w| w[0] == "-i").map(|w| w[1].as_str()).collect();
            assert_eq!(inputs.first(), Some(&URL), "{inputs:?}");
            assert!(inputs[1..].iter().all(|i| i.starts_with("file:/tmp/req-1/")), "{inputs:?}");
            let whitelists: Vec<_> = args.windows(2).filter(|w| w[0] == "-protocol_whitelist").map(|w| &w[1]).collect();
            assert_eq!(whitelists.len(), inputs.len());
            assert_eq!(whitelists[0], "http,tcp");
            assert!(whitelists[1..].iter().all(|w| *w == "file"));
        }
    }

    #[test]
    fn golden_probes_read_only_the_loopback_server_through_whitelisted_demuxers() {
        let url = URL;
        let whitelist = format!("-hide_banner -v warning -protocol_whitelist http,tcp -format_whitelist {}", DEMUXERS);
        assert_eq!(
            header_probe(url).join(" "),
            format!("{whitelist} -print_format json -show_format -show_streams {url}")
        );
        assert_eq!(
            tail_probe(url, 69.0).join(" "),
            format!(
                "{whitelist} -read_intervals 69.000% -print_format json -show_entries packet=pts_time,dts_time,duration_time {url}"
            )
        );
        for demuxer in ["hls", "dash", "concat", "image2", "png_pipe", "rtsp", "srt"] {
            assert!(!DEMUXERS.split(',').any(|d| d == demuxer), "{demuxer} is never allowed");
        }
    }
}
