//! Property tests of the parsers that meet user and bucket data: S3 event keys and times,
//! `s3://` references, time points and lengths, and workflow documents (names, locations,
//! output name templates, notification targets). On any input: no panic, and every refusal is a
//! typed error that names the field it concerns.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::object::{ObjectRef, decode_event_key, parse_event_time};
use super::task::{Length, TimePoint};
use super::workflow::{WorkflowError, WorkflowSpec};

/// Any text, weighted towards what trips parsers: escapes, separators, quotes, non-ASCII.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[%+/\\\\.:{}\\[\\]'\"<>a-z0-9 é\u{0}\u{202e}-]{0,40}",
        "(%[0-9A-Fa-f]{2}|%[^0-9A-Fa-f]|\\+|/|[a-z]){0,20}",
    ]
}

/// JSON values of any shape, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        hostile_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("name".to_owned()),
                    Just("type".to_owned()),
                    Just("trigger".to_owned()),
                    Just("tasks".to_owned()),
                    "[a-z_]{1,10}"
                ],
                inner,
                0..4
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Every message of a refusal starts with the path of a field (or the document's own place).
fn names_fields(error: &WorkflowError) -> bool {
    match error {
        WorkflowError::Invalid(messages) => {
            !messages.is_empty() && messages.iter().all(|message| message.split_once(": ").is_some())
        }
        _ => true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn event_keys_decode_or_are_refused_and_encoded_keys_come_back(raw in hostile_text(), key in any::<String>()) {
        let _ = decode_event_key(&raw);
        // S3 form-encodes keys in events: spaces as '+', everything else outside unreserved
        // characters as %XX.
        let encoded: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
        prop_assert_eq!(decode_event_key(&encoded).expect("an encoded key decodes"), key);
    }

    #[test]
    fn event_times_parse_or_are_refused(raw in hostile_text()) {
        let _ = parse_event_time(&raw);
    }

    #[test]
    fn references_parse_to_what_they_say(raw in hostile_text(), bucket in "[a-z0-9][a-z0-9.-]{1,20}", key in ".{1,60}") {
        let _ = ObjectRef::parse_url(&raw);
        let parsed = ObjectRef::parse_url(&format!("s3://{bucket}/{key}")).expect("a reference");
        prop_assert_eq!((parsed.bucket, parsed.key), (bucket, key));
    }

    #[test]
    fn time_points_and_lengths_parse_or_say_what_to_write(raw in hostile_text()) {
        if let Err(message) = raw.parse::<TimePoint>() {
            prop_assert!(!message.is_empty());
        }
        if let Err(message) = raw.parse::<Length>() {
            prop_assert!(!message.is_empty());
        }
    }

    #[test]
    fn any_document_is_read_or_refused_field_by_field(document in any_json()) {
        if let Err(error) = WorkflowSpec::from_value(document) {
            prop_assert!(names_fields(&error), "{error:?}");
        }
    }

    #[test]
    fn any_workflow_text_is_read_or_refused(text in hostile_text()) {
        if let Ok(document) = serde_yaml_ng::from_str::<Value>(&text)
            && let Err(error) = WorkflowSpec::from_value(document)
        {
            prop_assert!(names_fields(&error), "{error:?}");
        }
    }

    #[test]
    fn names_locations_templates_and_targets_are_refused_at_their_field(
        name in hostile_text(),
        dir in hostile_text(),
        output_name in hostile_text(),
        url in hostile_text(),
    ) {
        let document = json!({
            "name": name,
            "trigger": {"bucket": "media", "dir": dir},
            "tasks": [{"type": "transcode", "output_name": output_name}],
            "notification": {"target": {"type": "webhook", "url": url}},
        });
        if let Err(error) = WorkflowSpec::from_value(document) {
            prop_assert!(names_fields(&error), "{error:?}");
            let WorkflowError::Invalid(messages) = &error else { return Ok(()) };
            let known = ["name", "trigger.dir", "tasks[0].output_name", "notification.target.url", "notification"];
            for message in messages {
                let field = message.split_once(": ").map(|(field, _)| field).unwrap_or_default();
                prop_assert!(known.iter().any(|k| field.starts_with(k)), "{message} names no field of the document");
            }
        }
    }
}
