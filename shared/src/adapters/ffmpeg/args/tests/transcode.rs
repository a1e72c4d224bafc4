//! Transcodes: whole, trimmed, in chunks and joined, audio only, loudness.

use super::*;

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
    let join =
        join(&spec, list, Some(Path::new("/tmp/req-1/audio.mp4")), Path::new("/tmp/req-1"), 600.0, false).unwrap();
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
fn an_mp4_sent_while_it_is_written_keeps_its_index_last_and_other_containers_are_as_written() {
    let source = source(1920, 1080, true);
    for (container, index_last) in
        [(Container::Mp4, true), (Container::Mov, true), (Container::M4a, true), (Container::Mkv, false)]
    {
        let spec = TaskSpec::Transcode(TranscodeSpec { container, ..TranscodeSpec::default() });
        let fed = run_fed(&spec, &source).unwrap();
        assert!(!args_of(&fed)[0].contains("-movflags"), "{container:?}: no second pass");
        assert_eq!(fed.runs[0].output.index_last, index_last, "{container:?}");
        let whole = run_plan(&spec, &source, &[]).unwrap();
        assert_eq!(args_of(&whole)[0].contains("-movflags +faststart"), index_last, "{container:?}: ffmpeg moves it");
        assert!(!whole.runs[0].output.index_last);
    }
    let (list, workdir) = (Path::new("/tmp/req-1/chunks.ffconcat"), Path::new("/tmp/req-1"));
    let joined = join(&TranscodeSpec::default(), list, None, workdir, 600.0, true).unwrap();
    assert!(!joined.attempts[0].join(" ").contains("-movflags") && joined.output.index_last);
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
         -filter_complex [0:v:0]fps=12.5:eof_action=pass,scale=640:272,setsar=1,format=yuv420p[vout] -map [vout] \
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
            crf: Some(Crf::Fixed(30)),
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
fn a_tuned_title_is_encoded_at_its_crf_under_its_cap_and_an_untuned_part_at_the_default() {
    let video = VideoSpec { crf: Some(Crf::Auto), max_kbps: Some(4000), ..VideoSpec::default() };
    let spec =
        TaskSpec::Transcode(TranscodeSpec { video: Some(video), remove_audio: true, ..TranscodeSpec::default() });
    let target = spec.as_transcode().and_then(|t| t.tuned()).unwrap();
    let tuning = Tuning { crf: 27, ..Tuning::untuned(VideoCodec::H264, target, "-") };
    let plan = run_tuned(&spec, &source(1280, 720, false), &[], None, Some(tuning)).unwrap();
    assert_eq!(
        args_of(&plan),
        vec![format!(
            "{INPUT} -i {URL} \
         -filter_complex [0:v:0]scale=1280:720,setsar=1,format=yuv420p[vout] -map [vout] \
         -c:v libx264 -preset veryfast -profile:v high -crf 27 -maxrate 4000k -bufsize 8000k \
         -map_metadata -1 -map_chapters -1 -t 601.000 -movflags +faststart -f mp4 file:/tmp/req-1/out-0.mp4"
        )]
    );
    let untuned = args_of(&run_plan(&spec, &source(1280, 720, false), &[]).unwrap()).join(" ");
    assert!(untuned.contains("-crf 23 -maxrate 4000k"), "{untuned}");
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
