//! The Create workflow form: its fields under MPS's names, read into the same JSON document a
//! workflow file holds (so the domain validates it and names each problem by its field path),
//! and filled from a workflow for Clone and Edit.

use std::collections::BTreeMap;

use mediaflow::domain::workflow::{WorkflowError, WorkflowSpec};
use serde_json::{Map, Value};

/// How a field's text becomes a value of the workflow document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// A number when it reads as one (otherwise the text, which the domain refuses by name).
    Number,
    /// Comma-separated values (numbers where they read as numbers).
    List,
    /// One of the given values (the first is the default).
    Choice(&'static [&'static str]),
    /// A transcode template (`mediaflow preset list`).
    TranscodePreset,
    /// An adaptive-streaming template.
    LadderPreset,
    /// What outputs are scored by against their source: off (blank), VMAF, SSIM or PSNR.
    Quality,
}

/// One field of a task: its path in the task's document, its label and a hint.
#[derive(Debug)]
pub struct Field {
    pub path: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    pub hint: &'static str,
}

/// A task type of the form's `Task type` select.
#[derive(Debug)]
pub struct TaskKind {
    pub value: &'static str,
    pub label: &'static str,
    pub fields: &'static [Field],
}

const fn field(path: &'static str, label: &'static str, kind: Kind, hint: &'static str) -> Field {
    Field { path, label, kind, hint }
}

const IMAGE: Kind = Kind::Choice(&["jpg", "png"]);

/// The task types, in MPS's order, each with the fields the form offers. A field left blank
/// takes the default a workflow file would.
pub const TASK_KINDS: &[TaskKind] = &[
    TaskKind {
        value: "transcode",
        label: "Transcode",
        fields: &[
            field("definition", "Template", Kind::TranscodePreset, "blank: the settings below"),
            field("container", "Container", Kind::Choice(&["mp4", "webm", "mkv", "mov", "mp3", "m4a"]), ""),
            field("video.height", "Height (px)", Kind::Number, "blank: the source's"),
            field(
                "video.crf",
                "Quality (CRF)",
                Kind::Number,
                "lower is better; auto: chosen for each upload; blank: 23",
            ),
            field("video.target_vmaf", "Target VMAF (CRF auto)", Kind::Number, "blank: 93"),
            field(
                "video.max_kbps",
                "Max video bitrate (kbps)",
                Kind::Number,
                "with a CRF; blank: none, or with auto the default for the picture",
            ),
            field("audio.bitrate_kbps", "Audio bitrate (kbps)", Kind::Number, "blank: 128"),
            field("output_name", "Output name", Kind::Text, "blank: {inputName}_transcode_{definition}"),
            field("quality", "Score against the source", Kind::Quality, "shown on the job's page"),
        ],
    },
    TaskKind {
        value: "snapshot",
        label: "Screenshot",
        fields: &[
            field("times", "Times", Kind::List, "seconds or percentages, e.g. 1, 50%"),
            field("format", "Format", IMAGE, ""),
            field("width", "Width (px)", Kind::Number, "blank: the source's"),
        ],
    },
    TaskKind {
        value: "animated",
        label: "Animated image",
        fields: &[
            field("format", "Format", Kind::Choice(&["gif", "webp"]), ""),
            field("start", "Start (s)", Kind::Number, "blank: 0"),
            field("end", "End (s)", Kind::Number, "blank: start + 3"),
            field("fps", "Frame rate", Kind::Number, "blank: 10"),
            field("width", "Width (px)", Kind::Number, "blank: the source's"),
        ],
    },
    TaskKind {
        value: "watermark",
        label: "Watermark",
        fields: &[
            field("watermarks.0.text", "Watermark text", Kind::Text, "burned into a copy of the video"),
            field(
                "watermarks.0.origin",
                "Position",
                Kind::Choice(&["TopLeft", "TopRight", "BottomLeft", "BottomRight"]),
                "",
            ),
        ],
    },
    TaskKind {
        value: "adaptive",
        label: "Adaptive streaming",
        fields: &[
            field("definition", "Template", Kind::LadderPreset, "blank: sizes and bitrates chosen for each upload"),
            field("format", "Format", Kind::Choice(&["hls", "dash"]), ""),
            field("segment_seconds", "Segment length (s)", Kind::Number, "blank: 6"),
            field("quality", "Score each rendition", Kind::Quality, "shown on the job's page"),
        ],
    },
    TaskKind {
        value: "sample",
        label: "Sample screenshots",
        fields: &[
            field("interval", "Interval", Kind::Text, "seconds or a percentage; blank: 10%"),
            field("format", "Format", IMAGE, ""),
            field("width", "Width (px)", Kind::Number, "blank: the source's"),
        ],
    },
    TaskKind {
        value: "sprite",
        label: "Sprite",
        fields: &[
            field("interval", "Interval", Kind::Text, "seconds or a percentage; blank: 10%"),
            field("columns", "Columns", Kind::Number, "blank: 10"),
            field("rows", "Rows", Kind::Number, "blank: 10"),
            field("width", "Tile width (px)", Kind::Number, "blank: 160"),
        ],
    },
];

