//! Which uploads of a bucket reach mediaflow: the bucket's event notification rules (S3's
//! notification configuration, as far as decisions need it), ours among them, and the rules S3
//! itself enforces when the configuration is written.

use std::fmt;

use serde::Serialize;

use super::workflow::Location;

/// Rule ids mediaflow writes start with this; `disconnect` removes only those.
pub const RULE_ID_PREFIX: &str = "mediaflow-events";

/// Where a rule sends its events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "arn", rename_all = "snake_case")]
pub enum Destination {
    Queue(String),
    Topic(String),
    Function(String),
}

impl Destination {
    pub fn arn(&self) -> &str {
        match self {
            Destination::Queue(arn) | Destination::Topic(arn) | Destination::Function(arn) => arn,
        }
    }
}

/// One rule of a bucket's notification configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventRule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub destination: Destination,
    /// S3 event types (`s3:ObjectCreated:*`, `s3:ObjectCreated:Put`, …).
    pub events: Vec<String>,
    /// The key filter; empty means every key.
    pub prefix: String,
    pub suffix: String,
}

impl fmt::Display for EventRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.id.as_deref().map(|id| format!("rule {id:?}")).unwrap_or_else(|| "a rule without id".into());
        let keys = match (self.prefix.as_str(), self.suffix.as_str()) {
            ("", "") => "every key".to_owned(),
            (prefix, "") => format!("keys under {prefix:?}"),
            ("", suffix) => format!("keys ending in {suffix:?}"),
            (prefix, suffix) => format!("keys under {prefix:?} ending in {suffix:?}"),
        };
        write!(f, "{id} ({} for {keys} to {})", self.events.join(", "), self.destination.arn())
    }
}

/// The event types a rule must send for every upload to reach mediaflow: every way S3 creates an
/// object (put, post, copy, multipart).
const CREATED: &str = "s3:ObjectCreated:*";

impl EventRule {
    /// The rule `mediaflow bucket connect` adds: every created object under `prefix` to `queue`.
    pub fn ours(queue_arn: &str, prefix: &str) -> EventRule {
        let id = if prefix.is_empty() { RULE_ID_PREFIX.to_owned() } else { format!("{RULE_ID_PREFIX}:{prefix}") };
        EventRule {
            id: Some(id),
            destination: Destination::Queue(queue_arn.to_owned()),
            events: vec![CREATED.to_owned()],
            prefix: prefix.to_owned(),
            suffix: String::new(),
        }
    }

    /// Written by `bucket connect` (and removed by `bucket disconnect`).
    pub fn is_ours(&self) -> bool {
        self.id.as_deref().is_some_and(|id| id == RULE_ID_PREFIX || id.starts_with(&format!("{RULE_ID_PREFIX}:")))
    }

    /// Sends every created object under `dir` to `queue_arn` (ours or a rule of the user's, such
    /// as the stack bucket's own).
    pub fn delivers(&self, queue_arn: &str, dir: &str) -> bool {
        self.destination == Destination::Queue(queue_arn.to_owned())
            && self.events.iter().any(|event| event == CREATED)
            && dir.starts_with(&self.prefix)
            && self.suffix.is_empty()
    }

    /// S3 refuses a configuration where two rules may fire for the same event on the same key
    /// (overlapping event types, overlapping prefixes and overlapping suffixes), whatever their
    /// destinations.
    pub fn overlaps(&self, other: &EventRule) -> bool {
        let events = self.events.iter().any(|a| other.events.iter().any(|b| events_overlap(a, b)));
        let prefixes = self.prefix.starts_with(&other.prefix) || other.prefix.starts_with(&self.prefix);
        let suffixes = self.suffix.ends_with(&other.suffix) || other.suffix.ends_with(&self.suffix);
        events && prefixes && suffixes
    }
}

/// `s3:ObjectCreated:*` covers `s3:ObjectCreated:Put`; `s3:ObjectCreated:Put` does not cover
/// `s3:ObjectCreated:Copy`.
fn events_overlap(a: &str, b: &str) -> bool {
    let family = |event: &str| event.strip_suffix('*').map(str::to_owned);
    a == b || family(a).is_some_and(|f| b.starts_with(&f)) || family(b).is_some_and(|f| a.starts_with(&f))
}

