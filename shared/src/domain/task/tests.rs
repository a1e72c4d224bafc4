//! The task specs as a workflow file's reader sees them: every kind parsed, checked and named.

use super::marks::COLOUR_RULE;
use super::*;
use crate::domain::validation::Violations;

fn violations(spec: &TaskSpec) -> Vec<String> {
    let mut errors = Violations::default();
    spec.validate("tasks[0]", &mut errors);
    errors.into_messages()
}

#[test]
fn when_yaml_has_type_tag_should_parse_each_kind() {
    let yaml = r#"
- type: transcode
  container: webm
  video: { codec: vp9, width: 640 }
- type: screenshot
  times: [1, "3.5s", "10%"]
  format: png
- type: animated
  format: webp
  start: 1
  end: 3
- type: watermark
  watermarks:
    - text: hello
      origin: BottomRight
      x: 16px
      y: "5%"
"#;
    let tasks: Vec<TaskSpec> = serde_yaml_ng::from_str(yaml).unwrap();
    assert_eq!(tasks.len(), 4);
    let TaskSpec::Snapshot(snapshot) = &tasks[1] else { panic!("not a snapshot") };
    assert_eq!(snapshot.times, vec![TimePoint::Seconds(1.0), TimePoint::Seconds(3.5), TimePoint::Percent(10.0)]);
    let TaskSpec::Watermark(mark) = &tasks[3] else { panic!("not a watermark") };
    assert_eq!(mark.watermarks[0].origin, Corner::BottomRight);
    assert_eq!(mark.watermarks[0].x, Length::Px(16));
    assert_eq!(mark.watermarks[0].y, Length::Percent(5.0));
}

