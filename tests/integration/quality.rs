//! Quality scores on the local stack: outputs scored against their source (trimmed, at another
//! rate and size, joined from chunks, rendition by rendition), recorded on the job and shown by
//! `mediaflow job show`; a starved encode scores far below a near-copy.

use std::process::Command;

use mediaflow::domain::job::Task;
use mediaflow::domain::task::{QualityMetric, QualityScore};
use serde_json::json;

use crate::support::{Harness, mediaflow};

/// The one score of a task's one output.
fn score_of(task: &Task) -> &QualityScore {
    let scores = &task.outputs[0].quality;
    assert_eq!(scores.len(), 1, "task {}: {:?} {:?}", task.index, task.outputs, task.warnings);
    &scores[0]
}

/// A moving clip whose every frame differs all over (blurred noise): detail a starved encode
/// cannot keep, and pictures that match only the same frame of the source.
fn detailed_clip(h: &Harness, size: &str, seconds: u32) -> anyhow::Result<std::path::PathBuf> {
    h.lavfi_clip(
        &format!("detailed-{size}-{seconds}.mp4"),
        &[&format!("testsrc2=size={size}:rate=25:duration={seconds}"), &format!("sine=duration={seconds}")],
        &[
            "-vf",
            "noise=alls=60:allf=t,gblur=sigma=4",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-qp",
            "0",
            "-c:a",
            "aac",
        ],
    )
}

#[test]
fn every_output_is_scored_against_its_source_and_a_starved_encode_scores_far_lower() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a workflow of a near-copy, a starved encode, a trimmed one at another rate and
        // size, a ladder of two renditions, an encode in three chunks and a ladder in two, each
        // asking for scores
        let flow = h
            .flow("scored")
            .task(json!({"type": "transcode", "definition": "copy", "video": {"crf": 1}, "quality": "psnr"}))
            .task(json!({"type": "transcode", "definition": "starved", "video": {"bitrate_kbps": 100}, "quality": "psnr"}))
            .task(json!({"type": "transcode", "definition": "trimmed", "start": 2, "end": 5,
                         "video": {"height": 360, "fps": 12.5, "crf": 18}, "quality": "ssim"}))
            .task(json!({"type": "adaptive", "definition": "ladder", "quality": "ssim",
                         "renditions": [{"height": 720, "crf": 20, "max_kbps": 6000}, {"height": 180, "bitrate_kbps": 100}]}))
            .task(json!({"type": "transcode", "definition": "chunked", "parallel": 3, "video": {"crf": 18},
                         "quality": "psnr"}))
            .task(json!({"type": "adaptive", "definition": "chunked-ladder", "format": "dash", "parallel": 2,
                         "quality": "psnr", "renditions": [{"height": 360, "crf": 20, "max_kbps": 3000}]}));
        h.workflow(flow).await?;
        // WHEN a 6 s 720p clip is uploaded
        let object = h.upload(&detailed_clip(&h, "1280x720", 6)?, "in/detailed.mp4").await?;
        let (job, tasks) = h.succeeded(&object).await?;

        // THEN the near-copy scores high and the starved encode far lower, over one frame in five
        let (copy, starved) = (score_of(&tasks[0]), score_of(&tasks[1]));
        assert_eq!(copy.metric, QualityMetric::Psnr);
        assert!(copy.mean > 45.0, "a near-copy: {copy}");
        assert!(starved.mean < copy.mean - 12.0, "100 kbps at 720p: {starved} against {copy}");
        assert!(starved.min <= starved.low_1pct && starved.low_1pct <= starved.mean, "{starved}");
        assert_eq!(copy.frames, 30, "150 frames, one in five");
        // AND a trimmed output at half the rate and a quarter of the size is compared with the
        // same stretch of the source, frame for frame (misaligned, the moving picture would not match)
        let trimmed = score_of(&tasks[2]);
        assert!(trimmed.mean > 0.95 && trimmed.min > 0.9, "{trimmed}");
        assert!((7..=8).contains(&trimmed.frames), "3 s at 12.5 fps, one frame in five: {trimmed:?}");
        // AND each rendition's playlist has its own score, the master playlist both
        let ladder = &tasks[3].outputs;
        let (high, low) = (&ladder[0].quality, &ladder[1].quality);
        assert_eq!((high[0].width, high[0].height, low[0].height), (Some(1280), Some(720), Some(180)), "{ladder:?}");
        assert!(high[0].mean > low[0].mean, "the larger rendition scores higher: {} / {}", high[0], low[0]);
        assert_eq!(ladder.last().map(|master| master.quality.len()), Some(2), "{ladder:?}");
        // AND the output joined from three chunks is scored whole, with no dip where they meet
        let joined = score_of(&tasks[4]);
        assert_eq!(joined.frames, 30, "every frame is there once: {joined:?}");
        assert!(joined.min > joined.mean - 6.0, "no frame far below the rest: {joined}");
        // AND a ladder encoded in two chunks is scored from its joined chunks: the MPD lists it
        let mpd = &tasks[5].outputs;
        let scores = &mpd.last().expect("the MPD").quality;
        assert_eq!(scores.len(), 1, "{mpd:?}");
        assert_eq!((scores[0].height, scores[0].frames), (Some(360), 30), "{:?}", scores[0]);
        assert!(scores[0].min > scores[0].mean - 6.0, "{}", scores[0]);

        // AND `job show` prints the scores beside the outputs
        let shown = mediaflow(&h, &["job", "show", job.id.as_str()]).await?;
        assert!(shown.contains("QUALITY") && shown.contains(&copy.to_string()), "{shown}");
        assert!(shown.contains(&high[0].to_string()), "{shown}");
        Ok(())
    })
}

