//! Collects every rule a value breaks, each named by the field it concerns — the rules of the
//! domain ([`Violations`]) and the types of a file ([`deserialize_all`]).

use serde::de::DeserializeOwned;
use serde_json::Value;

/// The rules a value breaks, as `field: reason` messages in the order they were checked.
#[derive(Debug, Default)]
pub struct Violations(Vec<String>);

impl Violations {
    /// Records `reason` against `field` unless `ok`.
    pub fn check(&mut self, ok: bool, field: impl AsRef<str>, reason: impl AsRef<str>) {
        if !ok {
            self.0.push(format!("{}: {}", field.as_ref(), reason.as_ref()));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_messages(self) -> Vec<String> {
        self.0
    }

    pub fn extend(&mut self, other: Violations) {
        self.0.extend(other.0);
    }
}

/// How often a value is read again after leaving out a field that does not fit.
const MAX_ROUNDS: usize = 64;

/// Deserializes `value` as `T` and reports every field whose type does not fit, with its path
/// below `prefix` (`tasks[0].video.crf`), instead of stopping at the first: a field that does
/// not fit is reported and left out (so that its default applies, or its absence is reported
/// in turn) and the value is read again. `None` when the value cannot be read at all, for
/// instance when a required field is missing.
pub fn deserialize_all<T: DeserializeOwned>(mut value: Value, prefix: &str, errors: &mut Violations) -> Option<T> {
    for _ in 0..MAX_ROUNDS {
        let error = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(parsed) => return Some(parsed),
            Err(error) => error,
        };
        let mut path: Vec<Segment> = error.path().iter().filter_map(Segment::from_serde).collect();
        let message = error.inner().to_string();
        // An unknown field is reported at its struct; the field is the one to leave out.
        let reason = match unknown_field(&message) {
            Some(field) => {
                if path.last() != Some(&Segment::Key(field.to_owned())) {
                    path.push(Segment::Key(field.to_owned()));
                }
                "unknown field".to_owned()
            }
            None => message,
        };
        errors.check(false, join(prefix, &path), reason);
        if path.is_empty() || !remove(&mut value, &path) {
            return None;
        }
    }
    None
}

/// A step of a path into a JSON value.
#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl Segment {
    fn from_serde(segment: &serde_path_to_error::Segment) -> Option<Self> {
        match segment {
            serde_path_to_error::Segment::Map { key } => Some(Segment::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(Segment::Index(*index)),
            // Enum variants (`type: snapshot`) and unknown steps add nothing to the path.
            _ => None,
        }
    }
}

fn join(prefix: &str, path: &[Segment]) -> String {
    let mut text = prefix.to_owned();
    for segment in path {
        match segment {
            Segment::Key(key) if text.is_empty() => text.push_str(key),
            Segment::Key(key) => {
                text.push('.');
                text.push_str(key);
            }
            Segment::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    if text.is_empty() { "(file)".to_owned() } else { text }
}

/// The field named by serde's "unknown field `x`, expected …".
fn unknown_field(message: &str) -> Option<&str> {
    message.strip_prefix("unknown field `")?.split('`').next()
}

/// Leaves out the member at `path` (only object members: removing a list item would renumber
/// the items after it). Whether something was removed.
fn remove(value: &mut Value, path: &[Segment]) -> bool {
    let Some((last, parents)) = path.split_last() else { return false };
    let mut node = value;
    for segment in parents {
        node = match (segment, node) {
            (Segment::Key(key), Value::Object(map)) => match map.get_mut(key) {
                Some(child) => child,
                None => return false,
            },
            (Segment::Index(index), Value::Array(items)) => match items.get_mut(*index) {
                Some(child) => child,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, node) {
        (Segment::Key(key), Value::Object(map)) => map.remove(key).is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[serde(default)]
        crf: u8,
        #[serde(default)]
        fps: f64,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        name: String,
        #[serde(default)]
        items: Vec<Inner>,
    }

    fn read(value: Value) -> (Option<Outer>, Vec<String>) {
        let mut errors = Violations::default();
        let parsed = deserialize_all(value, "", &mut errors);
        (parsed, errors.into_messages())
    }

    #[test]
    fn every_misfit_field_is_named_by_its_path() {
        let (parsed, errors) = read(serde_json::json!({
            "name": "n", "items": [{"crf": -5, "fps": "fast"}, {"crf": 300, "colour": "red"}]
        }));
        assert_eq!(
            errors,
            [
                "items[0].crf: invalid value: integer `-5`, expected u8",
                "items[0].fps: invalid type: string \"fast\", expected f64",
                "items[1].colour: unknown field",
                "items[1].crf: invalid value: integer `300`, expected u8",
            ]
        );
        assert_eq!(parsed.map(|o| o.items.len()), Some(2), "the rest is read");
    }

    #[test]
    fn a_missing_required_field_stops_reading_that_value() {
        let (parsed, errors) = read(serde_json::json!({"items": []}));
        assert_eq!(parsed, None);
        assert_eq!(errors, ["(file): missing field `name`"]);
        let mut errors = Violations::default();
        let inner: Option<Inner> = deserialize_all(serde_json::json!({"crf": "x"}), "tasks[3]", &mut errors);
        assert_eq!(inner, Some(Inner { crf: 0, fps: 0.0 }));
        assert_eq!(errors.into_messages(), ["tasks[3].crf: invalid type: string \"x\", expected u8"]);
    }
}
