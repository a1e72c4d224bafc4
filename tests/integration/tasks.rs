//! Each task type on real media, outputs checked with ffprobe.

use mediaflow::domain::job::TaskStatus;
use serde_json::json;

use crate::support::{Harness, brightness, dimensions, duration, fixture, frame_psnr, probe, stream};

fn close(actual: f64, expected: f64, frame: f64) -> bool {
    (actual - expected).abs() <= 0.1_f64.max(frame)
}

#[test]
fn transcode_h264_downscales_1080p_keeping_audio_and_duration() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a workflow transcoding to 360p H.264/AAC MP4 into out/
        h.workflow(h.flow("t").task(json!({"type": "transcode", "definition": "360p", "video": {"height": 360}})))
            .await?;
        // WHEN the 1080p camera clip is uploaded into a sub-dir
        let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/cam/clip.mp4").await?;
        let (job, tasks) = h.succeeded(&object).await?;
        // THEN one 640x360 H.264 + AAC MP4 as long as the source, under the same sub-dir
        let output = &tasks[0].outputs[0];
        assert_eq!(output.key, "out/cam/clip_transcode_360p.mp4");
        let probe = probe(&h.download(output).await?)?;
        assert!(probe["format"]["format_name"].as_str().unwrap_or_default().contains("mp4"));
        assert_eq!(stream(&probe, "video").unwrap()["codec_name"], "h264");
        assert_eq!(stream(&probe, "audio").unwrap()["codec_name"], "aac");
        assert_eq!(dimensions(&probe), (640, 360));
        assert!(close(duration(&probe), 0.98, 1.0 / 23.976), "duration {}", duration(&probe));
        assert_eq!((output.width, output.height), (Some(640), Some(360)));
        let source = job.source.expect("source probe recorded");
        assert_eq!(source.video.map(|v| (v.width, v.height)), Some((1920, 1080)));
        Ok(())
    })
}

#[test]
fn transcode_vp9_webm_from_moov_at_end_source_without_audio() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(h.flow("t").task(
            json!({"type": "transcode", "container": "webm", "video": {"codec": "vp9", "width": 320, "crf": 40}}),
        ))
        .await?;
        let object = h.upload(&fixture("bikes_640x272_noaudio_moov_at_end.mp4"), "in/bikes.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        assert_eq!(tasks[0].outputs[0].key, "out/bikes_transcode_1.webm");
        let probe = probe(&h.download(&tasks[0].outputs[0]).await?)?;
        assert!(probe["format"]["format_name"].as_str().unwrap_or_default().contains("webm"));
        assert_eq!(stream(&probe, "video").unwrap()["codec_name"], "vp9");
        assert!(stream(&probe, "audio").is_none());
        assert_eq!(dimensions(&probe), (320, 136));
        assert!(close(duration(&probe), 10.0, 0.04), "duration {}", duration(&probe));
        Ok(())
    })
}

#[test]
fn transcode_audio_only_mp3_to_m4a() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(h.flow("t").task(json!({"type": "transcode", "container": "m4a", "audio": {"bitrate_kbps": 64}})))
            .await?;
        let object = h.upload(&fixture("song_12s_mono.mp3"), "in/song.mp3").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        let probe = probe(&h.download(&tasks[0].outputs[0]).await?)?;
        assert_eq!(stream(&probe, "audio").unwrap()["codec_name"], "aac");
        assert!(stream(&probe, "video").is_none());
        let source = 12.3;
        assert!(close(duration(&probe), source, 0.1), "duration {}", duration(&probe));
        Ok(())
    })
}

