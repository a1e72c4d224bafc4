//! Adaptive streaming: the ladder encoded from one decode, every rendition a video stream of one
//! MP4 (the whole task with its sound, or one chunk), then packaged by copying those streams into
//! HLS or DASH segments ([`package`]).
//!
//! Keyframes fall on the segment grid and nowhere else (no scene-cut keyframes), the same frames
//! in every rendition, so that segments start on the same frame in each and players can switch.

use super::transcode::{audio_args, chunk_filters, chunk_offset, chunk_rate, metadata_args, transcode};
use super::*;
use crate::domain::task::{Rung, SegmentType, StreamFormat};

/// The encode of a task or of one of its parts: a chunk of every rendition, or the sound alone
/// (a part, or a task whose source or ladder has no picture).
pub(super) fn adaptive(
    setup: &RenderRequest<'_>,
    input: &str,
    spec: &AdaptiveSpec,
    plan: &mut Plan,
) -> Result<(), MediaFailure> {
    let source = setup.source;
    let ladder = spec.ladder(source, setup.tuning.as_ref());
    let chunk = match setup.part {
        Some(Part::Audio) => return transcode(setup, input, &spec.audio_transcode(), plan),
        Some(Part::Video(chunk)) => Some(chunk),
        None if ladder.is_empty() => {
            if !spec.has_audio() || source.audio.is_none() {
                return Err(source_error(
                    ErrorCode::SourceNoMedia,
                    "nothing to stream: the source has no picture, and no sound this task keeps",
                ));
            }
            return transcode(setup, input, &spec.audio_transcode(), plan);
        }
        None => None,
    };
    let max_duration = setup.limits.max_duration_s;
    let mut args = head();
    source_input(&mut args, input, chunk.map(|c| c.start), None);
    // Sound that runs on past the pictures keeps the last picture on screen (in the whole task,
    // or its last chunk): segments are cut on the pictures' grid, and a rendition without them
    // would end with its pictures. (First: ffmpeg 7 pads nothing after a `setpts`.)
    let last = chunk.is_none_or(|chunk| chunk.length.is_none());
    let held = source.sound_past_pictures().filter(|_| last && spec.has_audio());
    let mut common: Vec<String> =
        held.map(|gap| format!("tpad=stop_mode=clone:stop_duration={}", seconds(gap))).into_iter().collect();
    common.extend(chunk_filters(chunk));
    if let Some(fps) = spec.fps {
        common.push(fps_filter(fps));
    }
    let offset = chunk_offset(chunk, 0.0, spec.fps, source);
    let split: String = (0..ladder.len()).map(|i| format!("[s{i}]")).collect();
    let split = format!("split={}{split}", ladder.len());
    let mut graph = match spec.watermarks.is_empty() {
        true => {
            let filters = common.iter().chain([&split]).cloned().collect::<Vec<_>>().join(",");
            format!("{}{filters}", source_pictures(source.signal(), 0))
        }
        // The marks are drawn once, on the largest rendition's picture, and every rendition is
        // scaled from it: they sit alike in each.
        false => {
            let top = ladder.iter().map(|rung| rung.size).max_by_key(|size| size.width * size.height);
            let top = top.ok_or_else(|| source_error(ErrorCode::Internal, "a ladder without renditions"))?;
            common.push(format!("scale={}:{},setsar=1", top.width, top.height));
            let marked = video_graph(setup, &mut args, &common, &spec.watermarks, top, Clock::Timed(offset), plan)?;
            format!("{},{split}", marked.trim_end_matches("[vout]"))
        }
    };
    // DASH takes one picture shape for all of an adaptation set: a rendition whose even sides
    // round the shape off (426x240 of 16:9) keeps the largest one's by its pixel shape.
    let largest = ladder.iter().map(|rung| rung.size).max_by_key(|size| size.width * size.height);
    for (i, rung) in ladder.iter().enumerate() {
        let size = rung.size;
        let sar = match (spec.format, largest) {
            (StreamFormat::Dash, Some(largest)) => pixel_shape(largest, size),
            _ => "1".to_owned(),
        };
        graph.push_str(&format!(";[s{i}]scale={}:{},setsar={sar},format=yuv420p[v{i}]", size.width, size.height));
    }
    args.extend(["-filter_complex".into(), graph]);
    for i in 0..ladder.len() {
        args.extend(["-map".into(), format!("[v{i}]")]);
    }
    encoder_args(&mut args, spec, &ladder, offset);
    chunk_rate(&mut args, chunk, spec.fps, source);
    if chunk.is_none() && spec.has_audio() && source.audio.is_some() {
        args.extend(strings(["-map", "0:a:0"]));
        audio_args(&mut args, AudioCodec::Aac, &spec.audio_transcode().audio.unwrap_or_default(), source);
    }
    metadata_args(&mut args, spec.keep_metadata);
    let until = match chunk {
        Some(chunk) if chunk.length.is_some() => None,
        Some(chunk) => Some(max_duration + 1.0 - chunk.start),
        None => Some(max_duration + 1.0),
    };
    if let Some(until) = until {
        args.extend(["-t".into(), seconds(until)]);
    }
    let path = setup.workdir.join(match setup.part {
        Some(part) => part_name(part),
        None => ENCODED,
    });
    args.extend(["-f".into(), "mp4".into(), file(&path)]);
    plan.runs.push(Run {
        attempts: vec![args],
        output: PlannedOutput::media(path, "video/mp4", max_duration, ladder.first().map(|rung| rung.size)),
        label: None,
    });
    Ok(())
}