/// A task type in the console's words (`Cover`, which the form does not offer, too).
pub fn task_label(kind: &str) -> &str {
    match TASK_KINDS.iter().find(|k| k.value == kind) {
        Some(known) => known.label,
        None if kind == "cover" => "Cover",
        None => kind,
    }
}

/// When `Event notification` sends events: at the end of each job, or at every task change.
pub const NOTIFY_MODES: &[(&str, &str)] = &[("Finish", "When the job finishes"), ("Change", "At every task change")];

/// Where `Event notification` sends events: the target's type, what its address is called in a
/// workflow file, and its label.
pub const NOTIFY_TARGETS: &[(&str, &str, &str)] = &[
    ("sqs", "queue_url", "SQS queue URL"),
    ("sns", "topic_arn", "SNS topic ARN"),
    ("eventbridge", "bus", "EventBridge bus"),
    ("webhook", "url", "Webhook URL (https)"),
];

/// The workflow fields, by their form names (the paths of a workflow file).
pub const WORKFLOW_FIELDS: &[&str] = &["name", "trigger.bucket", "trigger.dir", "output.bucket", "output.dir"];

/// A filled-in form: its values by input name, the number of tasks, and the problems found,
/// each by the input it concerns ("" for the form as a whole).
#[derive(Debug, Default)]
pub struct WorkflowForm {
    pub values: BTreeMap<String, String>,
    pub tasks: usize,
    pub errors: BTreeMap<String, Vec<String>>,
}

/// The input name of a task's field: `tasks[0].transcode.video.height`.
pub fn task_input(index: usize, kind: &str, path: &str) -> String {
    format!("tasks[{index}].{kind}.{path}")
}

