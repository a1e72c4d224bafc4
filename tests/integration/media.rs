//! Real-world media that ffmpeg reads succeeds: streaming segments whose timestamps do not
//! start at 0 or whose header overstates their length, timestamp gaps, interlaced broadcast and
//! HDR phone video made progressive SDR, a video of one picture
//! and one whose sound runs on past its pictures through every task, every audio container
//! the static ffmpeg demuxes; damage is counted (a little warns, a lot fails); text stays
//! readable on any picture; a phone's location does not leave with the outputs; images and
//! other files are refused in one sentence, decompression bombs with the right code.

use mediaflow::domain::error::ErrorCode;
use mediaflow::domain::job::OutputFile;
use mediaflow::domain::object::ObjectRef;
use serde_json::{Value, json};

use anyhow::Context;

use crate::support::{
    Flow, Harness, brightness, damaged, dimensions, duration, fixture, frame_psnr, interlacing, mediaflow, probe,
    rotated, stream,
};

/// Workflow `name` over uploads to `name/`, writing to `out-name/`.
fn workflow(h: &Harness, name: &str, tasks: impl IntoIterator<Item = Value>) -> Flow {
    let flow = h.flow(name).trigger(&format!("{name}/")).output(&format!("out-{name}/"));
    tasks.into_iter().fold(flow, Flow::task)
}

/// A transcode, a watermarked copy and snapshots at 50% and past the end.
fn every_kind() -> [Value; 3] {
    [
        json!({"type": "transcode", "video": {"height": 144}}),
        json!({"type": "watermark", "watermarks": [{"text": "mediaflow"}]}),
        json!({"type": "snapshot", "times": ["50%", 9999]}),
    ]
}

#[test]
fn streaming_segments_with_offset_timestamps_or_an_overstated_header_succeed() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(workflow(&h, "segments", every_kind())).await?;
        // An MPEG-TS segment starting at ~10 s with one keyframe (as HLS segments often have).
        let ts = h.lavfi_clip(
            "segment.ts",
            &["testsrc2=size=640x360:rate=25:duration=6", "sine=frequency=300:duration=6"],
            &["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-output_ts_offset", "10", "-f", "mpegts"],
        )?;
        // A DASH init segment and one media segment joined: media at 66 s, header says 72 s.
        h.ffmpeg(
            "dash.mpd",
            &[
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=640x360:rate=25:duration=72",
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-g",
                "50",
                "-f",
                "dash",
                "-seg_duration",
                "6",
                "-use_template",
                "1",
                "-use_timeline",
                "0",
            ],
        )?;
        let mut joined = std::fs::read(h.dir.path().join("init-stream0.m4s"))?;
        joined.extend(std::fs::read(h.dir.path().join("chunk-stream0-00012.m4s"))?);
        let dash = h.dir.path().join("joined.mp4");
        std::fs::write(&dash, joined)?;
        assert!((duration(&probe(&dash)?) - 72.0).abs() < 0.1, "the header overstates");
        for (file, name, real) in [(&ts, "segment.ts", 6.0), (&dash, "joined.mp4", 6.0)] {
            let object = h.upload(file, &format!("segments/{name}")).await?;
            let (job, tasks) = h.succeeded(&object).await?;
            let recorded = job.source.and_then(|s| s.duration).unwrap_or_default();
            assert!((recorded - real).abs() < 0.2, "{name}: the real span {recorded}");
            for task in &tasks[..2] {
                let output = probe(&h.download(&task.outputs[0]).await?)?;
                assert!(
                    (duration(&output) - real).abs() < 0.3,
                    "{name}: {} lasts {}",
                    task.spec.kind(),
                    duration(&output)
                );
            }
            let pictures = &tasks[2].outputs;
            assert_eq!(pictures.len(), 2, "{name}: 50% and the last picture");
            let (half, last) = (h.download(&pictures[0]).await?, h.download(&pictures[1]).await?);
            assert_ne!(std::fs::read(half)?, std::fs::read(last)?, "{name}: two different pictures");
        }
        Ok(())
    })
}

