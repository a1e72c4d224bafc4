//! The ffmpeg argument builder: a pure function from a task spec and the probed source to the
//! exact ffmpeg runs that render it.
//!
//! Safety rules every run follows (see the golden tests):
//! - inputs are opened with `-protocol_whitelist file`, the upload only through the demuxers of
//!   [`DEMUXERS`] (so a playlist or concat list disguised as a video is refused) and watermark
//!   images only as PNG;
//! - every path is one of ours (`file:` + the scratch dir, never an object key);
//! - user text never enters argv or a filter graph: text watermarks are drawn into PNGs by
//!   [`super::text`] and overlaid like images.

use std::path::{Path, PathBuf};

use crate::domain::job::ErrorCode;
use crate::domain::media::{MediaInfo, Size};
use crate::domain::task::{
    AnimatedFormat, AnimatedSpec, AudioCodec, Container, Corner, ImageFormat, Length, SnapshotSpec, TaskSpec,
    TranscodeSpec, VideoCodec, WatermarkSpec, rgb,
};
use crate::ports::{MediaFailure, RenderRequest};

use super::text::TextImage;

/// Demuxers an upload may be opened with: audio/video containers only. No playlists (hls,
/// dash), no lists (concat), no image sequences, no raw streams.
pub const DEMUXERS: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,mpeg,asf,mp3,wav,ogg,aac,flac,gif";

/// The runs for one task and the text files they read.
#[derive(Debug, PartialEq)]
pub struct Plan {
    /// Text watermarks to draw into these PNG files before running.
    pub text_images: Vec<(PathBuf, TextImage)>,
    pub runs: Vec<Run>,
}

/// One ffmpeg run writing one output file.
#[derive(Debug, PartialEq)]
pub struct Run {
    pub args: Vec<String>,
    pub output: PlannedOutput,
}

/// An output file as planned: what it should turn out to be.
#[derive(Debug, PartialEq)]
pub struct PlannedOutput {
    pub path: PathBuf,
    pub number: usize,
    pub content_type: &'static str,
    /// Whether the output plays over time (video, audio, animations) or is a still.
    pub timed: bool,
    /// Seconds the output should last when the source is whole.
    pub expected_duration: Option<f64>,
    pub size: Option<Size>,
}

fn source_error(code: ErrorCode, message: impl Into<String>) -> MediaFailure {
    MediaFailure::new(code, message)
}

