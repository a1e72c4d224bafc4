//! Transcodes (and the watermark task): whole, or in chunks and an audio part, and the join.

use super::*;
use crate::domain::task::{CAP_BUFFER_SECONDS, VideoSpec};

/// The whole transcode, or one part of a chunked one (`setup.part`): a video chunk, cut from
/// the source at its borders and starting at time 0, or the whole audio.
pub(super) fn transcode(
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
    let span = spec.trim().resolve(source.duration).map_err(|why| source_error(ErrorCode::InvalidTimeRange, why))?;
    // What is decoded is held to the limit too: a header may not say how long a file is.
    let max_duration = setup.limits.max_duration_s;
    let mut until = Some(span.length().map_or(max_duration + 1.0, |length| length.min(max_duration + 1.0)));
    let mut chunk = None;
    match setup.part {
        None => {}
        Some(Part::Video(part)) => {
            audio = None;
            // A chunk ends at its border (`trim` below); the last one at the limit, in its own
            // time.
            until = match part.length {
                Some(_) => None,
                None => until.map(|until| until - (part.start - span.start)),
            };
            chunk = Some(part);
        }
        Some(Part::Audio) => video = None,
    }
    let mut args = head();
    source_input(&mut args, input, Some(chunk.map_or(span.start, |c| c.start)), None);
    let mut size = None;
    if let Some(codec) = video {
        let params = spec.video.clone().unwrap_or_default();
        let frame = video_frame(source, &params)?;
        size = Some(frame);
        let mut filters = chunk_filters(chunk);
        if let Some(fps) = params.fps {
            filters.push(fps_filter(fps));
        }
        filters.push(format!("scale={}:{}", frame.width, frame.height));
        filters.push("setsar=1".into());
        let clock = Clock::Timed(chunk_offset(chunk, span.start, params.fps, source));
        let mut graph = video_graph(setup, &mut args, &filters, &spec.watermarks, frame, clock, plan)?;
        graph.insert_str(graph.len() - "[vout]".len(), ",format=yuv420p");
        args.extend(["-filter_complex".into(), graph, "-map".into(), "[vout]".into()]);
        // A title's own CRF (`crf: auto`), or the codec's default where none was chosen.
        let crf = setup.tuning.as_ref().map(|tuning| tuning.crf).or(params.fixed_crf());
        // The cap the title was tuned under (the task's, or the default for its picture).
        let max_kbps = params.max_kbps.or(setup.tuning.as_ref().and_then(|tuning| tuning.max_kbps));
        let rate = Rate { crf, kbps: params.bitrate_kbps, max_kbps };
        video_codec_args(&mut args, codec, spec.container, rate);
        chunk_rate(&mut args, chunk, params.fps, source);
    }
    if let Some(codec) = audio {
        args.extend(strings(["-map", "0:a:0"]));
        audio_args(&mut args, codec, &spec.audio.clone().unwrap_or_default(), source);
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
    let index = match setup.part {
        Some(_) => Index::AsWritten,
        None => Index::front(spec.container, setup.feed.is_some()),
    };
    index.args(&mut args);
    args.extend(["-f".into(), muxer.into(), file(&path)]);
    let output = PlannedOutput {
        index_last: index == Index::MovedLater,
        ..PlannedOutput::media(path, content_type, max_duration, size)
    };
    plan.runs.push(Run { attempts: vec![args], output, label: None });
    Ok(())
}

/// Where an MP4's index (`moov`) goes, which players want in front of the media data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Index {
    /// Where the muxer puts it: a part of a chunked task, or a container without one.
    AsWritten,
    /// In front, by ffmpeg (`+faststart`: a second pass over the whole file once it is written).
    Front,
    /// Last, the file written front to back so that it can be sent while it grows; moved in
    /// front as it is stored.
    MovedLater,
}

impl Index {
    /// For a whole output in `container`; `in_order` when it can be sent while written.
    fn front(container: Container, in_order: bool) -> Self {
        match (matches!(container, Container::Mp4 | Container::Mov | Container::M4a), in_order) {
            (false, _) => Index::AsWritten,
            (true, false) => Index::Front,
            (true, true) => Index::MovedLater,
        }
    }

    fn args(self, args: &mut Vec<String>) {
        if self == Index::Front {
            args.extend(strings(["-movflags", "+faststart"]));
        }
    }
}

/// The size a transcode's pictures are encoded at: the source's upright size, fitted to the
/// task's (never larger unless it allows upscaling), on even numbers.
pub fn video_frame(source: &MediaInfo, video: &VideoSpec) -> Result<Size, MediaFailure> {
    Ok(display_size(source)?.fit(video.width, video.height, video.allow_upscale, true))
}

