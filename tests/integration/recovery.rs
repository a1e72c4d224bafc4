//! Work Lambda gave up on is recorded (the worker reads its own dead-letter queue), and
//! `mediaflow job redo` runs failed tasks again.

use std::time::Duration;

use mediaflow::domain::error::ErrorCode;
use mediaflow::domain::job::{JobResult, TaskStatus};
use mediaflow_local::WORKER;
use serde_json::json;

use crate::support::{Harness, fixture, mediaflow};

#[tokio::test(flavor = "multi_thread")]
async fn a_preparation_lost_on_every_attempt_fails_the_job_and_redo_runs_it_again() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let t = h.flow("t").task(json!({"type": "snapshot", "times": [0.5]})).task(json!({"type": "animated", "end": 1}));
    let t = h.workflow(t).await?;
    // Every attempt of the preparation crashes: Lambda gives up and dead-letters it.
    h.stack.lambda()?.fail_runs(WORKER, 3);
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
    let (job, tasks) = h.job_of(&object).await?;
    assert_eq!(job.result(), Some(JobResult::Fail));
    for task in &tasks {
        let error = task.error.clone().expect("recorded");
        assert_eq!((task.status, error.code), (TaskStatus::Fail, ErrorCode::WorkerLost));
        assert!(error.message.contains("RetriesExhausted after 3 attempts"), "{}", error.message);
    }
    h.stack.idle(Duration::from_secs(30)).await?;
    assert_eq!(h.stack.queue_depth(&h.stack.worker_dlq).await?, 0, "the dead letter was recorded and removed");

    // Redo: the job is prepared again and both tasks run.
    let shown = mediaflow(&h, &["job", "redo", job.id.as_str()]).await?;
    assert!(shown.contains(&format!("job {} (workflow {}, revision 2): ", job.id, t.name)), "{shown}");
    let (job, tasks) = h.stack.finished(&job.id, Duration::from_secs(120)).await?;
    assert_eq!((job.result(), job.redos, job.error), (Some(JobResult::Success), 1, None));
    assert!(tasks.iter().all(|t| t.status == TaskStatus::Success && t.hold.attempts == 1), "{tasks:?}");
    assert_eq!(h.keys(&h.bucket, "out/").await?.len(), 2);

    let refused = mediaflow(&h, &["job", "redo", job.id.as_str()]).await.unwrap_err();
    assert_eq!(refused.to_string(), format!("job {} has no failed task", job.id));
    let refused = mediaflow(&h, &["job", "redo", job.id.as_str(), "--task", "7"]).await.unwrap_err();
    assert_eq!(refused.to_string(), format!("job {} has no task 7", job.id));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_whose_worker_is_killed_on_every_attempt_fails_instead_of_staying_processing() -> anyhow::Result<()> {
    // Workers that do not stop before their deadline are killed by Lambda, as out of memory would.
    let h = Harness::start_with(|options| {
        options.worker_timeout = Duration::from_secs(3);
        options.deadline_margin = chrono::TimeDelta::seconds(-120);
    })
    .await?;
    let t = h
        .flow("t")
        .task(json!({"type": "transcode", "container": "webm", "video": {"codec": "vp9"}}))
        .task(json!({"type": "snapshot", "times": [0]}));
    h.workflow(t).await?;
    let clip = h.lavfi_clip(
        "long.mp4",
        &["testsrc2=size=1280x720:rate=30:duration=20"],
        &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    )?;
    let object = h.upload(&clip, "in/long.mp4").await?;
    let (job, tasks) = h.job_of(&object).await?;
    assert_eq!(job.result(), Some(JobResult::Fail));
    assert_eq!(job.error.as_ref().map(|e| e.code), Some(ErrorCode::WorkerLost));
    assert_eq!(tasks[0].error.as_ref().map(|e| e.code), Some(ErrorCode::WorkerLost), "{:?}", tasks[0]);
    assert_eq!((tasks[0].hold.attempts, tasks[1].status), (3, TaskStatus::Success));
    assert!(h.keys(&h.bucket, "out/").await?.iter().all(|key| !key.ends_with(".webm")), "nothing half-written");
    Ok(())
}
