//! Golden tests: the exact arguments of every kind of run, one module per kind; what every
//! run shares (where it reads from, what it refuses) here.

use super::*;

#[test]
fn ffmpeg_clocks_are_read_as_seconds() {
    assert_eq!(clock_seconds("00:01:02.50"), Some(62.5));
    assert_eq!(clock_seconds("01:00:00.00"), Some(3600.0));
    assert_eq!(clock_seconds("N/A"), None);
    assert_eq!(clock_seconds("-00:00:00.02"), None);
}
use crate::domain::limits::Limits;
use crate::domain::media::{AudioStream, Hdr, VideoStream};
use crate::domain::task::{
    AudioSpec, Crf, ImageSource, OutputNames, SegmentType, StreamFormat, TimePoint, Tuning, VideoSpec,
    WatermarkTaskSpec,
};
use std::sync::Arc;

use crate::domain::object::ObjectRef;
use crate::ports::{StoredObject, WatermarkImage};

fn source(width: u32, height: u32, audio: bool) -> MediaInfo {
    MediaInfo {
        container: "mov,mp4,m4a,3gp,3g2,mj2".into(),
        duration: Some(10.0),
        stream_count: 1 + u32::from(audio),
        video: Some(VideoStream {
            codec: "h264".into(),
            width,
            height,
            fps: Some(25.0),
            frames: Some(250),
            duration: None,
            interlaced: false,
            hdr: None,
        }),
        audio: audio.then(|| AudioStream { codec: "aac".into(), sample_rate: Some(48000), channels: Some(2) }),
        ..MediaInfo::default()
    }
}

#[test]
fn every_picture_an_interlaced_or_hdr_source_gives_is_made_progressive_and_sdr_first_and_others_are_left_alone() {
    let specs: Vec<TaskSpec> = [
        r#"{"type": "transcode", "video": {"height": 360}}"#,
        r#"{"type": "adaptive", "renditions": [{"height": 360, "bitrate_kbps": 800}]}"#,
        r#"{"type": "animated", "end": 2}"#,
        r#"{"type": "snapshot", "times": [1]}"#,
        r#"{"type": "sample", "interval": 2}"#,
        r#"{"type": "sprite", "interval": 2}"#,
        r#"{"type": "cover"}"#,
        r#"{"type": "watermark", "watermarks": [{"text": "hi"}]}"#,
    ]
    .iter()
    .map(|json| serde_json::from_str(json).unwrap())
    .collect();
    let mut broadcast = source(720, 576, true);
    let mut phone = source(1920, 1080, true);
    if let (Some(broadcast), Some(phone)) = (broadcast.video.as_mut(), phone.video.as_mut()) {
        broadcast.interlaced = true;
        phone.hdr = Some(Hdr::Hlg);
    }
    let deinterlaced = "[0:v:0]bwdif=mode=send_frame:deint=interlaced,";
    let in_sdr = "[0:v:0]zscale=tin=arib-std-b67:t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,\
                  tonemap=tonemap=mobius:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p,";
    for spec in &specs {
        for (source, first) in
            [(&broadcast, Some(deinterlaced)), (&phone, Some(in_sdr)), (&source(1280, 720, true), None)]
        {
            let plan = run_plan(spec, source, &[]).unwrap();
            for args in args_of(&plan) {
                match first {
                    Some(first) => assert!(args.contains(first), "{}: {args}", spec.kind()),
                    None => assert!(!args.contains("bwdif") && !args.contains("tonemap"), "{args}"),
                }
            }
        }
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
    run_tuned(spec, source, images, part, None)
}

fn run_tuned(
    spec: &TaskSpec,
    source: &MediaInfo,
    images: &[WatermarkImage],
    part: Option<Part>,
    tuning: Option<Tuning>,
) -> Result<Plan, MediaFailure> {
    run_request(spec, source, images, part, tuning, None)
}

/// A whole task whose outputs written front to back are sent as they grow.
fn run_fed(spec: &TaskSpec, source: &MediaInfo) -> Result<Plan, MediaFailure> {
    struct Ignored;
    impl crate::ports::OutputFeed for Ignored {
        fn writing(&self, _: &Path, _: crate::domain::task::OutputSlot, _: &'static str) {}
    }
    run_request(spec, source, &[], None, None, Some(crate::ports::Feed(Arc::new(Ignored))))
}

fn run_request(
    spec: &TaskSpec,
    source: &MediaInfo,
    images: &[WatermarkImage],
    part: Option<Part>,
    tuning: Option<Tuning>,
    feed: Option<crate::ports::Feed>,
) -> Result<Plan, MediaFailure> {
    let request = RenderRequest {
        spec,
        names: OutputNames { spec, position: 0, input_name: "clip", input_format: "mp4" },
        part,
        source,
        limits: &Limits { max_duration_s: 600.0, ..Limits::default() },
        upload: upload(),
        watermark_images: images,
        workdir: Path::new("/tmp/req-1"),
        stop_by: None,
        progress: None,
        tuning,
        feed,
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
fn when_source_has_no_video_should_fail_visual_tasks_and_keep_audio_transcodes() {
    let audio_only = MediaInfo { video: None, ..source(0, 0, true) };
    let snapshot = TaskSpec::Snapshot(SnapshotSpec { times: vec![TimePoint::Seconds(1.0)], ..SnapshotSpec::default() });
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
        names: OutputNames { spec: &spec, position: 0, input_name: "clip", input_format: "mp4" },
        part: None,
        source: &source(640, 360, false),
        limits: &Limits::default(),
        upload: upload(),
        watermark_images: &[],
        workdir: Path::new("/tmp/a:b"),
        stop_by: None,
        progress: None,
        tuning: None,
        feed: None,
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
    assert_eq!(header_probe(url).join(" "), format!("{whitelist} -print_format json -show_format -show_streams {url}"));
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

mod adaptive;
mod quality;
mod stills;
mod transcode;
mod watermark;