impl WorkflowForm {
    /// The form as posted: pairs of input names and values.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut form = WorkflowForm::default();
        for (name, value) in pairs {
            if let Some(index) = task_index(&name) {
                form.tasks = form.tasks.max(index + 1);
            }
            form.values.insert(name, value);
        }
        form
    }

    /// The form showing `spec` (for Clone and Edit); tasks the form cannot show are left out.
    pub fn from_spec(spec: &WorkflowSpec) -> Self {
        let mut form = WorkflowForm::default();
        let document = serde_json::to_value(spec).unwrap_or_default();
        for name in WORKFLOW_FIELDS {
            if let Some(text) = lookup(&document, name).and_then(as_text) {
                form.values.insert((*name).to_owned(), text);
            }
        }
        if let Some(notification) = document.get("notification") {
            form.values.insert("notify".into(), "on".into());
            let text = |path: &str| lookup(notification, path).and_then(as_text).unwrap_or_default();
            let kind = text("target.type");
            let address =
                NOTIFY_TARGETS.iter().find(|(k, _, _)| *k == kind).map(|(_, a, _)| text(&format!("target.{a}")));
            form.values.insert("notification.target.type".into(), kind);
            form.values.insert("notification.address".into(), address.unwrap_or_default());
            form.values.insert("notification.secret".into(), text("target.secret"));
            form.values.insert("notification.mode".into(), text("mode"));
        }
        if let Some(tasks) = document.get("tasks").and_then(Value::as_array) {
            for (index, task) in tasks.iter().enumerate() {
                let kind = task.get("type").and_then(Value::as_str).unwrap_or_default();
                let Some(known) = TASK_KINDS.iter().find(|k| k.value == kind) else { continue };
                form.values.insert(format!("tasks[{index}].type"), kind.to_owned());
                for field in known.fields {
                    if let Some(text) = lookup(task, field.path).and_then(as_text) {
                        form.values.insert(task_input(index, kind, field.path), text);
                    }
                }
                form.tasks = index + 1;
            }
        }
        form
    }

    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or_default()
    }

    /// The problems of input `name`.
    pub fn errors_of(&self, name: &str) -> &[String] {
        self.errors.get(name).map(Vec::as_slice).unwrap_or_default()
    }

    /// The workflow document the form describes: blank fields left out, so that their
    /// defaults apply; each task with the fields of its own type only.
    pub fn document(&self) -> Value {
        let mut document = Value::Object(Map::new());
        for name in WORKFLOW_FIELDS {
            let value = self.value(name).trim();
            // Blank name and trigger stay in, so the domain says what they need; a blank
            // output takes the trigger's.
            if !value.is_empty() || !name.starts_with("output.") {
                insert(&mut document, name, Value::String(value.to_owned()));
            }
        }
        if self.value("notify") == "on" {
            insert(&mut document, "notification", self.notification());
        }
        let mut tasks = Vec::new();
        for index in 0..self.tasks {
            let kind = self.value(&format!("tasks[{index}].type"));
            let Some(known) = TASK_KINDS.iter().find(|k| k.value == kind) else {
                if !kind.is_empty() {
                    tasks.push(serde_json::json!({"type": kind}));
                }
                continue;
            };
            let mut task = serde_json::json!({"type": kind});
            for field in known.fields {
                let text = self.value(&task_input(index, kind, field.path)).trim();
                if !text.is_empty() {
                    insert(&mut task, field.path, typed(text, field.kind));
                }
            }
            // A ladder that names no template is chosen for each upload.
            if kind == "adaptive" && task.get("definition").is_none() {
                insert(&mut task, "renditions", Value::String("auto".into()));
            }
            tasks.push(task);
        }
        insert(&mut document, "tasks", Value::Array(tasks));
        document
    }

    /// The `Event notification` inputs as a workflow file's `notification`.
    fn notification(&self) -> Value {
        let kind = self.value("notification.target.type");
        let mut target = serde_json::json!({"type": kind});
        if let Some((_, address, _)) = NOTIFY_TARGETS.iter().find(|(k, _, _)| *k == kind) {
            target[*address] = self.value("notification.address").trim().into();
        }
        if kind == "webhook" {
            target["secret"] = self.value("notification.secret").trim().into();
        }
        serde_json::json!({"mode": self.value("notification.mode"), "target": target})
    }

    /// Reads the form as a workflow; on refusal the problems are set beside their inputs.
    pub fn spec(&mut self) -> Option<WorkflowSpec> {
        match WorkflowSpec::from_value(self.document()) {
            Ok(spec) => Some(spec),
            Err(error) => {
                self.refuse(&error);
                None
            }
        }
    }

    /// Sets the problems of `error` beside the inputs they name.
    pub fn refuse(&mut self, error: &WorkflowError) {
        let messages = match error {
            WorkflowError::Invalid(messages) => messages.clone(),
            other => vec![other.to_string()],
        };
        for message in messages {
            let (input, reason) = match message.split_once(": ") {
                Some((path, reason)) => match missing_field(reason) {
                    Some(field) => (self.input_of(&format!("{path}.{field}")), "is required".to_owned()),
                    None => (self.input_of(path), reason.to_owned()),
                },
                None => (String::new(), message.clone()),
            };
            let reason = if input.is_empty() { message } else { reason };
            self.errors.entry(input).or_default().push(reason);
        }
    }

    /// The input a workflow file's field path is shown at ("" when the form has none).
    fn input_of(&self, path: &str) -> String {
        if WORKFLOW_FIELDS.contains(&path) {
            return path.to_owned();
        }
        if path == "notification.target.secret" {
            return "notification.secret".into();
        }
        if path == "notification" || path.starts_with("notification.") {
            return "notification.address".into();
        }
        let Some(index) = task_index(path) else { return String::new() };
        let prefix = format!("tasks[{index}]");
        let rest = path[prefix.len()..].trim_start_matches('.');
        let kind = self.value(&format!("{prefix}.type"));
        let field = rest.replace('[', ".").replace(']', "");
        let known = TASK_KINDS.iter().find(|k| k.value == kind);
        match known.and_then(|k| k.fields.iter().find(|f| f.path == field)) {
            Some(found) => task_input(index, kind, found.path),
            None => format!("{prefix}.type"),
        }
    }
}

