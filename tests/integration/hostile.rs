//! Hostile and broken uploads: keys that look like options, protocols or shell; files that are
//! empty, cut, not media, or disguised playlists; uploads beyond a workflow's limits; tasks
//! that would outlive their invocation.

use std::time::Duration;

use mediaflow::domain::error::ErrorCode;
use mediaflow::domain::job::{JobStatus, TaskStatus};
use mediaflow::domain::object::ObjectRef;
use mediaflow_local::WORKER;
use serde_json::json;

use crate::support::{Flow, Harness, fixture};

fn snapshot_workflow(flow: Flow, dir: &str) -> Flow {
    flow.trigger(dir).output(&format!("out-{dir}")).task(json!({"type": "snapshot", "times": [0.5]}))
}

#[test]
fn hostile_keys_are_decoded_exactly_and_processed_as_plain_files() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(snapshot_workflow(h.flow("keys"), "in/")).await?;
        let names = [
            "My Video (1)+final%.mp4",
            "vidéo/été 2024.mov",
            "-y.mp4",
            "concat:a|b.mp4",
            "http:evil.mp4",
            "$(reboot).mp4",
            "a'b;c.mp4",
        ];
        let mut objects = Vec::new();
        for name in names {
            objects.push(h.upload(&fixture("camera_1080p_h264_aac.mp4"), &format!("in/{name}")).await?);
        }
        for (name, object) in names.iter().zip(&objects) {
            let (job, tasks) = h.succeeded(object).await?;
            assert_eq!(job.input, ObjectRef::new(&h.bucket, format!("in/{name}")));
            let stem = name.rsplit_once('.').map_or(*name, |(stem, _)| stem);
            assert_eq!(tasks[0].outputs[0].key, format!("out-in/{stem}_snapshotByTimeOffset_1_0.jpg"));
            h.download(&tasks[0].outputs[0]).await?;
        }
        Ok(())
    })
}

/// An AVI whose only stream is a GAB2 subtitle carrying an HLS playlist: the classic trick to
/// make ffmpeg read a local file through a nested demuxer.
fn avi_with_hls_subtitle(playlist: &str) -> Vec<u8> {
    fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = id.to_vec();
        out.extend((body.len() as u32).to_le_bytes());
        out.extend(body);
        if body.len() % 2 == 1 {
            out.push(0);
        }
        out
    }
    fn list(kind: &[u8; 4], parts: &[Vec<u8>]) -> Vec<u8> {
        let mut body = kind.to_vec();
        parts.iter().for_each(|p| body.extend(p));
        chunk(b"LIST", &body)
    }
    let words = |values: &[u32]| values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
    // avih: µs per frame, max bytes/s, padding, flags, frames, initial, streams, buffer, w, h, reserved×4
    let avih = chunk(b"avih", &words(&[40_000, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0]));
    let mut strh = b"txts".to_vec();
    strh.extend(words(&[0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0]));
    strh.extend([0u8; 8]);
    let strl = list(b"strl", &[chunk(b"strh", &strh), chunk(b"strf", &[])]);
    let mut gab2 = b"GAB2\0".to_vec();
    gab2.extend(2u16.to_le_bytes());
    let name: Vec<u8> = "x.m3u8\0".encode_utf16().flat_map(u16::to_le_bytes).collect();
    gab2.extend((name.len() as u32).to_le_bytes());
    gab2.extend(name);
    gab2.extend(4u16.to_le_bytes());
    gab2.extend((playlist.len() as u32).to_le_bytes());
    gab2.extend(playlist.as_bytes());
    let movi = list(b"movi", &[chunk(b"00tx", &gab2)]);
    let mut riff = b"AVI ".to_vec();
    riff.extend(list(b"hdrl", &[avih, strl]));
    riff.extend(movi);
    chunk(b"RIFF", &riff)
}

