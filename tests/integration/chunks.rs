//! Chunked encoding on real media: the parts, rendered side by side from the served upload, and
//! their join give what one encode gives — the same frames at the same times, the same audio, no
//! seam at the joins, the same size within 5 %.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, ensure};
use mediaflow::domain::chunk;
use mediaflow::domain::chunk::{Budget, Part};
use mediaflow::domain::limits::Limits;
use mediaflow::domain::message::TaskMessage;
use mediaflow::domain::task::{OutputNames, Parallel, TaskSpec, TranscodeSpec};
use mediaflow::ports::{JobStore, JoinRequest, MediaTool};
use mediaflow_local::{WORKER, measure};
use serde_json::json;

use crate::support::{Harness, dimensions, duration, probe, source_of, stream};

/// The times of a stream's packets in `path`, in order of presentation.
fn packet_times(path: &Path, stream: &str) -> anyhow::Result<Vec<f64>> {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", stream, "-show_entries", "packet=pts_time", "-of", "csv=p=0"])
        .arg(path)
        .output()?;
    ensure!(output.status.success(), "ffprobe failed on {}", path.display());
    let mut times: Vec<f64> =
        String::from_utf8(output.stdout)?.lines().filter_map(|line| line.trim().parse().ok()).collect();
    times.sort_by(f64::total_cmp);
    Ok(times)
}

/// H.264 with B-frames and a keyframe every 50 frames, as cameras and phones write it.
const GOP_50: &str = "-c:v libx264 -preset veryfast -bf 2 -g 50 -keyint_min 50 -sc_threshold 0 -pix_fmt yuv420p";

#[test]
fn the_keyframe_a_seek_lands_on_is_found_in_each_container() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let media = h.media_tool();
        // GIVEN 30 s with B-frames and a keyframe every 2 s, in the containers cameras, screen
        // recorders and streams write; one on a clock that starts at 10 s
        let mut video: Vec<&str> = GOP_50.split(' ').collect();
        video.extend(["-c:a", "aac"]);
        let cases: [(&str, &[&str]); 5] = [
            ("clip.mp4", &[]),
            ("clip.mov", &[]),
            ("fragmented.mp4", &["-movflags", "frag_keyframe+empty_moov+default_base_moof"]),
            ("clip.mkv", &[]),
            ("offset.ts", &["-output_ts_offset", "10"]),
        ];
        for (name, extra) in cases {
            let mut args = video.clone();
            args.extend(extra);
            let clip = h.lavfi_clip(name, &["testsrc2=size=160x120:rate=25:duration=30", "sine=duration=30"], &args)?;
            let source = source_of(&clip)?;
            let start = source.start_time.unwrap_or(0.0);
            if name == "offset.ts" {
                assert!(start >= 10.0, "the clock starts at {start}");
            }
            let upload = h.stored(&clip, &format!("keyframes/{name}")).await?;
            // WHEN the worker looks for the keyframes at three borders
            let found = media.keyframes(upload, start, &[5.02, 9.1, 15.98]).await?;
            // THEN each is the keyframe at or before the border, from the file's start (where the
            // first frame is may differ: B-frames without an edit list delay it)
            let video_start =
                stream(&probe(&clip)?, "video").and_then(|v| v["start_time"].as_str()?.parse::<f64>().ok());
            let first = video_start.context("the video's start")? - start;
            let round = |at: f64| (at * 1000.0).round() / 1000.0;
            let found: Vec<Option<f64>> = found.iter().map(|at| at.map(round)).collect();
            match name.ends_with(".ts") {
                false => assert_eq!(found, [4.0, 8.0, 14.0].map(|at| Some(round(first + at))), "{name}"),
                // MPEG-TS has no index: a seek lands near the time, on a keyframe or not, and only
                // keyframes count
                true => {
                    for at in found.into_iter().flatten() {
                        let keyframes = (at - first) / 2.0;
                        assert!((keyframes - keyframes.round()).abs() < 1e-3, "{name}: {at} is not a keyframe");
                    }
                }
            }
        }
        Ok(())
    })
}

