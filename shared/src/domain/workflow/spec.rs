//! A workflow as its author writes it, and the seed rules that make one valid: every problem of
//! a file is named with its field path in one go.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::location::{Location, MAX_TRIGGER_DEPTH};
use crate::domain::limits::Limits;
use crate::domain::notification::spec::NotificationSpec;
use crate::domain::task::{MAX_TASKS, TaskSpec};
use crate::domain::validation::{Violations, deserialize_all};

/// A workflow as its author writes it (YAML or JSON), before validation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    pub name: String,
    pub trigger: TriggerSpec,
    #[serde(default)]
    pub output: OutputSpec,
    #[serde(default)]
    pub tasks: Vec<TaskSpec>,
    #[serde(default)]
    pub limits: Limits,
    /// Where job events go (off when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<NotificationSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerSpec {
    #[serde(default)]
    pub bucket: String,
    /// Blank: the whole bucket. Otherwise ends with `/`; a leading `/` is accepted and dropped.
    #[serde(default)]
    pub dir: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Defaults to the trigger bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Defaults to the trigger dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkflowError {
    #[error("invalid workflow: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("workflow {expected:?} cannot be replaced by a spec named {found:?}")]
    NameMismatch { expected: String, found: String },
    /// It and enabled workflows could feed each other or write the same outputs.
    #[error("workflow {name:?} conflicts with enabled workflows: {}", .reasons.join("; "))]
    Conflict { name: String, reasons: Vec<String> },
}

/// A workflow's settings once validated.
pub(super) struct Config {
    pub(super) name: String,
    pub(super) trigger: Location,
    pub(super) output: Location,
    pub(super) tasks: Vec<TaskSpec>,
    pub(super) limits: Limits,
    pub(super) notification: Option<NotificationSpec>,
}

const MAX_NAME: usize = 128;