#[test]
fn when_field_is_unknown_should_reject() {
    let result: Result<TaskSpec, _> = serde_json::from_str(r#"{"type":"transcode","containr":"mp4"}"#);
    assert!(result.unwrap_err().to_string().contains("containr"));
}

#[test]
fn when_codec_does_not_fit_container_should_name_field() {
    let spec = TaskSpec::Transcode(TranscodeSpec {
        container: Container::Webm,
        video: Some(VideoSpec { codec: Some(VideoCodec::H264), ..VideoSpec::default() }),
        ..TranscodeSpec::default()
    });
    assert_eq!(violations(&spec), vec!["tasks[0].video.codec: h264 cannot be stored in webm"]);
}

#[test]
fn when_audio_container_gets_watermark_should_reject() {
    let spec = TaskSpec::Transcode(TranscodeSpec {
        container: Container::M4a,
        watermarks: vec![WatermarkSpec { text: Some("x".into()), ..WatermarkSpec::default() }],
        ..TranscodeSpec::default()
    });
    assert_eq!(violations(&spec), vec!["tasks[0].watermarks: m4a holds no video to mark"]);
}

#[test]
fn when_both_streams_removed_should_reject() {
    let spec =
        TaskSpec::Transcode(TranscodeSpec { remove_audio: true, remove_video: true, ..TranscodeSpec::default() });
    assert_eq!(violations(&spec), vec!["tasks[0].remove_audio: removing both audio and video leaves nothing"]);
}

#[test]
fn when_watermark_has_image_and_text_should_reject() {
    let spec = TaskSpec::Watermark(WatermarkTaskSpec {
        watermarks: vec![WatermarkSpec {
            image: Some(ImageSource { bucket: String::new(), key: "logo.png".into() }),
            text: Some("x".into()),
            ..WatermarkSpec::default()
        }],
        ..WatermarkTaskSpec::default()
    });
    assert!(violations(&spec).contains(&"tasks[0].watermarks[0]: needs exactly one of image or text".to_owned()));
}

#[test]
fn when_color_could_inject_filter_options_should_reject() {
    let spec = TaskSpec::Watermark(WatermarkTaskSpec {
        watermarks: vec![WatermarkSpec {
            text: Some("x".into()),
            color: Some("white:fontfile=/etc/passwd".into()),
            ..WatermarkSpec::default()
        }],
        ..WatermarkTaskSpec::default()
    });
    assert_eq!(violations(&spec), vec![format!("tasks[0].watermarks[0].color: {COLOUR_RULE}")]);
}

#[test]
fn a_task_holds_up_to_ten_marks_each_with_a_window_that_ends_after_it_starts() {
    let mark = WatermarkSpec { text: Some("x".into()), start: Some(2.0), end: Some(5.0), ..WatermarkSpec::default() };
    let task = |marks: usize, end: f64| {
        TaskSpec::Watermark(WatermarkTaskSpec {
            watermarks: vec![WatermarkSpec { end: Some(end), ..mark.clone() }; marks],
            ..WatermarkTaskSpec::default()
        })
    };
    assert!(violations(&task(10, 5.0)).is_empty());
    assert_eq!(violations(&task(11, 5.0)), vec!["tasks[0].watermarks: at most 10"]);
    assert_eq!(violations(&task(1, 2.0)), vec!["tasks[0].watermarks[0].end: must be after start"]);
    assert!(mark.shows_at(2.0) && mark.shows_at(5.0) && !mark.shows_at(5.1) && !mark.shows_at(1.9));
}

#[test]
fn colours_are_names_or_hex() {
    assert_eq!(rgb("#FFcc00"), Some([255, 204, 0]));
    assert_eq!(rgb("White"), Some([255, 255, 255]));
    assert_eq!(rgb("#FFF"), None);
    assert_eq!(rgb("#GG0000"), None);
    assert_eq!(rgb("chartreuse"), None);
}

#[test]
fn when_snapshot_has_no_times_should_reject() {
    let spec = TaskSpec::Snapshot(SnapshotSpec::default());
    assert_eq!(violations(&spec), vec!["tasks[0].times: needs 1–50 time points"]);
}

#[test]
fn when_animated_end_before_start_should_reject() {
    let spec = TaskSpec::Animated(AnimatedSpec { start: 3.0, end: Some(2.0), ..AnimatedSpec::default() });
    assert_eq!(violations(&spec), vec!["tasks[0].end: must be after start"]);
}

#[test]
fn when_output_name_has_unknown_placeholder_or_slash_should_reject() {
    let spec =
        TaskSpec::Transcode(TranscodeSpec { output_name: Some("../{name}.mp4".into()), ..TranscodeSpec::default() });
    assert_eq!(
        violations(&spec),
        vec![
            "tasks[0].output_name: must not contain '/': outputs go to the output dir",
            "tasks[0].output_name: knows only {inputName}, {inputFormat}, {definition}, {number} and {format}",
            "tasks[0].output_name: needs {inputName}: without it every upload would write the same file",
        ]
    );
}

#[test]
fn loudness_targets_are_lufs_between_minus_70_and_minus_5() {
    for (target, ok) in [(-16.0, true), (-70.0, true), (-5.0, true), (-4.0, false), (0.0, false), (-80.0, false)] {
        let spec = TaskSpec::Transcode(TranscodeSpec {
            audio: Some(AudioSpec { loudness: Some(target), ..AudioSpec::default() }),
            ..TranscodeSpec::default()
        });
        assert_eq!(violations(&spec).is_empty(), ok, "{target}: {:?}", violations(&spec));
    }
}

#[test]
fn a_transcode_named_by_an_hls_template_is_refused() {
    let spec = TaskSpec::Transcode(TranscodeSpec { definition: Some("100230".into()), ..TranscodeSpec::default() });
    assert_eq!(
        violations(&spec),
        vec!["tasks[0].definition: 100230 is an MPS HLS template: use it in an adaptive task"]
    );
    let label = TaskSpec::Snapshot(SnapshotSpec {
        definition: Some("100230".into()),
        times: vec![TimePoint::Seconds(1.0)],
        ..SnapshotSpec::default()
    });
    assert!(violations(&label).is_empty(), "only transcodes follow templates");
}

#[test]
fn lengths_and_time_points_should_resolve_against_reference() {
    assert_eq!(Length::Percent(10.0).resolve(1920), 192);
    assert_eq!(Length::Px(16).resolve(1920), 16);
    assert_eq!(TimePoint::Percent(50.0).resolve(Some(10.0)), Some(5.0));
    assert_eq!(TimePoint::Percent(50.0).resolve(None), None);
    assert_eq!("3.5s".parse::<TimePoint>(), Ok(TimePoint::Seconds(3.5)));
    assert!("-1".parse::<TimePoint>().is_err());
    assert!("abc".parse::<Length>().is_err());
}

#[test]
fn codecs_should_follow_container_defaults_unless_removed() {
    let webm = TranscodeSpec { container: Container::Webm, ..TranscodeSpec::default() };
    assert_eq!(webm.video_codec(), Some(VideoCodec::Vp9));
    assert_eq!(webm.audio_codec(), Some(AudioCodec::Opus));
    let silent = TranscodeSpec { remove_audio: true, ..TranscodeSpec::default() };
    assert_eq!(silent.audio_codec(), None);
    let mp3 = TranscodeSpec { container: Container::Mp3, ..TranscodeSpec::default() };
    assert_eq!(mp3.video_codec(), None);
    assert_eq!(mp3.audio_codec(), Some(AudioCodec::Mp3));
}
