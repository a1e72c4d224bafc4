//! Watermarks: images and drawn text, their fit and their time windows.

use super::*;

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
