//! Packaging an encoded ladder into HLS or DASH: the copying runs of [`args::package`], then
//! every file named as it is published, each rendition measured, and the master playlist
//! written (HLS) or the MPD's templates and bandwidths rewritten (DASH). The master comes last
//! in the files, so that it is published after everything it names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::args::{self, Packaging};
use super::{Ffmpeg, allowed, probe};
use crate::domain::error::ErrorCode;
use crate::domain::media::{MediaInfo, Size};
use crate::domain::streaming::{self, Variant};
use crate::domain::task::{
    AdaptiveSpec, OutputNames, OutputSlot, Rung, SegmentType, StreamFormat, Tuning, uri_reference,
};
use crate::ports::{MediaFailure, RenderedFile};

const PLAYLIST: &str = "application/vnd.apple.mpegurl";
const MPD: &str = "application/dash+xml";
const TS: &str = "video/mp2t";
const SEGMENT: &str = "video/iso.segment";
const INIT: &str = "video/mp4";

/// An encoded ladder and what its package is named and measured by.
pub(super) struct Ladder<'a> {
    pub spec: &'a AdaptiveSpec,
    pub names: OutputNames<'a>,
    pub source: &'a MediaInfo,
    /// The encode: one MP4, or the concat list of its chunks.
    pub video: &'a Path,
    pub concat: bool,
    /// The sound beside the chunks.
    pub sound: Option<&'a Path>,
    /// A file holding every rendition, to read their levels from.
    pub levels_from: &'a Path,
    pub workdir: &'a Path,
    /// How long the output lasts, for DASH bandwidths.
    pub duration: Option<f64>,
    /// The ladder chosen for the title (`renditions: auto`).
    pub tuning: Option<&'a Tuning>,
}

impl Ladder<'_> {
    /// The renditions' sizes, in the order of the encode's video streams.
    pub fn sizes(&self) -> Vec<Size> {
        self.rungs().iter().map(|rung| rung.size).collect()
    }

    pub fn rungs(&self) -> Vec<Rung> {
        self.spec.ladder(self.source, self.tuning)
    }
}

impl Ffmpeg {
    /// Cuts the ladder into segments and names them: every file the task publishes.
    pub(super) async fn package(
        &self,
        ladder: &Ladder<'_>,
        stop_by: Option<DateTime<Utc>>,
    ) -> Result<Vec<RenderedFile>, MediaFailure> {
        let rungs = ladder.rungs();
        let audio = ladder.spec.has_audio() && ladder.source.audio.is_some();
        let packaging = Packaging {
            spec: ladder.spec,
            renditions: rungs.len(),
            audio,
            video: ladder.video,
            concat: ladder.concat,
            sound: ladder.sound,
            workdir: ladder.workdir,
        };
        for run in args::package(&packaging)? {
            self.ffmpeg(run, allowed(stop_by)?, None).await?;
        }
        let levels = match rungs.is_empty() {
            true => Vec::new(),
            false => {
                let (_, json, _) = self.ffprobe(args::output_probe(ladder.levels_from)?).await?;
                probe::video_levels(&json)
            }
        };
        match ladder.spec.format {
            StreamFormat::Hls => self.hls(ladder, &packaging, &rungs, &levels).await,
            StreamFormat::Dash => dash(ladder, &packaging, &rungs).await,
        }
    }

    /// Each stream's playlist and segments renamed, and the master playlist over them.
    async fn hls(
        &self,
        ladder: &Ladder<'_>,
        packaging: &Packaging<'_>,
        rungs: &[Rung],
        levels: &[u32],
    ) -> Result<Vec<RenderedFile>, MediaFailure> {
        let (spec, names, workdir) = (ladder.spec, ladder.names, ladder.workdir);
        let fps = spec.fps.or(ladder.source.video.as_ref().and_then(|v| v.fps));
        let segment_type = match spec.segment_type() {
            SegmentType::Ts => TS,
            SegmentType::Fmp4 => SEGMENT,
        };
        let mut files = Vec::new();
        let mut variants = Vec::new();
        let mut longest = 0.0_f64;
        for (stream, (video, audio)) in args::hls_streams(packaging).into_iter().enumerate() {
            let local = workdir.join(args::stream_playlist(stream));
            let text = read(&local).await?;
            let segments = streaming::segments(&text);
            if segments.is_empty() {
                return Err(internal(format!("stream {stream} was packaged without segments")));
            }
            let mut renames = HashMap::new();
            if let Some(init) = streaming::init_segment(&text) {
                let slot = OutputSlot::Init(stream);
                files.push(file(ours(workdir, &init)?, slot, INIT, None));
                renames.insert(init, uri_reference(&names.name(slot)));
            }
            let mut measured = Vec::with_capacity(segments.len());
            for (i, segment) in segments.iter().enumerate() {
                let path = ours(workdir, &segment.uri)?;
                let bytes =
                    tokio::fs::metadata(&path).await.map_err(|e| internal(format!("{}: {e}", path.display())))?.len();
                measured.push((bytes, segment.seconds));
                let slot = OutputSlot::Segment { stream, number: i as u32 + 1 };
                renames.insert(segment.uri.clone(), uri_reference(&names.name(slot)));
                files.push(file(path, slot, segment_type, Some(segment.seconds)));
            }
            write(&local, &streaming::rename_uris(&text, |uri| renames.get(uri).cloned())).await?;
            let seconds: f64 = segments.iter().map(|s| s.seconds).sum();
            longest = longest.max(seconds);
            let size = video.map(|v| rungs[v].size);
            files.push(RenderedFile {
                width: size.map(|s| s.width),
                height: size.map(|s| s.height),
                ..file(local, OutputSlot::SubStream(stream), PLAYLIST, Some(seconds))
            });
            let (bandwidth, average_bandwidth) = streaming::bandwidth(&measured);
            variants.push(Variant {
                uri: uri_reference(&names.name(OutputSlot::SubStream(stream))),
                bandwidth,
                average_bandwidth,
                resolution: size,
                frame_rate: video.and(fps),
                codecs: streaming::codecs(
                    video.map(|v| (spec.video_codec(), levels.get(v).copied().unwrap_or(0))),
                    audio,
                ),
            });
        }
        let version = match spec.segment_type() {
            SegmentType::Ts => 3,
            SegmentType::Fmp4 => 7,
        };
        let master = workdir.join(args::master_name(spec));
        write(&master, &streaming::master_playlist(&variants, version)).await?;
        let top = rungs.first().map(|rung| rung.size);
        files.push(RenderedFile {
            width: top.map(|s| s.width),
            height: top.map(|s| s.height),
            ..file(master, OutputSlot::Main(0), PLAYLIST, Some(longest))
        });
        Ok(files)
    }
}

