//! Bucket event notification rules on S3: read, and changed in place, keeping every rule and
//! setting (EventBridge, topics, functions) that is not ours.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter, QueueConfiguration,
    S3KeyFilter,
};

use super::{describe, service_code};
use crate::domain::connection::{Destination, EventRule};
use crate::ports::{BucketEvents, StoreError};

/// [`BucketEvents`] on S3.
#[derive(Clone, Debug)]
pub struct S3BucketEvents {
    client: Client,
}

impl S3BucketEvents {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    async fn configuration(&self, bucket: &str) -> Result<NotificationConfiguration, StoreError> {
        let output = match self.client.get_bucket_notification_configuration().bucket(bucket).send().await {
            Ok(output) => output,
            Err(error) if empty_answer(&error) => return Ok(NotificationConfiguration::builder().build()),
            Err(error) => return Err(bucket_error(error, bucket)),
        };
        Ok(NotificationConfiguration::builder()
            .set_queue_configurations(output.queue_configurations)
            .set_topic_configurations(output.topic_configurations)
            .set_lambda_function_configurations(output.lambda_function_configurations)
            .set_event_bridge_configuration(output.event_bridge_configuration)
            .build())
    }
}

/// A successful answer without any rule, under a root element the SDK does not expect (local S3
/// servers answer a bucket without configuration with an empty `GetBucketNotificationResponse`).
fn empty_answer<E>(error: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> bool {
    let Some(raw) = error.raw_response() else { return false };
    let body = raw.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
    raw.status().is_success() && !["Configuration>", "<Id>", "<Event>"].iter().any(|element| body.contains(element))
}

fn bucket_error<E>(
    error: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    bucket: &str,
) -> StoreError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match service_code(&error) {
        Some((_, "NoSuchBucket")) | Some((404, _)) => StoreError::NoSuchBucket(bucket.to_owned()),
        Some((403, _)) => StoreError::AccessDenied(format!("bucket {bucket}: {}", describe(&error))),
        // S3 sends a test event to every destination of a new configuration, and refuses the
        // configuration when one of them does not accept it.
        Some((400, "InvalidArgument")) if describe(&error).contains("validate") => StoreError::Rejected(format!(
            "{}: the events queue does not accept events from bucket {bucket}; add the bucket to the \
             stack's TriggerBuckets parameter and run sam deploy",
            describe(&error)
        )),
        _ => super::sdk_error(error),
    }
}

fn filter(filter: Option<&NotificationConfigurationFilter>, name: FilterRuleName) -> String {
    let rules = filter.and_then(|f| f.key()).map(|key| key.filter_rules()).unwrap_or_default();
    // S3 matches filter rule names without regard to case.
    rules
        .iter()
        .find(|rule| rule.name().is_some_and(|n| n.as_str().eq_ignore_ascii_case(name.as_str())))
        .and_then(|rule| rule.value())
        .unwrap_or_default()
        .to_owned()
}

fn rule(
    id: Option<&str>,
    destination: Destination,
    events: &[Event],
    f: Option<&NotificationConfigurationFilter>,
) -> EventRule {
    EventRule {
        id: id.map(str::to_owned),
        destination,
        events: events.iter().map(|e| e.as_str().to_owned()).collect(),
        prefix: filter(f, FilterRuleName::Prefix),
        suffix: filter(f, FilterRuleName::Suffix),
    }
}

fn queue_configuration(rule: &EventRule) -> Result<QueueConfiguration, StoreError> {
    let mut filter_rules = Vec::new();
    for (name, value) in [(FilterRuleName::Prefix, &rule.prefix), (FilterRuleName::Suffix, &rule.suffix)] {
        if !value.is_empty() {
            filter_rules.push(FilterRule::builder().name(name).value(value).build());
        }
    }
    let filter = (!filter_rules.is_empty()).then(|| {
        NotificationConfigurationFilter::builder()
            .key(S3KeyFilter::builder().set_filter_rules(Some(filter_rules)).build())
            .build()
    });
    QueueConfiguration::builder()
        .set_id(rule.id.clone())
        .queue_arn(rule.destination.arn())
        .set_events(Some(rule.events.iter().map(|e| Event::from(e.as_str())).collect()))
        .set_filter(filter)
        .build()
        .map_err(|e| StoreError::Rejected(e.to_string()))
}

#[async_trait]
impl BucketEvents for S3BucketEvents {
    async fn rules(&self, bucket: &str) -> Result<Vec<EventRule>, StoreError> {
        let config = self.configuration(bucket).await?;
        let queues = config
            .queue_configurations()
            .iter()
            .map(|q| rule(q.id(), Destination::Queue(q.queue_arn().to_owned()), q.events(), q.filter()));
        let topics = config
            .topic_configurations()
            .iter()
            .map(|t| rule(t.id(), Destination::Topic(t.topic_arn().to_owned()), t.events(), t.filter()));
        let functions = config
            .lambda_function_configurations()
            .iter()
            .map(|l| rule(l.id(), Destination::Function(l.lambda_function_arn().to_owned()), l.events(), l.filter()));
        Ok(queues.chain(topics).chain(functions).collect())
    }

    async fn change(&self, bucket: &str, add: &[EventRule], remove: &[String]) -> Result<(), StoreError> {
        let config = self.configuration(bucket).await?;
        let removed = |id: Option<&str>| id.is_some_and(|id| remove.iter().any(|r| r == id));
        let mut queues: Vec<QueueConfiguration> =
            config.queue_configurations().iter().filter(|q| !removed(q.id())).cloned().collect();
        for rule in add {
            queues.push(queue_configuration(rule)?);
        }
        let topics = config.topic_configurations().iter().filter(|t| !removed(t.id())).cloned().collect();
        let functions = config.lambda_function_configurations().iter().filter(|l| !removed(l.id())).cloned().collect();
        let changed = NotificationConfiguration::builder()
            .set_queue_configurations(Some(queues))
            .set_topic_configurations(Some(topics))
            .set_lambda_function_configurations(Some(functions))
            .set_event_bridge_configuration(config.event_bridge_configuration)
            .build();
        self.client
            .put_bucket_notification_configuration()
            .bucket(bucket)
            .notification_configuration(changed)
            .send()
            .await
            .map_err(|error| bucket_error(error, bucket))?;
        Ok(())
    }
}