#[test]
fn chunks_cut_just_past_keyframes_hold_every_frame_once() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let media = h.media_tool();
        // GIVEN 20 s at 30 fps (frame times no millisecond holds) with B-frames and a keyframe
        // every 50 frames
        let clip = h.lavfi_clip(
            "thirty-fps.mp4",
            &["testsrc2=size=160x120:rate=30:duration=20"],
            &GOP_50.split(' ').collect::<Vec<_>>(),
        )?;
        let upload = h.stored(&clip, "thirty/clip.mp4").await?;
        let source = source_of(&clip)?;
        let spec = TranscodeSpec { parallel: Parallel::Chunks(3), ..TranscodeSpec::default() };
        let limits = Limits::default();
        let budget = Budget { invocation_seconds: 900.0, max_duration: limits.max_duration_s };
        let plan = chunk::plan(&spec.encode().context("video")?, &source, budget).context("split in three")?;
        let keyframes = media.keyframes(upload.clone(), 0.0, &plan.borders()).await?;
        let plan = chunk::at_keyframes(plan, &spec.encode().context("video")?, &source, &keyframes);
        assert_ne!(
            plan.borders(),
            chunk::plan(&spec.encode().context("video")?, &source, budget).context("nominal")?.borders(),
            "moved"
        );
        // WHEN each chunk is rendered
        let task = TaskSpec::Transcode(spec.clone());
        let mut frames = Vec::new();
        for chunk in &plan.chunks {
            let dir = tempfile::tempdir()?;
            let part = Some(Part::Video(*chunk));
            let request = Harness::render_request(&task, upload.clone(), &source, &limits, part, dir.path());
            let rendered = media.render(&request).await.map_err(|f| anyhow::anyhow!("{}: {}", f.code, f.message))?;
            let probed = probe(&rendered.files[0].path)?;
            let count = stream(&probed, "video").and_then(|v| v["nb_read_frames"].as_str()?.parse::<u32>().ok());
            frames.push(count.context("frames")?);
        }
        // THEN each holds the frames between its borders, and all of them hold every frame once
        let expected: Vec<u32> = plan
            .chunks
            .iter()
            .map(|c| {
                let end = c.length.map_or(20.0, |length| c.start + length);
                ((end * 30.0).ceil() - (c.start * 30.0).ceil()) as u32
            })
            .collect();
        assert_eq!(frames, expected, "borders {:?}", plan.borders());
        assert_eq!(frames.iter().sum::<u32>(), 600);
        Ok(())
    })
}

