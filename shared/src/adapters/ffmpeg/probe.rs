//! Reading ffprobe's JSON into [`MediaInfo`], finding where the media really ends, and naming
//! what a failed probe means in one sentence (ffmpeg's own words go to the log only).

use serde::Deserialize;

use crate::domain::error::ErrorCode;
use crate::domain::media::{AudioStream, Hdr, MediaInfo, VideoStream};
use crate::ports::MediaFailure;

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    format: Option<Format>,
    #[serde(default)]
    streams: Vec<Stream>,
}

#[derive(Deserialize)]
struct Format {
    #[serde(default)]
    format_name: String,
    /// How sure the demuxer is that this is its format (100: certain).
    probe_score: Option<u32>,
    start_time: Option<String>,
    duration: Option<String>,
    size: Option<String>,
    bit_rate: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Stream {
    codec_type: String,
    codec_name: String,
    width: Option<u32>,
    height: Option<u32>,
    sample_aspect_ratio: Option<String>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    nb_frames: Option<String>,
    nb_read_frames: Option<String>,
    duration: Option<String>,
    /// `progressive`, or the order of an interlaced picture's fields (`tt`, `bb`, `tb`, `bt`).
    field_order: Option<String>,
    /// How brightness is coded: `bt709`, `smpte2084` (PQ), `arib-std-b67` (HLG)…
    color_transfer: Option<String>,
    sample_rate: Option<String>,
    channels: Option<u32>,
    level: Option<i64>,
    disposition: Disposition,
    tags: Tags,
    side_data_list: Vec<SideData>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Disposition {
    attached_pic: u8,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Tags {
    rotate: Option<String>,
    /// A Matroska stream's length, `00:00:01.000000000`.
    #[serde(rename = "DURATION")]
    duration: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SideData {
    rotation: Option<f64>,
}

/// The level of each video stream of a file mediaflow encoded, in order (as ffprobe says it:
/// 31 for H.264 3.1, 93 for H.265 3.1).
pub fn video_levels(json: &[u8]) -> Vec<u32> {
    let probe: Probe = serde_json::from_slice(json).unwrap_or(Probe { format: None, streams: Vec::new() });
    probe
        .streams
        .iter()
        .filter(|stream| stream.codec_type == "video")
        .map(|stream| stream.level.and_then(|level| u32::try_from(level).ok()).unwrap_or(0))
        .collect()
}

fn number<T: std::str::FromStr>(text: &Option<String>) -> Option<T> {
    text.as_deref().and_then(|t| t.parse().ok())
}

/// `"00:01:02.500000000"` → 62.5.
fn clock(text: &str) -> Option<f64> {
    let mut parts = text.trim().splitn(3, ':').map(str::parse::<f64>);
    let (hours, minutes, seconds) = (parts.next()?.ok()?, parts.next()?.ok()?, parts.next()?.ok()?);
    Some(hours * 3600.0 + minutes * 60.0 + seconds)
}

/// `"24000/1001"` → 23.976…; `"0/0"` → None.
fn rate(text: &Option<String>) -> Option<f64> {
    let (num, den) = text.as_deref()?.split_once('/')?;
    let (num, den): (f64, f64) = (num.parse().ok()?, den.parse().ok()?);
    (num > 0.0 && den > 0.0).then(|| num / den)
}

impl Stream {
    /// Display size: sample aspect ratio applied, then a quarter-turn rotation swaps sides,
    /// as ffmpeg's autorotate and scale will see the picture.
    fn display_size(&self) -> (u32, u32) {
        let (mut width, height) = (self.width.unwrap_or(0), self.height.unwrap_or(0));
        let sar = self.sample_aspect_ratio.as_deref().and_then(|sar| sar.split_once(':'));
        if let Some((Ok(num), Ok(den))) = sar.map(|(num, den)| (num.parse::<f64>(), den.parse::<f64>()))
            && num > 0.0
            && den > 0.0
            && num != den
        {
            width = (f64::from(width) * num / den).round() as u32;
        }
        let rotation = self
            .side_data_list
            .iter()
            .find_map(|side| side.rotation)
            .or_else(|| number::<f64>(&self.tags.rotate))
            .unwrap_or(0.0);
        if (rotation.abs() - 90.0).abs() < 1.0 || (rotation.abs() - 270.0).abs() < 1.0 {
            (height, width)
        } else {
            (width, height)
        }
    }
}

#[derive(Deserialize)]
struct Packets {
    #[serde(default)]
    packets: Vec<Packet>,
}

#[derive(Deserialize)]
struct Packet {
    pts_time: Option<String>,
    dts_time: Option<String>,
    duration_time: Option<String>,
    #[serde(default)]
    flags: String,
}

/// Where the last packet of `ffprobe -show_entries packet=pts_time,dts_time,duration_time`
/// output ends, in seconds; `None` without timed packets.
pub fn last_packet_end(json: &[u8]) -> Option<f64> {
    let packets: Packets = serde_json::from_slice(json).ok()?;
    packets
        .packets
        .iter()
        .filter_map(|p| {
            let at = number::<f64>(&p.pts_time).or_else(|| number::<f64>(&p.dts_time))?;
            Some(at + number::<f64>(&p.duration_time).unwrap_or(0.0))
        })
        .filter(|end| end.is_finite())
        .reduce(f64::max)
}

/// The keyframe each interval of a [`keyframe_probe`](super::args::keyframe_probe) landed on,
/// from `start`: `None` for an interval whose first packet is not a keyframe, and for all of
/// them when ffprobe did not print one packet per interval.
pub fn keyframes(json: &[u8], intervals: usize, start: f64) -> Vec<Option<f64>> {
    let packets = serde_json::from_slice::<Packets>(json).map(|p| p.packets).unwrap_or_default();
    if packets.len() != intervals {
        return vec![None; intervals];
    }
    packets
        .iter()
        .map(|packet| {
            let at = number::<f64>(&packet.pts_time).filter(|at| at.is_finite())?;
            packet.flags.starts_with('K').then_some(at - start)
        })
        .collect()
}

/// Whether ffmpeg's log tells that the file stops before its own index says it does.
pub fn truncated(stderr: &str) -> bool {
    TRUNCATION.iter().any(|sign| stderr.contains(sign))
}

/// What demuxers log when a file's data ends before its index (a cut upload).
pub const TRUNCATION: [&str; 3] = ["partial file", "File ended prematurely", "ended prematurely"];

/// The picture size a file claims but ffmpeg refuses to allocate (a decompression bomb):
/// `Picture size 65535x65535 is invalid`.
pub fn refused_picture_size(stderr: &str) -> Option<(u32, u32)> {
    let rest = stderr.split("Picture size ").nth(1)?;
    let (size, _) = rest.split_once(" is invalid")?;
    let (width, height) = size.split_once('x')?;
    Some((width.trim().parse().ok()?, height.trim().parse().ok()?))
}

/// A probe score at or under which ffmpeg warns "misdetection possible" (`AVPROBE_SCORE_RETRY`):
/// the format was guessed from bytes that merely resemble it.
const GUESSED: u32 = 25;

/// What every upload that is not media fails with, whatever format its bytes resemble.
fn not_media() -> MediaFailure {
    MediaFailure::new(
        ErrorCode::SourceUnsupportedFormat,
        "the file is not a video or audio file in a format mediaflow reads",
    )
}

/// Reads `ffprobe -print_format json -show_format -show_streams` output.
pub fn parse(json: &[u8]) -> Result<MediaInfo, MediaFailure> {
    let probe: Probe = serde_json::from_slice(json)
        .map_err(|e| MediaFailure::new(ErrorCode::Internal, format!("unreadable ffprobe output: {e}")))?;
    let Some(format) = probe.format.filter(|format| format.probe_score.is_none_or(|score| score > GUESSED)) else {
        return Err(not_media());
    };
    // Cover art in audio files is a "video" stream of one picture: not video.
    let video = probe.streams.iter().find(|s| s.codec_type == "video" && s.disposition.attached_pic == 0);
    let audio = probe.streams.iter().find(|s| s.codec_type == "audio");
    Ok(MediaInfo {
        container: format.format_name,
        duration: number::<f64>(&format.duration).filter(|d| d.is_finite() && *d > 0.0),
        start_time: number::<f64>(&format.start_time).filter(|t| t.is_finite()),
        size: number(&format.size),
        bit_rate: number(&format.bit_rate),
        stream_count: probe.streams.len() as u32,
        video: video.map(|s| {
            let (width, height) = s.display_size();
            VideoStream {
                codec: s.codec_name.clone(),
                width,
                height,
                fps: rate(&s.avg_frame_rate).or_else(|| rate(&s.r_frame_rate)),
                frames: number(&s.nb_read_frames).or_else(|| number(&s.nb_frames)),
                duration: number::<f64>(&s.duration)
                    .or_else(|| clock(s.tags.duration.as_deref()?))
                    .filter(|d| d.is_finite() && *d > 0.0),
                interlaced: matches!(s.field_order.as_deref(), Some("tt" | "bb" | "tb" | "bt")),
                hdr: match s.color_transfer.as_deref() {
                    Some("smpte2084") => Some(Hdr::Pq),
                    Some("arib-std-b67") => Some(Hdr::Hlg),
                    _ => None,
                },
            }
        }),
        audio: audio.map(|s| AudioStream {
            codec: s.codec_name.clone(),
            sample_rate: number(&s.sample_rate),
            channels: s.channels,
        }),
    })
}

/// Names a failed probe of an upload from what ffprobe wrote to stderr, in one sentence.
pub fn classify_failure(stderr: &str) -> MediaFailure {
    // Random bytes resemble MPEG-TS or MP3 now and then: a guess is not a format.
    if stderr.contains("detected only with low score") {
        return not_media();
    }
    // A known demuxer that complains ("[mov,mp4,… @ 0x…] moov atom not found") recognised
    // the file and found it damaged; otherwise nothing we accept recognised it.
    let damaged = stderr.lines().find(|line| {
        line.starts_with('[')
            && !line.contains("Format not on whitelist")
            && !line.contains("not in allowed_")
            && !line.starts_with("[http")
            && !line.starts_with("[tcp")
    });
    match damaged {
        Some(line) => MediaFailure::new(ErrorCode::SourceCorrupt, damage_sentence(line)),
        None => not_media(),
    }
}

/// One sentence for a demuxer's complaint about a damaged file.
fn damage_sentence(line: &str) -> String {
    let container = line
        .strip_prefix('[')
        .and_then(|rest| rest.split([' ', ',', '@']).next())
        .map(container_name)
        .unwrap_or("media");
    if line.contains("moov atom not found") {
        return "the file is incomplete: its MP4/MOV index (moov atom) is missing, as when an upload or a \
                recording is cut short"
            .to_owned();
    }
    if truncated(line) {
        return format!("the {container} file is incomplete: its data ends before its index says");
    }
    format!("the {container} file is damaged and cannot be read")
}

/// A demuxer's name as people know the format.
pub(crate) fn container_name(demuxer: &str) -> &str {
    match demuxer {
        "mov" | "mp4" => "MP4/MOV",
        "matroska" | "webm" => "Matroska/WebM",
        "mpegts" => "MPEG-TS",
        "mpeg" => "MPEG-PS",
        "avi" => "AVI",
        "flv" => "FLV",
        "asf" => "ASF/WMV",
        "mxf" => "MXF",
        "ogg" => "Ogg",
        "mp3" => "MP3",
        "wav" => "WAV",
        "gif" => "GIF",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_video_audio_and_duration() {
        let json = br#"{"streams":[
            {"codec_type":"video","codec_name":"h264","width":1920,"height":1080,"avg_frame_rate":"24000/1001","nb_frames":"24"},
            {"codec_type":"audio","codec_name":"aac","sample_rate":"48000","channels":2}],
          "format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"0.980000","size":"404567","bit_rate":"3302588"}}"#;
        let info = parse(json).unwrap();
        assert_eq!(info.container, "mov,mp4,m4a,3gp,3g2,mj2");
        assert_eq!(info.duration, Some(0.98));
        let video = info.video.unwrap();
        assert_eq!((video.width, video.height, video.frames), (1920, 1080, Some(24)));
        assert!((video.fps.unwrap() - 23.976).abs() < 0.001);
        assert_eq!(info.audio.unwrap().sample_rate, Some(48000));
        assert_eq!(info.stream_count, 2);
    }

    #[test]
    fn parse_reads_how_long_the_pictures_last_where_sound_runs_on() {
        let json = br#"{"streams":[
            {"codec_type":"video","codec_name":"h264","width":320,"height":180,"duration":"1.000000"},
            {"codec_type":"audio","codec_name":"aac","duration":"6.000000"}],
          "format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"6.000000"}}"#;
        let info = parse(json).unwrap();
        assert_eq!((info.duration, info.picture_duration()), (Some(6.0), Some(1.0)));
        // Matroska says it in a tag
        let json = br#"{"streams":[{"codec_type":"video","codec_name":"h264","width":320,"height":180,
            "tags":{"DURATION":"00:01:02.500000000"}}],"format":{"format_name":"matroska,webm","duration":"70.0"}}"#;
        assert_eq!(parse(json).unwrap().picture_duration(), Some(62.5));
        // and never past the file's own length
        let json = br#"{"streams":[{"codec_type":"video","codec_name":"h264","width":320,"height":180,
            "duration":"9.0"}],"format":{"format_name":"mov","duration":"4.0"}}"#;
        assert_eq!(parse(json).unwrap().picture_duration(), Some(4.0));
    }

    #[test]
    fn parse_swaps_sides_of_rotated_video_and_applies_aspect() {
        let json = br#"{"streams":[{"codec_type":"video","codec_name":"h264","width":1920,"height":1080,
            "side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}]}],"format":{"format_name":"mov"}}"#;
        let video = parse(json).unwrap().video.unwrap();
        assert_eq!((video.width, video.height), (1080, 1920));
        let json = br#"{"streams":[{"codec_type":"video","codec_name":"mpeg2video","width":720,"height":576,
            "sample_aspect_ratio":"16:15"}],"format":{"format_name":"mpeg"}}"#;
        let video = parse(json).unwrap().video.unwrap();
        assert_eq!((video.width, video.height), (768, 576));
    }

    #[test]
    fn parse_treats_cover_art_as_no_video() {
        let json = br#"{"streams":[{"codec_type":"audio","codec_name":"mp3"},
            {"codec_type":"video","codec_name":"png","width":500,"height":500,"disposition":{"attached_pic":1}}],
            "format":{"format_name":"mp3","duration":"12.3"}}"#;
        let info = parse(json).unwrap();
        assert!(info.video.is_none());
        assert_eq!(info.audio.unwrap().codec, "mp3");
    }

    #[test]
    fn classify_names_damaged_known_containers_corrupt_in_one_sentence() {
        let stderr = "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x5573] moov atom not found\nhttp://127.0.0.1:1/x: Invalid data found when processing input\n";
        let failure = classify_failure(stderr);
        assert_eq!(failure.code, ErrorCode::SourceCorrupt);
        assert!(failure.message.starts_with("the file is incomplete: its MP4/MOV index (moov atom) is missing"));
        let mkv =
            "[matroska,webm @ 0x1] EBML header parsing failed\nhttp://x: Invalid data found when processing input\n";
        assert_eq!(classify_failure(mkv).message, "the Matroska/WebM file is damaged and cannot be read");
    }

    #[test]
    fn classify_names_unknown_or_refused_formats_unsupported_without_ffmpegs_words() {
        let failure = classify_failure("http://127.0.0.1:1/x: Invalid data found when processing input\n");
        assert_eq!(failure.code, ErrorCode::SourceUnsupportedFormat);
        assert_eq!(failure.message, "the file is not a video or audio file in a format mediaflow reads");
        let refused = "[hls @ 0x55] Format not on whitelist 'mov,mp4'\nhttp://x: Invalid argument\n";
        let failure = classify_failure(refused);
        assert_eq!(failure.code, ErrorCode::SourceUnsupportedFormat);
        assert!(!failure.message.contains("Invalid argument"));
        // Bytes a demuxer only guesses at are not its format, damaged or not.
        let guessed = "[mpegts @ 0x55] Format mpegts detected only with low score of 2, misdetection possible!
                       [mpegts @ 0x55] Could not detect TS packet size, defaulting to non-FEC/DVHS
                       http://x: could not find codec parameters\n";
        assert_eq!(classify_failure(guessed), not_media());
    }

    #[test]
    fn a_format_read_with_a_low_score_is_not_media() {
        let guessed = br#"{"streams":[],"format":{"format_name":"lrc","probe_score":5}}"#;
        assert_eq!(parse(guessed).unwrap_err(), not_media());
        let sure = br#"{"streams":[],"format":{"format_name":"mp3","probe_score":51,"duration":"1.0"}}"#;
        assert_eq!(parse(sure).expect("media").container, "mp3");
    }

    #[test]
    fn the_tail_read_finds_where_the_media_really_ends() {
        let json = br#"{"packets":[{"pts_time":"71.960000","duration_time":"0.040000"},
            {"pts_time":"71.920000","duration_time":"0.040000"},{"dts_time":"70.0"},{"pts_time":"N/A"}]}"#;
        assert_eq!(last_packet_end(json), Some(72.0));
        assert_eq!(last_packet_end(br#"{"packets":[]}"#), None);
        assert!(truncated("[mov,mp4,m4a,3gp,3g2,mj2 @ 0x1] stream 0, offset 0x29237: partial file"));
        assert!(truncated("[matroska,webm @ 0x1] File ended prematurely"));
        assert_eq!(
            refused_picture_size("[gif @ 0x1] [IMGUTILS @ 0x2] Picture size 65535x65535 is invalid"),
            Some((65535, 65535))
        );
    }
}