/// Why a bucket cannot be connected as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "bucket {bucket}: {existing} already fires on the objects {ours_keys}; S3 allows one rule per \
         event and key. Connect only the dirs your workflows watch (mediaflow bucket connect {bucket} \
         --prefix DIR/), or move that rule's events to an SNS topic or EventBridge"
    )]
    Overlap { bucket: String, existing: Box<EventRule>, ours_keys: String },
}

/// How a bucket stands with mediaflow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Connection {
    pub bucket: String,
    /// The prefixes whose created objects reach the events queue (`""`: the whole bucket).
    pub prefixes: Vec<String>,
    /// Every rule of the bucket, ours and the user's.
    pub rules: Vec<EventRule>,
}

impl Connection {
    /// What `rules` say about `bucket` and the events queue `queue_arn`.
    pub fn of(bucket: &str, queue_arn: &str, rules: Vec<EventRule>) -> Connection {
        let mut prefixes: Vec<String> = rules
            .iter()
            .filter(|rule| rule.delivers(queue_arn, &rule.prefix))
            .map(|rule| rule.prefix.clone())
            .collect();
        prefixes.sort();
        prefixes.dedup();
        Connection { bucket: bucket.to_owned(), prefixes, rules }
    }

    pub fn is_connected(&self) -> bool {
        !self.prefixes.is_empty()
    }

    /// Whether uploads under `dir` reach the events queue.
    pub fn covers(&self, dir: &str) -> bool {
        self.prefixes.iter().any(|prefix| dir.starts_with(prefix.as_str()))
    }

    /// The rules to add so that every created object under each of `prefixes` (the whole bucket
    /// when empty) reaches `queue_arn`; none where that is so already. Refused when S3 would
    /// refuse the result.
    pub fn plan_connect(&self, queue_arn: &str, prefixes: &[String]) -> Result<Vec<EventRule>, ConnectError> {
        let wanted: Vec<&str> =
            if prefixes.is_empty() { vec![""] } else { prefixes.iter().map(String::as_str).collect() };
        let mut added: Vec<EventRule> = Vec::new();
        for prefix in wanted {
            if self.covers(prefix) || added.iter().any(|rule| prefix.starts_with(&rule.prefix)) {
                continue;
            }
            let rule = EventRule::ours(queue_arn, prefix);
            if let Some(existing) = self.rules.iter().chain(&added).find(|other| other.overlaps(&rule)) {
                return Err(ConnectError::Overlap {
                    bucket: self.bucket.clone(),
                    existing: Box::new(existing.clone()),
                    ours_keys: if prefix.is_empty() {
                        "of the whole bucket".into()
                    } else {
                        format!("under {prefix:?}")
                    },
                });
            }
            added.push(rule);
        }
        Ok(added)
    }

    /// The ids of the rules `bucket disconnect` removes.
    pub fn ours(&self) -> Vec<String> {
        self.rules.iter().filter(|rule| rule.is_ours()).filter_map(|rule| rule.id.clone()).collect()
    }
}

/// Why a workflow's uploads would not reach mediaflow, and what to run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "uploads to {trigger} do not reach mediaflow: bucket {bucket} is not connected{under}. Run: \
     mediaflow bucket connect {bucket}{prefix_flag}"
)]
pub struct NotConnected {
    pub trigger: String,
    pub bucket: String,
    under: String,
    prefix_flag: String,
}

