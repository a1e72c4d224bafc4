//! No loops: workflows that could feed each other are refused, and even a pair that slipped
//! past (written to the table directly) cannot ping-pong, because outputs carry the marker.

use std::time::Duration;

use chrono::Utc;
use mediaflow::adapters::aws::dynamodb::DynamoWorkflowStore;
use mediaflow::domain::job::TaskStatus;
use mediaflow::domain::workflow::{Workflow, WorkflowSpec};
use mediaflow::ports::WorkflowStore;
use mediaflow_local::{DISPATCHER, WORKER, WORKFLOWS_TABLE};
use serde_json::json;

use crate::support::{Flow, Harness, fixture};

fn pair(h: &Harness, name: &str, trigger: &str, output: &str) -> Flow {
    h.flow(name)
        .trigger(trigger)
        .output(output)
        .task(json!({"type": "transcode", "video": {"height": 144}}))
        .task(json!({"type": "snapshot", "times": [0.5]}))
}

#[test]
fn workflows_that_would_feed_each_other_are_refused() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let a = h.workflow(pair(&h, "a", "a/", "b/")).await?.name;
        let error = h.workflow(pair(&h, "b", "b/", "a/")).await.unwrap_err();
        let (b, bucket) = (h.name("b"), &h.bucket);
        assert_eq!(
            error.to_string(),
            format!(
                "workflow \"{b}\" conflicts with enabled workflows: its output s3://{bucket}/a/ overlaps the trigger \
                 s3://{bucket}/a/ of enabled workflow \"{a}\", which would take its outputs for uploads"
            )
        );
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_misconfigured_pair_cannot_ping_pong() -> anyhow::Result<()> {
    // GIVEN a and b, each writing into the other's trigger, stored past the catalog's check
    let h = Harness::start().await?;
    let store = DynamoWorkflowStore::new(h.stack.clients.dynamodb.clone(), WORKFLOWS_TABLE);
    for spec in [pair(&h, "a", "a/", "b/"), pair(&h, "b", "b/", "a/")] {
        let spec: WorkflowSpec = serde_json::from_value(spec.into_value())?;
        let version = store.snapshot().await?.version;
        store.save(&Workflow::create(spec, Utc::now())?.enable(Utc::now()), None, version).await?;
    }
    // WHEN a video is uploaded into a's trigger and everything settles
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "a/clip.mp4").await?;
    let (job, tasks) = h.job_of(&object).await?;
    h.stack.idle(Duration::from_secs(60)).await?;
    // THEN a ran once; b saw a's outputs and skipped them; nothing more ran
    assert_eq!(job.workflow, h.name("a"));
    assert!(tasks.iter().all(|t| t.status == TaskStatus::Success));
    let reports = h.stack.reports();
    assert_eq!(reports.iter().flat_map(|r| r.jobs()).count(), 1);
    assert_eq!(h.stack.invocations(WORKER), 3, "a's preparation and its two tasks");
    assert!(h.stack.invocations(DISPATCHER) <= 6, "bounded: {}", h.stack.invocations(DISPATCHER));
    for output in tasks.iter().flat_map(|t| &t.outputs) {
        let report = reports.iter().find(|r| r.object.key == output.key).expect("the output's event arrived");
        assert!(format!("{:?}", report.outcomes).contains("output of mediaflow job"), "{report:?}");
    }
    Ok(())
}
