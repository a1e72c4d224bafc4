//! Every upload leaves a trace: uploads made while a workflow was enabled are processed even
//! when their events arrive after a disable, a copy of an output is a new upload, events that
//! can never be handled are dead-lettered with the reason, and S3's permanent refusals are
//! recorded as one-line `InvalidInput.*` errors without retries.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt, stream};
use mediaflow::adapters::aws::sqs::REASON_ATTRIBUTE;
use mediaflow::domain::error::ErrorCode;
use mediaflow::domain::object::ObjectRef;
use mediaflow_local::WORKER;
use serde_json::json;

use crate::support::{Flow, Harness, fixture};

fn snapshots(h: &Harness, dir: &str) -> Flow {
    h.flow("trace").trigger(dir).task(json!({"type": "snapshot", "times": [0.2], "width": 64}))
}

#[test]
fn uploads_made_while_enabled_are_processed_when_dispatched_after_a_disable() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN an enabled workflow and a burst of 20 uploads
        h.workflow(snapshots(&h, "in/")).await?;
        let clip = h.lavfi_clip(
            "tiny.mp4",
            &["testsrc2=size=160x120:rate=10:duration=1"],
            &["-c:v", "libx264", "-pix_fmt", "yuv420p"],
        )?;
        let keys: Vec<String> = (0..20).map(|i| format!("in/{i:02}.mp4")).collect();
        let objects: Vec<ObjectRef> =
            stream::iter(&keys).map(|key| h.upload(&clip, key)).buffered(8).try_collect().await?;
        // WHEN the workflow is disabled right after the last upload, before most events arrive
        h.stack.admin().catalog()?.disable(&h.name("trace")).await?;
        // THEN every upload made while it was enabled is processed
        for object in &objects {
            h.succeeded(object).await?;
        }
        // AND an upload made after the disable is not
        let late = h.upload(&clip, "in/late.mp4").await?;
        assert_eq!(h.skip_reasons(&late).await?, ["disabled"]);
        Ok(())
    })
}

#[test]
fn a_server_side_copy_of_an_output_into_the_trigger_dir_is_a_new_upload() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let copies = h
            .flow("copies")
            .output("in/")
            .task(json!({"type": "transcode", "definition": "small", "video": {"height": 144}}));
        h.workflow(copies).await?;
        let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
        let (_, tasks) = h.job_of(&object).await?;
        let output = &tasks[0].outputs[0];
        assert_eq!(output.key, "in/clip_transcode_small.mp4");
        // The output's own event is skipped as ours
        let reasons = h.skip_reasons(&ObjectRef::new(&h.bucket, &output.key)).await?;
        assert!(reasons[0].starts_with("output of mediaflow job"), "{reasons:?}");
        // WHEN a user copies it (S3 copies the metadata, marker included) under another name
        h.stack
            .clients
            .s3
            .copy_object()
            .bucket(&h.bucket)
            .key("in/copy.mp4")
            .copy_source(format!("{}/{}", h.bucket, output.key))
            .send()
            .await?;
        // THEN the copy is processed like any upload
        let (job, tasks) = h.succeeded(&ObjectRef::new(&h.bucket, "in/copy.mp4")).await?;
        assert_eq!(job.input.key, "in/copy.mp4");
        assert_eq!(tasks[0].outputs[0].key, "in/copy_transcode_small.mp4");
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn events_that_can_never_be_handled_reach_the_dead_letter_queue_with_the_reason() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    h.workflow(snapshots(&h, "in/")).await?;
    let bad_key = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "eventTime": "2026-11-24T13:46:33.635Z",
        "s3": {"bucket": {"name": h.bucket}, "object": {"key": "in/bad%FF.mp4", "size": 1}}}]});
    for body in ["not json".to_owned(), bad_key.to_string()] {
        h.stack.sqs.send_message().queue_url(&h.stack.events_queue.url).message_body(body).send().await?;
    }
    h.stack.idle(Duration::from_secs(30)).await?;
    let received = h
        .stack
        .sqs
        .receive_message()
        .queue_url(&h.stack.events_dlq.url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .send()
        .await?;
    let mut kept: Vec<(String, String)> = received
        .messages()
        .iter()
        .map(|m| {
            let reason = m.message_attributes().and_then(|a| a.get(REASON_ATTRIBUTE)).and_then(|v| v.string_value());
            (m.body().unwrap_or_default().to_owned(), reason.unwrap_or_default().to_owned())
        })
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        [
            ("not json".to_owned(), "unrecognised event: the message body is not JSON".to_owned()),
            (bad_key.to_string(), "object key is not valid UTF-8 once decoded: \"in/bad%FF.mp4\"".to_owned()),
        ]
    );
    assert_eq!(h.stack.queue_depth(&h.stack.events_queue).await?, 0, "nothing left to come back");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn permanent_s3_refusals_are_invalid_input_in_one_line_without_retries() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    // GIVEN a workflow writing to a bucket that does not exist, and one writing long keys
    let nobucket = h
        .flow("nobucket")
        .trigger("a/")
        .output_in("no-such-bucket", "out/")
        .task(json!({"type": "snapshot", "times": [0.2]}));
    h.workflow(nobucket).await?;
    h.workflow(snapshots(&h, "b/")).await?;
    let missing = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "a/clip.mp4").await?;
    let long = h.upload(&fixture("camera_1080p_h264_aac.mp4"), &format!("b/{}.mp4", "k".repeat(1000))).await?;
    let (_, tasks) = h.job_of(&missing).await?;
    let error = tasks[0].error.clone().expect("failed");
    assert_eq!(error.code, ErrorCode::BucketNotFound);
    assert_eq!(
        error.message,
        "cannot write s3://no-such-bucket/out/clip_snapshotByTimeOffset_1_0.jpg: bucket no-such-bucket does not exist"
    );
    let (_, tasks) = h.job_of(&long).await?;
    let error = tasks[0].error.clone().expect("failed");
    assert_eq!(error.code, ErrorCode::KeyTooLong);
    assert_eq!(error.message, "the output key would have 1033 bytes; S3 allows 1024");
    h.stack.idle(Duration::from_secs(30)).await?;
    assert_eq!(h.stack.invocations(WORKER), 4, "two preparations and two attempts: no retries");
    assert_eq!(h.stack.queue_depth(&h.stack.worker_dlq).await?, 0);
    Ok(())
}