impl NotConnected {
    /// Checks that uploads to `trigger` reach the events queue.
    pub fn check(trigger: &Location, connection: &Connection) -> Result<(), NotConnected> {
        if connection.covers(&trigger.dir) {
            return Ok(());
        }
        let partly = connection.is_connected();
        Err(NotConnected {
            trigger: trigger.to_string(),
            bucket: trigger.bucket.clone(),
            under: if partly { format!(" for keys under {:?}", trigger.dir) } else { String::new() },
            prefix_flag: if partly { format!(" --prefix {}", trigger.dir) } else { String::new() },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUE: &str = "arn:aws:sqs:us-east-1:1:mediaflow-events";

    fn rule(id: &str, events: &[&str], prefix: &str, suffix: &str) -> EventRule {
        EventRule {
            id: Some(id.into()),
            destination: Destination::Topic("arn:aws:sns:us-east-1:1:photos".into()),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            prefix: prefix.into(),
            suffix: suffix.into(),
        }
    }

    #[test]
    fn overlap_follows_s3s_rules() {
        let photos = rule("photos", &["s3:ObjectCreated:Put"], "photos/", ".jpg");
        assert!(EventRule::ours(QUEUE, "").overlaps(&photos), "the whole bucket overlaps every created rule");
        assert!(EventRule::ours(QUEUE, "photos/2026/").overlaps(&photos));
        assert!(!EventRule::ours(QUEUE, "videos/").overlaps(&photos), "disjoint prefixes");
        let removed = rule("gone", &["s3:ObjectRemoved:*"], "", "");
        assert!(!EventRule::ours(QUEUE, "").overlaps(&removed), "other event types");
        let copies = rule("copies", &["s3:ObjectCreated:Copy"], "", "");
        assert!(!copies.overlaps(&photos), "Put and Copy are different events");
        let mut suffixed = EventRule::ours(QUEUE, "photos/");
        suffixed.suffix = ".png".into();
        assert!(!suffixed.overlaps(&photos), "disjoint suffixes");
    }

    #[test]
    fn connect_adds_only_what_is_missing_and_refuses_what_s3_would() {
        let photos = rule("photos", &["s3:ObjectCreated:*"], "photos/", "");
        let connection = Connection::of("media", QUEUE, vec![photos.clone()]);
        assert!(!connection.is_connected());
        let error = connection.plan_connect(QUEUE, &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "bucket media: rule \"photos\" (s3:ObjectCreated:* for keys under \"photos/\" to \
             arn:aws:sns:us-east-1:1:photos) already fires on the objects of the whole bucket; S3 allows \
             one rule per event and key. Connect only the dirs your workflows watch (mediaflow bucket \
             connect media --prefix DIR/), or move that rule's events to an SNS topic or EventBridge"
        );
        let added = connection.plan_connect(QUEUE, &["videos/".into(), "videos/raw/".into()]).unwrap();
        assert_eq!(added, vec![EventRule::ours(QUEUE, "videos/")], "videos/raw/ is inside videos/");
        let connected = Connection::of("media", QUEUE, [vec![photos], added].concat());
        assert_eq!(connected.prefixes, vec!["videos/".to_owned()]);
        assert!(connected.covers("videos/raw/") && !connected.covers("photos/"));
        assert_eq!(connected.plan_connect(QUEUE, &["videos/".into()]), Ok(vec![]), "connecting twice adds nothing");
        assert_eq!(connected.ours(), vec!["mediaflow-events:videos/".to_owned()]);
    }

    #[test]
    fn a_users_own_rule_to_the_queue_counts_but_is_not_ours_to_remove() {
        let stack_rule = EventRule { id: None, ..EventRule::ours(QUEUE, "") };
        let connection = Connection::of("media", QUEUE, vec![stack_rule]);
        assert!(connection.covers("in/"));
        assert!(connection.ours().is_empty());
        let other_queue = Connection::of("media", QUEUE, vec![EventRule::ours("arn:aws:sqs:us-east-1:1:other", "")]);
        assert!(!other_queue.is_connected(), "another queue is not mediaflow's");
    }

    #[test]
    fn not_connected_says_what_to_run() {
        let trigger = Location { bucket: "media".into(), dir: "in/".into() };
        let none = Connection::of("media", QUEUE, vec![]);
        assert_eq!(
            NotConnected::check(&trigger, &none).unwrap_err().to_string(),
            "uploads to s3://media/in/ do not reach mediaflow: bucket media is not connected. Run: \
             mediaflow bucket connect media"
        );
        let elsewhere = Connection::of("media", QUEUE, vec![EventRule::ours(QUEUE, "other/")]);
        assert_eq!(
            NotConnected::check(&trigger, &elsewhere).unwrap_err().to_string(),
            "uploads to s3://media/in/ do not reach mediaflow: bucket media is not connected for keys \
             under \"in/\". Run: mediaflow bucket connect media --prefix in/"
        );
        let whole = Connection::of("media", QUEUE, vec![EventRule::ours(QUEUE, "")]);
        assert_eq!(NotConnected::check(&trigger, &whole), Ok(()));
    }
}