/// Whether the ffmpeg the stack runs has libvmaf (the Lambda layer's has; distributions' often
/// not).
pub(crate) fn ffmpeg_has_vmaf() -> anyhow::Result<bool> {
    let ffmpeg = std::env::var("FFMPEG_PATH").unwrap_or_else(|_| "ffmpeg".into());
    let filters = Command::new(ffmpeg).args(["-hide_banner", "-filters"]).output()?;
    Ok(String::from_utf8_lossy(&filters.stdout).contains(" libvmaf "))
}

#[test]
fn vmaf_scores_a_copy_above_97_and_a_starved_1080p_encode_far_lower_or_says_it_cannot() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let flow = h
            .flow("vmaf")
            .task(json!({"type": "transcode", "definition": "copy", "video": {"crf": 1}, "quality": "vmaf"}))
            .task(json!({"type": "transcode", "definition": "starved", "video": {"bitrate_kbps": 200}, "quality": "vmaf"}));
        h.workflow(flow).await?;
        let object = h.upload(&detailed_clip(&h, "1920x1080", 3)?, "in/full-hd.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        if ffmpeg_has_vmaf()? {
            let (copy, starved) = (score_of(&tasks[0]), score_of(&tasks[1]));
            assert!(copy.mean > 97.0, "a near-copy: {copy}");
            assert!(starved.mean < copy.mean - 30.0, "200 kbps at 1080p: {starved}");
        } else {
            // The outputs are written all the same; the task says why they carry no score.
            for task in &tasks {
                assert!(task.outputs[0].quality.is_empty());
                let said =
                    task.warnings.iter().any(|w| w == "quality not measured (vmaf): this ffmpeg has no libvmaf filter");
                assert!(said, "{:?}", task.warnings);
            }
        }
        Ok(())
    })
}

#[test]
fn a_long_output_is_scored_in_windows_spread_over_it_each_on_the_sources_same_frames() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a transcode of a 130 s clip at 30 fps to 25 fps, scored by SSIM
        let flow = h.flow("windows").task(json!({"type": "transcode", "definition": "long", "parallel": "off",
            "video": {"fps": 25, "crf": 18}, "quality": "ssim"}));
        h.workflow(flow).await?;
        let clip = h.lavfi_clip(
            "long-detailed.mp4",
            &["testsrc2=size=320x180:rate=30:duration=130"],
            &["-vf", "noise=alls=60:allf=t,gblur=sigma=2", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "8"],
        )?;
        let object = h.upload(&clip, "in/long.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        // THEN 12 windows of 10 s are scored (one frame in five of 25 fps: 50 each), not all of
        // it, and every window compares the same frames (a frame off, the noise would not match)
        let score = score_of(&tasks[0]);
        assert_eq!(score.frames, 12 * 50, "{score:?}");
        assert!(score.mean > 0.95 && score.min > 0.9, "{score}");
        Ok(())
    })
}