/// The `setsar` value that shows `size` in the shape of `shape`: `1` when it has it.
fn pixel_shape(shape: Size, size: Size) -> String {
    let (num, den) = (u64::from(shape.width) * u64::from(size.height), u64::from(shape.height) * u64::from(size.width));
    let (mut a, mut b) = (num, den);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    match a {
        0 => "1".to_owned(),
        _ if num == den => "1".to_owned(),
        // (setsar rounds to numbers under 100 unless told otherwise)
        common => format!("r={}/{}:max=65535", num / common, den / common),
    }
}

/// The ladder of a whole task, encoded before it is packaged.
pub const ENCODED: &str = "encoded.mp4";

/// Every rendition's encoder and rate: a bitrate under a cap 20 % above it, or a constant
/// quality under its maximum over a segment; keyframes on the segment grid of the whole output, for frames
/// that start `offset` seconds into it.
fn encoder_args(args: &mut Vec<String>, spec: &AdaptiveSpec, ladder: &[Rung], offset: f64) {
    match spec.video_codec() {
        VideoCodec::H265 => args.extend(strings([
            "-c:v",
            "libx265",
            "-preset",
            "veryfast",
            "-x265-params",
            "log-level=error:scenecut=0:open-gop=0",
            "-tag:v",
            "hvc1",
        ])),
        _ => {
            args.extend(strings(["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-sc_threshold", "0"]))
        }
    }
    args.extend(strings(["-forced-idr", "1"]));
    // A CRF rendition's cap holds over a segment (its BANDWIDTH is a segment's rate), so that
    // a keyframe at a low rate is not starved.
    let segment_buffer = spec.segment_seconds.max(2.0);
    for (i, rung) in ladder.iter().enumerate() {
        let (cap, buffer) = match (rung.bitrate_kbps, rung.crf) {
            (Some(kbps), _) => {
                args.extend([format!("-b:v:{i}"), format!("{kbps}k")]);
                (kbps * 6 / 5, kbps * 2)
            }
            (None, crf) => {
                args.extend([format!("-crf:v:{i}"), crf.unwrap_or(23).to_string()]);
                let cap = rung.max_kbps.unwrap_or(u32::MAX / 8);
                (cap, (f64::from(cap) * segment_buffer) as u32)
            }
        };
        args.extend([format!("-maxrate:v:{i}"), format!("{cap}k"), format!("-bufsize:v:{i}"), format!("{buffer}k")]);
    }
    // Half a millisecond of slack, so that a frame on the grid is one despite rounding.
    let offset = offset + 0.0005;
    let segment = spec.segment_seconds;
    let first = (offset / segment).floor();
    args.extend([
        "-force_key_frames:v".into(),
        format!("expr:gte(t+{offset:.4},(n_forced+{first})*{})", ratio(segment)),
    ]);
}

/// Where the packaged ladder is written: each stream's playlist and segments (named by their
/// stream and number, renamed when published) and the master playlist or MPD.
#[derive(Debug)]
pub struct Packaging<'a> {
    pub spec: &'a AdaptiveSpec,
    /// How many video renditions were encoded (video streams `0:v:0…`).
    pub renditions: usize,
    /// Whether the encode holds sound.
    pub audio: bool,
    /// The encoded ladder: one MP4, or the list of chunks (read with the concat demuxer) and
    /// the sound beside them.
    pub video: &'a Path,
    pub concat: bool,
    pub sound: Option<&'a Path>,
    pub workdir: &'a Path,
}

