//! Chunked encoding: a long transcode split into time ranges that workers encode side by side
//! from the same upload, its audio encoded once over the whole input, then joined.
//!
//! Ranges end half a frame between two frames, so that no frame's time is on a border and every
//! frame lands in exactly one chunk; each chunk starts with a keyframe of its own. A border is
//! moved to just after a keyframe of the source ([`at_keyframes`]), where a chunk's seek lands
//! without decoding frames it then drops. Audio is never cut: one part encodes all of it, so the
//! join has no gaps or clicks.

use serde::{Deserialize, Serialize};

use super::media::MediaInfo;
use super::task::{DEFAULT_CHUNK_SECONDS, Encode, MAX_CHUNKS, MIN_CHUNK_SECONDS, Parallel, Tuning, VideoCodec};

/// `auto` splits an encode estimated to need more than this share of an invocation.
const COMFORTABLE_SHARE: f64 = 0.5;
/// How far past a keyframe a border goes at least: for containers not indexed by presentation
/// time (Matroska, MPEG-TS), ffmpeg seeks 3/23 s before the time asked when the video has
/// B-frames, and that seek must still land on the keyframe.
const SEEK_MARGIN: f64 = 0.131;

/// One video chunk: the source's `[start, start + length)`, or to the end without a length.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    pub start: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<f64>,
}

/// How a task is split: its video chunks, and whether one more part encodes the audio.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChunkPlan {
    pub chunks: Vec<Chunk>,
    pub audio: bool,
    /// The title's CRF (`crf: auto`), chosen before the parts are sent: every chunk uses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning: Option<Tuning>,
}

/// One part of a chunked task: a video chunk, or the whole audio.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Part {
    Video(Chunk),
    Audio,
}

impl ChunkPlan {
    /// Where the video chunks after the first start.
    pub fn borders(&self) -> Vec<f64> {
        self.chunks.iter().skip(1).map(|chunk| chunk.start).collect()
    }

    /// The chunks that start at `starts`, the last running to `end` (or the source's end).
    fn from_starts(starts: &[f64], end: Option<f64>, audio: bool) -> ChunkPlan {
        let chunks = starts
            .iter()
            .enumerate()
            .map(|(i, start)| Chunk {
                start: *start,
                length: starts.get(i + 1).copied().or(end).map(|next| next - start),
            })
            .collect();
        ChunkPlan { chunks, audio, tuning: None }
    }

    /// Where the last chunk ends, when it does not run to the source's end.
    fn end(&self) -> Option<f64> {
        self.chunks.last().and_then(|last| Some(last.start + last.length?))
    }

    /// Parts are numbered from 0: the video chunks in order, then the audio.
    pub fn parts(&self) -> u32 {
        self.chunks.len() as u32 + u32::from(self.audio)
    }

    pub fn part(&self, number: u32) -> Option<Part> {
        match self.chunks.get(number as usize) {
            Some(chunk) => Some(Part::Video(*chunk)),
            None if self.audio && number as usize == self.chunks.len() => Some(Part::Audio),
            None => None,
        }
    }
}

/// What the worker knows when it plans: the time one invocation has, and the longest output
/// the workflow accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    pub invocation_seconds: f64,
    pub max_duration: f64,
}

/// Encoding seconds per second of source, per 1080p-sized output, for one Lambda vCPU-pair:
/// the worker's presets, measured on the benchmark's machine (two cores) and rounded up.
fn encode_rate(codec: VideoCodec) -> f64 {
    match codec {
        VideoCodec::H264 => 0.8,
        VideoCodec::H265 => 3.0,
        VideoCodec::Vp9 => 2.5,
    }
}

/// Roughly how long one worker takes to encode `encode`'s video of `source`, in seconds.
pub fn estimate_seconds(encode: &Encode, source: &MediaInfo, duration: f64) -> Option<f64> {
    let video = source.video.as_ref()?;
    let pixels: f64 = encode
        .sizes
        .iter()
        .map(|wanted| {
            let (width, height) = match *wanted {
                (0, 0) => (video.width, video.height),
                (0, h) => (video.width * h / video.height.max(1), h),
                (w, 0) => (w, video.height * w / video.width.max(1)),
                size => size,
            };
            (f64::from(width) * f64::from(height) / (1920.0 * 1080.0)).max(0.25)
        })
        .sum();
    Some(duration * encode_rate(encode.codec) * pixels)
}

