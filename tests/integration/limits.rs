//! Limits that hold: on what is decoded when a header says nothing, on animations without an
//! end, and on how much of a file that is not media is read before it is refused.

use mediaflow::domain::error::ErrorCode;
use mediaflow_local::WORKER;
use serde_json::json;

use crate::support::{Harness, dimensions, duration, probe};

#[test]
fn a_file_whose_header_has_no_duration_is_held_to_the_limit_while_decoding() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a Matroska file written to a pipe (no duration in its header), 30 s long
        let output = std::process::Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=160x120:rate=10:duration=30",
            ])
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "matroska", "pipe:1"])
            .output()?;
        assert!(output.status.success());
        let file = h.dir.path().join("piped.mkv");
        std::fs::write(&file, &output.stdout)?;
        assert!(probe(&file)?["format"]["duration"].is_null(), "the header says nothing about the duration");
        // AND a workflow accepting 10 s at most
        let short = h.flow("short").with("limits", json!({"max_duration_s": 10})).task(json!({"type": "transcode"}));
        h.workflow(short).await?;
        // WHEN it is uploaded
        let object = h.upload(&file, "in/piped.mkv").await?;
        let (_, tasks) = h.job_of(&object).await?;
        // THEN the transcode stops just past the limit and fails, writing nothing
        let error = tasks[0].error.clone().expect("too long");
        assert_eq!(error.code, ErrorCode::DurationTooLong, "{error:?}");
        assert_eq!(error.message, "the file lasts longer than this workflow accepts: more than 10s decoded");
        assert!(h.keys(&h.bucket, "out/").await?.is_empty());
        Ok(())
    })
}

#[test]
fn an_animation_without_end_covers_ten_seconds_at_a_preview_size() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(h.flow("gif").task(json!({"type": "animated"}))).await?;
        let long = h.lavfi_clip(
            "long.mp4",
            &["testsrc2=size=1920x1080:rate=10:duration=40"],
            &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
        )?;
        let object = h.upload(&long, "in/long.mp4").await?;
        let (_, tasks) = h.succeeded(&object).await?;
        let gif = probe(&h.download(&tasks[0].outputs[0]).await?)?;
        assert_eq!(dimensions(&gif), (480, 270));
        assert!((duration(&gif) - 10.0).abs() < 0.2, "duration {}", duration(&gif));
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_upload_that_is_not_media_is_probed_once_and_refused_after_a_few_megabytes() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let three = h
        .flow("three")
        .task(json!({"type": "transcode"}))
        .task(json!({"type": "snapshot", "times": [1]}))
        .task(json!({"type": "animated"}));
    h.workflow(three).await?;
    // 256 MiB of zeros, named like a video
    let object = h.upload_bytes(&vec![0u8; 256 * 1024 * 1024], "in/zeros.mp4").await?;
    let (job, tasks) = h.job_of(&object).await?;
    assert!(job.source.is_none());
    for task in &tasks {
        let error = task.error.clone().expect("refused");
        assert_eq!((error.code, task.hold.attempts), (ErrorCode::SourceUnsupportedFormat, 0), "{error:?}");
        let read: f64 = error
            .message
            .split("looked at ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|mib| mib.parse().ok())
            .unwrap_or(f64::NAN);
        assert!(read <= 16.0, "{}", error.message);
        assert!(error.message.ends_with("of its 256.0 MiB)"), "{}", error.message);
    }
    assert_eq!(h.stack.invocations(WORKER), 1, "one preparation; no task downloaded anything");
    Ok(())
}
