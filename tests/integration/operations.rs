//! `mediaflow match`, `mediaflow process` (backfill) and `mediaflow dlq` on the local stack.

use std::time::Duration;

use mediaflow::adapters::aws::sqs::SqsDeadLetters;
use mediaflow::domain::job::{JobId, JobStatus};
use mediaflow::ports::DeadLetters;
use serde_json::{Value, json};

use crate::support::{Harness, JOB_TIMEOUT, fixture, mediaflow, s3_event};

async fn json_of(h: &Harness, args: &[&str]) -> anyhow::Result<Value> {
    let mut all = vec!["-o", "json"];
    all.extend(args);
    Ok(serde_json::from_str(&mediaflow(h, &all).await?)?)
}

/// Waits for the jobs a `process` run started.
async fn wait_started(h: &Harness, done: &Value) -> anyhow::Result<usize> {
    let started: Vec<JobId> = done
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["outcome"] == "started")
        .filter_map(|item| item["job_id"].as_str().map(|id| JobId::from(id.to_owned())))
        .collect();
    for id in &started {
        let (job, _) = h.stack.finished(id, JOB_TIMEOUT).await?;
        assert_eq!(job.status, JobStatus::Finish);
    }
    Ok(started.len())
}

#[tokio::test(flavor = "multi_thread")]
async fn match_explains_and_process_backfills_existing_uploads_once() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let clip = fixture("camera_1080p_h264_aac.mp4");
    // Uploads made before the workflow existed: their events found nothing to do.
    h.upload(&clip, "old/one.mp4").await?;
    h.upload(&clip, "old/a/two.mp4").await?;
    h.stack.idle(Duration::from_secs(30)).await?;
    let backfill =
        h.flow("backfill").trigger("old/").output("old-out/").task(json!({"type": "snapshot", "times": [0]}));
    let backfill = h.workflow(backfill).await?.name;
    let bucket = &h.bucket;
    let url = |path: &str| format!("s3://{bucket}/{path}");

    let existing = json_of(&h, &["match", &url("old/one.mp4")]).await?;
    assert_eq!(existing[0]["fires"], false);
    assert!(existing[0]["reason"].as_str().is_some_and(|r| r.starts_with("uploaded before enabled")), "{existing}");
    let future = json_of(&h, &["match", &url("old/b/new.mp4")]).await?;
    assert_eq!((future[0]["workflow"].as_str(), future[0]["fires"].as_bool()), (Some(backfill.as_str()), Some(true)));
    assert_eq!(future[0]["outputs"], json!([{"bucket": bucket, "key": "old-out/b/new_snapshotByTimeOffset_1_0.jpg"}]));
    let elsewhere = url("elsewhere/x.mp4");
    let table = mediaflow(&h, &["match", &elsewhere]).await?;
    assert!(table.starts_with(&format!("{elsewhere}: 0 of 1 workflows of bucket {bucket}")), "{table}");
    assert!(table.contains("outside trigger dir"), "{table}");

    // Backfill: both existing uploads, once.
    let first = json_of(&h, &["process", "--workflow", &backfill, &url("old/")]).await?;
    assert_eq!(wait_started(&h, &first).await?, 2, "{first}");
    assert_eq!(
        h.keys(bucket, "old-out/").await?,
        ["old-out/a/two_snapshotByTimeOffset_1_0.jpg", "old-out/one_snapshotByTimeOffset_1_0.jpg"]
    );
    // A new upload is processed by its event; a second backfill starts nothing.
    let three = h.upload(&clip, "old/three.mp4").await?;
    h.job_of(&three).await?;
    let again = mediaflow(&h, &["process", "--workflow", &backfill, &url("old/")]).await?;
    assert!(again.starts_with("3 objects: 0 jobs started, 3 processed already, 0 skipped\n"), "{again}");
    let jobs = json_of(&h, &["job", "list", "--workflow", &backfill]).await?;
    assert_eq!(jobs["jobs"].as_array().map(Vec::len), Some(3), "one job per upload");

    let outside = mediaflow(&h, &["process", "--workflow", &backfill, &url("other/")]).await.unwrap_err();
    assert_eq!(
        outside.to_string(),
        format!("{} is outside the trigger {} of workflow \"{backfill}\"", url("other/"), url("old/"))
    );
    let missing = mediaflow(&h, &["process", "--workflow", "nope", &url("old/")]).await.unwrap_err();
    assert_eq!(missing.to_string(), "no workflow named \"nope\"");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_lettered_events_are_listed_with_their_reason_and_redriven_to_the_dispatcher() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let quiet = h.flow("quiet").trigger_in(&h.quiet_bucket, "in/").task(json!({"type": "snapshot", "times": [0]}));
    h.workflow(quiet).await?;
    let object = h.upload_to(&h.quiet_bucket, &fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
    // An event that failed its deliveries (during an outage, say) sits in the events DLQ.
    let event = s3_event(&object, chrono::Utc::now(), "0A1B").to_string();
    SqsDeadLetters::new(h.stack.sqs.clone(), &h.stack.events_dlq.url).keep(&event, "DynamoDB was unavailable").await?;

    let listed = json_of(&h, &["dlq", "list", "events"]).await?;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["reason"], "DynamoDB was unavailable");
    assert!(listed[0]["body"].as_str().is_some_and(|b| b.contains("in/clip.mp4")));
    let table = mediaflow(&h, &["dlq", "list", "events"]).await?;
    assert!(
        table.starts_with("1 messages\n") && table.contains("DynamoDB was unavailable"),
        "listing keeps it: {table}"
    );
    assert!(mediaflow(&h, &["dlq", "list", "worker"]).await?.starts_with("0 messages"));

    let redriven = mediaflow(&h, &["dlq", "redrive", "events"]).await?;
    assert_eq!(redriven, "1 messages sent back, 0 kept\n");
    let (job, tasks) = h.job_of(&object).await?;
    assert_eq!((job.status, tasks[0].outputs.len()), (JobStatus::Finish, 1));
    assert_eq!(h.stack.queue_depth(&h.stack.events_dlq).await?, 0);
    Ok(())
}