#[test]
fn a_stream_with_a_timestamp_gap_succeeds() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(workflow(&h, "gaps", every_kind())).await?;
        let encode = |name: &str, offset: &str| {
            h.lavfi_clip(
                name,
                &["testsrc2=size=320x240:rate=25:duration=4"],
                &["-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", "-output_ts_offset", offset, "-f", "mpegts"],
            )
        };
        let mut bytes = std::fs::read(encode("a.ts", "0")?)?;
        bytes.extend(std::fs::read(encode("b.ts", "30")?)?);
        let object = h.upload_bytes(&bytes, "gaps/gap.ts").await?;
        h.succeeded(&object).await?;
        Ok(())
    })
}

#[test]
fn a_video_of_one_picture_and_one_whose_sound_runs_on_go_through_every_task() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a workflow of every task kind, at frame rates below the source's
        let tasks = [
            json!({"type": "transcode", "video": {"fps": 10}}),
            json!({"type": "snapshot", "times": [0, "50%", 5.5]}),
            json!({"type": "sprite", "interval": 1, "width": 80, "columns": 4, "rows": 2}),
            json!({"type": "sample", "interval": "25%"}),
            json!({"type": "cover"}),
            json!({"type": "animated", "format": "gif"}),
            json!({"type": "animated", "format": "webp"}),
            json!({"type": "adaptive", "fps": 12, "renditions": [{"height": 180, "bitrate_kbps": 300}]}),
            json!({"type": "watermark", "watermarks": [{"text": "mediaflow"}]}),
            json!({"type": "adaptive", "definition": "chunked", "parallel": 2,
                "renditions": [{"height": 180, "bitrate_kbps": 300}]}),
        ];
        h.workflow(workflow(&h, "brief", tasks)).await?;
        // WHEN a video of one picture (a still saved as a video) and one whose sound runs five
        // seconds past its one second of pictures are uploaded
        let x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"];
        let one = h.lavfi_clip("one-picture.mp4", &["testsrc2=size=320x180:rate=25:duration=0.04"], &x264)?;
        let sound = ["testsrc2=size=320x180:rate=25:duration=1", "sine=duration=6"];
        let long = h.lavfi_clip("sound-runs-on.mp4", &sound, &x264)?;
        // (and one long enough to stream in two chunks of pictures, the sound going on 6 s more)
        let sound = ["testsrc2=size=320x180:rate=25:duration=10", "sine=duration=16"];
        let chunked = h.lavfi_clip("sound-runs-on-long.mp4", &sound, &x264)?;
        let clips = [(one, "brief/one-picture.mp4", 0.04), (long, "brief/sound-runs-on.mp4", 6.0)];
        for (clip, key, sound) in clips.into_iter().chain([(chunked, "brief/sound-runs-on-long.mp4", 16.0)]) {
            let object = h.upload(&clip, key).await?;
            // THEN every task succeeds, the transcode and the GIF holding pictures, and the
            // ladder as long as the sound (its last picture held)
            let (_, tasks) = h.succeeded(&object).await?;
            for ladder in [&tasks[7], &tasks[9]] {
                let streamed = ladder.outputs.iter().filter_map(|o| o.duration).fold(0.0, f64::max);
                assert!(
                    (streamed - sound).abs() < 0.5,
                    "{key}, task {}: streamed {streamed} s of {sound} s of sound",
                    ladder.index
                );
            }
            for task in tasks.iter().filter(|t| matches!(t.index, 0 | 5)) {
                let path = h.download(&task.outputs[0]).await?;
                let frames =
                    stream(&probe(&path)?, "video").and_then(|v| v["nb_read_frames"].as_str()?.parse::<u32>().ok());
                assert!(frames.is_some_and(|frames| frames >= 1), "{key}, task {}: {frames:?}", task.index);
            }
        }
        Ok(())
    })
}

