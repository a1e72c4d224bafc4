//! Event notification on the local stack: SQS, SNS and EventBridge (moto) and a signed webhook
//! (a loopback receiver that checks the Standard Webhooks signature and fails at first) each
//! get exactly one Finish event per job; Change mode tells every task state; a target that
//! cannot be reached never fails the job.

use std::time::Duration;

use anyhow::Context;
use aws_sdk_sqs::types::QueueAttributeName;
use mediaflow::domain::job::{Job, JobId};
use mediaflow::domain::notification::DeliveryState;
use mediaflow::ports::JobStore;
use serde_json::{Value, json};

use crate::support::webhook::{Receiver, verified};
use crate::support::{Harness, fixture};

use crate::support::webhook::SECRET;

/// Every message of a queue (long enough to see late ones), bodies as JSON.
async fn drain(h: &Harness, queue_url: &str) -> anyhow::Result<Vec<Value>> {
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let received = h
            .stack
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await?;
        for message in received.messages() {
            bodies.push(serde_json::from_str(message.body().unwrap_or("null"))?);
        }
    }
    Ok(bodies)
}

async fn queue(h: &Harness, name: &str) -> anyhow::Result<(String, String)> {
    let url = h.stack.sqs.create_queue().queue_name(name).send().await?.queue_url.unwrap_or_default();
    let arn = h
        .stack
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs_attribute())
        .send()
        .await?
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs_attribute()).cloned())
        .unwrap_or_default();
    Ok((url, arn))
}

fn aws_sdk_sqs_attribute() -> QueueAttributeName {
    QueueAttributeName::QueueArn
}

/// Applies workflow `name` watching `dir`, with `notification`, and processes the camera clip.
async fn job_with(h: &Harness, name: &str, notification: Value) -> anyhow::Result<Job> {
    job_of_tasks(h, name, notification, &[]).await
}

/// A job of a screenshot and `more` tasks, with `notification`.
async fn job_of_tasks(h: &Harness, name: &str, notification: Value, more: &[Value]) -> anyhow::Result<Job> {
    let mut flow = h
        .flow(name)
        .trigger(&format!("{name}/"))
        .output(&format!("{name}-out/"))
        .task(json!({"type": "snapshot", "times": ["0s"]}))
        .with("notification", notification);
    for task in more {
        flow = flow.task(task.clone());
    }
    h.workflow(flow).await?;
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), &format!("{name}/clip.mp4")).await?;
    let (job, _) = h.job_of(&object).await?;
    h.stack.idle(Duration::from_secs(60)).await?;
    h.stack.jobs().job(&job.id).await?.context("the job")
}

