//! Exactly-once outcomes: repeated and concurrent events, a preparation retried half-way,
//! workers invoked twice or crashed, events out of order.

use chrono::{TimeDelta, Utc};
use mediaflow::adapters::aws::s3::S3ObjectStore;
use mediaflow::app::pipeline::dispatch::Outcome;
use mediaflow::domain::attempt::Lease;
use mediaflow::domain::job::{Job, TaskStatus};
use mediaflow::domain::message::TaskMessage;
use mediaflow::domain::object::{ObjectCreated, ObjectRef};
use mediaflow::domain::workflow::{Workflow, WorkflowSpec};
use mediaflow::ports::{Claim, JobStore, ObjectStore};
use mediaflow_local::{DISPATCHER, WORKER};
use serde_json::{Value, json};

use crate::support::{Flow, Harness, JOB_TIMEOUT, fixture, s3_event, source_of};

/// A snapshot and a small transcode of uploads to `in/` of the quiet bucket.
fn two_tasks(h: &Harness) -> Flow {
    h.flow("once")
        .trigger_in(&h.quiet_bucket, "in/")
        .task(json!({"type": "snapshot", "times": [0.5]}))
        .task(json!({"type": "transcode", "video": {"height": 144}}))
}

/// (new job, preparation sent) of each started outcome.
fn started(response: &Value) -> Vec<(bool, bool)> {
    response["reports"][0]["outcomes"]
        .as_array()
        .map(|outcomes| {
            outcomes
                .iter()
                .filter(|o| o["outcome"] == "started")
                .map(|o| (o["new"].as_bool().unwrap_or_default(), o["prepare_sent"].as_bool().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn same_event_three_times_concurrently_makes_one_job_and_one_set_of_outputs() -> anyhow::Result<()> {
    // GIVEN an upload whose event we deliver ourselves
    let h = Harness::start().await?;
    h.workflow(two_tasks(&h)).await?;
    let object = h.upload_to(&h.quiet_bucket, &fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
    let event = s3_event(&object, Utc::now(), "0055AED6DCD90281E5");
    // WHEN it arrives three times at once
    let (a, b, c) = tokio::join!(
        h.stack.invoke(DISPATCHER, event.clone()),
        h.stack.invoke(DISPATCHER, event.clone()),
        h.stack.invoke(DISPATCHER, event.clone()),
    );
    let responses = [a?, b?, c?];
    // THEN exactly one delivery created the job
    let created: Vec<_> = responses.iter().flat_map(started).filter(|(new, _)| *new).collect();
    assert_eq!(created, [(true, true)], "{responses:?}");
    let report = h.stack.reports().into_iter().find(|r| r.object == object).expect("dispatched");
    let job_id = report.jobs().next().expect("a job").clone();
    let (_, tasks) = h.stack.finished(&job_id, JOB_TIMEOUT).await?;
    h.stack.idle(std::time::Duration::from_secs(60)).await?;
    // AND each task ran once, writing one set of outputs
    for task in &tasks {
        assert_eq!((task.status, task.hold.attempts), (TaskStatus::Success, 1), "{task:?}");
    }
    assert_eq!(
        h.keys(&h.quiet_bucket, "out/").await?,
        ["out/clip_snapshotByTimeOffset_1_0.jpg", "out/clip_transcode_2.mp4"]
    );
    // AND later repeats find nothing left to send
    for _ in 0..3 {
        assert_eq!(started(&h.stack.invoke(DISPATCHER, event.clone()).await?), [(false, false)]);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preparation_failing_after_two_of_five_tasks_sends_only_the_rest_on_retry() -> anyhow::Result<()> {
    // GIVEN five tasks, and a Lambda service that fails the 3rd task invocation (with the
    // client's own retries) so that the job's preparation fails after sending two
    let h = Harness::start().await?;
    let five = (0..5)
        .map(|i| json!({"type": "snapshot", "definition": format!("t{i}"), "times": [0.1 * f64::from(i)]}))
        .fold(h.flow("five"), Flow::task);
    h.workflow(five).await?;
    // request 1 is the preparation, 2 and 3 the first tasks; the client tries each call
    // SDK_ATTEMPTS times
    h.stack.lambda()?.fail_requests(WORKER, 3, mediaflow::wiring::SDK_ATTEMPTS as usize);
    // WHEN a video is uploaded (Lambda retries the failed preparation)
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
    let (job, tasks) = h.job_of(&object).await?;
    h.stack.idle(std::time::Duration::from_secs(60)).await?;
    // THEN the retry sent the three missing tasks only: each task ran once, the upload was
    // probed once
    assert_eq!(h.stack.invocations(WORKER), 2 + 5, "two preparations and five tasks");
    assert!(tasks.iter().all(|t| t.status == TaskStatus::Success && t.hold.attempts == 1), "{tasks:?}");
    assert_eq!(job.prepare_attempts, 1, "the retry found the source probed");
    let outcomes: Vec<_> =
        h.stack.reports().into_iter().filter(|r| r.object == object).flat_map(|r| r.outcomes).collect();
    assert!(matches!(&outcomes[..], [Outcome::Started { new: true, prepare_sent: true, .. }]), "{outcomes:?}");
    Ok(())
}

/// A prepared job of `two_tasks` for `object`, made without the dispatcher.
async fn job_for(h: &Harness, object: &ObjectRef) -> anyhow::Result<Job> {
    let spec: WorkflowSpec = serde_json::from_value(two_tasks(h).into_value())?;
    let workflow = Workflow::create(spec, Utc::now())?.enable(Utc::now());
    let event = ObjectCreated {
        object: object.clone(),
        size: Some(404_567),
        etag: None,
        version_id: None,
        sequencer: Some("01".into()),
        event_time: Utc::now(),
    };
    let head = S3ObjectStore::new(h.stack.clients.s3.clone()).head(object).await?.expect("uploaded");
    let (job, tasks) = Job::start(&workflow, &event, &head, Utc::now());
    let jobs = h.stack.jobs();
    jobs.create(&job, &tasks).await?;
    jobs.record_source(&job.id, &source_of(&fixture("camera_1080p_h264_aac.mp4"))?).await?;
    Ok(job)
}

#[test]
fn worker_invoked_twice_runs_the_task_once_and_takes_over_from_a_crashed_one() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let object = h.upload_to(&h.quiet_bucket, &fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
        let job = job_for(&h, &object).await?;
        // WHEN two workers get the same task at once, THEN one runs it and the other steps aside
        let message = serde_json::to_value(TaskMessage::new(job.id.clone(), 0))?;
        let (a, b) = tokio::join!(h.stack.invoke(WORKER, message.clone()), h.stack.invoke(WORKER, message));
        let mut results = [a?["result"].clone(), b?["result"].clone()];
        results.sort_by_key(Value::to_string);
        assert_eq!(results, [json!("skipped"), json!("succeeded")]);
        // WHEN a worker claimed task 1 and crashed, THEN once its hold ran out another takes over
        let jobs = h.stack.jobs();
        let now = Utc::now();
        let crashed = Lease { holder: "crashed".into(), now, until: now + TimeDelta::seconds(1) };
        assert!(matches!(jobs.claim(&job.id, 1, &crashed).await?, Claim::Claimed(_)));
        // (the next invocation waits for the hold, which nobody renews, to run out)
        let message = serde_json::to_value(TaskMessage::new(job.id.clone(), 1))?;
        assert_eq!(h.stack.invoke(WORKER, message).await?["result"], "succeeded");
        let tasks = jobs.tasks(&job.id).await?;
        assert_eq!(
            tasks.iter().map(|t| (t.status, t.hold.attempts)).collect::<Vec<_>>(),
            [(TaskStatus::Success, 1), (TaskStatus::Success, 2)]
        );
        assert_eq!(h.keys(&h.quiet_bucket, "out/").await?.len(), 2);
        Ok(())
    })
}

#[test]
fn older_event_arriving_after_a_newer_one_is_dropped() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(two_tasks(&h)).await?;
        let object = h.upload_to(&h.quiet_bucket, &fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
        let newer = h.stack.invoke(DISPATCHER, s3_event(&object, Utc::now(), "0055AED6DCD90281E6")).await?;
        let older = h.stack.invoke(DISPATCHER, s3_event(&object, Utc::now(), "0055AED6DCD90281E5")).await?;
        assert_eq!(started(&newer), [(true, true)]);
        assert_eq!(
            older["reports"][0]["outcomes"][0]["reason"],
            "stale event: sequencer 0055AED6DCD90281E5 is older than 0055AED6DCD90281E6, seen already"
        );
        Ok(())
    })
}