/// The field a "missing field `times`" reason names, so that it is said beside that field.
fn missing_field(reason: &str) -> Option<&str> {
    reason.strip_prefix("missing field `")?.split_once('`').map(|(field, _)| field)
}

/// `3` of `tasks[3].…`.
fn task_index(name: &str) -> Option<usize> {
    name.strip_prefix("tasks[")?.split_once(']')?.0.parse().ok()
}

fn typed(text: &str, kind: Kind) -> Value {
    match kind {
        Kind::Number => number(text),
        Kind::List => Value::Array(text.split(',').map(str::trim).filter(|t| !t.is_empty()).map(number).collect()),
        _ => Value::String(text.to_owned()),
    }
}

fn number(text: &str) -> Value {
    if let Ok(integer) = text.parse::<i64>() {
        return integer.into();
    }
    match text.parse::<f64>() {
        Ok(float) if float.is_finite() => float.into(),
        _ => Value::String(text.to_owned()),
    }
}

/// Sets `value` at a dotted path (a numeric segment is a list index).
fn insert(document: &mut Value, path: &str, value: Value) {
    let mut at = document;
    let segments: Vec<&str> = path.split('.').collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let next = if last {
            value.clone()
        } else if segments[i + 1].parse::<usize>().is_ok() {
            Value::Array(vec![])
        } else {
            Value::Object(Map::new())
        };
        at = match segment.parse::<usize>() {
            Ok(index) => {
                let Value::Array(list) = at else { return };
                while list.len() <= index {
                    list.push(next.clone());
                }
                if last {
                    list[index] = value.clone();
                }
                &mut list[index]
            }
            Err(_) => {
                let Value::Object(map) = at else { return };
                if last {
                    map.insert((*segment).to_owned(), value.clone());
                }
                map.entry((*segment).to_owned()).or_insert(next)
            }
        };
    }
}

