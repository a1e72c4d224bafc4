//! Golden tests: the exact arguments of every kind of run.

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
use crate::domain::task::{
    AudioSpec, ImageSource, OutputNames, SegmentType, StreamFormat, TimePoint, VideoSpec, WatermarkTaskSpec,
};
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
        names: OutputNames { spec, position: 0, input_name: "clip", input_format: "mp4" },
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
    let video = "-c:v libx264 -preset veryfast -profile:v high -crf 23 -r 25 -map_metadata -1 -map_chapters -1";
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
        video: Some(VideoSpec { codec: Some(VideoCodec::H265), width: 4000, crf: Some(30), ..VideoSpec::default() }),
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

#[test]
fn golden_loudness_normalised_at_the_sources_rate() {
    let spec = TaskSpec::Transcode(TranscodeSpec {
        container: Container::M4a,
        audio: Some(AudioSpec { loudness: Some(-16.0), ..AudioSpec::default() }),
        ..TranscodeSpec::default()
    });
    let plan = run_plan(&spec, &source(640, 360, true), &[]).unwrap();
    assert_eq!(
        args_of(&plan),
        vec![format!(
            "{INPUT} -i {URL} -map 0:a:0 -c:a aac -b:a 128k -af loudnorm=I=-16:TP=-1.5:LRA=11 -ar 48000 \
         {TAIL} -movflags +faststart -f ipod file:/tmp/req-1/out-0.m4a"
        )]
    );
    // a rate the task sets wins; Opus is always 48 kHz
    let set = TaskSpec::Transcode(TranscodeSpec {
        container: Container::M4a,
        audio: Some(AudioSpec { loudness: Some(-23.5), sample_rate: Some(44100), ..AudioSpec::default() }),
        ..TranscodeSpec::default()
    });
    assert!(
        args_of(&run_plan(&set, &source(640, 360, true), &[]).unwrap())[0]
            .contains("-af loudnorm=I=-23.5:TP=-1.5:LRA=11 -ar 44100 ")
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
    assert_eq!(plan.runs[2].output.slot, OutputSlot::Main(2));
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
    let spec = TaskSpec::Animated(AnimatedSpec { start: 1.0, end: Some(3.0), width: 320, ..AnimatedSpec::default() });
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

fn ladder() -> AdaptiveSpec {
    use crate::domain::task::Rendition;
    AdaptiveSpec {
        segment_seconds: 4.0,
        renditions: vec![
            Rendition { height: 1080, bitrate_kbps: Some(5000), ..Rendition::default() },
            Rendition { height: 720, bitrate_kbps: Some(2500), ..Rendition::default() },
            Rendition { height: 360, crf: Some(26), max_kbps: Some(800), ..Rendition::default() },
        ],
        ..AdaptiveSpec::default()
    }
}

#[test]
fn golden_adaptive_ladder_is_one_decode_with_keyframes_on_the_segment_grid() {
    use crate::domain::chunk::Chunk;
    let task = TaskSpec::Adaptive(ladder());
    // a 720p source: the 1080p rendition is dropped, not stretched
    let source = source(1280, 720, true);
    let rates = "-c:v libx264 -preset veryfast -profile:v high -sc_threshold 0 -forced-idr 1 \
        -b:v:0 2500k -maxrate:v:0 3000k -bufsize:v:0 5000k -crf:v:1 26 -maxrate:v:1 800k -bufsize:v:1 1600k";
    let graph = "split=2[s0][s1];[s0]scale=1280:720,setsar=1,format=yuv420p[v0];\
        [s1]scale=640:360,setsar=1,format=yuv420p[v1]";
    assert_eq!(
        args_of(&run_plan(&task, &source, &[]).unwrap()),
        vec![format!(
            "{INPUT} -i {URL} -filter_complex [0:v:0]{graph} -map [v0] -map [v1] {rates} \
             -force_key_frames:v expr:gte(t+0.0005,(n_forced+0)*4) -map 0:a:0 -c:a aac -b:a 128k {TAIL} \
             -f mp4 file:/tmp/req-1/encoded.mp4"
        )]
    );
    // a chunk 10 s in (its first frame at 10.04 s) forces its keyframes on the whole output's
    // grid (12 s, 16 s…), without sound
    let chunk = Some(Part::Video(Chunk { start: 10.02, length: Some(10.0) }));
    assert_eq!(
        args_of(&run_part(&task, &source, &[], chunk).unwrap()),
        vec![format!(
            "{INPUT} -ss 10.020 -i {URL} -filter_complex [0:v:0]trim=end=10.000,setpts=PTS-STARTPTS,{graph} \
             -map [v0] -map [v1] {rates} -force_key_frames:v expr:gte(t+10.0405,(n_forced+2)*4) -r 25 \
             -map_metadata -1 -map_chapters -1 -f mp4 file:/tmp/req-1/chunk.mp4"
        )]
    );
    // the sound is AAC, encoded once
    assert_eq!(
        args_of(&run_part(&task, &source, &[], Some(Part::Audio)).unwrap()),
        vec![format!("{INPUT} -i {URL} -map 0:a:0 -c:a aac -b:a 128k {TAIL} -f mp4 file:/tmp/req-1/audio.mp4")]
    );
    // a source without picture streams its sound alone
    let audio_only = MediaInfo { video: None, ..source.clone() };
    assert_eq!(
        args_of(&run_plan(&task, &audio_only, &[]).unwrap()),
        vec![format!(
            "{INPUT} -i {URL} -map 0:a:0 -c:a aac -b:a 128k {TAIL} -movflags +faststart -f ipod file:/tmp/req-1/out-0.m4a"
        )]
    );
    let silent = MediaInfo { audio: None, ..audio_only };
    assert_eq!(run_plan(&task, &silent, &[]).unwrap_err().code, ErrorCode::SourceNoMedia);
}

#[test]
fn golden_adaptive_packaging_copies_each_stream_into_segments() {
    let workdir = Path::new("/tmp/req-1");
    let hls = AdaptiveSpec { audio_only: true, ..ladder() };
    let packaging = Packaging {
        spec: &hls,
        renditions: 2,
        audio: true,
        video: Path::new("/tmp/req-1/chunks.ffconcat"),
        concat: true,
        sound: Some(Path::new("/tmp/req-1/audio.mp4")),
        workdir,
    };
    let inputs = "-hide_banner -nostdin -y -protocol_whitelist file -f concat -safe 1 -i file:/tmp/req-1/chunks.ffconcat \
        -protocol_whitelist file -f mp4 -i file:/tmp/req-1/audio.mp4";
    let hls_args =
        "-c copy -map_metadata -1 -map_chapters -1 -f hls -hls_playlist_type vod -start_number 1 -hls_time 4";
    assert_eq!(
        package(&packaging).unwrap().iter().map(|run| run.join(" ")).collect::<Vec<_>>(),
        vec![
            format!(
                "{inputs} -map 0:v:0 -map 1:a:0 {hls_args} -hls_segment_type mpegts -hls_segment_filename file:/tmp/req-1/s0_%05d.ts file:/tmp/req-1/s0.m3u8"
            ),
            format!(
                "{inputs} -map 0:v:1 -map 1:a:0 {hls_args} -hls_segment_type mpegts -hls_segment_filename file:/tmp/req-1/s1_%05d.ts file:/tmp/req-1/s1.m3u8"
            ),
            format!(
                "{inputs} -map 1:a:0 {hls_args} -hls_segment_type mpegts -hls_segment_filename file:/tmp/req-1/s2_%05d.ts file:/tmp/req-1/s2.m3u8"
            ),
        ]
    );
    let fmp4 = AdaptiveSpec { segment_type: Some(SegmentType::Fmp4), ..ladder() };
    let whole =
        Packaging { spec: &fmp4, video: Path::new("/tmp/req-1/encoded.mp4"), concat: false, sound: None, ..packaging };
    assert_eq!(
        package(&whole).unwrap()[1].join(" "),
        format!(
            "-hide_banner -nostdin -y -protocol_whitelist file -i file:/tmp/req-1/encoded.mp4 -map 0:v:1 -map 0:a:0 \
             {hls_args} -hls_segment_type fmp4 -hls_fmp4_init_filename s1_init.mp4 \
             -hls_segment_filename file:/tmp/req-1/s1_%05d.m4s file:/tmp/req-1/s1.m3u8"
        )
    );
    let dash = AdaptiveSpec { format: StreamFormat::Dash, ..ladder() };
    let dash_runs = package(&Packaging { spec: &dash, ..whole }).unwrap();
    assert_eq!(
        dash_runs.iter().map(|run| run.join(" ")).collect::<Vec<_>>(),
        vec![
            "-hide_banner -nostdin -y -protocol_whitelist file -i file:/tmp/req-1/encoded.mp4 -map 0:v:0 -map 0:v:1 \
             -map 0:a:0 -c copy -map_metadata -1 -map_chapters -1 -f dash -use_template 1 -use_timeline 1 \
             -seg_duration 4 -adaptation_sets id=0,streams=v id=1,streams=a \
             -init_seg_name s$RepresentationID$_init.mp4 -media_seg_name s$RepresentationID$_$Number%05d$.m4s \
             file:/tmp/req-1/master.mpd"
                .to_owned()
        ]
    );
}

#[test]
fn golden_watermark_windows_follow_the_outputs_clock_in_chunks_and_stills() {
    use crate::domain::chunk::Chunk;
    let mark =
        WatermarkSpec { text: Some("LIVE".into()), start: Some(4.0), end: Some(8.0), ..WatermarkSpec::default() };
    let always = WatermarkSpec { text: Some("ON".into()), ..WatermarkSpec::default() };
    let task = TaskSpec::Watermark(WatermarkTaskSpec {
        watermarks: vec![mark.clone(), always],
        ..WatermarkTaskSpec::default()
    });
    let source = source(640, 360, false);
    let whole = args_of(&run_plan(&task, &source, &[]).unwrap()).remove(0);
    assert!(whole.contains("[base0][mark0]overlay=x=0:y=0:enable='between(t,4.000,8.000)'[base1]"), "{whole}");
    assert!(whole.contains("[base1][mark1]overlay=x=0:y=0,format=yuv420p[vout]"), "an untimed mark: {whole}");
    // a chunk whose first frame is 6.02 s into the output
    let chunk = Some(Part::Video(Chunk { start: 6.0, length: Some(6.0) }));
    let later = args_of(&run_part(&task, &source, &[], chunk).unwrap()).remove(0);
    assert!(later.contains("overlay=x=0:y=0:enable='between(t,-2.020,1.980)'"), "{later}");
    // a snapshot outside the window leaves the mark out; inside, it is drawn whole
    let snapshot = TaskSpec::Snapshot(SnapshotSpec {
        times: vec![TimePoint::Seconds(2.0), TimePoint::Seconds(5.0)],
        watermarks: vec![mark],
        ..SnapshotSpec::default()
    });
    let stills = args_of(&run_plan(&snapshot, &source, &[]).unwrap());
    assert!(!stills[0].contains("overlay") && !stills[0].contains("png_pipe"), "{}", stills[0]);
    assert!(stills[1].contains("[base0][mark0]overlay=x=0:y=0[vout]"), "{}", stills[1]);
}

#[test]
fn golden_trimmed_transcode_seeks_to_its_start_and_stops_after_its_length() {
    use crate::domain::chunk::Chunk;
    // 10 s of source, from 2 s to 3 s before its end
    let spec = TranscodeSpec { start: Some(2.0), end: Some(-3.0), ..TranscodeSpec::default() };
    let task = TaskSpec::Transcode(spec);
    let source = source(640, 360, true);
    let video = "-map [vout] -c:v libx264 -preset veryfast -profile:v high -crf 23";
    assert_eq!(
        args_of(&run_plan(&task, &source, &[]).unwrap()),
        vec![format!(
            "{INPUT} -ss 2.000 -i {URL} -filter_complex [0:v:0]scale=640:360,setsar=1,format=yuv420p[vout] {video} \
             -map 0:a:0 -c:a aac -b:a 128k -map_metadata -1 -map_chapters -1 -t 5.000 -movflags +faststart \
             -f mp4 file:/tmp/req-1/out-0.mp4"
        )]
    );
    // its first chunk starts where the trim does, and restarts at 0
    let first = Some(Part::Video(Chunk { start: 2.0, length: Some(2.52) }));
    let first = args_of(&run_part(&task, &source, &[], first).unwrap()).remove(0);
    assert!(first.contains("-ss 2.000 -i") && first.contains("[0:v:0]trim=end=2.520,setpts=PTS-STARTPTS,"), "{first}");
    // its sound is cut the same
    assert_eq!(
        args_of(&run_part(&task, &source, &[], Some(Part::Audio)).unwrap()),
        vec![format!(
            "{INPUT} -ss 2.000 -i {URL} -map 0:a:0 -c:a aac -b:a 128k -map_metadata -1 -map_chapters -1 -t 5.000 \
             -f mp4 file:/tmp/req-1/audio.mp4"
        )]
    );
    // a trim that keeps nothing fails with the reason
    let past = TaskSpec::Transcode(TranscodeSpec { start: Some(11.0), ..TranscodeSpec::default() });
    let failure = run_plan(&past, &source, &[]).unwrap_err();
    assert_eq!(
        (failure.code, failure.message.as_str()),
        (ErrorCode::InvalidTimeRange, "start 11.000 s is past the end of the 10.000 s source")
    );
}
