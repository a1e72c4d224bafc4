//! Retryable failures are retried; terminal ones are not.

use mediaflow::domain::error::ErrorCode;
use mediaflow::domain::job::TaskStatus;
use mediaflow_local::WORKER;
use serde_json::json;

use crate::support::{Harness, fixture};

#[tokio::test(flavor = "multi_thread")]
async fn a_crashed_invocation_is_retried_and_the_task_runs_once() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    h.workflow(h.flow("t").task(json!({"type": "snapshot", "times": [0.5]}))).await?;
    h.stack.lambda()?.fail_runs(WORKER, 1);
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
    let (_, tasks) = h.job_of(&object).await?;
    assert_eq!((tasks[0].status, tasks[0].hold.attempts), (TaskStatus::Success, 1));
    assert_eq!(h.stack.invocations(WORKER), 3, "the crashed preparation, its retry, the task");
    assert_eq!(h.stack.queue_depth(&h.stack.worker_dlq).await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terminal_error_is_recorded_without_retry() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let missing = json!({"type": "watermark", "watermarks": [{"image": {"key": "assets/missing.png"}}]});
    h.workflow(h.flow("t").task(missing)).await?;
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
    let (_, tasks) = h.job_of(&object).await?;
    h.stack.idle(std::time::Duration::from_secs(30)).await?;
    assert_eq!(tasks[0].error.as_ref().map(|e| e.code), Some(ErrorCode::InvalidWatermarkImage));
    assert_eq!((tasks[0].hold.attempts, h.stack.invocations(WORKER)), (1, 2), "the preparation and one attempt");
    assert_eq!(h.stack.queue_depth(&h.stack.worker_dlq).await?, 0);
    Ok(())
}
