//! Bad uploads fail their tasks with a clear code and lose nothing else.

use mediaflow::domain::error::ErrorCode;
use mediaflow::domain::job::{JobStatus, TaskStatus};
use serde_json::json;

use crate::support::{Flow, Harness, fixture};

fn workflow(h: &Harness) -> Flow {
    h.flow("t")
        .task(json!({"type": "snapshot", "times": [1]}))
        .task(json!({"type": "transcode", "video": {"height": 144}}))
}

#[test]
fn truncated_upload_fails_with_source_error_and_next_upload_succeeds() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a workflow and an MP4 cut before its moov atom
        h.workflow(workflow(&h)).await?;
        let whole = std::fs::read(fixture("bikes_640x272_noaudio_moov_at_end.mp4"))?;
        // WHEN the cut file is uploaded
        let broken = h.upload_bytes(&whole[..whole.len() * 6 / 10], "in/broken.mp4").await?;
        let (job, tasks) = h.job_of(&broken).await?;
        // THEN every task fails with a source error naming the damage, and the job is finished
        assert_eq!(job.status, JobStatus::Finish);
        for task in &tasks {
            assert_eq!(task.status, TaskStatus::Fail);
            let error = task.error.as_ref().expect("failed tasks carry an error");
            assert_eq!(error.code, ErrorCode::SourceCorrupt, "{error:?}");
            assert!(error.message.contains("index (moov atom) is missing"), "{}", error.message);
            assert!(task.outputs.is_empty());
            assert_eq!(task.hold.attempts, 0, "refused when the job was prepared: no task ran");
        }
        // AND the next upload is processed
        let good = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/good.mp4").await?;
        h.succeeded(&good).await?;
        Ok(())
    })
}

#[test]
fn upload_cut_inside_the_media_data_fails_instead_of_writing_a_short_output() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(h.flow("t").task(json!({"type": "transcode", "video": {"height": 144}}))).await?;
        // moov first (faststart), then the media data cut at 60%
        let faststart = h.lavfi_clip(
            "fs.mp4",
            &["testsrc2=size=320x240:rate=25:duration=8"],
            &["-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart"],
        )?;
        let bytes = std::fs::read(faststart)?;
        let object = h.upload_bytes(&bytes[..bytes.len() * 6 / 10], "in/cut.mp4").await?;
        let (_, tasks) = h.job_of(&object).await?;
        assert_eq!(tasks[0].status, TaskStatus::Fail);
        assert_eq!(tasks[0].error.as_ref().map(|e| e.code), Some(ErrorCode::SourceCorrupt), "{:?}", tasks[0].error);
        Ok(())
    })
}

#[test]
fn text_and_empty_uploads_fail_with_their_own_codes() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(workflow(&h)).await?;
        let text = h.upload_bytes(b"this is not a video\n", "in/notes.mp4").await?;
        let empty = h.upload_bytes(b"", "in/empty.mp4").await?;
        let (_, text_tasks) = h.job_of(&text).await?;
        let (_, empty_tasks) = h.job_of(&empty).await?;
        for task in &text_tasks {
            assert_eq!(
                task.error.as_ref().map(|e| e.code),
                Some(ErrorCode::SourceUnsupportedFormat),
                "{:?}",
                task.error
            );
        }
        for task in &empty_tasks {
            assert_eq!(task.error.as_ref().map(|e| e.code), Some(ErrorCode::SourceEmpty), "{:?}", task.error);
        }
        Ok(())
    })
}

/// `len` bytes that look like nothing (xorshift from `seed`): what a broken client or a wrong
/// file sends.
fn garbage(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

#[test]
fn garbage_is_named_garbage_whatever_format_it_happens_to_resemble() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(h.flow("garbage").task(json!({"type": "snapshot", "times": [1]}))).await?;
        // GIVEN uploads of random bytes, 300 B to 64 KiB, of which some resemble MPEG-TS or MP3
        // closely enough for ffprobe to guess them, with a low score
        let mut uploads = Vec::new();
        let mut guessed = 0;
        for seed in 0..24u64 {
            let bytes = garbage(seed, [300, 4096, 65_536][seed as usize % 3]);
            let file = h.dir.path().join(format!("garbage-{seed}.bin"));
            std::fs::write(&file, &bytes)?;
            let probe = std::process::Command::new("ffprobe").args(["-v", "warning"]).arg(&file).output()?;
            guessed += usize::from(String::from_utf8_lossy(&probe.stderr).contains("detected only with low score"));
            uploads.push(h.upload_bytes(&bytes, &format!("in/garbage-{seed}.mp4")).await?);
        }
        assert!(guessed >= 2, "the inputs include guessed formats: {guessed}");
        // THEN every one fails with the same code and sentence: not media, not "a damaged MP3"
        for upload in &uploads {
            let (job, tasks) = h.job_of(upload).await?;
            assert_eq!(job.status, JobStatus::Finish);
            let error = tasks[0].error.as_ref().expect("an error");
            assert_eq!(
                (error.code, error.message.as_str()),
                (
                    ErrorCode::SourceUnsupportedFormat,
                    "the file is not a video or audio file in a format mediaflow reads"
                ),
                "{upload}"
            );
        }
        Ok(())
    })
}
