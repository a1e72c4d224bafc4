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

use crate::support::{BUCKET, Harness, QUIET_BUCKET, fixture, s3_event};

fn flow(name: &str, trigger: &str, output: &str, tasks: Value) -> Value {
    json!({"name": name, "trigger": {"bucket": BUCKET, "dir": trigger}, "output": {"dir": output}, "tasks": tasks})
}

#[tokio::test(flavor = "multi_thread")]
async fn outputs_named_like_uploads_beside_them_are_refused_and_a_users_file_at_an_output_key_stays()
-> anyhow::Result<()> {
    let h = Harness::start().await?;
    // GIVEN a workflow whose transcode would be named like the upload, beside the uploads
    let replacing = json!({"name": "replacing", "trigger": {"bucket": BUCKET, "dir": "in/"},
        "tasks": [{"type": "transcode", "output_name": "{inputName}.{format}"}]});
    // THEN it is refused when applied, naming the field
    let error = h.workflow(replacing).await.unwrap_err().to_string();
    assert!(error.contains("tasks[0].output_name: names outputs like uploads ({inputName}.mp4)"), "{error}");
    let constant =
        flow("constant", "in/", "out/", json!([{"type": "snapshot", "times": [0.5], "output_name": "poster.jpg"}]));
    let error = h.workflow(constant).await.unwrap_err().to_string();
    assert!(error.contains("needs {inputName}"), "{error}");
    // GIVEN a valid workflow, and a user's own file where its output would go
    h.workflow(flow("safe", "in/", "in/", json!([{"type": "snapshot", "times": [0.5]}]))).await?;
    let users = h.upload_bytes(b"my own poster, not an output", "in/clip_snapshotByTimeOffset_1_0.jpg").await?;
    // WHEN an upload would write there
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
    let jobs = h.jobs_of(&object).await?;
    let (_, tasks) = jobs.iter().find(|(job, _)| job.input == object).expect("the upload's job");
    // THEN the task fails, naming the object, and the user's file is untouched
    let error = tasks[0].error.clone().expect("failed");
    assert_eq!(error.code, ErrorCode::OutputConflict, "{error:?}");
    assert!(
        error.message.contains("s3://media-in/in/clip_snapshotByTimeOffset_1_0.jpg already exists"),
        "{}",
        error.message
    );
    let kept = h.stack.clients.s3.get_object().bucket(BUCKET).key(&users.key).send().await?;
    assert_eq!(kept.body.collect().await?.into_bytes().as_ref(), b"my own poster, not an output");
    // AND a new upload of the same key replaces the workflow's own earlier outputs
    h.workflow(flow("again", "re/", "re-out/", json!([{"type": "snapshot", "times": [0.5]}]))).await?;
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

#[tokio::test(flavor = "multi_thread")]
async fn a_second_workflow_writing_the_same_outputs_is_refused_naming_both_and_the_pattern() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let tasks = json!([{"type": "transcode", "video": {"height": 144}}]);
    h.workflow(flow("first", "in/", "out/", tasks.clone())).await?;
    let error = h.workflow(flow("second", "in/", "out/", tasks)).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "workflow \"second\" conflicts with enabled workflows: enabled workflow \"first\" writes the same outputs \
         s3://media-in/out/{inputName}_transcode_1.mp4 for the same uploads"
    );
    assert!(!h.stack.admin().catalog()?.get("second").await?.enabled, "applied, but left disabled");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_enables_of_workflows_that_feed_each_other_let_exactly_one_pass() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let admin = h.stack.admin();
    let catalog = admin.catalog()?;
    let tasks = json!([{"type": "snapshot", "times": [0.5]}]);
    for round in 0..10 {
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        for spec in [
            flow(&a, &format!("{a}/"), &format!("{b}/"), tasks.clone()),
            flow(&b, &format!("{b}/"), &format!("{a}/"), tasks.clone()),
        ] {
            catalog.apply(serde_json::from_value::<WorkflowSpec>(spec)?).await?;
        }
        let (left, right) = tokio::join!(catalog.enable(&a), catalog.enable(&b));
        assert!(left.is_ok() != right.is_ok(), "round {round}: exactly one passes: {left:?} {right:?}");
        let refused = left.err().or(right.err()).expect("one refused");
        assert!(matches!(refused, CatalogError::Invalid(WorkflowError::Conflict { .. })), "{refused}");
        // Leave nothing enabled for the next round.
        catalog.disable(&a).await?;
        catalog.disable(&b).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_newest_upload_wins_a_job_whose_upload_was_replaced_writes_nothing() -> anyhow::Result<()> {
    // GIVEN a workflow with a quick snapshot and a slower transcode
    let h = Harness::start().await?;
    h.workflow(flow(
        "newest",
        "in/",
        "out/",
        json!([{"type": "snapshot", "times": [0.5]}, {"type": "transcode", "video": {"codec": "h265"}}]),
    ))
    .await?;
    let old = h.lavfi_clip(
        "old.mp4",
        &["testsrc2=size=1280x720:rate=25:duration=20"],
        &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    )?;
    // WHEN the upload is replaced while its transcode runs
    let object = h.upload(&old, "in/clip.mp4").await?;
    let old_job = h.stack.dispatched(&object, Duration::from_secs(60)).await?.jobs().next().cloned().expect("a job");
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
    for key in h.keys(BUCKET, "out/").await? {
        let marker = h.head(&ObjectRef::new(BUCKET, &key)).await?.and_then(|head| head.marker);
        assert_eq!(marker.map(|m| m.job), Some(new_job.to_string()), "{key} is from the newest upload");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redelivered_event_after_disable_enable_and_a_new_task_list_finds_its_job() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let spec = |tasks: Value| {
        json!({"name": "once", "trigger": {"bucket": QUIET_BUCKET, "dir": "in/"},
        "output": {"dir": "out/"}, "tasks": tasks})
    };
    h.workflow(spec(json!([{"type": "snapshot", "times": [0.5]}]))).await?;
    let object = h.upload_to(QUIET_BUCKET, &fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
    let event = s3_event(&object, Utc::now(), "0055AED6DCD90281E5");
    let first = h.stack.invoke(DISPATCHER, event.clone()).await?;
    assert_eq!(first["reports"][0]["outcomes"][0]["new"], true);
    // WHEN the workflow is disabled, enabled again, and given another task list
    let admin = h.stack.admin();
    let catalog = admin.catalog()?;
    catalog.disable("once").await?;
    catalog.enable("once").await?;
    catalog.apply(serde_json::from_value(spec(json!([{"type": "snapshot", "times": [0.2]}])))?).await?;
    // THEN the same event, delivered again, finds the job it started
    let again = h.stack.invoke(DISPATCHER, event).await?;
    let outcome = &again["reports"][0]["outcomes"][0];
    assert_eq!((outcome["new"].as_bool(), outcome["prepare_sent"].as_bool()), (Some(false), Some(false)), "{again}");
    assert_eq!(outcome["job_id"], first["reports"][0]["outcomes"][0]["job_id"]);
    Ok(())
}
