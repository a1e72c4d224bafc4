//! Adaptive streaming: the ladder's encode and its packaging.

use super::*;

fn ladder() -> AdaptiveSpec {
    use crate::domain::task::Rendition;
    AdaptiveSpec {
        segment_seconds: 4.0,
        renditions: vec![
            Rendition { height: 1080, bitrate_kbps: Some(5000), ..Rendition::default() },
            Rendition { height: 720, bitrate_kbps: Some(2500), ..Rendition::default() },
            Rendition { height: 360, crf: Some(26), max_kbps: Some(800), ..Rendition::default() },
        ]
        .into(),
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
        -b:v:0 2500k -maxrate:v:0 3000k -bufsize:v:0 5000k -crf:v:1 26 -maxrate:v:1 800k -bufsize:v:1 3200k";
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
fn golden_watermarks_are_drawn_once_on_the_largest_rendition_and_scaled_with_it() {
    let mark = WatermarkSpec { text: Some("LIVE".into()), ..WatermarkSpec::default() };
    let task = TaskSpec::Adaptive(AdaptiveSpec { watermarks: vec![mark], ..ladder() });
    let args = args_of(&run_plan(&task, &source(1280, 720, false), &[]).unwrap()).remove(0);
    assert!(
        args.contains(
            "-filter_complex [0:v:0]scale=1280:720,setsar=1[base0];[1:v]format=rgba[mark0];\
             [base0][mark0]overlay=x=0:y=0,split=2[s0][s1];[s0]scale=1280:720,setsar=1,format=yuv420p[v0];\
             [s1]scale=640:360,setsar=1,format=yuv420p[v1] "
        ),
        "{args}"
    );
    assert!(args.contains("-protocol_whitelist file -f png_pipe -i file:/tmp/req-1/text-0.png"), "{args}");
}

#[test]
fn a_dash_rendition_whose_sides_round_the_shape_off_keeps_the_largest_ones_shape() {
    use crate::domain::task::Rendition;
    let rung = |height| Rendition { height, bitrate_kbps: Some(500), ..Rendition::default() };
    let renditions = vec![rung(360), rung(240)];
    let dash = AdaptiveSpec { format: StreamFormat::Dash, renditions: renditions.clone().into(), ..ladder() };
    let args = args_of(&run_plan(&TaskSpec::Adaptive(dash), &source(640, 360, false), &[]).unwrap()).join(" ");
    assert!(args.contains("[s0]scale=640:360,setsar=1,format=yuv420p[v0]"), "{args}");
    assert!(args.contains("[s1]scale=426:240,setsar=r=640/639:max=65535,format=yuv420p[v1]"), "{args}");
    // HLS players take each rendition's own shape
    let hls = AdaptiveSpec { renditions: renditions.into(), ..ladder() };
    let args = args_of(&run_plan(&TaskSpec::Adaptive(hls), &source(640, 360, false), &[]).unwrap()).join(" ");
    assert!(args.contains("[s1]scale=426:240,setsar=1,format=yuv420p[v1]"), "{args}");
}
