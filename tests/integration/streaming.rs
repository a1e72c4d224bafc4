//! Adaptive streaming ladders, played back the way players read them: the master playlist or
//! MPD fetched from the local S3 server, every rendition decoded from there.

use std::process::Command;

use anyhow::{Context, ensure};
use mediaflow::domain::job::OutputFile;
use mediaflow::domain::streaming;
use serde_json::{Value, json};

use crate::support::{Harness, brightness, fixture, rotated};

/// ffprobe's view of a playlist and what it names, read over HTTP from the local S3 server.
fn probe_url(url: &str) -> anyhow::Result<Value> {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-protocol_whitelist", "http,tcp", "-count_frames", "-print_format", "json"])
        .args(["-show_format", "-show_streams", url])
        .output()
        .context("run ffprobe")?;
    ensure!(output.status.success(), "ffprobe cannot play {url}: {}", String::from_utf8_lossy(&output.stderr));
    Ok(serde_json::from_slice(&output.stdout)?)
}

fn streams<'a>(probe: &'a Value, kind: &str) -> Vec<&'a Value> {
    probe["streams"].as_array().map(|all| all.iter().filter(|s| s["codec_type"] == kind).collect()).unwrap_or_default()
}

fn frames(stream: &Value) -> u64 {
    stream["nb_read_frames"].as_str().and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn seconds(probe: &Value) -> f64 {
    probe["format"]["duration"].as_str().and_then(|d| d.parse().ok()).unwrap_or(f64::NAN)
}

impl Harness {
    fn url(&self, output: &OutputFile) -> String {
        let key: Vec<String> = output.key.split('/').map(mediaflow::domain::task::uri_reference).collect();
        format!("{}/{}/{}", self.stack.endpoint(), output.bucket, key.join("/"))
    }

    pub(crate) async fn text(&self, output: &OutputFile) -> anyhow::Result<String> {
        Ok(std::fs::read_to_string(self.download(output).await?)?)
    }

    /// Lets anyone read the bucket's objects, as a bucket that serves players does (behind a
    /// CDN, usually).
    async fn serve_publicly(&self, bucket: &str) -> anyhow::Result<()> {
        let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}]});
        self.stack.clients.s3.put_bucket_policy().bucket(bucket).policy(policy.to_string()).send().await?;
        Ok(())
    }

    async fn content_type(&self, bucket: &str, key: &str) -> anyhow::Result<String> {
        let head = self.stack.clients.s3.head_object().bucket(bucket).key(key).send().await?;
        Ok(head.content_type().unwrap_or_default().to_owned())
    }
}

