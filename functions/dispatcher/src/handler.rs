//! Translates what Lambda delivers into [`ObjectCreated`] values and calls the dispatch
//! use-case. Three deliveries are understood:
//! - an S3 event notification (`Records[].eventSource = "aws:s3"`),
//! - SQS messages whose bodies are S3 notifications or EventBridge events (partial batch
//!   failures are reported, so only failed messages come back),
//! - an EventBridge "Object Created" event.
//!
//! Event shapes are parsed leniently: local S3 servers send times without a zone and keys
//! with `/` encoded, which stricter types refuse.
//!
//! Nothing is dropped silently: an event that fails in a way a retry may cure fails again
//! (the SQS message comes back, a direct invocation is retried by Lambda); one that can never
//! be handled (unreadable, or refused by S3 or DynamoDB for good) goes to the events
//! dead-letter queue with the reason.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use mediaflow::app::pipeline::dispatch::{DispatchReport, Dispatcher};
use mediaflow::domain::object::{EventError, ObjectCreated, ObjectRef, decode_event_key, parse_event_time};
use mediaflow::ports::{DeadLetters, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{error, info, warn};

/// Why an event could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("unrecognised event: {0}")]
    Unrecognised(String),
    #[error(transparent)]
    BadEvent(#[from] EventError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl HandlerError {
    /// Whether handling the event again may succeed (a store that was unavailable).
    pub fn is_retryable(&self) -> bool {
        matches!(self, HandlerError::Store(e) if e.is_retryable())
    }
}

/// What the invocation did: the response Lambda gets, and the reports behind it.
#[derive(Debug)]
pub struct Handled {
    pub response: Value,
    pub reports: Vec<DispatchReport>,
}

#[derive(Deserialize)]
struct S3Notification {
    #[serde(rename = "Records", default)]
    records: Vec<S3Record>,
    /// `s3:TestEvent` when a notification configuration is saved.
    #[serde(rename = "Event")]
    event: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Record {
    event_name: String,
    event_time: String,
    s3: S3Entity,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: Named,
    object: S3Object,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Object {
    key: String,
    size: Option<u64>,
    e_tag: Option<String>,
    version_id: Option<String>,
    sequencer: Option<String>,
}

#[derive(Deserialize)]
struct EventBridgeEvent {
    #[serde(rename = "detail-type")]
    detail_type: String,
    time: String,
    detail: EventBridgeDetail,
}

#[derive(Deserialize)]
struct EventBridgeDetail {
    bucket: Named,
    object: EventBridgeObject,
}

#[derive(Deserialize)]
struct EventBridgeObject {
    key: String,
    size: Option<u64>,
    etag: Option<String>,
    #[serde(rename = "version-id")]
    version_id: Option<String>,
    sequencer: Option<String>,
}

/// The created objects an S3 notification or EventBridge event tells of; other events
/// (test events, removals) tell of none.
pub fn objects_created(payload: &Value) -> Result<Vec<ObjectCreated>, HandlerError> {
    if payload.get("detail-type").is_some() {
        let event: EventBridgeEvent = serde_json::from_value(payload.clone())
            .map_err(|e| HandlerError::Unrecognised(format!("EventBridge event: {e}")))?;
        if event.detail_type != "Object Created" {
            info!(detail_type = %event.detail_type, "ignoring EventBridge event");
            return Ok(Vec::new());
        }
        let EventBridgeObject { key, size, etag, version_id, sequencer } = event.detail.object;
        let created = created(event.detail.bucket.name, &key, &event.time, size, etag, version_id, sequencer)?;
        return Ok(vec![created]);
    }
    let notification: S3Notification = serde_json::from_value(payload.clone())
        .map_err(|e| HandlerError::Unrecognised(format!("S3 notification: {e}")))?;
    if let Some(event) = notification.event {
        info!(%event, "ignoring S3 test event");
        return Ok(Vec::new());
    }
    let mut objects = Vec::new();
    for record in notification.records {
        if !record.event_name.starts_with("ObjectCreated:") && !record.event_name.starts_with("s3:ObjectCreated:") {
            info!(event = %record.event_name, "ignoring non-creation event");
            continue;
        }
        let S3Object { key, size, e_tag, version_id, sequencer } = record.s3.object;
        objects.push(created(record.s3.bucket.name, &key, &record.event_time, size, e_tag, version_id, sequencer)?);
    }
    Ok(objects)
}

/// An [`ObjectCreated`] from the fields both event shapes carry (key encoded, time as text).
fn created(
    bucket: String,
    key: &str,
    time: &str,
    size: Option<u64>,
    etag: Option<String>,
    version_id: Option<String>,
    sequencer: Option<String>,
) -> Result<ObjectCreated, HandlerError> {
    Ok(ObjectCreated {
        object: ObjectRef::new(bucket, decode_event_key(key)?),
        size,
        etag,
        version_id,
        sequencer,
        event_time: parse_event_time(time)?,
    })
}

async fn dispatch_all(payload: &Value, dispatcher: &Dispatcher) -> Result<Vec<DispatchReport>, HandlerError> {
    if payload.is_null() {
        return Err(HandlerError::Unrecognised("the message body is not JSON".into()));
    }
    let mut reports = Vec::new();
    for event in objects_created(payload)? {
        reports.push(dispatcher.dispatch(&event).await?);
    }
    Ok(reports)
}

fn is_sqs(payload: &Value) -> bool {
    payload.pointer("/Records/0/eventSource").and_then(Value::as_str).is_some_and(|source| source == "aws:sqs")
}

#[derive(Serialize)]
struct DirectResponse<'a> {
    reports: &'a [DispatchReport],
    #[serde(skip_serializing_if = "Option::is_none")]
    dead_lettered: Option<&'a str>,
}

/// What became of one event: handled, to be delivered again, or kept in the dead-letter queue.
enum Disposition {
    Handled(Vec<DispatchReport>),
    Retry(HandlerError),
    DeadLettered(String),
}

/// Dispatches the objects `payload` tells of; an event that can never be handled is kept in
/// the dead-letter queue with the reason (and counts as handled, unless keeping it failed).
async fn dispose(payload: &Value, text: &str, dispatcher: &Dispatcher, dead_letters: &dyn DeadLetters) -> Disposition {
    let error = match dispatch_all(payload, dispatcher).await {
        Ok(reports) => return Disposition::Handled(reports),
        Err(error) if error.is_retryable() => return Disposition::Retry(error),
        Err(error) => error,
    };
    let reason = error.to_string();
    match dead_letters.keep(text, &reason).await {
        Ok(()) => {
            error!(%reason, "event dead-lettered");
            Disposition::DeadLettered(reason)
        }
        Err(e) => {
            error!(%reason, error = %e, "cannot dead-letter the event; it will be delivered again");
            Disposition::Retry(HandlerError::Store(e))
        }
    }
}

/// Handles one invocation. Direct and EventBridge deliveries fail as a whole on a retryable
/// error; SQS deliveries report the failed messages, so that only those come back.
pub async fn handle(
    payload: Value,
    dispatcher: &Dispatcher,
    dead_letters: &dyn DeadLetters,
) -> Result<Handled, HandlerError> {
    if !is_sqs(&payload) {
        let text = payload.to_string();
        let (reports, dead_lettered) = match dispose(&payload, &text, dispatcher, dead_letters).await {
            Disposition::Handled(reports) => (reports, None),
            Disposition::Retry(error) => return Err(error),
            Disposition::DeadLettered(reason) => (Vec::new(), Some(reason)),
        };
        let response = DirectResponse { reports: &reports, dead_lettered: dead_lettered.as_deref() };
        let response = serde_json::to_value(response).unwrap_or(Value::Null);
        return Ok(Handled { response, reports });
    }
    let event: SqsEvent =
        serde_json::from_value(payload).map_err(|e| HandlerError::Unrecognised(format!("SQS event: {e}")))?;
    let mut failures = Vec::new();
    let mut reports = Vec::new();
    for message in event.records {
        let id = message.message_id.unwrap_or_default();
        let body = message.body.as_deref().unwrap_or_default();
        let inner = serde_json::from_str::<Value>(body).unwrap_or(Value::Null);
        match dispose(&inner, body, dispatcher, dead_letters).await {
            Disposition::Handled(mut done) => reports.append(&mut done),
            Disposition::DeadLettered(_) => {}
            Disposition::Retry(error) => {
                warn!(message_id = %id, error = %error, "message failed; it will be delivered again");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                failures.push(failure);
            }
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    let response = serde_json::to_value(response).unwrap_or(Value::Null);
    Ok(Handled { response, reports })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/../../infra/events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("fixture is JSON")
    }

    #[test]
    fn when_real_s3_put_event_should_decode_key_and_time() {
        let created = objects_created(&fixture("s3-put.json")).unwrap();
        assert_eq!(created.len(), 1);
        let event = &created[0];
        assert_eq!(event.object, ObjectRef::new("mediaflow-demo", "uploads/My Video (1)+final%.mp4"));
        assert_eq!(event.size, Some(404567));
        assert_eq!(event.sequencer.as_deref(), Some("0055AED6DCD90281E5"));
        assert_eq!(event.event_time.to_rfc3339(), "2026-11-24T13:46:33.635+00:00");
    }

    #[test]
    fn when_moto_event_without_zone_and_encoded_slash_should_parse() {
        let created = objects_created(&fixture("s3-put-moto.json")).unwrap();
        assert_eq!(created[0].object.key, "uploads/vidéo/été 2024.mov");
        assert_eq!(created[0].sequencer, None);
        assert_eq!(created[0].event_time.timestamp_micros(), 1_795_527_993_635_833);
    }

    #[test]
    fn when_sqs_wraps_s3_event_should_unwrap() {
        let sqs = fixture("sqs-s3-put.json");
        assert!(is_sqs(&sqs));
        let body = sqs.pointer("/Records/0/body").and_then(Value::as_str).unwrap();
        let created = objects_created(&serde_json::from_str(body).unwrap()).unwrap();
        assert_eq!(created[0].object.key, "uploads/clip.mp4");
    }

    #[test]
    fn when_eventbridge_object_created_should_parse() {
        let created = objects_created(&fixture("eventbridge-object-created.json")).unwrap();
        assert_eq!(created[0].object, ObjectRef::new("mediaflow-demo", "uploads/a b.mp4"));
        assert_eq!(created[0].version_id.as_deref(), Some("IYV3p45BT0ac8hjHg1houSdS1a.Mq8Bc"));
    }

    #[test]
    fn when_test_event_or_removal_should_yield_nothing() {
        assert!(objects_created(&fixture("s3-test-event.json")).unwrap().is_empty());
        let mut removal = fixture("s3-put.json");
        removal["Records"][0]["eventName"] = "ObjectRemoved:Delete".into();
        assert!(objects_created(&removal).unwrap().is_empty());
    }

    #[test]
    fn when_records_are_missing_should_yield_nothing_and_when_broken_should_fail() {
        assert!(objects_created(&serde_json::json!({"Records": []})).unwrap().is_empty());
        let broken = objects_created(&serde_json::json!({"Records": [{"eventName": "ObjectCreated:Put"}]}));
        assert!(matches!(broken, Err(HandlerError::Unrecognised(_))));
        let bad_time = objects_created(&serde_json::json!({"detail-type": "Object Created", "time": "soon",
            "detail": {"bucket": {"name": "b"}, "object": {"key": "k"}}}));
        assert!(matches!(bad_time, Err(HandlerError::BadEvent(EventError::BadEventTime(_)))));
    }
}