impl WorkflowSpec {
    /// Reads a workflow file (YAML or JSON, as a JSON value). Every problem is reported in one
    /// go, each with its field path: values of the wrong type (`tasks[0].video.crf: invalid
    /// value: integer `-5`, expected u8`), unknown fields, and the rules what could be read
    /// breaks.
    pub fn from_value(mut value: Value) -> Result<WorkflowSpec, WorkflowError> {
        let mut errors = Violations::default();
        let tasks = match value.as_object_mut().and_then(|file| file.insert("tasks".into(), Value::Array(Vec::new()))) {
            Some(Value::Array(tasks)) => tasks,
            None | Some(Value::Null) => Vec::new(),
            Some(_) => {
                errors.check(false, "tasks", "must be a list of tasks");
                Vec::new()
            }
        };
        let spec: Option<WorkflowSpec> = deserialize_all(value, "", &mut errors);
        let count = tasks.len();
        let mut parsed = Vec::new();
        let mut positions = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            if let Some(task) = TaskSpec::from_value(task, &format!("tasks[{i}]"), &mut errors) {
                parsed.push(task);
                positions.push(i);
            }
        }
        let Some(mut spec) = spec else {
            return Err(WorkflowError::Invalid(errors.into_messages()));
        };
        spec.tasks = parsed;
        if errors.is_empty() {
            return Ok(spec);
        }
        // The rules what could be read breaks, so that one pass names every problem.
        if let Err(WorkflowError::Invalid(more)) = spec.validate_at(&positions, count) {
            let mut messages = errors.into_messages();
            messages.extend(more);
            return Err(WorkflowError::Invalid(messages));
        }
        Err(WorkflowError::Invalid(errors.into_messages()))
    }

    /// Applies the seed rules and defaults; every broken rule is reported with its field.
    pub(super) fn validate(self) -> Result<Config, WorkflowError> {
        let positions: Vec<usize> = (0..self.tasks.len()).collect();
        let count = self.tasks.len();
        self.validate_at(&positions, count)
    }

    /// [`WorkflowSpec::validate`] for a file of `count` tasks of which those at `positions` are
    /// these (the others could not be read).
    fn validate_at(mut self, positions: &[usize], count: usize) -> Result<Config, WorkflowError> {
        let mut errors = Violations::default();
        let name = self.name.trim().to_owned();
        errors.check(
            (1..=MAX_NAME).contains(&name.chars().count())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || "_\\-".contains(c)),
            "name",
            "must be 1–128 letters, digits, '_', '\\' or '-'",
        );
        let trigger_bucket = self.trigger.bucket.trim().to_owned();
        if trigger_bucket.is_empty() {
            errors.check(false, "trigger.bucket", "is required");
        } else {
            check_bucket(&trigger_bucket, "trigger.bucket", &mut errors);
        }
        let trigger_dir = normalize_dir(&self.trigger.dir, "trigger.dir", &mut errors);
        errors.check(
            trigger_dir.matches('/').count() <= MAX_TRIGGER_DEPTH,
            "trigger.dir",
            format!("must be at most {MAX_TRIGGER_DEPTH} directories deep"),
        );
        let output_bucket = match self.output.bucket.as_deref().map(str::trim) {
            None | Some("") => trigger_bucket.clone(),
            Some(bucket) => {
                check_bucket(bucket, "output.bucket", &mut errors);
                bucket.to_owned()
            }
        };
        let output_dir = match self.output.dir.as_deref() {
            None => trigger_dir.clone(),
            Some(dir) if dir.trim().is_empty() => trigger_dir.clone(),
            Some(dir) => normalize_dir(dir, "output.dir", &mut errors),
        };
        errors.check((1..=MAX_TASKS).contains(&count), "tasks", format!("needs 1–{MAX_TASKS} tasks"));
        let trigger = Location { bucket: trigger_bucket.clone(), dir: trigger_dir.clone() };
        let output = Location { bucket: output_bucket.clone(), dir: output_dir.clone() };
        let mut names: HashMap<String, usize> = HashMap::new();
        for (&i, task) in positions.iter().zip(self.tasks.iter_mut()) {
            let field = format!("tasks[{i}]");
            task.resolve_defaults(&trigger_bucket);
            task.validate(&field, &mut errors);
            // Outputs of two tasks must never overwrite each other.
            let mut clash = None;
            for pattern in task.name_patterns(i) {
                clash = clash.or(names.insert(pattern, i).filter(|first| *first != i));
            }
            if let Some(first) = clash {
                errors.check(
                    false,
                    &field,
                    format!("writes the same file names as tasks[{first}]: set a distinct definition"),
                );
            }
            // An output named like an upload, where uploads are, could replace one.
            errors.check(
                !(output.overlaps(&trigger) && task.names_outputs_like_uploads(i)),
                format!("{field}.output_name"),
                format!(
                    "names outputs like uploads ({}) in {output}, where uploads trigger this workflow: \
                     the output of clip.mp4 could replace an upload; add a suffix such as \
                     {{inputName}}_{{definition}}.{{format}} or set output.dir outside {trigger}",
                    task.name_pattern(i)
                ),
            );
        }
        self.limits.validate(&mut errors);
        if let Some(notification) = &self.notification {
            notification.validate("notification", &mut errors);
        }
        if errors.is_empty() {
            Ok(Config {
                name,
                trigger,
                output,
                tasks: self.tasks,
                limits: self.limits,
                notification: self.notification,
            })
        } else {
            Err(WorkflowError::Invalid(errors.into_messages()))
        }
    }
}

/// S3's bucket naming rules (the common subset): 3–63 of lowercase letters, digits, `.`, `-`,
/// starting and ending with a letter or digit.
fn check_bucket(bucket: &str, field: &str, errors: &mut Violations) {
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    errors.check(
        (3..=63).contains(&bucket.len())
            && bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-".contains(c))
            && ends_ok(bucket.chars().next())
            && ends_ok(bucket.chars().last()),
        field,
        "is not a valid bucket name (3–63 of a-z, 0-9, '.', '-')",
    );
}

/// Blank stays blank (the whole bucket); MPS-style leading `/` are dropped; the rest must end
/// with `/`.
fn normalize_dir(raw: &str, field: &str, errors: &mut Violations) -> String {
    let dir = raw.trim().trim_start_matches('/');
    errors.check(dir.is_empty() || dir.ends_with('/'), field, "must end with '/'");
    errors.check(dir.len() <= 512, field, "must be at most 512 characters");
    dir.to_owned()
}