#[test]
fn an_hls_ladder_plays_back_from_the_bucket_rendition_by_rendition() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a ladder of 720p, 360p and 180p (CRF under a cap), with a sound-only rendition,
        // in 4 s MPEG-TS segments
        h.serve_publicly(&h.bucket).await?;
        let ladder = json!({"type": "adaptive", "definition": "ladder", "segment_seconds": 4, "audio_only": true,
            "renditions": [{"height": 720, "bitrate_kbps": 2000}, {"height": 360, "bitrate_kbps": 600},
                           {"height": 180, "crf": 28, "max_kbps": 250}]});
        h.workflow(h.flow("hls").task(ladder)).await?;
        // WHEN a 360p clip of 12 s with sound is uploaded, under a name with a space and a '#'
        let clip = h.lavfi_clip(
            "clip.mp4",
            &["testsrc2=size=640x360:rate=25:duration=12", "sine=frequency=440:sample_rate=48000:duration=12"],
            &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"],
        )?;
        let object = h.upload(&clip, "in/my clip #1.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        // THEN the 720p rendition is dropped (the source is 360p): the job lists the master
        // playlist and three rendition playlists (360p, 180p, sound alone)
        let keys: Vec<&str> = tasks[0].outputs.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "out/my clip #1_adaptiveDynamicStreaming_ladder_0.m3u8",
                "out/my clip #1_adaptiveDynamicStreaming_ladder_1.m3u8",
                "out/my clip #1_adaptiveDynamicStreaming_ladder_2.m3u8",
                "out/my clip #1_adaptiveDynamicStreaming_ladder.m3u8",
            ]
        );
        let master = &tasks[0].outputs[3];
        let text = h.text(master).await?;
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("#EXT-X-STREAM-INF:")).collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].contains("RESOLUTION=640x360,FRAME-RATE=25.000,CODECS=\"avc1.6400"), "{text}");
        assert!(lines[1].contains("RESOLUTION=320x180") && lines[1].ends_with(",mp4a.40.2\""), "{text}");
        assert!(lines[2].ends_with("CODECS=\"mp4a.40.2\"") && !lines[2].contains("RESOLUTION"), "{text}");
        assert!(text.contains("\nmy%20clip%20%231_adaptiveDynamicStreaming_ladder_0.m3u8\n"), "{text}");
        // the cap holds: the 180p rendition's peak stays near its 250 kbps
        let peak = |line: &str| -> u64 {
            line["#EXT-X-STREAM-INF:BANDWIDTH=".len()..].split(',').next().unwrap().parse().unwrap()
        };
        assert!(peak(lines[1]) < 600_000 && peak(lines[0]) > peak(lines[1]), "{text}");
        // every object has its Content-Type
        assert_eq!(h.content_type(&h.bucket, &master.key).await?, "application/vnd.apple.mpegurl");
        let segment = "out/my clip #1_adaptiveDynamicStreaming_ladder_1_1.ts";
        assert_eq!(h.content_type(&h.bucket, segment).await?, "video/mp2t");
        // the video renditions' segments start on the same frames: their playlists list the same lengths
        let lengths = |text: &str| streaming::segments(text).iter().map(|s| s.seconds).collect::<Vec<_>>();
        let (first, second) = (h.text(&tasks[0].outputs[0]).await?, h.text(&tasks[0].outputs[1]).await?);
        assert_eq!(lengths(&first), [4.0, 4.0, 4.0], "{first}");
        assert_eq!(lengths(&first), lengths(&second));
        // and each rendition plays from the bucket: every frame, as long as the source
        for (output, size) in tasks[0].outputs[..2].iter().zip([(640, 360), (320, 180)]) {
            let probe = probe_url(&h.url(output))?;
            let video = streams(&probe, "video");
            assert_eq!((video[0]["width"].as_u64(), video[0]["height"].as_u64()), (Some(size.0), Some(size.1)));
            assert_eq!(frames(video[0]), 300, "{}", output.key);
            assert_eq!(streams(&probe, "audio").len(), 1);
            assert!((seconds(&probe) - 12.0).abs() < 0.2, "{}: {}", output.key, seconds(&probe));
        }
        let sound = probe_url(&h.url(&tasks[0].outputs[2]))?;
        assert!(streams(&sound, "video").is_empty() && streams(&sound, "audio").len() == 1);
        // the master playlist offers them all
        let all = probe_url(&h.url(master))?;
        assert_eq!(streams(&all, "video").len(), 2);
        Ok(())
    })
}

