//! Nothing destroyed or shadowed: outputs never land on uploads or on each other, workflows
//! that would write the same keys are refused (atomically), a replaced upload writes nothing,
//! and a redelivered event never starts a second job.

use std::time::Duration;

use chrono::Utc;
use mediaflow::app::admin::catalog::CatalogError;
use mediaflow::domain::error::ErrorCode;
use mediaflow::domain::job::{JobStatus, TaskStatus};
use mediaflow::domain::object::ObjectRef;
use mediaflow::domain::workflow::{WorkflowError, WorkflowSpec};
use mediaflow::ports::JobStore;
use mediaflow_local::DISPATCHER;
use serde_json::{Value, json};

use crate::support::{DISPATCH_TIMEOUT, Flow, Harness, fixture, s3_event};

fn flow(h: &Harness, name: &str, trigger: &str, output: &str) -> Flow {
    h.flow(name).trigger(trigger).output(output)
}

#[tokio::test(flavor = "multi_thread")]
async fn outputs_named_like_uploads_beside_them_are_refused_and_a_users_file_at_an_output_key_stays()
-> anyhow::Result<()> {
    let h = Harness::start().await?;
    // GIVEN a workflow whose transcode would be named like the upload, beside the uploads
    let replacing =
        h.flow("replacing").default_output().task(json!({"type": "transcode", "output_name": "{inputName}.{format}"}));
    // THEN it is refused when applied, naming the field
    let error = h.workflow(replacing).await.unwrap_err().to_string();
    assert!(error.contains("tasks[0].output_name: names outputs like uploads ({inputName}.mp4)"), "{error}");
    let constant = flow(&h, "constant", "in/", "out/")
        .task(json!({"type": "snapshot", "times": [0.5], "output_name": "poster.jpg"}));
    let error = h.workflow(constant).await.unwrap_err().to_string();
    assert!(error.contains("needs {inputName}"), "{error}");
    // GIVEN a valid workflow, and a user's own file where its output would go
    h.workflow(flow(&h, "safe", "in/", "in/").task(json!({"type": "snapshot", "times": [0.5]}))).await?;
    let users = h.upload_bytes(b"my own poster, not an output", "in/clip_snapshotByTimeOffset_1_0.jpg").await?;
    // WHEN an upload would write there
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
    let jobs = h.jobs_of(&object).await?;
    let (_, tasks) = jobs.iter().find(|(job, _)| job.input == object).expect("the upload's job");
    // THEN the task fails, naming the object, and the user's file is untouched
    let error = tasks[0].error.clone().expect("failed");
    assert_eq!(error.code, ErrorCode::OutputConflict, "{error:?}");
    let existing = format!("s3://{}/in/clip_snapshotByTimeOffset_1_0.jpg already exists", h.bucket);
    assert!(error.message.contains(&existing), "{}", error.message);
    let kept = h.stack.clients.s3.get_object().bucket(&h.bucket).key(&users.key).send().await?;
    assert_eq!(kept.body.collect().await?.into_bytes().as_ref(), b"my own poster, not an output");
    // AND a new upload of the same key replaces the workflow's own earlier outputs
    h.workflow(flow(&h, "again", "re/", "re-out/").task(json!({"type": "snapshot", "times": [0.5]}))).await?;
    let first = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "re/clip.mp4").await?;
    let (first_job, _) = h.job_of(&first).await?;
    h.stack.idle(Duration::from_secs(30)).await?;
    h.upload(&fixture("bikes_640x272_noaudio_moov_at_end.mp4"), "re/clip.mp4").await?;
    let jobs = loop {
        let ids = h.job_ids_of(&first);
        if ids.len() == 2 {
            break ids;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let second = jobs.into_iter().find(|id| id != &first_job.id).expect("a second job");
    let (_, tasks) = h.stack.finished(&second, Duration::from_secs(60)).await?;
    assert_eq!(tasks[0].status, TaskStatus::Success, "{:?}", tasks[0].error);
    let output = ObjectRef::new(&tasks[0].outputs[0].bucket, &tasks[0].outputs[0].key);
    let marker = h.head(&output).await?.and_then(|head| head.marker).expect("marked");
    assert_eq!(marker.job, second.to_string());
    Ok(())
}

#[test]
fn a_second_workflow_writing_the_same_outputs_is_refused_naming_both_and_the_pattern() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let transcode = json!({"type": "transcode", "video": {"height": 144}});
        let first = h.workflow(flow(&h, "first", "in/", "out/").task(transcode.clone())).await?.name;
        let error = h.workflow(flow(&h, "second", "in/", "out/").task(transcode)).await.unwrap_err();
        let (second, bucket) = (h.name("second"), &h.bucket);
        assert_eq!(
            error.to_string(),
            format!(
                "workflow \"{second}\" conflicts with enabled workflows: enabled workflow \"{first}\" writes the same \
                 outputs s3://{bucket}/out/{{inputName}}_transcode_1.mp4 for the same uploads"
            )
        );
        assert!(!h.stack.admin().catalog()?.get(&second).await?.enabled, "applied, but left disabled");
        Ok(())
    })
}