#[test]
fn broken_and_disguised_files_fail_with_source_errors_and_disclose_nothing() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let bad = h
            .flow("bad")
            .task(json!({"type": "snapshot", "times": [0.5]}))
            .task(json!({"type": "transcode", "video": {"height": 144}}));
        h.workflow(bad).await?;
        let bikes = std::fs::read(fixture("bikes_640x272_noaudio_moov_at_end.mp4"))?;
        let hls = |target: &str| format!("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\n{target}\n#EXT-X-ENDLIST\n");
        let cases: Vec<(&str, Vec<u8>, ErrorCode)> = vec![
            ("empty.mp4", Vec::new(), ErrorCode::SourceEmpty),
            ("no-moov.mp4", bikes[..bikes.len() / 2].to_vec(), ErrorCode::SourceCorrupt),
            ("notes.mp4", b"meeting notes, not a video\n".to_vec(), ErrorCode::SourceUnsupportedFormat),
            ("logo.mp4", std::fs::read(fixture("logo_rgba_136x123.png"))?, ErrorCode::SourceUnsupportedFormat),
            ("passwd.mp4", hls("file:///etc/passwd").into_bytes(), ErrorCode::SourceUnsupportedFormat),
            ("environ.mp4", hls("/proc/self/environ").into_bytes(), ErrorCode::SourceUnsupportedFormat),
            ("list.mp4", b"ffconcat version 1.0\nfile /etc/passwd\n".to_vec(), ErrorCode::SourceUnsupportedFormat),
            ("trick.avi", avi_with_hls_subtitle(&hls("file:///etc/passwd")).to_vec(), ErrorCode::SourceNoMedia),
        ];
        let mut uploads = Vec::new();
        for (name, bytes, code) in &cases {
            uploads.push((h.upload_bytes(bytes, &format!("in/{name}")).await?, *code));
        }
        for (object, code) in uploads {
            let (job, tasks) = h.job_of(&object).await?;
            assert_eq!(job.status, JobStatus::Finish);
            for task in tasks {
                let error = task.error.as_ref().map(|e| (e.code, e.message.clone()));
                assert_eq!(
                    (task.status, error.as_ref().map(|e| e.0)),
                    (TaskStatus::Fail, Some(code)),
                    "{}: {error:?}",
                    object.key
                );
                assert_eq!(task.hold.attempts, 0, "{}: refused when prepared, no task ran", object.key);
            }
        }
        assert!(h.keys(&h.bucket, "out/").await?.is_empty(), "no output was written");
        Ok(())
    })
}

#[test]
fn uploads_beyond_a_workflows_limits_fail_fast_with_invalid_input() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let limited = |name: &str, limits: serde_json::Value| {
            h.flow(name)
                .trigger(&format!("{name}/"))
                .with("limits", limits)
                .task(json!({"type": "snapshot", "definition": name, "times": [0.5]}))
        };
        h.workflow(limited("size", json!({"max_size_mb": 1}))).await?;
        h.workflow(limited("duration", json!({"max_duration_s": 0.5}))).await?;
        h.workflow(limited("pixels", json!({"max_pixels": 640 * 360}))).await?;
        h.workflow(limited("streams", json!({"max_streams": 1}))).await?;
        let camera = fixture("camera_1080p_h264_aac.mp4");
        let cases = [
            (h.upload_bytes(&vec![7u8; 2 * 1024 * 1024], "size/big.mp4").await?, ErrorCode::FileTooLarge),
            (h.upload(&camera, "duration/clip.mp4").await?, ErrorCode::DurationTooLong),
            (h.upload(&camera, "pixels/clip.mp4").await?, ErrorCode::ResolutionTooHigh),
            (h.upload(&camera, "streams/clip.mp4").await?, ErrorCode::TooManyStreams),
        ];
        for (object, code) in cases {
            let (job, tasks) = h.job_of(&object).await?;
            let error = tasks[0].error.clone().expect("failed");
            assert_eq!(error.code, code, "{}: {}", object.key, error.message);
            if code == ErrorCode::FileTooLarge {
                assert!(job.source.is_none(), "refused before download and probe");
            }
        }
        assert!(h.keys(&h.bucket, "out/").await?.is_empty());
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_outliving_its_invocation_stops_cleanly_is_retried_then_recorded_and_dead_lettered() -> anyhow::Result<()>
{
    // GIVEN workers with 4 s to live (rendering stops 1 s before) and a long H.265 encode
    let h = Harness::start_with(|options| {
        options.worker_timeout = Duration::from_secs(4);
        options.deadline_margin = chrono::TimeDelta::seconds(1);
    })
    .await?;
    h.workflow(h.flow("slow").task(json!({"type": "transcode", "video": {"codec": "h265", "crf": 20}}))).await?;
    let clip = h.lavfi_clip(
        "long.mp4",
        &["testsrc2=size=1280x720:rate=30:duration=30"],
        &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    )?;
    // WHEN it is uploaded
    let object = h.upload(&clip, "in/long.mp4").await?;
    let (_, tasks) = h.job_of(&object).await?;
    h.stack.idle(Duration::from_secs(60)).await?;
    // THEN every attempt was stopped in time, the last one recorded
    let error = tasks[0].error.clone().unwrap_or_else(|| panic!("the task should have failed: {:?}", tasks[0]));
    assert_eq!(
        (tasks[0].status, tasks[0].hold.attempts, error.code),
        (TaskStatus::Fail, 3, ErrorCode::Timeout),
        "{error:?}"
    );
    assert!(error.message.ends_with("(attempt 3 of 3: retries exhausted)"), "{}", error.message);
    // The dead letter was read back by the worker, which found the task recorded already.
    assert_eq!(h.stack.invocations(WORKER), 5, "the preparation, three attempts, the dead letter");
    assert_eq!(h.stack.queue_depth(&h.stack.worker_dlq).await?, 0);
    let (_, tasks) = h.job_of(&object).await?;
    assert_eq!(tasks[0].error.as_ref().map(|e| e.code), Some(ErrorCode::Timeout), "kept as recorded");
    assert!(h.keys(&h.bucket, "out/").await?.is_empty(), "nothing half-written at the final key");
    Ok(())
}