/// The filters that cut `chunk` from where its seek lands: to its border, restarting at 0.
pub(super) fn chunk_filters(chunk: Option<Chunk>) -> Vec<String> {
    let mut filters = Vec::new();
    if let Some(length) = chunk.and_then(|c| c.length) {
        // From where the seek put 0, so the end falls on the border. (An input `-t` counts
        // from the first frame kept, half a frame later, and a length rounded to the
        // millisecond can then take one frame more.)
        filters.push(format!("trim=end={}", seconds(length)));
    }
    if chunk.is_some_and(|c| c.start > 0.0) {
        // Each chunk starts at 0; the join lays it after the one before.
        filters.push("setpts=PTS-STARTPTS".to_owned());
    }
    filters
}

/// Where a chunk's first frame is on the clock of an output that starts `origin` seconds into
/// the source: half a frame past the chunk's start.
pub(super) fn chunk_offset(chunk: Option<Chunk>, origin: f64, fps: Option<f64>, source: &MediaInfo) -> f64 {
    let fps = fps.or(source.video.as_ref().and_then(|v| v.fps)).filter(|fps| *fps > 0.0);
    chunk.map_or(0.0, |c| c.start - origin + fps.map_or(0.0, |fps| 0.5 / fps))
}

/// A chunk's rate, said again: after `setpts` ffmpeg 7 no longer knows it and writes 25 fps,
/// dropping frames of any other rate.
pub(super) fn chunk_rate(args: &mut Vec<String>, chunk: Option<Chunk>, fps: Option<f64>, source: &MediaInfo) {
    if let Some(fps) = chunk.and_then(|_| fps.or(source.video.as_ref().and_then(|v| v.fps))) {
        args.extend(["-r".into(), ratio(fps)]);
    }
}

/// The sound's encoder, bitrate, loudness, rate and channels.
pub(super) fn audio_args(args: &mut Vec<String>, codec: AudioCodec, params: &AudioSpec, source: &MediaInfo) {
    let (encoder, kbps) = match codec {
        AudioCodec::Aac => ("aac", 128),
        AudioCodec::Opus => ("libopus", 96),
        AudioCodec::Mp3 => ("libmp3lame", 128),
    };
    args.extend(["-c:a".into(), encoder.into(), "-b:a".into(), format!("{}k", params.bitrate_kbps.unwrap_or(kbps))]);
    if let Some(target) = params.loudness {
        // EBU R128 in one pass (loudnorm's dynamic mode), which works at 192 kHz: the
        // output's rate is said below.
        args.extend(["-af".into(), format!("loudnorm=I={}:TP=-1.5:LRA=11", ratio(target))]);
    }
    let source_rate = || match codec {
        AudioCodec::Opus => 48_000,
        _ => source.audio.as_ref().and_then(|audio| audio.sample_rate).unwrap_or(48_000),
    };
    let rate = params.sample_rate.or_else(|| params.loudness.map(|_| source_rate()));
    if let Some(rate) = rate {
        args.extend(["-ar".into(), rate.to_string()]);
    }
    if let Some(channels) = params.channels {
        args.extend(["-ac".into(), channels.to_string()]);
    }
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
pub(super) fn metadata_args(args: &mut Vec<String>, keep: bool) {
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
    in_order: bool,
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
    let index = Index::front(spec.container, in_order);
    index.args(&mut args);
    let (muxer, content_type) = muxer(spec.container);
    let path = workdir.join(format!("out-0.{}", spec.container));
    args.extend(["-f".into(), muxer.into(), file(&path)]);
    let output = PlannedOutput {
        index_last: index == Index::MovedLater,
        ..PlannedOutput::media(path, content_type, max_duration, None)
    };
    Ok(Run { attempts: vec![args], output, label: None })
}

/// How a video's bitrate is decided: a CRF (the codec's default without one), or a target
/// bitrate; with a CRF, `max_kbps` caps it.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Rate {
    pub crf: Option<u8>,
    pub kbps: Option<u32>,
    pub max_kbps: Option<u32>,
}

pub(super) fn video_codec_args(args: &mut Vec<String>, codec: VideoCodec, container: Container, rate: Rate) {
    let Rate { crf, kbps, max_kbps } = rate;
    let rate_control = |args: &mut Vec<String>| match kbps {
        Some(kbps) => args.extend([
            "-b:v".into(),
            format!("{kbps}k"),
            "-maxrate".into(),
            format!("{}k", kbps * 3 / 2),
            "-bufsize".into(),
            format!("{}k", kbps * 2),
        ]),
        None => {
            args.extend(["-crf".into(), crf.unwrap_or(default_crf(codec)).to_string()]);
            if let Some(cap) = max_kbps {
                let buffer = cap * CAP_BUFFER_SECONDS;
                args.extend(["-maxrate".into(), format!("{cap}k"), "-bufsize".into(), format!("{buffer}k")]);
            }
        }
    };
    match codec {
        VideoCodec::H264 => {
            args.extend(strings(["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high"]));
            rate_control(args);
        }
        VideoCodec::H265 => {
            args.extend(strings(["-c:v", "libx265", "-preset", "veryfast", "-x265-params", "log-level=error"]));
            rate_control(args);
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
            rate_control(args);
        }
    }
}