#[test]
fn a_ladder_encoded_in_chunks_plays_as_fmp4_hls_and_as_dash() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN two ladders of the same two renditions, each encoded in 3 chunks: fMP4 HLS and DASH
        h.serve_publicly(&h.bucket).await?;
        let renditions = json!([{"height": 240, "bitrate_kbps": 400}, {"width": 160, "bitrate_kbps": 150}]);
        let abr = h
            .flow("abr")
            .task(json!({"type": "adaptive", "definition": "cmaf", "segment_type": "fmp4", "segment_seconds": 2,
                "parallel": 3, "renditions": renditions}))
            .task(json!({"type": "adaptive", "definition": "dash", "format": "dash", "segment_seconds": 2,
                "parallel": 3, "renditions": renditions}));
        h.workflow(abr).await?;
        // WHEN 30 s at 30 fps with B-frames and a keyframe every 50 frames is uploaded
        let clip = h.lavfi_clip(
            "long.mp4",
            &["testsrc2=size=320x240:rate=30:duration=30", "sine=frequency=440:duration=30"],
            &["-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "50", "-pix_fmt", "yuv420p", "-c:a", "aac"],
        )?;
        let object = h.upload(&clip, "in/long.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        for task in &tasks {
            assert_eq!(task.chunks.as_ref().map(|plan| plan.chunks.len()), Some(3), "split in three");
        }
        // THEN the fMP4 HLS renditions play whole from the bucket, each segment 2 s
        let hls = &tasks[0].outputs;
        assert_eq!(hls.last().map(|o| o.key.as_str()), Some("out/long_adaptiveDynamicStreaming_cmaf.m3u8"));
        let master = h.text(hls.last().context("master")?).await?;
        assert!(master.starts_with("#EXTM3U\n#EXT-X-VERSION:7\n"), "{master}");
        for (output, width) in hls[..2].iter().zip([320, 160]) {
            let playlist = h.text(output).await?;
            assert!(playlist.contains("#EXT-X-MAP:URI=\"long_adaptiveDynamicStreaming_cmaf_"), "{playlist}");
            let lengths: Vec<f64> = streaming::segments(&playlist).iter().map(|s| s.seconds).collect();
            assert_eq!(lengths.len(), 15, "{playlist}");
            assert!(lengths.iter().all(|l| (l - 2.0).abs() < 0.01), "{lengths:?}");
            let probe = probe_url(&h.url(output))?;
            let video = streams(&probe, "video");
            assert_eq!(video[0]["width"].as_u64(), Some(width));
            assert_eq!(frames(video[0]), 900, "every frame once across the chunks: {}", output.key);
            assert!((seconds(&probe) - 30.0).abs() < 0.2, "{}", seconds(&probe));
        }
        let init = "out/long_adaptiveDynamicStreaming_cmaf_0_init.mp4";
        assert_eq!(h.content_type(&h.bucket, init).await?, "video/mp4");
        assert_eq!(
            h.content_type(&h.bucket, "out/long_adaptiveDynamicStreaming_cmaf_0_1.m4s").await?,
            "video/iso.segment"
        );
        // and the DASH MPD names the segments as published, with measured bandwidths
        let mpd_output = tasks[1].outputs.last().context("mpd")?;
        assert_eq!(mpd_output.key, "out/long_adaptiveDynamicStreaming_dash.mpd");
        assert_eq!(h.content_type(&h.bucket, &mpd_output.key).await?, "application/dash+xml");
        let mpd = h.text(mpd_output).await?;
        assert!(mpd.contains("media=\"long_adaptiveDynamicStreaming_dash_$RepresentationID$_$Number$.m4s\""), "{mpd}");
        assert!(!mpd.contains("bandwidth=\"0\""), "{mpd}");
        let probe = probe_url(&h.url(mpd_output))?;
        let video = streams(&probe, "video");
        assert_eq!(video.len(), 2, "both representations");
        assert!(video.iter().all(|v| frames(v) == 900), "{video:?}");
        assert_eq!(streams(&probe, "audio").len(), 1);
        Ok(())
    })
}

#[test]
fn an_mps_hls_template_and_an_hevc_ladder_play_back() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN MPS's HLS template 100210 (360p, 400 kbps, 25 fps, AAC 64 kbps 44.1 kHz stereo) and
        // an H.265 ladder, which HLS carries in fMP4
        h.serve_publicly(&h.bucket).await?;
        let hls = h
            .flow("hls")
            .task(json!({"type": "adaptive", "definition": "100210"}))
            .task(json!({"type": "adaptive", "definition": "hevc", "codec": "h265", "segment_seconds": 2,
                "renditions": [{"height": 240, "crf": 30, "max_kbps": 400}]}));
        h.workflow(hls).await?;
        // WHEN 6 s of 640x360 at 30 fps with 48 kHz mono sound is uploaded
        let clip = h.lavfi_clip(
            "clip.mp4",
            &["testsrc2=size=640x360:rate=30:duration=6", "sine=frequency=440:sample_rate=48000:duration=6"],
            &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "1"],
        )?;
        let object = h.upload(&clip, "in/clip.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        // THEN the template's rendition is 640x360 at 25 fps with its sound
        let template = &tasks[0].outputs;
        assert_eq!(template.last().map(|o| o.key.as_str()), Some("out/clip_adaptiveDynamicStreaming_100210.m3u8"));
        let master = h.text(template.last().context("master")?).await?;
        assert!(master.contains("RESOLUTION=640x360,FRAME-RATE=25.000,CODECS=\"avc1.64"), "{master}");
        let probe = probe_url(&h.url(&template[0]))?;
        assert_eq!(frames(streams(&probe, "video")[0]), 150, "6 s at 25 fps");
        let sound = streams(&probe, "audio")[0];
        assert_eq!((sound["sample_rate"].as_str(), sound["channels"].as_u64()), (Some("44100"), Some(2)));
        // and the H.265 ladder is fMP4 with its codec named, and plays
        let hevc = &tasks[1].outputs;
        let master = h.text(hevc.last().context("master")?).await?;
        assert!(master.starts_with("#EXTM3U\n#EXT-X-VERSION:7\n"), "{master}");
        assert!(master.contains("RESOLUTION=426x240,FRAME-RATE=30.000,CODECS=\"hvc1.1.6.L"), "{master}");
        let probe = probe_url(&h.url(&hevc[0]))?;
        let video = streams(&probe, "video");
        assert_eq!((video[0]["codec_name"].as_str(), frames(video[0])), (Some("hevc"), 180));
        Ok(())
    })
}