#[test]
fn a_broadcasts_interlaced_pictures_come_out_progressive() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a workflow keeping the picture's size, in a video and a ladder's rendition (the
        // other kinds take the source's pictures the same way: see the arguments' tests)
        let tasks = [
            json!({"type": "transcode", "video": {"crf": 18}}),
            json!({"type": "adaptive", "renditions": [{"height": 576, "crf": 20, "max_kbps": 8000}]}),
        ];
        h.workflow(workflow(&h, "broadcast", tasks)).await?;
        // WHEN a broadcast segment is uploaded: PAL 576i, top field first, MPEG-2 in MPEG-TS on a
        // clock that starts at 10 s, with motion between its fields
        let args = ["-vf", "interlace=scan=tff", "-c:v", "mpeg2video", "-b:v", "8M", "-flags", "+ilme+ildct"];
        let args: Vec<&str> = args.into_iter().chain(["-top", "1", "-c:a", "mp2", "-output_ts_offset", "10"]).collect();
        let clip = h.lavfi_clip("576i.ts", &["testsrc2=size=720x576:rate=50:duration=4", "sine=duration=4"], &args)?;
        let (source, _) = interlacing(&clip)?;
        assert!(source > 50, "the source is interlaced: {source} pictures");
        let object = h.upload(&clip, "broadcast/576i.ts").await?;
        // THEN the job knows it is interlaced, and every output's pictures are progressive
        let (job, tasks) = h.succeeded(&object).await?;
        assert!(job.source.as_ref().is_some_and(|s| s.signal().interlaced), "{:?}", job.source);
        // (a rendition's first segment, named by its playlist)
        let playlist = tasks[1].outputs.iter().find(|o| o.key.ends_with("_0.m3u8")).context("a rendition")?;
        let text = h.text(playlist).await?;
        let name = text.lines().find(|l| l.ends_with(".ts")).context("a segment")?;
        let key = format!("out-broadcast/{name}");
        let size = h.head(&ObjectRef::new(&playlist.bucket, &key)).await?.context("the segment")?.size;
        let rendition = &OutputFile { key, size, ..playlist.clone() };
        for output in [&tasks[0].outputs[0], rendition] {
            let (interlaced, progressive) = interlacing(&h.download(output).await?)?;
            assert!(
                interlaced <= 2 && progressive > 20,
                "{}: {interlaced} interlaced, {progressive} progressive",
                output.key
            );
        }
        // AND `job show` says so
        let shown = mediaflow(&h, &["job", "show", job.id.as_str()]).await?;
        assert!(shown.contains("mpeg2video 720x576 25 fps interlaced"), "{shown}");
        Ok(())
    })
}

#[test]
fn a_phones_hdr_video_comes_out_in_sdr_looking_as_it_should() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a workflow of a transcode and a snapshot
        let tasks = [json!({"type": "transcode", "video": {"crf": 18}}), json!({"type": "snapshot", "times": [1]})];
        h.workflow(workflow(&h, "hdr", tasks)).await?;
        // WHEN color bars are uploaded in SDR, and as a phone records HDR: 10-bit H.265 in
        // BT.2020, coded in HLG, and as HDR10 codes it, in PQ
        let bars = "testsrc2=size=640x360:rate=25:duration=2";
        let sdr = h.lavfi_clip("bars-sdr.mp4", &[bars], &["-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p"])?;
        let mut outputs = Vec::new();
        for (name, transfer) in [("bars-hlg.mp4", "arib-std-b67"), ("bars-pq.mp4", "smpte2084")] {
            let coded = format!(
                "format=yuv420p,setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv,\
                 zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt2020:t={transfer}:m=bt2020nc:r=tv:npl=100,\
                 format=yuv420p10le"
            );
            let args = ["-vf", &coded, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"];
            let clip = h.lavfi_clip(name, &[bars], &args)?;
            let object = h.upload(&clip, &format!("hdr/{name}")).await?;
            // THEN the job says it is HDR
            let (job, tasks) = h.succeeded(&object).await?;
            let hdr = job.source.as_ref().and_then(|s| s.signal().hdr).context("HDR")?;
            let shown = mediaflow(&h, &["job", "show", job.id.as_str()]).await?;
            assert!(shown.contains(&format!("hevc 640x360 25 fps {hdr}")), "{shown}");
            outputs.push((name, h.download(&tasks[0].outputs[0]).await?, h.download(&tasks[1].outputs[0]).await?));
        }
        // AND its outputs are SDR, tagged so, their colours the bars' own (as a player shows
        // HDR brought to SDR), not the grey of HDR's code values shown as SDR
        for (name, video, snapshot) in outputs {
            let coded = stream(&probe(&video)?, "video").cloned().unwrap_or_default();
            assert_eq!(coded["color_transfer"], "bt709", "{name}: {coded}");
            let psnr = frame_psnr(&video, 25, &sdr, 25)?;
            assert!(psnr > 18.0, "{name}: {psnr:.1} dB against the SDR bars");
            let yellow = |path: &std::path::Path| brightness(path, 1.0, (40, 40, 170, 100));
            let (bars_yellow, video_yellow) = (yellow(&sdr)?, yellow(&video)?);
            assert!(bars_yellow.abs_diff(video_yellow) < 30, "{name}: {video_yellow} against {bars_yellow}");
            let psnr = frame_psnr(&snapshot, 0, &sdr, 25)?;
            assert!(psnr > 18.0, "{name}: the snapshot is {psnr:.1} dB from the SDR bars");
        }
        Ok(())
    })
}

