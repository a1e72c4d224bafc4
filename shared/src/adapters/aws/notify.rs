//! [`Notifications`] on AWS: SQS queues, SNS topics, EventBridge buses, and webhooks
//! ([`super::webhook`]). The body is always the event's JSON.

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::sdk_error;
use super::webhook::Webhooks;
use crate::domain::event::WorkflowTaskEvent;
use crate::domain::notification::NotificationTarget;
use crate::ports::{DeliveryError, Notifications};

/// EventBridge's source and detail-type of mediaflow's events.
pub const EVENT_SOURCE: &str = "mediaflow";
pub const DETAIL_TYPE: &str = "WorkflowTask";

#[derive(Debug)]
pub struct AwsNotifications {
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub webhooks: Webhooks,
}

fn failed<E>(error: aws_sdk_sqs::error::SdkError<E, aws_sdk_sqs::config::http::HttpResponse>) -> DeliveryError
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    DeliveryError::from(sdk_error(error))
}

#[async_trait]
impl Notifications for AwsNotifications {
    async fn send(&self, target: &NotificationTarget, event: &WorkflowTaskEvent) -> Result<(), DeliveryError> {
        let body = serde_json::to_string(event).map_err(|e| DeliveryError::fatal(e.to_string()))?;
        let job = &event.workflow_task.task_id;
        match target {
            NotificationTarget::Sqs { queue_url } => {
                let mut request = self.sqs.send_message().queue_url(queue_url).message_body(body);
                if queue_url.ends_with(".fifo") {
                    request = request.message_group_id(job).message_deduplication_id(&event.event_id);
                }
                request.send().await.map_err(failed)?;
            }
            NotificationTarget::Sns { topic_arn } => {
                let mut request = self.sns.publish().topic_arn(topic_arn).message(body);
                if topic_arn.ends_with(".fifo") {
                    request = request.message_group_id(job).message_deduplication_id(&event.event_id);
                }
                request.send().await.map_err(failed)?;
            }
            NotificationTarget::EventBridge { bus } => {
                let entry = PutEventsRequestEntry::builder()
                    .source(EVENT_SOURCE)
                    .detail_type(DETAIL_TYPE)
                    .detail(body)
                    .event_bus_name(bus)
                    .resources(format!(
                        "arn:aws:s3:::{}/{}",
                        event.workflow_task.input.bucket, event.workflow_task.input.key
                    ))
                    .build();
                let output = self.eventbridge.put_events().entries(entry).send().await.map_err(failed)?;
                if output.failed_entry_count() > 0 {
                    let reason = output
                        .entries()
                        .iter()
                        .find_map(|e| e.error_message().map(|m| format!("{}: {m}", e.error_code().unwrap_or_default())))
                        .unwrap_or_default();
                    return Err(DeliveryError::retry(format!("EventBridge refused the event: {reason}")));
                }
            }
            NotificationTarget::Webhook { url, secret } => {
                self.webhooks.post(url, secret, &event.event_id, body.as_bytes()).await?;
            }
        }
        Ok(())
    }
}