fn finish_events<'a>(bodies: &'a [Value], id: &JobId) -> Vec<&'a Value> {
    bodies.iter().filter(|event| event["workflow_task"]["task_id"] == id.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sqs_sns_eventbridge_and_a_signed_webhook_each_get_one_finish_event_per_job() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let receiver = Receiver::start(2).await?;
    h.stack
        .clients
        .ssm
        .put_parameter()
        .name("/mediaflow/hook")
        .value(SECRET)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await?;

    // SQS
    let (events_url, _) = queue(&h, "job-events").await?;
    // (with a scored transcode: its score is in the event)
    let scored = json!({"type": "transcode", "video": {"height": 144}, "quality": "ssim"});
    let target = json!({"target": {"type": "sqs", "queue_url": events_url}});
    let sqs_job = job_of_tasks(&h, "to-sqs", target, &[scored]).await?;
    // SNS, read through a subscribed queue
    let topic = h.stack.clients.sns.create_topic().name("job-topic").send().await?.topic_arn.unwrap_or_default();
    let (topic_queue_url, topic_queue_arn) = queue(&h, "topic-copy").await?;
    h.stack.clients.sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&topic_queue_arn).send().await?;
    let sns_job = job_with(&h, "to-sns", json!({"target": {"type": "sns", "topic_arn": topic}})).await?;
    // EventBridge, read through a rule's queue
    let eventbridge = &h.stack.clients.eventbridge;
    eventbridge.create_event_bus().name("media-events").send().await?;
    let (bus_queue_url, bus_queue_arn) = queue(&h, "bus-copy").await?;
    eventbridge
        .put_rule()
        .name("mediaflow-jobs")
        .event_bus_name("media-events")
        .event_pattern(json!({"source": ["mediaflow"], "detail-type": ["WorkflowTask"]}).to_string())
        .send()
        .await?;
    eventbridge
        .put_targets()
        .rule("mediaflow-jobs")
        .event_bus_name("media-events")
        .targets(aws_sdk_eventbridge::types::Target::builder().id("copy").arn(&bus_queue_arn).build()?)
        .send()
        .await?;
    let bus_job = job_with(&h, "to-bus", json!({"target": {"type": "eventbridge", "bus": "media-events"}})).await?;
    // A webhook whose secret is in SSM; the receiver fails twice before it takes the event.
    let hook_job = job_with(
        &h,
        "to-hook",
        json!({"target": {"type": "webhook", "url": receiver.url, "secret": "ssm:/mediaflow/hook"}}),
    )
    .await?;

    // The same secret kept in Secrets Manager.
    let second = Receiver::start(0).await?;
    h.stack.clients.secrets_manager.create_secret().name("mediaflow/hook").secret_string(SECRET).send().await?;
    let managed_job = job_with(
        &h,
        "to-managed-hook",
        json!({"target": {"type": "webhook", "url": second.url, "secret": "secretsmanager:mediaflow/hook"}}),
    )
    .await?;
    let managed = second.requests();
    assert_eq!(managed.len(), 1);
    assert_eq!(verified(&managed[0].0, &managed[0].1)?["workflow_task"]["task_id"], managed_job.id.as_str());

    let direct = drain(&h, &events_url).await?;
    let via_topic: Vec<Value> = drain(&h, &topic_queue_url)
        .await?
        .iter()
        .map(|envelope| serde_json::from_str(envelope["Message"].as_str().unwrap_or("null")))
        .collect::<Result<_, _>>()?;
    let via_bus: Vec<Value> =
        drain(&h, &bus_queue_url).await?.iter().map(|envelope| envelope["detail"].clone()).collect();
    let hooks = receiver.requests();
    let hooked: Vec<Value> = hooks.iter().map(|(headers, body)| verified(headers, body)).collect::<Result<_, _>>()?;
    for (target, bodies, job) in
        [("sqs", &direct, &sqs_job), ("sns", &via_topic, &sns_job), ("eventbridge", &via_bus, &bus_job)]
    {
        let events = finish_events(bodies, &job.id);
        assert_eq!(events.len(), 1, "{target}: {bodies:?}");
        let event = events[0];
        assert_eq!(event["schema"], "mediaflow.workflow-task.v2", "{target}");
        assert_eq!((event["mode"].as_str(), event["reason"].as_str()), (Some("Finish"), Some("job_finished")));
        assert_eq!(event["workflow_task"]["result"], "SUCCESS");
        assert_eq!(event["workflow_task"]["metadata"]["video"]["width"], 1920);
        assert_eq!(event["workflow_task"]["results"][0]["outputs"][0]["width"], 1920);
        if target == "sqs" {
            // The transcode's output with its score (schema v2).
            let score = &event["workflow_task"]["results"][1]["outputs"][0]["quality"][0];
            assert_eq!(score["metric"], "ssim", "{event}");
            assert!(score["mean"].as_f64().is_some_and(|mean| mean > 0.5 && mean <= 1.0), "{score}");
        }
        let delivery = job.delivery.clone().expect("delivery recorded");
        assert_eq!((delivery.state, delivery.attempts), (DeliveryState::Delivered, 1), "{target}");
    }
    // Three tries of the same event (same webhook-id), each signed; recorded as three attempts.
    assert_eq!(hooked.len(), 3, "{hooked:?}");
    let ids: Vec<&str> = hooks.iter().filter_map(|(headers, _)| headers.get("webhook-id")?.to_str().ok()).collect();
    assert!(ids.iter().all(|id| *id == format!("{}.finished", hook_job.id)), "{ids:?}");
    assert_eq!(hook_job.delivery.map(|d| (d.state, d.attempts)), Some((DeliveryState::Delivered, 3)));
    assert_eq!(hooked[2]["workflow_task"]["input"]["key"], "to-hook/clip.mp4");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn change_mode_tells_each_task_state_and_an_unreachable_target_never_fails_the_job() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let (events_url, _) = queue(&h, "changes").await?;
    let job =
        job_with(&h, "changes", json!({"mode": "Change", "target": {"type": "sqs", "queue_url": events_url}})).await?;
    let events = drain(&h, &events_url).await?;
    let reasons: Vec<&str> = events.iter().filter_map(|e| e["reason"].as_str()).collect();
    assert_eq!(reasons, ["task_started", "task_succeeded", "job_finished"]);
    assert_eq!(events[0]["workflow_task"]["results"][0]["status"], "PROCESSING");
    assert_eq!(job.changes_delivered, 2);

    let missing = format!("{}/000000000000/no-such-queue", h.stack.endpoint());
    let lost = job_with(&h, "lost", json!({"target": {"type": "sqs", "queue_url": missing}})).await?;
    assert_eq!(lost.result(), Some(mediaflow::domain::job::JobResult::Success), "the job is not the notification");
    let delivery = lost.delivery.expect("delivery recorded");
    assert_eq!(delivery.state, DeliveryState::Failed);
    assert!(delivery.error.as_deref().is_some_and(|e| e.contains("NonExistentQueue")), "{delivery:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_to_private_addresses_are_refused_unless_the_deployment_allows_them() -> anyhow::Result<()> {
    let h = Harness::start_with(|options| options.webhook_allow_private = false).await?;
    let receiver = Receiver::start(0).await?;
    let secret = h.dir.path().join("secret");
    std::fs::write(&secret, SECRET)?;
    // A name that resolves to the machine itself, over https as webhooks must be.
    let url = receiver.url.replace("http://127.0.0.1", "https://localhost");
    let job = job_with(
        &h,
        "private",
        json!({"target": {"type": "webhook", "url": url, "secret": format!("file:{}", secret.display())}}),
    )
    .await?;
    assert!(receiver.requests().is_empty());
    let delivery = job.delivery.expect("delivery recorded");
    assert_eq!((delivery.state, delivery.attempts), (DeliveryState::Failed, 1), "not retried");
    assert!(
        delivery.error.as_deref().is_some_and(|e| e.contains("loopback, private or link-local address")),
        "{delivery:?}"
    );
    Ok(())
}