#[test]
fn one_time_point_that_cannot_be_decoded_does_not_lose_the_others() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(workflow(&h, "points", [json!({"type": "snapshot", "times": [1, 6]})])).await?;
        let clean = h.lavfi_clip(
            "clean.mp4",
            &["testsrc2=size=320x240:rate=25:duration=8"],
            &["-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", "-movflags", "+faststart"],
        )?;
        let broken = damaged(&clean, &h.dir.path().join("half.mp4"), |_, pts| pts >= 4.0)?;
        let object = h.upload(&broken, "points/half.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        let task = &tasks[0];
        assert_eq!(
            task.outputs.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
            ["out-points/half_snapshotByTimeOffset_1_0.jpg"]
        );
        assert_eq!(task.warnings.len(), 1, "{:?}", task.warnings);
        assert!(
            task.warnings[0].starts_with("time point 6s: not written: the file is damaged:"),
            "{:?}",
            task.warnings
        );
        Ok(())
    })
}

#[test]
fn ac3_eac3_amr_dts_caf_aiff_and_mxf_are_read() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(workflow(&h, "formats", [json!({"type": "transcode", "container": "m4a"})])).await?;
        let tone = "sine=frequency=440:duration=3:sample_rate=48000";
        let mut files = vec![
            h.lavfi_clip("dolby.ac3", &[tone], &["-c:a", "ac3"])?,
            h.lavfi_clip("dolby-plus.eac3", &[tone], &["-c:a", "eac3"])?,
            h.lavfi_clip("surround.dts", &[tone], &["-strict", "-2", "-c:a", "dca"])?,
            h.lavfi_clip("apple.caf", &[tone], &["-c:a", "pcm_s16le"])?,
            h.lavfi_clip("studio.aiff", &[tone], &["-c:a", "pcm_s16be"])?,
            h.lavfi_clip(
                "clip.mxf",
                &["testsrc2=size=640x360:rate=25:duration=3", tone],
                &["-c:v", "mpeg2video", "-c:a", "pcm_s16le"],
            )?,
            h.lavfi_clip(
                "ac3.ts",
                &["testsrc2=size=320x240:rate=25:duration=3", tone],
                &["-c:v", "libx264", "-c:a", "ac3", "-f", "mpegts"],
            )?,
        ];
        // AMR-NB (phones' voice recordings): 150 frames of 12.2 kbit/s speech data.
        let mut amr = b"#!AMR\n".to_vec();
        let mut noise: u32 = 7;
        for _ in 0..150 {
            amr.push(0x3c);
            amr.extend((0..31).map(|_| {
                noise = noise.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (noise >> 16) as u8
            }));
        }
        let amr_file = h.dir.path().join("voice.amr");
        std::fs::write(&amr_file, amr)?;
        files.push(amr_file);
        let mut objects = Vec::new();
        for file in &files {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("x");
            objects.push(h.upload(file, &format!("formats/{name}")).await?);
        }
        for object in objects {
            let (_, tasks) = h.succeeded(&object).await?;
            let output = probe(&h.download(&tasks[0].outputs[0]).await?)?;
            assert_eq!(stream(&output, "audio").map(|s| s["codec_name"].clone()), Some(json!("aac")), "{}", object.key);
            assert!(duration(&output) > 2.8, "{}: {}", object.key, duration(&output));
        }
        Ok(())
    })
}