#[test]
fn snapshots_at_seconds_and_percent_as_png() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(
            h.flow("t").task(json!({"type": "snapshot", "times": ["1s", "50%"], "format": "png", "width": 320})),
        )
        .await?;
        let object = h.upload(&fixture("bikes_640x272_noaudio_moov_at_end.mp4"), "in/bikes.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        let keys: Vec<_> = tasks[0].outputs.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["out/bikes_snapshotByTimeOffset_1_0.png", "out/bikes_snapshotByTimeOffset_1_1.png"]);
        let mut images = Vec::new();
        for output in &tasks[0].outputs {
            let file = h.download(output).await?;
            let probe = probe(&file)?;
            assert_eq!(stream(&probe, "video").unwrap()["codec_name"], "png");
            assert_eq!(dimensions(&probe), (320, 136));
            assert_eq!(output.duration, None, "a still has no duration");
            images.push(std::fs::read(file)?);
        }
        assert_ne!(images[0], images[1], "1 s and 5 s are different pictures");
        Ok(())
    })
}

#[test]
fn animated_gif_has_palette_frames_for_range_and_rate() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(
            h.flow("t")
                .task(json!({"type": "animated", "format": "gif", "start": 1, "end": 3, "fps": 10, "width": 320})),
        )
        .await?;
        let object = h.upload(&fixture("bikes_640x272_noaudio_moov_at_end.mp4"), "in/bikes.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        assert_eq!(tasks[0].outputs[0].key, "out/bikes_animatedGraphic_1.gif");
        let probe = probe(&h.download(&tasks[0].outputs[0]).await?)?;
        let video = stream(&probe, "video").unwrap();
        assert_eq!(video["codec_name"], "gif");
        assert_eq!(dimensions(&probe), (320, 136));
        let frames: u64 = video["nb_read_frames"].as_str().unwrap_or("0").parse()?;
        assert!((19..=21).contains(&frames), "2 s at 10 fps, got {frames} frames");
        assert!(close(duration(&probe), 2.0, 0.1), "duration {}", duration(&probe));
        Ok(())
    })
}

/// Frames and canvas of an animated WebP, read from its RIFF chunks (ffprobe cannot decode
/// animated WebP).
fn webp_animation(bytes: &[u8]) -> (usize, u32, u32) {
    assert_eq!((&bytes[0..4], &bytes[8..12]), (&b"RIFF"[..], &b"WEBP"[..]));
    let (mut frames, mut canvas, mut at) = (0, (0, 0), 12);
    while at + 8 <= bytes.len() {
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("four bytes")) as usize;
        let payload = &bytes[at + 8..(at + 8 + size).min(bytes.len())];
        match &bytes[at..at + 4] {
            b"ANMF" => frames += 1,
            b"VP8X" => {
                let read24 = |b: &[u8]| u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16;
                canvas = (read24(&payload[4..7]) + 1, read24(&payload[7..10]) + 1);
            }
            _ => {}
        }
        at += 8 + size + size % 2;
    }
    (frames, canvas.0, canvas.1)
}

#[test]
fn animated_webp_has_frames_for_range_and_rate() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(
            h.flow("t")
                .task(json!({"type": "animated", "format": "webp", "start": 0, "end": 2, "fps": 5, "width": 200})),
        )
        .await?;
        let object = h.upload(&fixture("bikes_640x272_noaudio_moov_at_end.mp4"), "in/bikes.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        let output = &tasks[0].outputs[0];
        assert_eq!(output.key, "out/bikes_animatedGraphic_1.webp");
        let (frames, width, height) = webp_animation(&std::fs::read(h.download(output).await?)?);
        assert!((9..=11).contains(&frames), "2 s at 5 fps, got {frames} frames");
        assert_eq!((width, height), (200, 85));
        assert_eq!((output.width, output.height), (Some(200), Some(85)));
        Ok(())
    })
}

