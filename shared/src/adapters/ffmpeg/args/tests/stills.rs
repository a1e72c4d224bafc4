//! Pictures: snapshots, animations, samples, sprites and the cover.

use super::*;

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
         -filter_complex [0:v:0]fps=10:eof_action=pass,scale=320:136:flags=lanczos,split[a][b];[a]palettegen=stats_mode=diff[p];\
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
         -filter_complex [0:v:0]fps=5:eof_action=pass,scale=480:204:flags=lanczos[vout] -map [vout] -an \
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
fn golden_samples_sprites_and_cover_decode_the_input_once() {
    use crate::domain::task::{CoverSpec, SampleSpec, SpriteSpec};
    let source = source(1280, 720, true);
    let pictures =
        |count: u32| format!("-fps_mode passthrough -frames:v {count} -an -c:v mjpeg -q:v 2 -f image2 -start_number 0");
    // every 10 % of 10 s: the first frame at or after 0, 1, 2 … 9 s
    let sampled = TaskSpec::Sample(SampleSpec { width: 640, ..SampleSpec::default() });
    let plan = run_plan(&sampled, &source, &[]).unwrap();
    assert!(plan.runs[0].output.sequence);
    assert_eq!(
        args_of(&plan),
        vec![format!(
            "{INPUT} -t 601.000 -i {URL} -filter_complex \
             [0:v:0]select='gte(t,selected_n*1)',scale=640:360,setsar=1[vout] -map [vout] {} \
             file:/tmp/req-1/out-%d.jpg",
            pictures(10)
        )]
    );
    // thumbnails 160 wide every 10 s (one in 10 s), 10 × 10 a sheet
    let sprite = TaskSpec::Sprite(SpriteSpec::default());
    assert_eq!(
        args_of(&run_plan(&sprite, &source, &[]).unwrap()),
        vec![format!(
            "{INPUT} -t 601.000 -i {URL} -filter_complex \
             [0:v:0]select='gte(t,selected_n*10)',scale=160:90,setsar=1,tile=10x10[vout] -map [vout] {} \
             file:/tmp/req-1/out-%d.jpg",
            pictures(1)
        )]
    );
    // the cover: judged candidates first, then any typical picture, then the first one
    let cover = TaskSpec::Cover(CoverSpec::default());
    let attempts: Vec<String> =
        run_plan(&cover, &source, &[]).unwrap().runs[0].attempts.iter().map(|a| a.join(" ")).collect();
    let judged = "signalstats,entropy,\
        metadata=mode=select:key=lavfi.signalstats.YAVG:function=expr:expr='between(VALUE1,32,224)',\
        metadata=mode=select:key=lavfi.entropy.normalized_entropy.normal.Y:function=greater:value=0.55,";
    let still = "-map [vout] -frames:v 1 -an -c:v mjpeg -q:v 2 -f image2 -update 1 file:/tmp/req-1/out-0.jpg";
    let every = "[0:v:0]select='gte(t,selected_n*0.5)'";
    assert_eq!(
        attempts,
        vec![
            format!(
                "{INPUT} -t 120.000 -i {URL} -filter_complex {every},{judged}thumbnail=n=240,scale=1280:720,setsar=1[vout] {still}"
            ),
            format!(
                "{INPUT} -t 120.000 -i {URL} -filter_complex {every},thumbnail=n=240,scale=1280:720,setsar=1[vout] {still}"
            ),
            format!("{INPUT} -t 120.000 -i {URL} -filter_complex {every},scale=1280:720,setsar=1[vout] {still}"),
        ]
    );
}

#[test]
fn golden_picture_parts_seek_to_their_first_picture_and_the_join_tiles_or_copies_them() {
    use crate::domain::chunk::Chunk;
    use crate::domain::task::{SampleSpec, SpriteSpec};
    let source = source(1280, 720, false);
    // pictures 4 to 6 of a sprite every second: from exactly 4 s, three thumbnails kept apart
    let sprite = TaskSpec::Sprite(SpriteSpec { interval: TimePoint::Seconds(1.0), ..SpriteSpec::default() });
    let part = Some(Part::Video(Chunk { start: 4.0, length: Some(3.0) }));
    assert_eq!(
        args_of(&run_part(&sprite, &source, &[], part).unwrap()),
        vec![format!(
            "{INPUT} -ss 4.000 -i {URL} -filter_complex [0:v:0]select='gte(t,selected_n*1)',scale=160:90,setsar=1[vout] \
             -map [vout] -fps_mode passthrough -frames:v 3 -an -c:v mjpeg -q:v 2 -f mov file:/tmp/req-1/chunk.mp4"
        )]
    );
    let list = Path::new("/tmp/req-1/chunks.ffconcat");
    let concat =
        "-hide_banner -nostdin -y -protocol_whitelist file -f concat -safe 1 -i file:/tmp/req-1/chunks.ffconcat";
    let numbered = "-fps_mode passthrough -an -f image2 -start_number 0";
    let join = join_pictures(&sprite, list, Path::new("/tmp/req-1")).unwrap();
    assert!(join.output.sequence);
    assert_eq!(
        join.attempts[0].join(" "),
        format!(
            "{concat} -filter_complex [0:v:0]tile=10x10[vout] -map [vout] -c:v mjpeg -q:v 2 {numbered} \
             file:/tmp/req-1/out-%d.jpg"
        )
    );
    // a sample's pictures are copied out as they were encoded
    let sample = TaskSpec::Sample(SampleSpec { format: ImageFormat::Png, ..SampleSpec::default() });
    let join = join_pictures(&sample, list, Path::new("/tmp/req-1")).unwrap();
    assert_eq!(
        join.attempts[0].join(" "),
        format!("{concat} -map 0:v:0 -c:v copy {numbered} file:/tmp/req-1/out-%d.png")
    );
}