/// The local name of stream `stream`'s playlist.
pub fn stream_playlist(stream: usize) -> String {
    format!("s{stream}.m3u8")
}

/// The local name of the master playlist or MPD.
pub fn master_name(spec: &AdaptiveSpec) -> String {
    format!("master.{}", spec.playlist_format())
}

/// The streams an HLS output has: each video rendition with the sound, then the sound alone
/// (asked for, or the only stream).
pub fn hls_streams(packaging: &Packaging<'_>) -> Vec<(Option<usize>, bool)> {
    let mut streams: Vec<(Option<usize>, bool)> =
        (0..packaging.renditions).map(|i| (Some(i), packaging.audio)).collect();
    if packaging.audio && (packaging.spec.audio_only || packaging.renditions == 0) {
        streams.push((None, true));
    }
    streams
}

/// The copying runs that cut the encoded ladder into segments: one per HLS stream, or one DASH
/// run for all.
pub fn package(packaging: &Packaging<'_>) -> Result<Vec<Vec<String>>, MediaFailure> {
    for path in [packaging.video, packaging.workdir].into_iter().chain(packaging.sound) {
        plain_path(path)?;
    }
    let spec = packaging.spec;
    let mut inputs = head();
    inputs.extend(strings(["-protocol_whitelist", "file"]));
    if packaging.concat {
        inputs.extend(strings(["-f", "concat", "-safe", "1"]));
    }
    inputs.extend(["-i".into(), file(packaging.video)]);
    let sound = match packaging.sound {
        Some(sound) => {
            inputs.extend(strings(["-protocol_whitelist", "file", "-f", "mp4", "-i"]));
            inputs.push(file(sound));
            "1:a:0"
        }
        None => "0:a:0",
    };
    let segment = ratio(spec.segment_seconds);
    let workdir = packaging.workdir;
    let mut runs = Vec::new();
    match spec.format {
        StreamFormat::Hls => {
            for (stream, (video, audio)) in hls_streams(packaging).into_iter().enumerate() {
                let mut args = inputs.clone();
                if let Some(video) = video {
                    args.extend(["-map".into(), format!("0:v:{video}")]);
                }
                if audio {
                    args.extend(["-map".into(), sound.into()]);
                }
                args.extend(strings(["-c", "copy"]));
                metadata_args(&mut args, spec.keep_metadata);
                args.extend(strings(["-f", "hls", "-hls_playlist_type", "vod", "-start_number", "1", "-hls_time"]));
                args.push(segment.clone());
                let extension = spec.segment_format();
                match spec.segment_type() {
                    SegmentType::Ts => args.extend(strings(["-hls_segment_type", "mpegts"])),
                    SegmentType::Fmp4 => {
                        args.extend(strings(["-hls_segment_type", "fmp4", "-hls_fmp4_init_filename"]));
                        args.push(format!("s{stream}_init.mp4"));
                    }
                }
                args.push("-hls_segment_filename".into());
                args.push(file(&workdir.join(format!("s{stream}_%05d.{extension}"))));
                args.push(file(&workdir.join(stream_playlist(stream))));
                runs.push(args);
            }
        }
        StreamFormat::Dash => {
            let mut args = inputs;
            for video in 0..packaging.renditions {
                args.extend(["-map".into(), format!("0:v:{video}")]);
            }
            let mut sets = Vec::new();
            if packaging.renditions > 0 {
                sets.push("id=0,streams=v".to_owned());
            }
            if packaging.audio {
                args.extend(["-map".into(), sound.into()]);
                sets.push(format!("id={},streams=a", sets.len()));
            }
            args.extend(strings(["-c", "copy"]));
            metadata_args(&mut args, spec.keep_metadata);
            args.extend(strings(["-f", "dash", "-use_template", "1", "-use_timeline", "1", "-seg_duration"]));
            args.push(segment);
            args.extend(["-adaptation_sets".into(), sets.join(" ")]);
            args.extend(strings(["-init_seg_name", DASH_INIT, "-media_seg_name", DASH_MEDIA]));
            args.push(file(&workdir.join(master_name(spec))));
            runs.push(args);
        }
    }
    Ok(runs)
}

/// The DASH muxer's names of init and media segments, as its MPD's templates say them.
pub const DASH_INIT: &str = "s$RepresentationID$_init.mp4";
pub const DASH_MEDIA: &str = "s$RepresentationID$_$Number%05d$.m4s";