/// How `encode` is split for `source`, or `None` when it runs in one piece: `off`, a source
/// without video or of unknown length, or (`auto`) an encode that fits one invocation.
pub fn plan(encode: &Encode, source: &MediaInfo, budget: Budget) -> Option<ChunkPlan> {
    if encode.parallel == Parallel::Off || encode.sizes.is_empty() {
        return None;
    }
    source.video.as_ref()?;
    let span = encode.trim.resolve(source.duration).ok()?;
    // Chunks split the pictures: sound that runs on past them goes with the last one.
    let end = span.end.or(source.duration)?;
    let end = source.picture_duration().map_or(end, |pictures| end.min(pictures));
    let duration = (end - span.start).min(budget.max_duration);
    let count = match encode.parallel {
        Parallel::Off => return None,
        Parallel::Chunks(n) => n,
        Parallel::Auto => {
            let estimate = estimate_seconds(encode, source, duration)?;
            if estimate <= budget.invocation_seconds * COMFORTABLE_SHARE {
                return None;
            }
            let length = encode.chunk_seconds.unwrap_or(DEFAULT_CHUNK_SECONDS);
            (duration / length).ceil() as u32
        }
    };
    let count = count.min(MAX_CHUNKS).min((duration / MIN_CHUNK_SECONDS).floor() as u32);
    if count < 2 {
        return None;
    }
    let fps = frame_rate(encode, source);
    let starts: Vec<f64> = (0..count)
        .map(|i| match i {
            0 => span.start,
            _ => between_frames(span.start + duration * f64::from(i) / f64::from(count), fps),
        })
        .collect();
    Some(ChunkPlan::from_starts(&starts, span.end, encode.audio && source.audio.is_some()))
}

/// Decoding seconds per second of 1080p source, for one Lambda vCPU-pair (measured: 60 s of
/// 1080p30 H.264 in 9 s of CPU, rounded up).
const DECODE_RATE: f64 = 0.2;

/// How pictures taken every `interval` seconds over `duration` seconds of `source` (`count` of
/// them) are split: `None` in one piece (`off`, or with `auto` a decode that fits one
/// invocation). Each part takes a run of whole pictures, from the grid point it starts at, so
/// that every part seeks exactly to its first picture's time.
pub fn picture_plan(
    parallel: Parallel,
    chunk_seconds: Option<f64>,
    source: &MediaInfo,
    interval: f64,
    count: usize,
    budget: Budget,
) -> Option<ChunkPlan> {
    let video = source.video.as_ref()?;
    let duration = source.duration?.min(budget.max_duration);
    let parts = match parallel {
        Parallel::Off => return None,
        Parallel::Chunks(n) => n,
        Parallel::Auto => {
            let pixels = (f64::from(video.width) * f64::from(video.height) / (1920.0 * 1080.0)).max(0.25);
            if duration * DECODE_RATE * pixels <= budget.invocation_seconds * COMFORTABLE_SHARE {
                return None;
            }
            (duration / chunk_seconds.unwrap_or(DEFAULT_CHUNK_SECONDS)).ceil() as u32
        }
    };
    let parts = (parts.min(MAX_CHUNKS) as usize).min(count);
    if parts < 2 {
        return None;
    }
    let first = |part: usize| part * count / parts;
    let chunks = (0..parts)
        .map(|part| Chunk {
            start: first(part) as f64 * interval,
            length: Some((first(part + 1) - first(part)) as f64 * interval),
        })
        .collect();
    Some(ChunkPlan { chunks, audio: false, tuning: None })
}