#[test]
fn a_ten_minute_clip_encoded_in_four_chunks_and_joined_equals_one_encode() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a 10-minute clip with keyframes every 10 s and a beep every second
        let clip = h.lavfi_clip(
            "long.mp4",
            &["testsrc2=size=160x120:rate=25:duration=600", "sine=frequency=1000:beep_factor=4:duration=600"],
            &["-c:v", "libx264", "-preset", "ultrafast", "-g", "250", "-pix_fmt", "yuv420p", "-c:a", "aac"],
        )?;
        let upload = h.stored(&clip, "long/clip.mp4").await?;
        let media = h.media_tool();
        let source = source_of(&clip)?;
        let limits = Limits::default();
        let spec = TranscodeSpec { parallel: Parallel::Chunks(4), ..TranscodeSpec::default() };
        let task = TaskSpec::Transcode(spec.clone());
        let budget = Budget { invocation_seconds: 900.0, max_duration: limits.max_duration_s };
        let plan = chunk::plan(&spec.encode().context("video")?, &source, budget).context("split in four")?;
        // with its borders moved to just past the keyframes at 150, 300 and 450 s
        let keyframes = media.keyframes(upload.clone(), 0.0, &plan.borders()).await?;
        assert_eq!(keyframes, [Some(150.0), Some(300.0), Some(450.0)]);
        let plan = chunk::at_keyframes(plan, &spec.encode().context("video")?, &source, &keyframes);
        assert_eq!((plan.chunks.len(), plan.audio), (4, true));
        assert!((plan.chunks[1].start - 3753.5 / 25.0).abs() < 1e-9, "{:?}", plan.chunks);
        let render = |part: Option<Part>, dir: PathBuf| {
            let (upload, source, task) = (upload.clone(), &source, &task);
            let media = &media;
            let limits = &limits;
            async move {
                let request = Harness::render_request(task, upload, source, limits, part, &dir);
                let rendered =
                    media.render(&request).await.map_err(|f| anyhow::anyhow!("{}: {}", f.code, f.message))?;
                anyhow::Ok(rendered.files.into_iter().next().context("one file")?.path)
            }
        };

        // WHEN it is encoded whole, and in parts side by side that are then joined
        let whole_dir = tempfile::tempdir()?;
        let whole = render(None, whole_dir.path().to_owned()).await?;
        let part_dirs: Vec<_> = (0..plan.parts()).map(|_| tempfile::tempdir()).collect::<Result<_, _>>()?;
        let parts = futures::future::try_join_all(
            part_dirs.iter().enumerate().map(|(n, dir)| render(plan.part(n as u32), dir.path().to_owned())),
        )
        .await?;
        let join_dir = tempfile::tempdir()?;
        let mut chunks = Vec::new();
        for (n, path) in parts[..plan.chunks.len()].iter().enumerate() {
            let to = join_dir.path().join(format!("chunk-{n:04}.mp4"));
            std::fs::copy(path, &to)?;
            chunks.push(to);
        }
        let audio = join_dir.path().join("audio.mp4");
        std::fs::copy(&parts[plan.chunks.len()], &audio)?;
        let request = JoinRequest {
            spec: &task,
            names: OutputNames { spec: &task, position: 0, input_name: "clip", input_format: "mp4" },
            source: &source,
            upload: None,
            chunks: &chunks,
            audio: Some(&audio),
            limits: &limits,
            workdir: join_dir.path(),
            stop_by: None,
            tuning: None,
            feed: None,
        };
        let joined = media.join(&request).await.map_err(|f| anyhow::anyhow!("{}: {}", f.code, f.message))?;
        let joined = &joined.files[0].path;

        // THEN the same frames, at the same times
        let (whole_probe, joined_probe) = (probe(&whole)?, probe(joined)?);
        let frames = |probe| stream(probe, "video").and_then(|v| v["nb_read_frames"].as_str().map(str::to_owned));
        assert_eq!(frames(&joined_probe), Some("15000".to_owned()));
        assert_eq!(frames(&whole_probe), frames(&joined_probe));
        let (whole_times, joined_times) = (packet_times(&whole, "v:0")?, packet_times(joined, "v:0")?);
        assert_eq!(whole_times.len(), joined_times.len());
        let drift = whole_times.iter().zip(&joined_times).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(drift < 0.001, "video frames moved by {drift} s");
        // and the same audio (encoded once over the whole input), so it stays in sync
        let (whole_audio, joined_audio) = (packet_times(&whole, "a:0")?, packet_times(joined, "a:0")?);
        assert_eq!(whole_audio.len(), joined_audio.len());
        assert!((whole_audio[0] - joined_audio[0]).abs() < 0.001);
        let (a, b) = (duration(&whole_probe), duration(&joined_probe));
        assert!((a - b).abs() <= 0.04, "durations {a} and {b}");
        // no seam: a frame at a join is as close to the source as its neighbours
        let scores = measure::ssim_per_frame(Path::new("ffmpeg"), joined, &clip, None)?;
        for chunk in &plan.chunks[1..] {
            let first = (chunk.start * 25.0).ceil() as usize;
            for frame in [first - 1, first] {
                let around: Vec<f64> =
                    (first - 12..first + 12).filter(|n| n.abs_diff(frame) > 1).map(|n| scores[n]).collect();
                let mean = around.iter().sum::<f64>() / around.len() as f64;
                assert!(scores[frame] >= mean - 0.01, "frame {frame}: SSIM {} against {mean} around it", scores[frame]);
            }
        }
        // and the same size within 5 %
        let (whole_size, joined_size) = (std::fs::metadata(&whole)?.len(), std::fs::metadata(joined)?.len());
        let ratio = joined_size as f64 / whole_size as f64;
        assert!((0.95..=1.05).contains(&ratio), "joined {joined_size} B against {whole_size} B");
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_task_runs_its_parts_side_by_side_joins_them_once_and_repeats_change_nothing() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let chunked = h
        .flow("chunked")
        .trigger("chunked/")
        .output("out-chunked/")
        .task(json!({"type": "transcode", "parallel": 3, "video": {"height": 144}}))
        .task(json!({"type": "watermark", "parallel": 2, "watermarks": [{"text": "mediaflow"}]}))
        .task(json!({"type": "snapshot", "times": [1]}));
    h.workflow(chunked).await?;
    // GIVEN a 30 s clip
    let clip = h.lavfi_clip(
        "thirty.mp4",
        &["testsrc2=size=320x240:rate=25:duration=30", "sine=frequency=500:beep_factor=4:duration=30"],
        &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-g", "100"],
    )?;
    let object = h.upload(&clip, "chunked/clip.mp4").await?;
    // WHEN it is processed
    let (job, tasks) = h.succeeded(&object).await?;
    // THEN both video tasks ran as parts (three and two chunks, and the audio), then a join
    let plans: Vec<_> = tasks.iter().map(|t| t.chunks.as_ref().map(|p| (p.chunks.len(), p.audio))).collect();
    assert_eq!(plans, [Some((3, true)), Some((2, true)), None]);
    assert_eq!((tasks[0].parts_done, tasks[1].parts_done), (4, 3));
    assert_eq!(tasks[0].progress_now(), Some(100));
    // one preparation, 4 + 3 parts, 2 joins, 1 snapshot
    assert_eq!(h.stack.invocations(WORKER), 1 + 7 + 2 + 1);
    // and the outputs are whole: every frame, the audio, the size asked
    for task in &tasks[..2] {
        let output = h.download(&task.outputs[0]).await?;
        let probed = probe(&output)?;
        let video = stream(&probed, "video").context("video")?;
        assert_eq!(video["nb_read_frames"], json!("750"), "task {}", task.index);
        assert!(stream(&probed, "audio").is_some());
        assert!((duration(&probed) - 30.0).abs() < 0.1, "{}", duration(&probed));
    }
    assert_eq!(dimensions(&probe(&h.download(&tasks[0].outputs[0]).await?)?), (192, 144));
    // WHEN a part's message and a join's message come again
    let before = tasks[0].outputs[0].clone();
    let part = serde_json::to_value(TaskMessage { part: Some(1), ..TaskMessage::new(job.id.clone(), 0) })?;
    let again = h.stack.invoke(WORKER, part).await?;
    let join = h.stack.invoke(WORKER, serde_json::to_value(TaskMessage::new(job.id.clone(), 0))?).await?;
    // THEN nothing runs again and nothing changes
    assert_eq!((again["result"].as_str(), join["result"].as_str()), (Some("skipped"), Some("skipped")));
    let tasks = h.stack.jobs().tasks(&job.id).await?;
    assert_eq!((tasks[0].parts_done, &tasks[0].outputs[0]), (4, &before));
    Ok(())
}
