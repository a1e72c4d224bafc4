//! Which uploads start jobs: trigger dirs, enabled state and time, several workflows, our own
//! outputs (no loops), and keys as S3 encodes them.

use chrono::{SecondsFormat, Utc};
use mediaflow::app::admin::BucketCheck;
use mediaflow::app::pipeline::dispatch::Outcome;
use mediaflow::domain::object::ObjectRef;
use mediaflow_local::{DISPATCHER, WORKER};
use serde_json::json;

use crate::support::{Flow, Harness, fixture};

/// A snapshot and a small transcode of every upload under `dir`.
fn snapshot_and_transcode(flow: Flow, dir: &str) -> Flow {
    flow.trigger(dir)
        .task(json!({"type": "snapshot", "times": [0.5]}))
        .task(json!({"type": "transcode", "video": {"height": 144}}))
}

#[tokio::test(flavor = "multi_thread")]
async fn default_output_dir_equal_to_trigger_dir_does_not_retrigger() -> anyhow::Result<()> {
    // GIVEN a workflow whose outputs land in its own trigger dir (the default)
    let h = Harness::start().await?;
    h.workflow(snapshot_and_transcode(h.flow("loop"), "in/").default_output()).await?;
    // WHEN a video is uploaded and everything settles
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
    let (_, tasks) = h.job_of(&object).await?;
    h.stack.idle(std::time::Duration::from_secs(60)).await?;
    // THEN the outputs were seen by the dispatcher and skipped as ours: one job, two workers
    let outputs: Vec<String> = tasks.iter().flat_map(|t| t.outputs.iter().map(|o| o.key.clone())).collect();
    assert_eq!(outputs, ["in/clip_snapshotByTimeOffset_1_0.jpg", "in/clip_transcode_2.mp4"]);
    let reports = h.stack.reports();
    for key in &outputs {
        let report = reports.iter().find(|r| &r.object.key == key).expect("output was dispatched");
        assert!(
            matches!(&report.outcomes[..], [Outcome::Skipped { reason, .. }] if reason.starts_with("output of mediaflow job")),
            "{report:?}"
        );
    }
    assert_eq!(reports.iter().flat_map(|r| r.jobs()).count(), 1);
    assert_eq!(h.stack.invocations(WORKER), 3, "the preparation and two tasks");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_while_disabled_and_event_from_before_enabling_are_not_processed() -> anyhow::Result<()> {
    // GIVEN a workflow that is applied but not enabled
    let h = Harness::start().await?;
    let later = h.apply(snapshot_and_transcode(h.flow("later"), "in/")).await?;
    // WHEN a video is uploaded, THEN it is skipped as disabled
    let uploaded_at = Utc::now();
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/early.mp4").await?;
    assert_eq!(h.skip_reasons(&object).await?, ["disabled"]);
    // WHEN the workflow is enabled and S3 delivers that upload's event again (late)
    let enabled = h.stack.admin().enable(&later.name, BucketCheck::Required).await?;
    let late = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "eventTime": uploaded_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "s3": {"bucket": {"name": h.bucket}, "object": {"key": "in/early.mp4", "size": 404567}}}]});
    let response = h.stack.invoke(DISPATCHER, late).await?;
    // THEN it is skipped as older than enabling, and nothing ran
    let reason = &response["reports"][0]["outcomes"][0]["reason"];
    let expected = format!("uploaded before enabled (enabled at {})", enabled.enabled_at.unwrap().to_rfc3339());
    assert_eq!(reason, &json!(expected));
    assert_eq!(h.stack.invocations(WORKER), 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_outside_trigger_dir_is_not_processed() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    h.workflow(snapshot_and_transcode(h.flow("only-in"), "in/")).await?;
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "elsewhere/clip.mp4").await?;
    assert_eq!(h.skip_reasons(&object).await?, ["no workflow for this dir"]);
    let nested_lookalike = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in-old/clip.mp4").await?;
    assert_eq!(h.skip_reasons(&nested_lookalike).await?, ["no workflow for this dir"]);
    assert_eq!(h.stack.invocations(WORKER), 0);
    Ok(())
}

#[test]
fn every_matching_workflow_runs_its_own_job() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN two workflows over the same uploads, writing elsewhere (a whole-bucket trigger
        // would otherwise take the other's outputs for uploads: the catalog refuses that)
        let whole = h.workflow(snapshot_and_transcode(h.flow("whole-bucket"), "").output_in(&h.output_bucket, "all/"));
        let whole = whole.await?;
        let only = h.workflow(snapshot_and_transcode(h.flow("in-only"), "in/").output_in(&h.output_bucket, "in-out/"));
        let only = only.await?;
        // WHEN one upload matches both, THEN both run
        let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
        let jobs = h.jobs_of(&object).await?;
        let mut seen: Vec<(String, String)> = jobs
            .iter()
            .map(|(job, tasks)| {
                (job.workflow.clone(), format!("{}/{}", tasks[0].outputs[0].bucket, tasks[0].outputs[0].key))
            })
            .collect();
        seen.sort();
        let out = &h.output_bucket;
        assert_eq!(
            seen,
            [
                (only.name, format!("{out}/in-out/clip_snapshotByTimeOffset_1_0.jpg")),
                (whole.name, format!("{out}/all/in/clip_snapshotByTimeOffset_1_0.jpg")),
            ]
        );
        Ok(())
    })
}

#[test]
fn keys_with_spaces_plus_percent_and_unicode_are_decoded_exactly() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(snapshot_and_transcode(h.flow("keys"), "in/")).await?;
        let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/vidéo/My Video (1)+final%.mp4").await?;
        let (job, tasks) = h.succeeded(&object).await?;
        assert_eq!(job.input, ObjectRef::new(&h.bucket, "in/vidéo/My Video (1)+final%.mp4"));
        assert_eq!(tasks[0].outputs[0].key, "out/vidéo/My Video (1)+final%_snapshotByTimeOffset_1_0.jpg");
        h.download(&tasks[0].outputs[0]).await?;
        Ok(())
    })
}