#[test]
fn watermarks_burn_image_and_text_into_video_and_snapshot() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a black clip, the logo in the bucket, and a workflow marking a copy and a snapshot
        let clip = h.lavfi_clip(
            "black.mp4",
            &["color=black:size=640x360:rate=25:duration=2", "sine=frequency=300:duration=2"],
            &["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"],
        )?;
        h.upload(&fixture("logo_rgba_136x123.png"), "assets/logo.png").await?;
        let marks = json!([
            {"image": {"key": "assets/logo.png"}, "origin": "TopRight", "x": 0, "y": 0, "width": 136},
            {"text": "MEDIAFLOW", "origin": "BottomLeft", "x": 10, "y": 10, "font_size": 48, "color": "white"}
        ]);
        let t = h
            .flow("t")
            .task(json!({"type": "watermark", "watermarks": marks}))
            .task(json!({"type": "snapshot", "times": [1], "format": "png", "watermarks": marks}));
        h.workflow(t).await?;
        // WHEN the clip is uploaded
        let object = h.upload(&clip, "in/black.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        // THEN the marked corners are bright, an unmarked corner stays black
        for task in &tasks {
            let file = h.download(&task.outputs[0]).await?;
            let probe = probe(&file)?;
            assert_eq!(dimensions(&probe), (640, 360));
            let at = if task.outputs[0].duration.is_some() { 0.5 } else { 0.0 };
            let logo = brightness(&file, at, (136, 123, 504, 0))?;
            let text = brightness(&file, at, (200, 40, 10, 310))?;
            let plain = brightness(&file, at, (136, 123, 0, 0))?;
            assert!(plain < 25, "unmarked corner brightness {plain}");
            assert!(logo > plain + 15, "logo corner brightness {logo} vs {plain}");
            assert!(text > plain + 15, "text corner brightness {text} vs {plain}");
        }
        let video = probe(&h.download(&tasks[0].outputs[0]).await?)?;
        assert_eq!(stream(&video, "audio").unwrap()["codec_name"], "aac", "the copy keeps its sound");
        Ok(())
    })
}

#[test]
fn transcodes_named_by_mps_templates_follow_them_unless_a_field_says_otherwise() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN transcodes whose definitions name MPS templates: 360p at 25 fps, MP3 at 128 kbps,
        // and 720p with a CRF of its own
        let t = h
            .flow("t")
            .task(json!({"type": "transcode", "definition": "100010"}))
            .task(json!({"type": "transcode", "definition": "1010"}))
            .task(json!({"type": "transcode", "definition": "100030", "video": {"crf": 30}}));
        let t = h.workflow(t).await?;
        // WHEN the 1080p camera clip (48 kHz, 23.976 fps) is uploaded
        let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        // THEN each output has its template's parameters, under the template's id
        let keys: Vec<&str> = tasks.iter().map(|t| t.outputs[0].key.as_str()).collect();
        assert_eq!(
            keys,
            ["out/clip_transcode_100010.mp4", "out/clip_transcode_1010.mp3", "out/clip_transcode_100030.mp4"]
        );
        let small = probe(&h.download(&tasks[0].outputs[0]).await?)?;
        assert_eq!(dimensions(&small), (640, 360));
        assert_eq!(stream(&small, "video").unwrap()["r_frame_rate"], "25/1");
        let audio = stream(&small, "audio").unwrap();
        assert_eq!((audio["codec_name"].as_str(), audio["sample_rate"].as_str()), (Some("aac"), Some("44100")));
        assert_eq!(audio["channels"], 2);
        let mp3 = probe(&h.download(&tasks[1].outputs[0]).await?)?;
        assert!(stream(&mp3, "video").is_none());
        let audio = stream(&mp3, "audio").unwrap();
        assert_eq!((audio["codec_name"].as_str(), audio["sample_rate"].as_str()), (Some("mp3"), Some("44100")));
        assert_eq!(audio["bit_rate"], "128000");
        // and the field the task sets wins: 720p at its own CRF, not the template's 1800 kbps
        let hd = probe(&h.download(&tasks[2].outputs[0]).await?)?;
        assert_eq!(dimensions(&hd), (1280, 720));
        let workflow = h.stack.admin().catalog()?.get(&t.name).await?;
        let video = match &workflow.tasks[2] {
            mediaflow::domain::task::TaskSpec::Transcode(spec) => spec.video.clone().expect("video"),
            other => anyhow::bail!("not a transcode: {other:?}"),
        };
        assert_eq!(
            (video.crf, video.bitrate_kbps, video.height),
            (Some(mediaflow::domain::task::Crf::Fixed(30)), None, 720)
        );
        Ok(())
    })
}