#[test]
fn a_few_damaged_frames_warn_and_a_mostly_broken_file_fails_as_corrupt() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(workflow(&h, "damage", [json!({"type": "transcode", "video": {"height": 120}})])).await?;
        let clean = h.lavfi_clip(
            "clean.mp4",
            &["testsrc2=size=320x240:rate=25:duration=8"],
            &["-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", "-movflags", "+faststart"],
        )?;
        let scratched = damaged(&clean, &h.dir.path().join("scratched.mp4"), |i, _| i == 37)?;
        let broken = damaged(&clean, &h.dir.path().join("broken.mp4"), |i, _| i % 4 != 0)?;
        let scratched = h.upload(&scratched, "damage/scratched.mp4").await?;
        let broken = h.upload(&broken, "damage/broken.mp4").await?;
        let (_, tasks) = h.succeeded(&scratched).await?;
        assert_eq!(tasks[0].warnings.len(), 1);
        assert!(tasks[0].warnings[0].contains("decode errors in 200 frames"), "{:?}", tasks[0].warnings);
        let (_, tasks) = h.job_of(&broken).await?;
        let error = tasks[0].error.clone().expect("corrupt");
        assert_eq!(error.code, ErrorCode::SourceCorrupt, "{error:?}");
        assert!(error.message.starts_with("the file is damaged: "), "{}", error.message);
        assert!(tasks[0].outputs.is_empty());
        Ok(())
    })
}

#[test]
fn text_stays_readable_on_a_white_picture_and_a_mark_larger_than_the_picture_fails() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let mark = json!({"text": "MEDIAFLOW", "origin": "BottomLeft", "x": 10, "y": 10, "font_size": 48});
        h.workflow(workflow(
            &h,
            "marks",
            [json!({"type": "transcode", "definition": "plain"}), json!({"type": "watermark", "watermarks": [mark]})],
        ))
        .await?;
        let white = h.lavfi_clip(
            "white.mp4",
            &["color=white:size=640x360:rate=25:duration=2"],
            &["-c:v", "libx264", "-pix_fmt", "yuv420p"],
        )?;
        let object = h.upload(&white, "marks/white.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        let plain = h.download(&tasks[0].outputs[0]).await?;
        let marked = h.download(&tasks[1].outputs[0]).await?;
        let text_area = (300, 50, 10, 300);
        let (bare, with_text) = (brightness(&plain, 0.5, text_area)?, brightness(&marked, 0.5, text_area)?);
        assert!(bare > 240, "white: {bare}");
        assert!(with_text + 30 < bare, "white text with its dark outline shows on white: {with_text} vs {bare}");
        // A logo larger than a tiny picture cannot be drawn as asked.
        h.upload(&fixture("logo_rgba_136x123.png"), "assets/logo.png").await?;
        let logo = json!({"type": "watermark", "watermarks": [{"image": {"key": "assets/logo.png"}}]});
        h.workflow(workflow(&h, "tiny", [logo])).await?;
        let tiny = h.lavfi_clip(
            "tiny.mp4",
            &["testsrc2=size=64x48:rate=25:duration=1"],
            &["-c:v", "libx264", "-pix_fmt", "yuv420p"],
        )?;
        let object = h.upload(&tiny, "tiny/tiny.mp4").await?;
        let (_, tasks) = h.job_of(&object).await?;
        let error = tasks[0].error.clone().expect("too large");
        assert_eq!(error.code, ErrorCode::WatermarkTooLarge);
        assert_eq!(error.message, "watermark 1 (136x123 px, 0,0 px from TopLeft) does not fit in the 64x48 picture");
        Ok(())
    })
}