/// Each representation's segments renamed, and the MPD naming them by its templates, with
/// each representation's measured bandwidth.
async fn dash(
    ladder: &Ladder<'_>,
    packaging: &Packaging<'_>,
    rungs: &[Rung],
) -> Result<Vec<RenderedFile>, MediaFailure> {
    let (names, workdir) = (ladder.names, ladder.workdir);
    let streams = packaging.renditions + usize::from(packaging.audio);
    let mut files = Vec::new();
    let mut bandwidths = HashMap::new();
    let mut entries =
        tokio::fs::read_dir(workdir).await.map_err(|e| internal(format!("{}: {e}", workdir.display())))?;
    let mut found: Vec<(usize, Option<u32>, PathBuf, u64)> = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(|e| internal(e.to_string()))? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((stream, rest)) = name.strip_prefix('s').and_then(|n| n.split_once('_')) else { continue };
        let Ok(stream) = stream.parse::<usize>() else { continue };
        let number = match rest {
            "init.mp4" => None,
            _ => match rest.strip_suffix(".m4s").and_then(|n| n.parse::<u32>().ok()) {
                Some(number) => Some(number),
                None => continue,
            },
        };
        let bytes = entry.metadata().await.map_err(|e| internal(e.to_string()))?.len();
        found.push((stream, number, entry.path(), bytes));
    }
    found.sort_by_key(|(stream, number, _, _)| (*stream, *number));
    for stream in 0..streams {
        let bytes: u64 = found.iter().filter(|f| f.0 == stream && f.1.is_some()).map(|f| f.3).sum();
        if let Some(seconds) = ladder.duration.filter(|d| *d > 0.0) {
            bandwidths.insert(stream.to_string(), (bytes as f64 * 8.0 / seconds).ceil() as u64);
        }
    }
    for (stream, number, path, _) in found.into_iter().filter(|f| f.0 < streams) {
        files.push(match number {
            None => file(path, OutputSlot::Init(stream), INIT, None),
            Some(number) => file(path, OutputSlot::Segment { stream, number }, SEGMENT, None),
        });
    }
    let master = workdir.join(args::master_name(ladder.spec));
    let text = read(&master).await?;
    let (init, media) = (names.dash_template(true), names.dash_template(false));
    let templates = [(args::DASH_INIT, init.as_str()), (args::DASH_MEDIA, media.as_str())];
    let rewritten = streaming::rewrite_mpd(&text, templates, |id| bandwidths.get(id).copied());
    write(&master, &rewritten).await?;
    let top = rungs.first().map(|rung| rung.size);
    files.push(RenderedFile {
        width: top.map(|s| s.width),
        height: top.map(|s| s.height),
        ..file(master, OutputSlot::Main(0), MPD, ladder.duration)
    });
    Ok(files)
}

fn file(path: PathBuf, slot: OutputSlot, content_type: &'static str, duration: Option<f64>) -> RenderedFile {
    RenderedFile {
        path,
        slot,
        content_type,
        duration,
        width: None,
        height: None,
        quality: Vec::new(),
        tuning: None,
        index: None,
    }
}

/// A file a playlist names, which must be one the packaging wrote in `workdir`.
fn ours(workdir: &Path, name: &str) -> Result<PathBuf, MediaFailure> {
    match !name.is_empty() && !name.contains('/') && !name.starts_with('.') {
        true => Ok(workdir.join(name)),
        false => Err(internal(format!("a playlist names {name:?}, which packaging does not write"))),
    }
}

async fn read(path: &Path) -> Result<String, MediaFailure> {
    tokio::fs::read_to_string(path).await.map_err(|e| internal(format!("cannot read {}: {e}", path.display())))
}

async fn write(path: &Path, text: &str) -> Result<(), MediaFailure> {
    tokio::fs::write(path, text).await.map_err(|e| internal(format!("cannot write {}: {e}", path.display())))
}

fn internal(message: String) -> MediaFailure {
    MediaFailure::new(ErrorCode::Internal, message)
}