/// The integrated loudness of `path`, in LUFS, as ffmpeg's EBU R128 meter reads it.
fn loudness(path: &std::path::Path) -> anyhow::Result<f64> {
    let output = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(path)
        .args(["-af", "ebur128", "-f", "null", "-"])
        .output()?;
    let text = String::from_utf8_lossy(&output.stderr);
    let summary = text.rsplit("Summary:").next().unwrap_or_default();
    let value = summary.split("I:").nth(1).and_then(|rest| rest.split_whitespace().next());
    value.and_then(|v| v.parse().ok()).ok_or_else(|| anyhow::anyhow!("no integrated loudness in {text}"))
}

#[test]
fn a_quiet_recording_is_normalised_to_the_loudness_asked_at_its_own_rate() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a workflow normalising to -16 LUFS, and a quiet 44.1 kHz recording
        h.workflow(h.flow("t").task(json!({"type": "transcode", "container": "m4a", "audio": {"loudness": -16}})))
            .await?;
        let quiet = h.lavfi_clip(
            "quiet.m4a",
            &["sine=frequency=440:sample_rate=44100:duration=12"],
            &["-af", "volume=-32dB", "-c:a", "aac"],
        )?;
        assert!(loudness(&quiet)? < -30.0, "quiet to begin with");
        // WHEN it is uploaded
        let object = h.upload(&quiet, "in/quiet.m4a").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        // THEN the output is at -16 LUFS (one pass: within 1.5 LU), still at 44.1 kHz
        let output = h.download(&tasks[0].outputs[0]).await?;
        let measured = loudness(&output)?;
        assert!((measured + 16.0).abs() <= 1.5, "{measured} LUFS");
        assert_eq!(stream(&probe(&output)?, "audio").unwrap()["sample_rate"], "44100");
        Ok(())
    })
}

#[test]
fn input_format_names_an_output_after_the_uploads_extension() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a snapshot named after the upload's name and extension
        h.workflow(
            h.flow("t")
                .task(json!({"type": "snapshot", "times": [1], "output_name": "{inputName}.{inputFormat}.{format}"})),
        )
        .await?;
        // WHEN a QuickTime file is uploaded
        let object = h.upload(&fixture("bikes_640x272_noaudio_moov_at_end.mp4"), "in/bikes.MOV").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        // THEN its extension is in the output's name, as it was written
        assert_eq!(tasks[0].outputs[0].key, "out/bikes.MOV.jpg");
        Ok(())
    })
}

