//! The tables, queues and work bucket the local stack runs on: created under local names, or
//! template.yaml's own, as its stack outputs name them.

use std::time::Duration;

use anyhow::Context;
use aws_sdk_sqs::types::QueueAttributeName;
use mediaflow::adapters::aws::dynamodb::create_tables;

use crate::template::Deployed;

/// Names of the local resources.
pub const WORKFLOWS_TABLE: &str = "mediaflow-workflows";
pub const JOBS_TABLE: &str = "mediaflow-jobs";
/// Where the parts of chunked tasks are kept between their render and their join.
pub const WORK_BUCKET: &str = "mediaflow-work";
const EVENTS_QUEUE: &str = "mediaflow-events";
const EVENTS_DLQ: &str = "mediaflow-events-dlq";
const WORKER_DLQ: &str = "mediaflow-worker-dlq";

/// An SQS queue's URL and ARN.
#[derive(Clone, Debug)]
pub struct Queue {
    pub url: String,
    pub arn: String,
}

/// What the stack's functions and harness name.
#[derive(Clone, Debug)]
pub(crate) struct Resources {
    pub(crate) workflows_table: String,
    pub(crate) jobs_table: String,
    pub(crate) work_bucket: String,
    pub(crate) events_queue: Queue,
    pub(crate) events_dlq: Queue,
    pub(crate) worker_dlq: Queue,
}

impl Resources {
    /// Creates them under the local names; a message is redelivered after `visibility`.
    pub(crate) async fn create(
        dynamodb: &aws_sdk_dynamodb::Client,
        sqs: &aws_sdk_sqs::Client,
        s3: &aws_sdk_s3::Client,
        visibility: Duration,
    ) -> anyhow::Result<Self> {
        create_tables(dynamodb, WORKFLOWS_TABLE, JOBS_TABLE).await?;
        let events_dlq = create_queue(sqs, EVENTS_DLQ, visibility, None).await?;
        let events_queue = create_queue(sqs, EVENTS_QUEUE, visibility, Some(&events_dlq)).await?;
        let worker_dlq = create_queue(sqs, WORKER_DLQ, visibility, None).await?;
        s3.create_bucket().bucket(WORK_BUCKET).send().await?;
        Ok(Self {
            workflows_table: WORKFLOWS_TABLE.into(),
            jobs_table: JOBS_TABLE.into(),
            work_bucket: WORK_BUCKET.into(),
            events_queue,
            events_dlq,
            worker_dlq,
        })
    }

    /// template.yaml's, as `deployed`'s outputs name them.
    pub(crate) async fn of(deployed: &Deployed, sqs: &aws_sdk_sqs::Client) -> anyhow::Result<Self> {
        let queue = |url: &str| {
            let url = url.to_owned();
            async move { anyhow::Ok(Queue { arn: queue_arn(sqs, &url).await?, url }) }
        };
        Ok(Self {
            workflows_table: deployed.output("WorkflowsTableName")?.into(),
            jobs_table: deployed.output("JobsTableName")?.into(),
            work_bucket: deployed.output("WorkBucketName")?.into(),
            events_queue: queue(deployed.output("EventsQueueUrl")?).await?,
            events_dlq: queue(deployed.output("EventsDLQUrl")?).await?,
            worker_dlq: queue(deployed.output("WorkerDLQUrl")?).await?,
        })
    }
}

/// Creates a queue; with `dead_letters`, messages received 5 times go there (as in the SAM
/// template).
async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    visibility: Duration,
    dead_letters: Option<&Queue>,
) -> anyhow::Result<Queue> {
    let mut request = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::VisibilityTimeout, visibility.as_secs().to_string());
    if let Some(dlq) = dead_letters {
        let policy = serde_json::json!({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 5});
        request = request.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
    }
    let url = request.send().await?.queue_url.context("queue without URL")?;
    Ok(Queue { arn: queue_arn(sqs, &url).await?, url })
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<String> {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .with_context(|| format!("queue {url} without ARN"))
}