#[test]
fn a_phones_location_does_not_leave_with_the_outputs_unless_kept_and_rotation_stays_right() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(workflow(
            &h,
            "phone",
            [
                json!({"type": "transcode", "definition": "clean"}),
                json!({"type": "transcode", "definition": "kept", "keep_metadata": true}),
                json!({"type": "watermark", "watermarks": [{"text": "x"}]}),
            ],
        ))
        .await?;
        // A portrait phone video: landscape pixels shown turned by 90°, and where it was filmed.
        let landscape = h.lavfi_clip(
            "landscape.mp4",
            &["testsrc2=size=640x360:rate=25:duration=2", "sine=duration=2"],
            &[
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-metadata",
                "location=+48.8583+002.2945/",
                "-metadata",
                "title=Holiday",
            ],
        )?;
        let phone = rotated(&landscape, &h.dir.path().join("phone.mp4"))?;
        let source = probe(&phone)?;
        assert_eq!(source["format"]["tags"]["location"], "+48.8583+002.2945/");
        assert_eq!(source["streams"][0]["side_data_list"][0]["rotation"], -90);
        let object = h.upload(&phone, "phone/phone.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        for task in &tasks {
            let output = probe(&h.download(&task.outputs[0]).await?)?;
            assert_eq!(dimensions(&output), (360, 640), "task {}: upright", task.index);
            let tags = &output["format"]["tags"];
            let kept = task.index == 1;
            assert_eq!(tags["location"].is_string(), kept, "task {}: {tags}", task.index);
            assert_eq!(tags["title"].is_string(), kept, "task {}: {tags}", task.index);
        }
        Ok(())
    })
}

#[test]
fn images_and_other_files_are_refused_in_one_sentence_and_bombs_get_the_right_code() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(workflow(&h, "files", [json!({"type": "snapshot", "times": [0]})])).await?;
        let jpeg = h.lavfi_clip("photo.jpg", &["testsrc2=size=320x240"], &["-frames:v", "1"])?;
        // A PNG claiming 20000x20000 pixels, and a GIF claiming 65535x65535.
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend(20000u32.to_be_bytes());
        png.extend(20000u32.to_be_bytes());
        png.extend([8, 0, 0, 0, 0, 0, 0, 0, 0]);
        let gif = b"GIF89a\xff\xff\xff\xff\x80\x00\x00\x00\x00\x00\xff\xff\xff\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b";
        let cases: Vec<(&str, Vec<u8>, ErrorCode, &str)> = vec![
            (
                "photo.mp4",
                std::fs::read(jpeg)?,
                ErrorCode::SourceUnsupportedFormat,
                "the file is a JPEG image, not a video or audio file",
            ),
            (
                "bomb.mp4",
                png,
                ErrorCode::SourceUnsupportedFormat,
                "the file is a PNG image (20000x20000), not a video or audio file",
            ),
            (
                "paper.mp4",
                b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec(),
                ErrorCode::SourceUnsupportedFormat,
                "the file is a PDF document, not a video or audio file",
            ),
            (
                "bomb.gif",
                gif.to_vec(),
                ErrorCode::ResolutionTooHigh,
                "the picture is 65535x65535; this workflow accepts at most 33177600 pixels",
            ),
            (
                "noise.mp4",
                (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect(),
                ErrorCode::SourceUnsupportedFormat,
                "the file is not a video or audio file in a format mediaflow reads",
            ),
        ];
        let mut uploads = Vec::new();
        for (name, bytes, code, message) in &cases {
            uploads.push((h.upload_bytes(bytes, &format!("files/{name}")).await?, *code, *message));
        }
        for (object, code, message) in uploads {
            let (_, tasks) = h.job_of(&object).await?;
            let error = tasks[0].error.clone().expect("refused");
            assert_eq!(error.code, code, "{}: {error:?}", object.key);
            assert!(error.message.starts_with(message), "{}: {}", object.key, error.message);
            assert!(
                !error.message.contains("Invalid argument") && !error.message.contains(" @ 0x"),
                "{}",
                error.message
            );
        }
        assert!(h.keys(&h.bucket, "out-files/").await?.is_empty());
        Ok(())
    })
}