#[test]
fn a_watermark_shows_only_in_its_window_across_chunks_and_snapshots() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN 12 s of black, and a mark shown from 4 s to 8 s: on a copy encoded in two chunks
        // (the window spans their border at 6 s) and on snapshots at 2 s and 5 s
        let clip = h.lavfi_clip(
            "black.mp4",
            &["color=black:size=640x360:rate=25:duration=12"],
            &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
        )?;
        let marks = json!([{"text": "LIVE", "origin": "TopLeft", "x": 10, "y": 10, "font_size": 60, "color": "white",
            "start": 4, "end": 8}]);
        let t = h
            .flow("t")
            .task(json!({"type": "watermark", "watermarks": marks, "parallel": 2}))
            .task(json!({"type": "snapshot", "times": [2, 5], "format": "png", "watermarks": marks}));
        h.workflow(t).await?;
        // WHEN the clip is uploaded
        let object = h.upload(&clip, "in/black.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        assert_eq!(tasks[0].chunks.as_ref().map(|plan| plan.chunks.len()), Some(2));
        // THEN the copy shows it at 5 s and 7 s (both chunks), and not at 1 s, 3.8 s or 10 s
        let copy = h.download(&tasks[0].outputs[0]).await?;
        let corner = (200, 80, 0, 0);
        for (at, shown) in [(1.0, false), (3.8, false), (5.0, true), (7.0, true), (10.0, false)] {
            let level = brightness(&copy, at, corner)?;
            assert_eq!(level > 15, shown, "at {at} s the corner's brightness is {level}");
        }
        // and the snapshot at 5 s has it, the one at 2 s does not
        let (early, late) = (h.download(&tasks[1].outputs[0]).await?, h.download(&tasks[1].outputs[1]).await?);
        assert!(brightness(&early, 0.0, corner)? < 15 && brightness(&late, 0.0, corner)? > 15);
        Ok(())
    })
}

#[test]
fn a_trimmed_transcode_keeps_exactly_its_frames_whole_or_in_chunks() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN 20 s at 25 fps with a keyframe every 2 s, and transcodes keeping 3 s to 4 s before
        // the end: whole, and in two chunks; and one starting past the end
        let clip = h.lavfi_clip(
            "moving.mp4",
            &["testsrc2=size=320x240:rate=25:duration=20", "sine=frequency=440:duration=20"],
            &["-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p", "-c:a", "aac"],
        )?;
        let t = h
            .flow("t")
            .task(json!({"type": "transcode", "definition": "whole", "start": 3, "end": -4, "video": {"crf": 18}}))
            .task(json!({"type": "transcode", "definition": "chunked", "start": 3, "end": -4, "video": {"crf": 18},
                "parallel": 2}))
            .task(json!({"type": "transcode", "definition": "late", "start": 25}));
        h.workflow(t).await?;
        // WHEN the clip is uploaded
        let object = h.upload(&clip, "in/moving.mp4").await?;
        let (_, tasks) = h.job_of(&object).await?;
        // THEN both keep the 325 frames from 3 s to 16 s, starting on the source's frame 75
        assert_eq!(tasks[1].chunks.as_ref().map(|plan| plan.chunks.len()), Some(2));
        for task in &tasks[..2] {
            assert_eq!(task.status, TaskStatus::Success, "{:?}", task.error);
            let file = h.download(&task.outputs[0]).await?;
            let probe = probe(&file)?;
            let frames = stream(&probe, "video").and_then(|v| v["nb_read_frames"].as_str().map(str::to_owned));
            assert_eq!(frames.as_deref(), Some("325"), "{}", task.outputs[0].key);
            assert!(close(duration(&probe), 13.0, 0.05), "duration {}", duration(&probe));
            let audio =
                stream(&probe, "audio").and_then(|a| a["duration"].as_str()?.parse::<f64>().ok()).unwrap_or(0.0);
            assert!(close(audio, 13.0, 0.05), "sound {audio}");
            let (on, before, after) =
                (frame_psnr(&file, 0, &clip, 75)?, frame_psnr(&file, 0, &clip, 74)?, frame_psnr(&file, 0, &clip, 76)?);
            assert!(on > before + 5.0 && on > after + 5.0, "first frame: {on} dB on 75, {before} on 74, {after} on 76");
            let last = frame_psnr(&file, 324, &clip, 399)?;
            assert!(last > frame_psnr(&file, 324, &clip, 400)? + 5.0, "last frame is the source's 399: {last} dB");
        }
        // and a start past the end fails with the reason
        let error = tasks[2].error.as_ref().expect("late start fails");
        assert_eq!(error.code.as_str(), "InvalidInput.TimeOutOfRange");
        assert!(error.message.contains("start 25.000 s is past the end"), "{}", error.message);
        Ok(())
    })
}