/// `plan` with each border moved to just after the keyframe a seek to it lands on
/// (`keyframes[i]` for border `i`, in seconds from the source's start), so that no chunk decodes
/// frames only to drop them. A border stays where it is when its keyframe is unknown or more
/// than half a chunk away, and goes when the move would leave a chunk shorter than
/// [`MIN_CHUNK_SECONDS`].
pub fn at_keyframes(plan: ChunkPlan, encode: &Encode, source: &MediaInfo, keyframes: &[Option<f64>]) -> ChunkPlan {
    let fps = frame_rate(encode, source);
    let mut starts = vec![plan.chunks.first().map_or(0.0, |first| first.start)];
    for (i, border) in plan.borders().into_iter().enumerate() {
        let previous = starts[starts.len() - 1];
        let reach = plan.chunks[i].length.unwrap_or(0.0) / 2.0;
        let moved = keyframes
            .get(i)
            .copied()
            .flatten()
            .filter(|keyframe| *keyframe > 0.0 && (border - keyframe).abs() <= reach)
            .map(|keyframe| after_frames(keyframe + SEEK_MARGIN, fps))
            .filter(|moved| *moved >= previous + MIN_CHUNK_SECONDS);
        match moved {
            Some(moved) => starts.push(moved),
            None if border > previous => starts.push(border),
            None => {}
        }
    }
    ChunkPlan::from_starts(&starts, plan.end(), plan.audio)
}

/// The frame grid the borders fall between: the output's rate when it sets one.
fn frame_rate(encode: &Encode, source: &MediaInfo) -> Option<f64> {
    let video = source.video.as_ref()?;
    encode.fps.or(video.fps).filter(|fps| *fps > 0.0)
}

/// The point half a frame between the two frames around `at`.
fn between_frames(at: f64, fps: Option<f64>) -> f64 {
    match fps {
        Some(fps) => ((at * fps).floor() + 0.5) / fps,
        None => at + 0.0005,
    }
}