#[test]
fn concurrent_enables_of_workflows_that_feed_each_other_let_exactly_one_pass() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let admin = h.stack.admin();
        let catalog = admin.catalog()?;
        let snapshot = json!({"type": "snapshot", "times": [0.5]});
        for round in 0..10 {
            let (a, b) = (format!("a{round}"), format!("b{round}"));
            for spec in [
                flow(&h, &a, &format!("{a}/"), &format!("{b}/")).task(snapshot.clone()),
                flow(&h, &b, &format!("{b}/"), &format!("{a}/")).task(snapshot.clone()),
            ] {
                catalog.apply(serde_json::from_value::<WorkflowSpec>(spec.into_value())?).await?;
            }
            let (a, b) = (h.name(&a), h.name(&b));
            let (left, right) = tokio::join!(catalog.enable(&a), catalog.enable(&b));
            assert!(left.is_ok() != right.is_ok(), "round {round}: exactly one passes: {left:?} {right:?}");
            let refused = left.err().or(right.err()).expect("one refused");
            assert!(matches!(refused, CatalogError::Invalid(WorkflowError::Conflict { .. })), "{refused}");
            // Leave nothing enabled for the next round.
            catalog.disable(&a).await?;
            catalog.disable(&b).await?;
        }
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_newest_upload_wins_a_job_whose_upload_was_replaced_writes_nothing() -> anyhow::Result<()> {
    // GIVEN a workflow with a quick snapshot and a slower transcode
    let h = Harness::start().await?;
    let newest = flow(&h, "newest", "in/", "out/")
        .task(json!({"type": "snapshot", "times": [0.5]}))
        .task(json!({"type": "transcode", "video": {"codec": "h265"}}));
    h.workflow(newest).await?;
    let old = h.lavfi_clip(
        "old.mp4",
        &["testsrc2=size=1280x720:rate=25:duration=20"],
        &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    )?;
    // WHEN the upload is replaced while its transcode runs
    let object = h.upload(&old, "in/clip.mp4").await?;
    let old_job = h.stack.dispatched(&object, DISPATCH_TIMEOUT).await?.jobs().next().cloned().expect("a job");
    let jobs = h.stack.jobs();
    loop {
        let tasks = jobs.tasks(&old_job).await?;
        if tasks.iter().any(|t| t.index == 1 && t.status == TaskStatus::Processing) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
    // THEN the old job's transcode ends as replaced and writes nothing
    let (job, tasks) = h.stack.finished(&old_job, Duration::from_secs(120)).await?;
    assert_eq!(job.status, JobStatus::Finish);
    let error = tasks[1].error.clone().expect("replaced");
    assert_eq!(error.code, ErrorCode::SourceReplaced, "{error:?}");
    assert!(tasks[1].outputs.is_empty());
    // AND every output there is from the new upload's job
    let new_job = loop {
        if let Some(id) = h.job_ids_of(&object).into_iter().find(|id| id != &old_job) {
            break id;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (_, new_tasks) = h.stack.finished(&new_job, Duration::from_secs(120)).await?;
    assert!(new_tasks.iter().all(|t| t.status == TaskStatus::Success), "{new_tasks:?}");
    h.stack.idle(Duration::from_secs(60)).await?;
    for key in h.keys(&h.bucket, "out/").await? {
        let marker = h.head(&ObjectRef::new(&h.bucket, &key)).await?.and_then(|head| head.marker);
        assert_eq!(marker.map(|m| m.job), Some(new_job.to_string()), "{key} is from the newest upload");
    }
    Ok(())
}

#[test]
fn a_redelivered_event_after_disable_enable_and_a_new_task_list_finds_its_job() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let spec = |task: Value| h.flow("once").trigger_in(&h.quiet_bucket, "in/").task(task);
        h.workflow(spec(json!({"type": "snapshot", "times": [0.5]}))).await?;
        let object = h.upload_to(&h.quiet_bucket, &fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
        let event = s3_event(&object, Utc::now(), "0055AED6DCD90281E5");
        let first = h.stack.invoke(DISPATCHER, event.clone()).await?;
        assert_eq!(first["reports"][0]["outcomes"][0]["new"], true);
        // WHEN the workflow is disabled, enabled again, and given another task list
        let admin = h.stack.admin();
        let catalog = admin.catalog()?;
        let once = h.name("once");
        catalog.disable(&once).await?;
        catalog.enable(&once).await?;
        catalog.apply(serde_json::from_value(spec(json!({"type": "snapshot", "times": [0.2]})).into_value())?).await?;
        // THEN the same event, delivered again, finds the job it started
        let again = h.stack.invoke(DISPATCHER, event).await?;
        let outcome = &again["reports"][0]["outcomes"][0];
        assert_eq!(
            (outcome["new"].as_bool(), outcome["prepare_sent"].as_bool()),
            (Some(false), Some(false)),
            "{again}"
        );
        assert_eq!(outcome["job_id"], first["reports"][0]["outcomes"][0]["job_id"]);
        Ok(())
    })
}