/// Builds the runs for `setup.spec`.
pub fn plan(setup: &RenderRequest<'_>) -> Result<Plan, MediaFailure> {
    for path in [setup.input, setup.workdir] {
        plain_path(path)?;
    }
    for path in setup.watermark_images {
        plain_path(path)?;
    }
    let mut plan = Plan { text_images: Vec::new(), runs: Vec::new() };
    match setup.spec {
        TaskSpec::Transcode(spec) => transcode(setup, spec, &mut plan)?,
        TaskSpec::Watermark(spec) => transcode(setup, &spec.as_transcode(), &mut plan)?,
        TaskSpec::Snapshot(spec) => snapshot(setup, spec, &mut plan)?,
        TaskSpec::Animated(spec) => animated(setup, spec, &mut plan)?,
    }
    Ok(plan)
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
fn source_input(args: &mut Vec<String>, input: &Path, start: Option<f64>, length: Option<f64>) {
    args.extend(strings(["-protocol_whitelist", "file", "-format_whitelist", DEMUXERS]));
    if let Some(start) = start.filter(|s| *s > 0.0) {
        args.extend(["-ss".into(), seconds(start)]);
    }
    if let Some(length) = length {
        args.extend(["-t".into(), seconds(length)]);
    }
    args.extend(["-i".into(), file(input)]);
}

fn seconds(value: f64) -> String {
    format!("{value:.3}")
}

fn ratio(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Adds each watermark as an overlay input — a downloaded PNG, or text the adapter draws into
/// a PNG — and returns the graph `[0:v:0]<filters>` with the marks on top, labelled `[vout]`.
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
        let mut steps = Vec::new();
        let input = match &mark.text {
            Some(text) => {
                let path = setup.workdir.join(format!("text-{i}.png"));
                if !plan.text_images.iter().any(|(planned, _)| planned == &path) {
                    let color = mark.color.as_deref().unwrap_or("white");
                    let image = TextImage {
                        text: text.clone(),
                        size: mark.font_size.unwrap_or(Length::Percent(5.0)).resolve(frame.height).max(8),
                        rgb: rgb(color)
                            .ok_or_else(|| source_error(ErrorCode::Internal, format!("unknown colour {color}")))?,
                        opacity,
                    };
                    plan.text_images.push((path.clone(), image));
                }
                steps.push("format=rgba".to_owned());
                path
            }
            None => {
                if let Some(width) = mark.width {
                    steps.push(format!("scale={}:-1", width.resolve(frame.width).max(1)));
                }
                steps.push("format=rgba".to_owned());
                if opacity < 1.0 {
                    steps.push(format!("colorchannelmixer=aa={}", ratio(opacity)));
                }
                images
                    .next()
                    .cloned()
                    .ok_or_else(|| source_error(ErrorCode::Internal, format!("watermark image {i} was not fetched")))?
            }
        };
        args.extend(strings(["-protocol_whitelist", "file", "-f", "png_pipe", "-i"]));
        args.push(file(&input));
        let (x, y) = (mark.x.resolve(frame.width), mark.y.resolve(frame.height));
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

fn transcode(setup: &RenderRequest<'_>, spec: &TranscodeSpec, plan: &mut Plan) -> Result<(), MediaFailure> {
    let source = setup.source;
    if !spec.watermarks.is_empty() && source.video.is_none() {
        return Err(source_error(ErrorCode::SourceNoVideo, "the source has no video stream to mark"));
    }
    let video = spec.video_codec().filter(|_| source.video.is_some());
    let audio = spec.audio_codec().filter(|_| source.audio.is_some());
    if video.is_none() && audio.is_none() {
        return Err(source_error(
            ErrorCode::SourceNoMedia,
            "nothing to write: the source has none of the streams this task keeps",
        ));
    }
    let mut args = head();
    source_input(&mut args, setup.input, None, None);
    let mut size = None;
    if let Some(codec) = video {
        let params = spec.video.clone().unwrap_or_default();
        let frame = display_size(source)?.fit(params.width, params.height, params.allow_upscale, true);
        size = Some(frame);
        let mut filters = Vec::new();
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
    let (muxer, content_type) = match spec.container {
        Container::Mp4 => ("mp4", "video/mp4"),
        Container::Mov => ("mov", "video/quicktime"),
        Container::Mkv => ("matroska", "video/x-matroska"),
        Container::Webm => ("webm", "video/webm"),
        Container::Mp3 => ("mp3", "audio/mpeg"),
        Container::M4a => ("ipod", "audio/mp4"),
    };
    if matches!(spec.container, Container::Mp4 | Container::Mov | Container::M4a) {
        args.extend(strings(["-movflags", "+faststart"]));
    }
    let path = setup.workdir.join(format!("out-0.{}", spec.container));
    args.extend(["-f".into(), muxer.into(), file(&path)]);
    plan.runs.push(Run {
        args,
        output: PlannedOutput { path, number: 0, content_type, timed: true, expected_duration: source.duration, size },
    });
    Ok(())
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

fn snapshot(setup: &RenderRequest<'_>, spec: &SnapshotSpec, plan: &mut Plan) -> Result<(), MediaFailure> {
    let source = setup.source;
    let frame = display_size(source)?.fit(spec.width, spec.height, false, false);
    // The last picture starts about one frame before the end.
    let last_picture =
        source.duration.map(|d| (d - 1.0 / source.video.as_ref().and_then(|v| v.fps).unwrap_or(25.0)).max(0.0));
    let (encoder, muxer_args, content_type): (&[&str], &[&str], _) = match spec.format {
        ImageFormat::Jpg => (&["-c:v", "mjpeg", "-q:v", "2"], &["-f", "image2", "-update", "1"], "image/jpeg"),
        ImageFormat::Png => (&["-c:v", "png"], &["-f", "image2", "-update", "1"], "image/png"),
    };
    for (number, time) in spec.times.iter().enumerate() {
        let at = time.resolve(source.duration).ok_or_else(|| {
            source_error(
                ErrorCode::InvalidTimeRange,
                format!("time point {time} needs the source duration, which is unknown"),
            )
        })?;
        let at = last_picture.map_or(at, |last| at.min(last));
        let mut args = head();
        source_input(&mut args, setup.input, Some(at), None);
        let filters = [format!("scale={}:{}", frame.width, frame.height), "setsar=1".into()];
        let graph = video_graph(setup, &mut args, &filters, &spec.watermarks, frame, plan)?;
        args.extend(["-filter_complex".into(), graph, "-map".into(), "[vout]".into()]);
        args.extend(strings(["-frames:v", "1", "-an"]));
        args.extend(encoder.iter().map(|s| (*s).to_owned()));
        args.extend(muxer_args.iter().map(|s| (*s).to_owned()));
        let path = setup.workdir.join(format!("out-{number}.{}", spec.format));
        args.push(file(&path));
        plan.runs.push(Run {
            args,
            output: PlannedOutput {
                path,
                number,
                content_type,
                timed: false,
                expected_duration: None,
                size: Some(frame),
            },
        });
    }
    Ok(())
}

fn animated(setup: &RenderRequest<'_>, spec: &AnimatedSpec, plan: &mut Plan) -> Result<(), MediaFailure> {
    let source = setup.source;
    let frame = display_size(source)?.fit(spec.width, spec.height, false, false);
    if let Some(duration) = source.duration.filter(|duration| spec.start >= *duration) {
        return Err(source_error(
            ErrorCode::InvalidTimeRange,
            format!("start {}s is past the end of the source ({duration:.2}s)", ratio(spec.start)),
        ));
    }
    let end = match (spec.end, source.duration) {
        (Some(end), Some(duration)) => end.min(duration),
        (Some(end), None) => end,
        (None, Some(duration)) => duration,
        (None, None) => {
            return Err(source_error(ErrorCode::InvalidTimeRange, "set end: the source duration is unknown"));
        }
    };
    let length = end - spec.start;
    let scale = format!("fps={},scale={}:{}:flags=lanczos", ratio(spec.fps), frame.width, frame.height);
    let mut args = head();
    source_input(&mut args, setup.input, Some(spec.start), Some(length));
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
        args,
        output: PlannedOutput {
            path,
            number: 0,
            content_type,
            timed: true,
            expected_duration: Some(length),
            size: Some(frame),
        },
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::media::{AudioStream, VideoStream};
    use crate::domain::task::{AudioSpec, ImageSource, TimePoint, VideoSpec, WatermarkTaskSpec};

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

    fn run_plan(spec: &TaskSpec, source: &MediaInfo, images: &[PathBuf]) -> Result<Plan, MediaFailure> {
        plan(&RenderRequest {
            spec,
            source,
            input: Path::new("/tmp/req-1/input"),
            watermark_images: images,
            workdir: Path::new("/tmp/req-1"),
            stop_by: None,
        })
    }

    fn args_of(plan: &Plan) -> Vec<String> {
        plan.runs.iter().map(|run| run.args.join(" ")).collect()
    }

    const INPUT: &str = "-hide_banner -nostdin -y -protocol_whitelist file -format_whitelist \
        mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,mpeg,asf,mp3,wav,ogg,aac,flac,gif";

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
                "{INPUT} -i file:/tmp/req-1/input \
             -filter_complex [0:v:0]scale=640:360,setsar=1,format=yuv420p[vout] -map [vout] \
             -c:v libx264 -preset veryfast -profile:v high -crf 23 \
             -map 0:a:0 -c:a aac -b:a 128k -movflags +faststart -f mp4 file:/tmp/req-1/out-0.mp4"
            )]
        );
        let output = &plan.runs[0].output;
        assert_eq!(
            (output.content_type, output.expected_duration, output.size),
            ("video/mp4", Some(10.0), Some(Size::new(640, 360)))
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
                "{INPUT} -i file:/tmp/req-1/input \
             -filter_complex [0:v:0]fps=12.5,scale=640:272,setsar=1,format=yuv420p[vout] -map [vout] \
             -c:v libvpx-vp9 -deadline good -cpu-used 4 -row-mt 1 -b:v 800k -maxrate 1200k -bufsize 1600k \
             -f webm file:/tmp/req-1/out-0.webm"
            )]
        );
    }

    #[test]
    fn golden_transcode_h265_keeps_size_and_tags_hvc1() {
        let spec = TaskSpec::Transcode(TranscodeSpec {
            video: Some(VideoSpec {
                codec: Some(VideoCodec::H265),
                width: 4000,
                crf: Some(30),
                ..VideoSpec::default()
            }),
            remove_audio: true,
            ..TranscodeSpec::default()
        });
        let plan = run_plan(&spec, &source(1280, 720, true), &[]).unwrap();
        assert_eq!(
            args_of(&plan),
            vec![format!(
                "{INPUT} -i file:/tmp/req-1/input \
             -filter_complex [0:v:0]scale=1280:720,setsar=1,format=yuv420p[vout] -map [vout] \
             -c:v libx265 -preset veryfast -x265-params log-level=error -crf 30 -tag:v hvc1 \
             -movflags +faststart -f mp4 file:/tmp/req-1/out-0.mp4"
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
                "{INPUT} -i file:/tmp/req-1/input -map 0:a:0 -c:a aac -b:a 128k -ar 44100 -ac 1 \
             -movflags +faststart -f ipod file:/tmp/req-1/out-0.m4a"
            )]
        );
    }

    #[test]
    fn golden_watermark_task_with_image_and_text() {
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
        let images = [PathBuf::from("/tmp/req-1/watermark-0.png")];
        let plan = run_plan(&spec, &source(1920, 1080, true), &images).unwrap();
        assert_eq!(
            args_of(&plan),
            vec![format!(
                "{INPUT} -i file:/tmp/req-1/input \
             -protocol_whitelist file -f png_pipe -i file:/tmp/req-1/watermark-0.png \
             -protocol_whitelist file -f png_pipe -i file:/tmp/req-1/text-1.png \
             -filter_complex [0:v:0]scale=1920:1080,setsar=1[base0];\
             [1:v]scale=192:-1,format=rgba,colorchannelmixer=aa=0.5[mark0];\
             [base0][mark0]overlay=x=main_w-overlay_w-16:y=54[base1];\
             [2:v]format=rgba[mark1];[base1][mark1]overlay=x=10:y=main_h-overlay_h-10,format=yuv420p[vout] -map [vout] \
             -c:v libx264 -preset veryfast -profile:v high -crf 23 \
             -map 0:a:0 -c:a aac -b:a 128k -movflags +faststart -f mp4 file:/tmp/req-1/out-0.mp4"
            )]
        );
        let text = TextImage { text: "© mediaflow: 'quoted' [x]".into(), size: 54, rgb: [255, 204, 0], opacity: 1.0 };
        assert_eq!(plan.text_images, vec![(PathBuf::from("/tmp/req-1/text-1.png"), text)]);
    }

    #[test]
    fn golden_snapshots_clamp_to_last_picture_and_resolve_percent() {
        let spec = TaskSpec::Snapshot(SnapshotSpec {
            times: vec![TimePoint::Seconds(1.5), TimePoint::Percent(50.0), TimePoint::Seconds(99.0)],
            format: ImageFormat::Png,
            width: 320,
            ..SnapshotSpec::default()
        });
        let plan = run_plan(&spec, &source(640, 272, false), &[]).unwrap();
        let expected = |at: &str, n: usize| {
            format!(
                "{INPUT} -ss {at} -i file:/tmp/req-1/input \
                 -filter_complex [0:v:0]scale=320:136,setsar=1[vout] -map [vout] -frames:v 1 -an \
                 -c:v png -f image2 -update 1 file:/tmp/req-1/out-{n}.png"
            )
        };
        assert_eq!(args_of(&plan), vec![expected("1.500", 0), expected("5.000", 1), expected("9.960", 2)]);
        assert_eq!(plan.runs[2].output.number, 2);
    }

    #[test]
    fn golden_snapshot_at_zero_does_not_seek() {
        let spec = TaskSpec::Snapshot(SnapshotSpec { times: vec![TimePoint::Seconds(0.0)], ..SnapshotSpec::default() });
        let plan = run_plan(&spec, &source(135, 99, false), &[]).unwrap();
        assert_eq!(
            args_of(&plan),
            vec![format!(
                "{INPUT} -i file:/tmp/req-1/input -filter_complex [0:v:0]scale=135:99,setsar=1[vout] -map [vout] \
             -frames:v 1 -an -c:v mjpeg -q:v 2 -f image2 -update 1 file:/tmp/req-1/out-0.jpg"
            )]
        );
    }

    #[test]
    fn golden_gif_uses_palette_and_cuts_range() {
        let spec =
            TaskSpec::Animated(AnimatedSpec { start: 1.0, end: Some(3.0), width: 320, ..AnimatedSpec::default() });
        let plan = run_plan(&spec, &source(640, 272, false), &[]).unwrap();
        assert_eq!(
            args_of(&plan),
            vec![format!(
                "{INPUT} -ss 1.000 -t 2.000 -i file:/tmp/req-1/input \
             -filter_complex [0:v:0]fps=10,scale=320:136:flags=lanczos,split[a][b];[a]palettegen=stats_mode=diff[p];\
             [b][p]paletteuse=dither=bayer:bayer_scale=5[vout] -map [vout] -an -loop 0 -f gif file:/tmp/req-1/out-0.gif"
            )]
        );
        assert_eq!(plan.runs[0].output.expected_duration, Some(2.0));
    }

    #[test]
    fn golden_webp_runs_to_source_end_by_default() {
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
                "{INPUT} -ss 8.000 -t 2.000 -i file:/tmp/req-1/input \
             -filter_complex [0:v:0]fps=5,scale=640:272:flags=lanczos[vout] -map [vout] -an \
             -c:v libwebp -lossless 0 -quality 75 -loop 0 -f webp file:/tmp/req-1/out-0.webp"
            )]
        );
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
        assert!(!plan.runs[0].args.contains(&"-filter_complex".to_owned()));
        let silent = TaskSpec::Transcode(TranscodeSpec { remove_audio: true, ..TranscodeSpec::default() });
        assert_eq!(run_plan(&silent, &audio_only, &[]).unwrap_err().code, ErrorCode::SourceNoMedia);
    }

    #[test]
    fn when_scratch_path_has_syntax_characters_should_refuse() {
        let spec = TaskSpec::Transcode(TranscodeSpec::default());
        let result = plan(&RenderRequest {
            spec: &spec,
            source: &source(640, 360, false),
            input: Path::new("/tmp/a:b/input"),
            watermark_images: &[],
            workdir: Path::new("/tmp/a:b"),
            stop_by: None,
        });
        assert_eq!(result.unwrap_err().code, ErrorCode::Internal);
    }

    #[test]
    fn no_run_names_a_protocol_other_than_file() {
        let spec = TaskSpec::Snapshot(SnapshotSpec { times: vec![TimePoint::Seconds(1.0)], ..SnapshotSpec::default() });
        let plan = run_plan(&spec, &source(640, 360, false), &[]).unwrap();
        for run in &plan.runs {
            let inputs: Vec<_> = run.args.windows(2).filter(|w| w[0] == "-i").map(|w| w[1].as_str()).collect();
            assert!(inputs.iter().all(|i| i.starts_with("file:/tmp/req-1/")), "{inputs:?}");
            assert_eq!(run.args.iter().filter(|a| *a == "-protocol_whitelist").count(), inputs.len());
        }
    }
}