#[test]
fn an_hevc_dash_ladder_chosen_per_title_plays_every_rendition_it_chose() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN an H.265 DASH ladder chosen for each title, at most two renditions
        h.serve_publicly(&h.bucket).await?;
        let ladder = json!({"type": "adaptive", "definition": "auto", "format": "dash", "codec": "h265",
            "segment_seconds": 2, "renditions": "auto", "ladder": {"count": 2, "max_height": 360}});
        h.workflow(h.flow("dash-auto").task(ladder)).await?;
        // WHEN 6 s of a detailed 640x360 picture at 30 fps with sound is uploaded
        let clip = h.lavfi_clip(
            "detailed-dash.mp4",
            &["testsrc2=size=640x360:rate=30:duration=6", "sine=duration=6"],
            &["-vf", "noise=alls=20:allf=t", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-c:a", "aac"],
        )?;
        let object = h.upload(&clip, "in/detailed.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        // THEN the MPD offers exactly the renditions chosen, each H.265 with every frame, and the sound
        let mpd = tasks[0].outputs.last().context("the MPD")?;
        let chosen = mpd.tuning.as_ref().context("the chosen ladder")?;
        assert!((1..=2).contains(&chosen.ladder.len()), "{chosen}");
        let probe = probe_url(&h.url(mpd))?;
        let video = streams(&probe, "video");
        let mut played: Vec<(u64, u64)> =
            video.iter().map(|v| (v["width"].as_u64().unwrap_or(0), v["height"].as_u64().unwrap_or(0))).collect();
        let mut rungs: Vec<(u64, u64)> =
            chosen.ladder.iter().map(|r| (u64::from(r.width), u64::from(r.height))).collect();
        played.sort_unstable();
        rungs.sort_unstable();
        assert_eq!(played, rungs, "{chosen}");
        assert!(video.iter().all(|v| v["codec_name"] == "hevc"), "{video:?}");
        // (ffmpeg's DASH reader ends a later H.265 representation up to 3 frames early, as it does
        // on ffmpeg's own DASH output; its segments hold all 180)
        assert_eq!(frames(video[0]), 180, "{video:?}");
        assert!(video.iter().all(|v| (177..=180).contains(&frames(v))), "{video:?}");
        assert_eq!(streams(&probe, "audio").len(), 1);
        Ok(())
    })
}

#[test]
fn broadcast_segments_odd_sizes_and_songs_stream_too() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a two-rung ladder in 2 s segments
        h.serve_publicly(&h.bucket).await?;
        let ladder = json!({"type": "adaptive", "segment_seconds": 2,
            "renditions": [{"height": 480, "bitrate_kbps": 900}, {"height": 180, "bitrate_kbps": 200}]});
        h.workflow(h.flow("hls").task(ladder)).await?;
        // WHEN an MPEG-TS recording whose clock starts at 10 s, 638x358 and without sound, is uploaded
        let broadcast = h.lavfi_clip(
            "broadcast.ts",
            &["testsrc2=size=638x358:rate=25:duration=8"],
            &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-output_ts_offset", "10"],
        )?;
        let object = h.upload(&broadcast, "in/broadcast.ts").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        // THEN the rung above it is left out, the other is even-sized, and its segments start on the
        // grid of its own clock
        let outputs = &tasks[0].outputs;
        assert_eq!(outputs.len(), 2, "one rendition and the master");
        let playlist = h.text(&outputs[0]).await?;
        let lengths: Vec<f64> = streaming::segments(&playlist).iter().map(|s| s.seconds).collect();
        assert_eq!(lengths, [2.0, 2.0, 2.0, 2.0], "{playlist}");
        let probe = probe_url(&h.url(&outputs[0]))?;
        let video = streams(&probe, "video");
        assert_eq!((video[0]["width"].as_u64(), video[0]["height"].as_u64()), (Some(320), Some(180)));
        assert_eq!(frames(video[0]), 200);
        assert!(streams(&probe, "audio").is_empty());
        let master = h.text(&outputs[1]).await?;
        assert!(master.contains("CODECS=\"avc1.6400") && !master.contains("mp4a"), "no sound: {master}");
        // and a song becomes sound alone
        let song = h.upload(&fixture("song_12s_mono.mp3"), "in/song.mp3").await?;
        let (_, tasks) = h.succeeded(&song).await?;
        let master = h.text(tasks[0].outputs.last().context("master")?).await?;
        assert!(master.contains("CODECS=\"mp4a.40.2\"") && !master.contains("RESOLUTION"), "{master}");
        let probe = probe_url(&h.url(&tasks[0].outputs[0]))?;
        assert!((seconds(&probe) - 12.3).abs() < 0.3, "{}", seconds(&probe));
        Ok(())
    })
}