fn lookup<'v>(document: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(document, |at, segment| match segment.parse::<usize>() {
        Ok(index) => at.get(index),
        Err(_) => at.get(segment),
    })
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Array(items) => Some(items.iter().filter_map(as_text).collect::<Vec<_>>().join(", ")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> WorkflowForm {
        WorkflowForm::from_pairs(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
    }

    #[test]
    fn a_form_with_defaults_is_a_valid_workflow() {
        let mut form = form(&[
            ("name", "clips"),
            ("trigger.bucket", "media"),
            ("trigger.dir", "in/"),
            ("output.dir", ""),
            ("tasks[0].type", "transcode"),
            ("tasks[0].transcode.container", "mp4"),
            ("tasks[0].snapshot.times", "ignored: not this task's type"),
            ("tasks[1].type", "snapshot"),
            ("tasks[1].snapshot.times", "1, 50%"),
        ]);
        let spec = form.spec().expect("valid");
        assert_eq!(spec.tasks.len(), 2);
        assert_eq!(form.document()["tasks"][1]["times"], serde_json::json!([1, "50%"]));
        assert!(spec.output.dir.is_none(), "blank output: the trigger's");
    }

    #[test]
    fn a_crf_of_auto_is_read_with_its_target_and_cap() {
        let mut form = form(&[
            ("name", "tuned"),
            ("trigger.bucket", "media"),
            ("tasks[0].type", "transcode"),
            ("tasks[0].transcode.video.crf", "auto"),
            ("tasks[0].transcode.video.target_vmaf", "95"),
            ("tasks[0].transcode.video.max_kbps", "6000"),
        ]);
        let spec = form.spec().expect("valid");
        let video = spec.tasks[0].as_transcode().and_then(|t| t.video).expect("video");
        assert_eq!(video.tuned(), Some(mediaflow::domain::task::Target { vmaf: 95.0, max_kbps: Some(6000) }));
    }

    #[test]
    fn a_ladder_without_a_template_is_chosen_for_each_upload() {
        let mut form = form(&[
            ("name", "streams"),
            ("trigger.bucket", "media"),
            ("tasks[0].type", "adaptive"),
            ("tasks[0].adaptive.format", "dash"),
            ("tasks[1].type", "adaptive"),
            ("tasks[1].adaptive.definition", "100230"),
        ]);
        let spec = form.spec().expect("valid");
        let ladders: Vec<bool> = spec
            .tasks
            .iter()
            .map(|task| matches!(task, mediaflow::domain::task::TaskSpec::Adaptive(a) if a.renditions.is_auto()))
            .collect();
        assert_eq!(ladders, [true, false], "the template's own rendition: {:?}", spec.tasks[1]);
    }

    #[test]
    fn problems_are_shown_beside_their_inputs() {
        let mut refused = form(&[
            ("name", "bad name!"),
            ("trigger.bucket", ""),
            ("tasks[0].type", "transcode"),
            ("tasks[0].transcode.video.crf", "-5"),
        ]);
        assert!(refused.spec().is_none());
        assert!(refused.errors_of("name")[0].starts_with("must be 1–128 letters"), "{:?}", refused.errors);
        assert_eq!(refused.errors_of("trigger.bucket"), ["is required"]);
        assert!(
            refused.errors_of("tasks[0].transcode.video.crf").iter().any(|e| e.contains("-5")),
            "{:?}",
            refused.errors
        );
        // A required setting left blank is said beside it, not beside the task's type.
        let mut blank = form(&[("name", "a"), ("trigger.bucket", "media"), ("tasks[0].type", "snapshot")]);
        assert!(blank.spec().is_none());
        assert_eq!(blank.errors_of("tasks[0].snapshot.times"), ["is required"], "{:?}", blank.errors);
    }

    #[test]
    fn an_event_notification_is_read_and_shown_again() {
        let mut form = form(&[
            ("name", "clips"),
            ("trigger.bucket", "media"),
            ("notify", "on"),
            ("notification.target.type", "sqs"),
            ("notification.address", "https://sqs.us-east-1.amazonaws.com/123456789012/events"),
            ("notification.mode", "Change"),
        ]);
        let spec = form.spec().expect("valid");
        let again = WorkflowForm::from_spec(&spec);
        assert_eq!(again.value("notification.address"), "https://sqs.us-east-1.amazonaws.com/123456789012/events");
        assert_eq!((again.value("notify"), again.value("notification.mode")), ("on", "Change"));
        let mut off = form_without_notify();
        assert!(off.spec().expect("valid").notification.is_none(), "off by default");
    }

    fn form_without_notify() -> WorkflowForm {
        form(&[("name", "clips"), ("trigger.bucket", "media"), ("notification.address", "left over")])
    }

    #[test]
    fn a_workflow_fills_the_form_it_was_made_with() {
        let mut form = form(&[
            ("name", "clips"),
            ("trigger.bucket", "media"),
            ("trigger.dir", "in/"),
            ("tasks[0].type", "animated"),
            ("tasks[0].animated.format", "webp"),
            ("tasks[0].animated.fps", "12.5"),
        ]);
        let spec = form.spec().expect("valid");
        let again = WorkflowForm::from_spec(&spec);
        assert_eq!(again.value("tasks[0].animated.format"), "webp");
        assert_eq!(again.value("tasks[0].animated.fps"), "12.5");
        assert_eq!(again.value("trigger.dir"), "in/");
    }
}
