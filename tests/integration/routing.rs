//! Which uploads start jobs: trigger dirs, enabled state and time, several workflows, our own
//! outputs (no loops), and keys as S3 encodes them.

use chrono::{SecondsFormat, Utc};
use mediaflow::app::pipeline::dispatch::Outcome;
use mediaflow::domain::job::TaskStatus;
use mediaflow::domain::object::ObjectRef;
use mediaflow_local::{DISPATCHER, WORKER};
use serde_json::json;

use crate::support::{BUCKET, Harness, OUTPUT_BUCKET, fixture};

fn snapshot_workflow(name: &str, dir: &str, output: Option<&str>) -> serde_json::Value {
    let mut spec = json!({"name": name, "trigger": {"bucket": BUCKET, "dir": dir},
        "tasks": [{"type": "snapshot", "times": [0.5]}, {"type": "transcode", "video": {"height": 144}}]});
    if let Some(dir) = output {
        spec["output"] = json!({"dir": dir});
    }
    spec
}

#[tokio::test(flavor = "multi_thread")]
async fn default_output_dir_equal_to_trigger_dir_does_not_retrigger() -> anyhow::Result<()> {
    // GIVEN a workflow whose outputs land in its own trigger dir (the default)
    let h = Harness::start().await?;
    h.workflow(snapshot_workflow("loop", "in/", None)).await?;
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
    let spec = serde_json::from_value(snapshot_workflow("later", "in/", Some("out/")))?;
    h.stack.admin().catalog()?.apply(spec).await?;
    // WHEN a video is uploaded, THEN it is skipped as disabled
    let uploaded_at = Utc::now();
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/early.mp4").await?;
    assert_eq!(h.skip_reasons(&object).await?, ["disabled"]);
    // WHEN the workflow is enabled and S3 delivers that upload's event again (late)
    let enabled = h.stack.admin().catalog()?.enable("later").await?;
    let late = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "eventTime": uploaded_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": "in/early.mp4", "size": 404567}}}]});
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
    h.workflow(snapshot_workflow("only-in", "in/", Some("out/"))).await?;
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "elsewhere/clip.mp4").await?;
    assert_eq!(h.skip_reasons(&object).await?, ["no workflow for this dir"]);
    let nested_lookalike = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in-old/clip.mp4").await?;
    assert_eq!(h.skip_reasons(&nested_lookalike).await?, ["no workflow for this dir"]);
    assert_eq!(h.stack.invocations(WORKER), 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_matching_workflow_runs_its_own_job() -> anyhow::Result<()> {
    // GIVEN two workflows over the same uploads, writing elsewhere (a whole-bucket trigger
    // would otherwise take the other's outputs for uploads: the catalog refuses that)
    let h = Harness::start().await?;
    let elsewhere = |name: &str, dir: &str, output: &str| {
        let mut spec = snapshot_workflow(name, dir, Some(output));
        spec["output"]["bucket"] = json!(OUTPUT_BUCKET);
        spec
    };
    h.workflow(elsewhere("whole-bucket", "", "all/")).await?;
    h.workflow(elsewhere("in-only", "in/", "in-out/")).await?;
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
    assert_eq!(
        seen,
        [
            ("in-only".to_owned(), "media-out/in-out/clip_snapshotByTimeOffset_1_0.jpg".to_owned()),
            ("whole-bucket".to_owned(), "media-out/all/in/clip_snapshotByTimeOffset_1_0.jpg".to_owned()),
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_with_spaces_plus_percent_and_unicode_are_decoded_exactly() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    h.workflow(snapshot_workflow("keys", "in/", Some("out/"))).await?;
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/vidéo/My Video (1)+final%.mp4").await?;
    let (job, tasks) = h.job_of(&object).await?;
    assert_eq!(job.input, ObjectRef::new(BUCKET, "in/vidéo/My Video (1)+final%.mp4"));
    assert_eq!(tasks[0].status, TaskStatus::Success, "{:?}", tasks[0].error);
    assert_eq!(tasks[0].outputs[0].key, "out/vidéo/My Video (1)+final%_snapshotByTimeOffset_1_0.jpg");
    h.download(&tasks[0].outputs[0]).await?;
    Ok(())
}