#[test]
fn a_phone_video_held_upright_streams_upright_at_its_own_rate() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a ladder of 720 and 360 lines
        h.serve_publicly(&h.bucket).await?;
        let ladder = json!({"type": "adaptive", "segment_seconds": 2,
            "renditions": [{"height": 720, "bitrate_kbps": 1500}, {"height": 360, "bitrate_kbps": 500}]});
        h.workflow(h.flow("hls").task(ladder)).await?;
        // WHEN a phone's 1280x720 recording at 29.97 fps, turned a quarter by its rotation matrix,
        // is uploaded
        let landscape = h.lavfi_clip(
            "phone.mp4",
            &["testsrc2=size=1280x720:rate=30000/1001:duration=6", "sine=frequency=440:duration=6"],
            &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"],
        )?;
        let phone = rotated(&landscape, &h.dir.path().join("upright.mp4"))?;
        let object = h.upload(&phone, "in/phone.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        // THEN both renditions are upright (the picture stands 1280 high, so neither is above it),
        // at 29.97 fps, their segments aligned
        let outputs = &tasks[0].outputs;
        let master = h.text(outputs.last().context("master")?).await?;
        assert!(master.contains("RESOLUTION=404x720,FRAME-RATE=29.970"), "{master}");
        assert!(master.contains("RESOLUTION=202x360,FRAME-RATE=29.970"), "{master}");
        let (first, second) = (h.text(&outputs[0]).await?, h.text(&outputs[1]).await?);
        let lengths = |text: &str| streaming::segments(text).iter().map(|s| s.seconds).collect::<Vec<_>>();
        assert_eq!(lengths(&first), lengths(&second));
        assert_eq!(lengths(&first).len(), 3, "{first}");
        let probe = probe_url(&h.url(&outputs[0]))?;
        let video = streams(&probe, "video");
        assert_eq!((video[0]["width"].as_u64(), video[0]["height"].as_u64()), (Some(404), Some(720)));
        assert_eq!(frames(video[0]), 180);
        Ok(())
    })
}

#[test]
fn a_watermark_sits_alike_in_every_rendition() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a ladder of 360 and 180 lines with a white mark at the top left (kept above the
        // source's bitrate: black pictures take next to none)
        let ladder = json!({"type": "adaptive", "segment_seconds": 2, "keep_above_source": true,
            "renditions": [{"height": 360, "bitrate_kbps": 600}, {"height": 180, "bitrate_kbps": 200}],
            "watermarks": [{"text": "LIVE", "origin": "TopLeft", "x": 10, "y": 10, "font_size": 60,
                            "color": "white"}]});
        h.workflow(h.flow("hls").task(ladder)).await?;
        // WHEN 4 s of black is uploaded
        let clip = h.lavfi_clip(
            "black.mp4",
            &["color=black:size=640x360:rate=25:duration=4"],
            &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
        )?;
        let object = h.upload(&clip, "in/black.mp4").await?;
        h.succeeded(&object).await?;
        // THEN the mark is in the same place of both renditions' first segments, the rest stays black
        for (stream, scale) in [(0, 1), (1, 2)] {
            let key = format!("out/black_adaptiveDynamicStreaming_1_{stream}_1.ts");
            let segment = h.dir.path().join(format!("segment-{stream}.ts"));
            let object = h.stack.clients.s3.get_object().bucket(&h.bucket).key(&key).send().await?;
            std::fs::write(&segment, object.body.collect().await?.into_bytes())?;
            let mark = brightness(&segment, 0.0, (200 / scale, 80 / scale, 0, 0))?;
            let rest = brightness(&segment, 0.0, (200 / scale, 80 / scale, 400 / scale, 260 / scale))?;
            assert!(mark > rest + 15 && rest < 20, "stream {stream}: mark {mark}, rest {rest}");
        }
        Ok(())
    })
}