/// The first point half a frame between two frames at or after `at`.
fn after_frames(at: f64, fps: Option<f64>) -> f64 {
    match fps {
        Some(fps) => ((at * fps - 0.5).ceil() + 0.5) / fps,
        None => at + 0.0005,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::media::{AudioStream, VideoStream};
    use crate::domain::task::{AdaptiveSpec, Container, Rendition, TranscodeSpec, VideoSpec};

    fn plan(spec: &TranscodeSpec, source: &MediaInfo, budget: Budget) -> Option<ChunkPlan> {
        super::plan(&spec.encode()?, source, budget)
    }

    fn at_keyframes(plan: ChunkPlan, spec: &TranscodeSpec, source: &MediaInfo, keyframes: &[Option<f64>]) -> ChunkPlan {
        super::at_keyframes(plan, &spec.encode().unwrap(), source, keyframes)
    }

    #[test]
    fn chunks_cover_only_the_trimmed_span() {
        let trimmed = TranscodeSpec { start: Some(100.0), end: Some(-100.0), ..spec(Parallel::Chunks(4)) };
        let plan = plan(&trimmed, &source(600.0, Some(25.0), true), LAMBDA).unwrap();
        assert_eq!(plan.chunks[0].start, 100.0, "from the trim's start");
        assert_eq!(plan.chunks[1].start, 200.02);
        let last = plan.chunks[3];
        assert!((last.start + last.length.unwrap() - 500.0).abs() < 1e-9, "to the trim's end: {last:?}");
        let moved = at_keyframes(plan.clone(), &trimmed, &source(600.0, Some(25.0), true), &[Some(199.0)]);
        assert_eq!(moved.chunks[0].start, 100.0);
        assert!((moved.chunks[3].start + moved.chunks[3].length.unwrap() - 500.0).abs() < 1e-9, "the end stays");
        let short = TranscodeSpec { start: Some(-8.0), ..spec(Parallel::Chunks(4)) };
        assert_eq!(super::plan(&short.encode().unwrap(), &source(600.0, Some(25.0), true), LAMBDA), None, "8 s");
    }

    #[test]
    fn pictures_are_split_in_runs_of_whole_pictures_from_their_grid_points() {
        let hour = source(3600.0, Some(25.0), false);
        let plan = picture_plan(Parallel::Auto, None, &hour, 10.0, 360, LAMBDA).unwrap();
        assert_eq!(plan.chunks.len(), 30, "two-minute parts");
        assert_eq!(plan.chunks[1], Chunk { start: 120.0, length: Some(120.0) });
        assert!(!plan.audio);
        let pictures: f64 = plan.chunks.iter().map(|c| c.length.unwrap() / 10.0).sum();
        assert_eq!(pictures, 360.0, "every picture once");
        let uneven = picture_plan(Parallel::Chunks(3), None, &hour, 360.0, 10, LAMBDA).unwrap();
        assert_eq!(
            uneven.chunks.iter().map(|c| (c.start, c.length.unwrap())).collect::<Vec<_>>(),
            [(0.0, 1080.0), (1080.0, 1080.0), (2160.0, 1440.0)]
        );
        assert_eq!(picture_plan(Parallel::Auto, None, &source(600.0, Some(25.0), false), 10.0, 60, LAMBDA), None);
        assert_eq!(picture_plan(Parallel::Chunks(8), None, &hour, 3600.0, 1, LAMBDA), None, "one picture");
        assert_eq!(picture_plan(Parallel::Off, None, &hour, 10.0, 360, LAMBDA), None);
    }

    #[test]
    fn a_ladder_costs_the_sum_of_its_renditions() {
        let rendition = |height| Rendition { height, bitrate_kbps: Some(1000), ..Rendition::default() };
        let ladder =
            AdaptiveSpec { renditions: vec![rendition(1080), rendition(720)].into(), ..AdaptiveSpec::default() };
        let source = source(600.0, Some(25.0), true);
        let both = estimate_seconds(&ladder.encode().unwrap(), &source, 600.0).unwrap();
        let single = estimate_seconds(&TranscodeSpec::default().encode().unwrap(), &source, 600.0).unwrap();
        assert!((both / single - (1.0 + 1280.0 * 720.0 / (1920.0 * 1080.0))).abs() < 1e-9, "{both} vs {single}");
        assert_eq!(AdaptiveSpec { audio_only: true, ..AdaptiveSpec::default() }.encode(), None, "sound alone");
    }

    fn source(seconds: f64, fps: Option<f64>, audio: bool) -> MediaInfo {
        MediaInfo {
            duration: Some(seconds),
            video: Some(VideoStream {
                codec: "h264".into(),
                width: 1920,
                height: 1080,
                fps,
                frames: None,
                duration: None,
                interlaced: false,
                hdr: None,
            }),
            audio: audio.then(AudioStream::default),
            ..MediaInfo::default()
        }
    }

    const LAMBDA: Budget = Budget { invocation_seconds: 900.0, max_duration: 14_400.0 };

    fn spec(parallel: Parallel) -> TranscodeSpec {
        TranscodeSpec { parallel, ..TranscodeSpec::default() }
    }

    #[test]
    fn parallel_is_auto_off_or_a_number_of_chunks() {
        let parse = |text: &str| serde_json::from_str::<Parallel>(text).map_err(|e| e.to_string());
        assert_eq!(parse("\"auto\""), Ok(Parallel::Auto));
        assert_eq!(parse("\"off\""), Ok(Parallel::Off));
        assert_eq!(parse("4"), Ok(Parallel::Chunks(4)));
        assert_eq!(parse("2.0"), Ok(Parallel::Chunks(2)), "as a store may give it back");
        for bad in ["0", "65", "\"fast\"", "-1", "2.5"] {
            assert!(parse(bad).unwrap_err().contains("\"auto\", \"off\" or a number of chunks 1–64"), "{bad}");
        }
        assert_eq!(serde_json::to_string(&Parallel::Chunks(3)).unwrap(), "3");
        assert_eq!(serde_json::to_string(&Parallel::Auto).unwrap(), "\"auto\"");
    }

    #[test]
    fn borders_fall_half_a_frame_between_frames_and_cover_the_source_once() {
        let plan = plan(&spec(Parallel::Chunks(4)), &source(600.0, Some(25.0), true), LAMBDA).unwrap();
        assert_eq!(plan.chunks.len(), 4);
        assert!(plan.audio);
        assert_eq!(plan.parts(), 5);
        assert_eq!(plan.part(4), Some(Part::Audio));
        assert_eq!(plan.part(5), None);
        assert_eq!(plan.chunks[0].start, 0.0);
        assert_eq!(plan.chunks[1].start, 150.02, "frame 3750 at 150.00 s is in the first chunk");
        for pair in plan.chunks.windows(2) {
            let end = pair[0].start + pair[0].length.unwrap();
            assert!((end - pair[1].start).abs() < 1e-9, "chunks meet: {pair:?}");
            let frames = pair[1].start * 25.0;
            assert!((frames - frames.floor() - 0.5).abs() < 1e-6, "half a frame: {frames}");
        }
        assert_eq!(plan.chunks[3].length, None, "the last runs to the end");
        // NTSC rates too
        let ntsc = plan_for(Parallel::Chunks(3), 100.0, Some(30000.0 / 1001.0));
        let frames = ntsc.chunks[1].start * 30000.0 / 1001.0;
        assert!((frames - frames.floor() - 0.5).abs() < 1e-6);
    }

    #[test]
    fn borders_move_to_just_past_the_keyframe_a_seek_lands_on() {
        let source = source(60.0, Some(30.0), true);
        let spec = spec(Parallel::Chunks(4));
        let nominal = plan(&spec, &source, LAMBDA).unwrap();
        assert_eq!(nominal.borders(), [15.0 + 1.0 / 60.0, 30.0 + 1.0 / 60.0, 45.0 + 1.0 / 60.0]);
        // keyframes every 250 frames: 8.33, 16.67, 25, 33.33, 41.67, 50
        let keyframes = [Some(8.0 + 1.0 / 3.0), Some(25.0), Some(41.0 + 2.0 / 3.0)];
        let moved = at_keyframes(nominal.clone(), &spec, &source, &keyframes);
        // past the seek margin (0.131 s = 3.93 frames): between frames 4 and 5 after each keyframe
        let expected = [250.0 + 4.5, 750.0 + 4.5, 1250.0 + 4.5].map(|frames| frames / 30.0);
        for (border, expected) in moved.borders().iter().zip(expected) {
            assert!((border - expected).abs() < 1e-9, "{border} ≠ {expected}");
        }
        assert_eq!(moved.chunks.len(), 4);
        assert!(moved.audio);
        for pair in moved.chunks.windows(2) {
            assert!((pair[0].start + pair[0].length.unwrap() - pair[1].start).abs() < 1e-9, "chunks meet");
        }
        assert_eq!(moved.chunks[3].length, None);
    }

    #[test]
    fn a_border_stays_when_its_keyframe_is_unknown_far_or_too_close_to_the_last() {
        let source = source(60.0, Some(30.0), false);
        let spec = spec(Parallel::Chunks(4));
        let nominal = plan(&spec, &source, LAMBDA).unwrap();
        let borders = nominal.borders();
        // unknown; 10 s and 28 s back (more than half a 15 s chunk)
        let keyframes = [None, Some(20.0), Some(17.0)];
        let moved = at_keyframes(nominal.clone(), &spec, &source, &keyframes);
        assert_eq!(moved.borders(), borders);
        assert_eq!(at_keyframes(nominal.clone(), &spec, &source, &[]).borders(), borders, "nothing known");
        // one keyframe for two borders (a long GOP): the second border stays
        let long_gop = [Some(14.0), Some(14.0), Some(44.0)];
        let moved = at_keyframes(nominal, &spec, &source, &long_gop);
        assert!((moved.borders()[0] - (14.0 * 30.0 + 4.5) / 30.0).abs() < 1e-9);
        assert_eq!(moved.borders()[1], borders[1]);
        assert!((moved.borders()[2] - (44.0 * 30.0 + 4.5) / 30.0).abs() < 1e-9);
        // a move that leaves a chunk under 5 s removes nothing: the border stays nominal
        let source = self::source(12.0, Some(30.0), false);
        let short = plan(&spec, &source, LAMBDA).unwrap();
        assert_eq!(short.chunks.len(), 2);
        assert_eq!(at_keyframes(short.clone(), &spec, &source, &[Some(3.0)]).borders(), short.borders());
    }

    fn plan_for(parallel: Parallel, seconds: f64, fps: Option<f64>) -> ChunkPlan {
        plan(&spec(parallel), &source(seconds, fps, false), LAMBDA).unwrap()
    }

    #[test]
    fn auto_splits_only_what_one_invocation_would_not_comfortably_encode() {
        assert_eq!(plan(&spec(Parallel::Auto), &source(60.0, Some(30.0), true), LAMBDA), None, "a minute");
        let hour = plan(&spec(Parallel::Auto), &source(3600.0, Some(30.0), true), LAMBDA).unwrap();
        assert_eq!(hour.chunks.len(), 30, "two-minute chunks");
        let short = TranscodeSpec { chunk_seconds: Some(300.0), ..spec(Parallel::Auto) };
        assert_eq!(plan(&short, &source(3600.0, Some(30.0), true), LAMBDA).unwrap().chunks.len(), 12);
        let small =
            TranscodeSpec { video: Some(VideoSpec { height: 360, ..VideoSpec::default() }), ..spec(Parallel::Auto) };
        assert_eq!(plan(&small, &source(900.0, Some(30.0), true), LAMBDA), None, "15 min to 360p fits");
        let hevc = TranscodeSpec {
            video: Some(VideoSpec { codec: Some(VideoCodec::H265), ..VideoSpec::default() }),
            ..spec(Parallel::Auto)
        };
        assert!(plan(&hevc, &source(300.0, Some(30.0), true), LAMBDA).is_some(), "5 min of H.265 does not");
    }

    #[test]
    fn no_split_without_video_a_known_length_or_room_for_two_chunks() {
        assert_eq!(plan(&spec(Parallel::Off), &source(3600.0, Some(30.0), true), LAMBDA), None);
        let audio_only = TranscodeSpec { container: Container::M4a, ..spec(Parallel::Chunks(4)) };
        assert_eq!(plan(&audio_only, &source(3600.0, Some(30.0), true), LAMBDA), None);
        let no_video = TranscodeSpec { remove_video: true, ..spec(Parallel::Chunks(4)) };
        assert_eq!(plan(&no_video, &source(3600.0, Some(30.0), true), LAMBDA), None);
        let unknown = MediaInfo { duration: None, ..source(60.0, None, false) };
        assert_eq!(plan(&spec(Parallel::Chunks(4)), &unknown, LAMBDA), None);
        assert_eq!(plan(&spec(Parallel::Chunks(4)), &source(8.0, Some(30.0), false), LAMBDA), None, "8 s");
        assert_eq!(plan_for(Parallel::Chunks(8), 12.0, Some(30.0)).chunks.len(), 2, "5 s chunks at least");
        let without_audio = TranscodeSpec { remove_audio: true, ..spec(Parallel::Chunks(2)) };
        assert!(!plan(&without_audio, &source(60.0, Some(30.0), true), LAMBDA).unwrap().audio);
        let limited = Budget { max_duration: 30.0, ..LAMBDA };
        let cut = plan(&spec(Parallel::Chunks(2)), &source(600.0, Some(25.0), false), limited).unwrap();
        assert!((cut.chunks[1].start - 15.02).abs() < 1e-9, "split within the workflow's limit");
    }

    #[test]
    fn chunks_split_the_pictures_and_sound_past_them_goes_with_the_last() {
        let with_pictures = |seconds: f64| {
            let mut song = source(3600.0, Some(30.0), true);
            if let Some(video) = song.video.as_mut() {
                video.duration = Some(seconds);
            }
            song
        };
        // An hour of sound behind two seconds of pictures is one piece, not 30 chunks of nothing
        assert_eq!(plan(&spec(Parallel::Chunks(4)), &with_pictures(2.0), LAMBDA), None);
        assert_eq!(plan(&spec(Parallel::Auto), &with_pictures(2.0), LAMBDA), None);
        // and twenty minutes of pictures are split over those twenty minutes
        let plan = plan(&spec(Parallel::Chunks(4)), &with_pictures(1200.0), LAMBDA).unwrap();
        assert!((plan.chunks[1].start - 300.0).abs() < 0.1 && plan.chunks[3].length.is_none(), "{plan:?}");
    }
}
