//! Pictures over the whole input: sampled snapshots, sprite sheets with their WebVTT map, and
//! the cover picture.

use serde_json::json;

use crate::support::{Harness, brightness, dimensions, frame_psnr, probe};

#[test]
fn samples_and_sprites_cover_the_input_at_their_interval() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a picture every 2 s, and a sprite of a thumbnail a second, 4 × 2 per sheet
        let t = h
            .flow("t")
            .task(json!({"type": "sample", "interval": "2s"}))
            .task(json!({"type": "sprite", "definition": "seek", "interval": 1, "width": 80, "columns": 4, "rows": 2}))
            .task(json!({"type": "sample", "definition": "dense", "interval": 0.1, "width": 64}));
        h.workflow(t).await?;
        // WHEN 12 s at 25 fps, 640x360, is uploaded
        let clip = h.lavfi_clip(
            "clip.mp4",
            &["testsrc2=size=640x360:rate=25:duration=12"],
            &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
        )?;
        let object = h.upload(&clip, "in/clip.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        // THEN six pictures, at 0, 2, … 10 s: the one for 6 s is the source's frame 150
        let keys: Vec<&str> = tasks[0].outputs.iter().map(|o| o.key.as_str()).collect();
        let expected: Vec<String> = (0..6).map(|n| format!("out/clip_sampleSnapshot_1_{n}.jpg")).collect();
        assert_eq!(keys, expected);
        let third = h.download(&tasks[0].outputs[3]).await?;
        assert_eq!(dimensions(&probe(&third)?), (640, 360));
        let (on, before, after) = (
            frame_psnr(&third, 0, &clip, 150)?,
            frame_psnr(&third, 0, &clip, 149)?,
            frame_psnr(&third, 0, &clip, 151)?,
        );
        assert!(on > before + 3.0 && on > after + 3.0, "{on} dB on frame 150, {before} on 149, {after} on 151");
        // and twelve thumbnails of 80x44 on two sheets of 320x88, mapped by a WebVTT file last
        let sprite = &tasks[1].outputs;
        let names: Vec<&str> = sprite.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            names,
            ["out/clip_imageSprite_seek_0.jpg", "out/clip_imageSprite_seek_1.jpg", "out/clip_imageSprite_seek.vtt"]
        );
        assert_eq!(dimensions(&probe(&h.download(&sprite[0]).await?)?), (320, 88));
        let map = std::fs::read_to_string(h.download(&sprite[2]).await?)?;
        let cues: Vec<&str> = map.lines().filter(|l| l.contains("#xywh=")).collect();
        assert_eq!(cues.len(), 12, "{map}");
        assert_eq!(cues[5], "clip_imageSprite_seek_0.jpg#xywh=80,44,80,44", "{map}");
        assert_eq!(cues[11], "clip_imageSprite_seek_1.jpg#xywh=240,0,80,44", "{map}");
        assert!(map.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n"), "{map}");
        assert!(map.contains("00:00:11.000 --> 00:00:12.000\n"), "{map}");
        let head = h.stack.clients.s3.head_object().bucket(&h.bucket).key(&sprite[2].key).send().await?;
        assert_eq!(head.content_type(), Some("text/vtt"));
        // and 120 pictures a tenth of a second apart, of which the record lists the first 100
        assert_eq!(tasks[2].outputs.len(), 100);
        let last =
            h.stack.clients.s3.head_object().bucket(&h.bucket).key("out/clip_sampleSnapshot_dense_119.jpg").send();
        assert_eq!(last.await?.content_type(), Some("image/jpeg"));
        Ok(())
    })
}

#[test]
fn the_cover_is_neither_black_nor_a_fade() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a cover task, and a clip that starts black, fades in from 3 s to 5 s, and fades out
        // from 8 s
        h.workflow(h.flow("t").task(json!({"type": "cover", "format": "png"}))).await?;
        let clip = h.lavfi_clip(
            "fades.mp4",
            &["testsrc2=size=320x240:rate=25:duration=10"],
            &[
                "-vf",
                "fade=in:st=3:d=2,fade=out:st=8:d=2",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
            ],
        )?;
        // WHEN it is uploaded
        let object = h.upload(&clip, "in/fades.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        assert_eq!(tasks[0].outputs[0].key, "out/fades_cover_1.png");
        // THEN the cover is as bright as the clip at full light (5–8 s), not black or mid-fade
        let cover = h.download(&tasks[0].outputs[0]).await?;
        let whole = (320, 240, 0, 0);
        let (lit, covered) = (brightness(&clip, 6.5, whole)?, brightness(&cover, 0.0, whole)?);
        assert!(lit > 60, "the lit part's brightness {lit}");
        assert!(covered.abs_diff(lit) <= 8, "cover brightness {covered}, lit {lit}");
        Ok(())
    })
}

#[test]
fn samples_and_sprites_decoded_in_parts_equal_one_decode() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a picture every 2 s and a sprite of a thumbnail a second, each once whole and once
        // decoded in three parts side by side
        let sprite = json!({"type": "sprite", "interval": 1, "width": 80, "columns": 4, "rows": 2});
        let split = |mut task: serde_json::Value, definition: &str, parts: Option<u32>| {
            task["definition"] = json!(definition);
            task["parallel"] = parts.map_or(json!("off"), |n| json!(n));
            task
        };
        let sample = json!({"type": "sample", "interval": "2s"});
        let t = h
            .flow("t")
            .task(split(sample.clone(), "whole", None))
            .task(split(sample, "parts", Some(3)))
            .task(split(sprite.clone(), "whole", None))
            .task(split(sprite, "parts", Some(3)));
        h.workflow(t).await?;
        // WHEN 30 s at 25 fps with a keyframe every 4 s is uploaded
        let clip = h.lavfi_clip(
            "clip.mp4",
            &["testsrc2=size=320x240:rate=25:duration=30"],
            &["-c:v", "libx264", "-preset", "ultrafast", "-g", "100", "-pix_fmt", "yuv420p"],
        )?;
        let object = h.upload(&clip, "in/clip.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        assert_eq!(tasks[1].chunks.as_ref().map(|plan| plan.chunks.len()), Some(3));
        assert_eq!(tasks[3].chunks.as_ref().map(|plan| plan.chunks.len()), Some(3));
        // THEN the same 15 pictures, byte for byte
        assert_eq!((tasks[0].outputs.len(), tasks[1].outputs.len()), (15, 15));
        for (whole, parts) in tasks[0].outputs.iter().zip(&tasks[1].outputs) {
            let (whole, parts) = (std::fs::read(h.download(whole).await?)?, std::fs::read(h.download(parts).await?)?);
            assert!(whole == parts, "{} differs", tasks[1].outputs[0].key);
        }
        // and the same four sheets (8 + 8 + 8 + 6 thumbnails) and map
        assert_eq!((tasks[2].outputs.len(), tasks[3].outputs.len()), (5, 5));
        for n in 0..4 {
            let (whole, parts) = (h.download(&tasks[2].outputs[n]).await?, h.download(&tasks[3].outputs[n]).await?);
            let psnr = frame_psnr(&whole, 0, &parts, 0)?;
            assert!(psnr > 30.0, "sheet {n}: {psnr} dB");
        }
        let map = |text: String| text.replace("_parts_", "_whole_");
        let whole = std::fs::read_to_string(h.download(&tasks[2].outputs[4]).await?)?;
        let parts = std::fs::read_to_string(h.download(&tasks[3].outputs[4]).await?)?;
        assert_eq!(map(parts), whole);
        assert_eq!(whole.lines().filter(|l| l.contains("#xywh=")).count(), 30);
        Ok(())
    })
}
