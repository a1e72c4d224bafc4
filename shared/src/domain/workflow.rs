//! Workflows: where uploads come from, where outputs go, what to do with each upload; the seed
//! rules that make one valid; and the decision whether an upload starts a job.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::limits::Limits;
use super::notification::NotificationSpec;
use super::object::ObjectCreated;
use super::task::{MAX_TASKS, TaskSpec};
use super::validation::{Violations, deserialize_all};

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

/// A bucket and a directory in it: `dir` is empty (the whole bucket) or ends with `/`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub bucket: String,
    pub dir: String,
}

impl Location {
    pub fn contains(&self, bucket: &str, key: &str) -> bool {
        self.bucket == bucket && key.starts_with(&self.dir)
    }

    /// Whether some key can be in both: same bucket, one dir inside the other.
    pub fn overlaps(&self, other: &Location) -> bool {
        self.bucket == other.bucket && (self.dir.starts_with(&other.dir) || other.dir.starts_with(&self.dir))
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.dir)
    }
}

/// A validated workflow with its state. Created disabled; its name is its identity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    pub name: String,
    pub trigger: Location,
    pub output: Location,
    pub tasks: Vec<TaskSpec>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<NotificationSpec>,
    pub enabled: bool,
    /// When the workflow was last enabled; only objects created from then on are processed.
    pub enabled_at: Option<DateTime<Utc>>,
    /// The latest times it was enabled (the newest last): an upload made in any of them is
    /// processed, even when its event arrives after a disable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<EnabledSpan>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Starts at 1, grows by one with every change; writes are conditional on it.
    pub revision: u64,
}

/// A stretch of time a workflow was enabled; open (`until` absent) while it still is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnabledSpan {
    pub from: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

impl EnabledSpan {
    fn covers(&self, time: DateTime<Utc>) -> bool {
        self.from <= time && self.until.is_none_or(|until| time < until)
    }
}

/// How many enabled spans a workflow remembers.
const MAX_HISTORY: usize = 32;

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
struct Config {
    name: String,
    trigger: Location,
    output: Location,
    tasks: Vec<TaskSpec>,
    limits: Limits,
    notification: Option<NotificationSpec>,
}

/// Why a workflow does not process an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    Disabled,
    OutsideTriggerDir { dir: String },
    UploadedBeforeEnabled { enabled_at: DateTime<Utc> },
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::Disabled => f.write_str("disabled"),
            Skip::OutsideTriggerDir { dir } => write!(f, "outside trigger dir {dir:?}"),
            Skip::UploadedBeforeEnabled { enabled_at } => {
                write!(f, "uploaded before enabled (enabled at {})", enabled_at.to_rfc3339())
            }
        }
    }
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
    fn validate(self) -> Result<Config, WorkflowError> {
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

/// How many directories deep a trigger dir may be: the dispatcher looks for workflows in this
/// many directories of a key at most (and at the bucket's root).
pub const MAX_TRIGGER_DEPTH: usize = 16;

/// The trigger dirs that can hold `key`: the bucket's root, then each directory on the way to
/// the key, [`MAX_TRIGGER_DEPTH`] deep at most. The dispatcher reads the workflows of these dirs
/// only, so its cost grows with the key's depth, not with the bucket's workflows.
pub fn trigger_dirs_of(key: &str) -> impl Iterator<Item = &str> {
    std::iter::once("").chain(key.match_indices('/').map(|(end, _)| &key[..=end])).take(MAX_TRIGGER_DEPTH + 1)
}

/// Blank stays blank (the whole bucket); MPS-style leading `/` are dropped; the rest must end
/// with `/`.
fn normalize_dir(raw: &str, field: &str, errors: &mut Violations) -> String {
    let dir = raw.trim().trim_start_matches('/');
    errors.check(dir.is_empty() || dir.ends_with('/'), field, "must end with '/'");
    errors.check(dir.len() <= 512, field, "must be at most 512 characters");
    dir.to_owned()
}

impl Workflow {
    /// A new workflow from its spec: disabled, revision 1.
    pub fn create(spec: WorkflowSpec, now: DateTime<Utc>) -> Result<Workflow, WorkflowError> {
        let Config { name, trigger, output, tasks, limits, notification } = spec.validate()?;
        Ok(Workflow {
            name,
            trigger,
            output,
            tasks,
            limits,
            notification,
            enabled: false,
            enabled_at: None,
            history: Vec::new(),
            created_at: now,
            updated_at: now,
            revision: 1,
        })
    }

    /// This workflow with its configuration replaced by `spec`; state (enabled, enabled_at,
    /// created_at) is kept and the revision grows.
    pub fn replace(&self, spec: WorkflowSpec, now: DateTime<Utc>) -> Result<Workflow, WorkflowError> {
        let Config { name, trigger, output, tasks, limits, notification } = spec.validate()?;
        if name != self.name {
            return Err(WorkflowError::NameMismatch { expected: self.name.clone(), found: name });
        }
        Ok(Workflow {
            trigger,
            output,
            tasks,
            limits,
            notification,
            updated_at: now,
            revision: self.revision + 1,
            ..self.clone()
        })
    }

    /// The spec that produces this workflow (defaults filled in).
    pub fn spec(&self) -> WorkflowSpec {
        WorkflowSpec {
            name: self.name.clone(),
            trigger: TriggerSpec { bucket: self.trigger.bucket.clone(), dir: self.trigger.dir.clone() },
            output: OutputSpec { bucket: Some(self.output.bucket.clone()), dir: Some(self.output.dir.clone()) },
            tasks: self.tasks.clone(),
            limits: self.limits,
            notification: self.notification.clone(),
        }
    }

    /// Refuses this workflow beside the enabled `others` where they could feed each other (its
    /// output inside another's trigger, or, when it is enabled, another's output inside its
    /// trigger) or, when it is enabled, write the same key for the same upload. Its own output
    /// inside its own trigger is fine: outputs carry the marker and are skipped.
    pub fn conflicts(&self, others: &[Workflow]) -> Result<(), WorkflowError> {
        let mut reasons = Vec::new();
        for other in others.iter().filter(|o| o.enabled && o.name != self.name) {
            if other.trigger.overlaps(&self.output) {
                reasons.push(format!(
                    "its output {} overlaps the trigger {} of enabled workflow {:?}, which would take its outputs for uploads",
                    self.output, other.trigger, other.name
                ));
            }
            if self.enabled && self.trigger.overlaps(&other.output) {
                reasons.push(format!(
                    "its trigger {} overlaps the output {} of enabled workflow {:?}, whose outputs it would take for uploads",
                    self.trigger, other.output, other.name
                ));
            }
            if self.enabled {
                for pattern in self.shared_outputs(other) {
                    reasons.push(format!(
                        "enabled workflow {:?} writes the same outputs {}{pattern} for the same uploads",
                        other.name, self.output
                    ));
                }
            }
        }
        if reasons.is_empty() { Ok(()) } else { Err(WorkflowError::Conflict { name: self.name.clone(), reasons }) }
    }

    /// The name patterns this workflow and `other` would both write for the same upload at the
    /// same key. One trigger dir holds the other (`in/` and `in/sub/`): an upload under the
    /// deeper one lands below the shallower workflow's output dir plus the extra `sub/`, and
    /// directly below the deeper one's.
    fn shared_outputs(&self, other: &Workflow) -> Vec<String> {
        if self.trigger.bucket != other.trigger.bucket || self.output.bucket != other.output.bucket {
            return Vec::new();
        }
        let same_place = |shallow: &Workflow, deep: &Workflow| {
            deep.trigger
                .dir
                .strip_prefix(shallow.trigger.dir.as_str())
                .is_some_and(|extra| format!("{}{extra}", shallow.output.dir) == deep.output.dir)
        };
        if !same_place(self, other) && !same_place(other, self) {
            return Vec::new();
        }
        let theirs: Vec<String> = other.tasks.iter().enumerate().flat_map(|(i, task)| task.name_patterns(i)).collect();
        self.tasks
            .iter()
            .enumerate()
            .flat_map(|(i, task)| task.name_patterns(i))
            .filter(|pattern| theirs.contains(pattern))
            .collect()
    }

    /// Enabled from `now` on; enabling an enabled workflow changes nothing.
    pub fn enable(&self, now: DateTime<Utc>) -> Workflow {
        if self.enabled {
            return self.clone();
        }
        let mut history = self.history.clone();
        history.push(EnabledSpan { from: now, until: None });
        let excess = history.len().saturating_sub(MAX_HISTORY);
        history.drain(..excess);
        Workflow {
            enabled: true,
            enabled_at: Some(now),
            history,
            updated_at: now,
            revision: self.revision + 1,
            ..self.clone()
        }
    }

    /// Disabled from `now` on: uploads made while it was enabled are still processed.
    pub fn disable(&self, now: DateTime<Utc>) -> Workflow {
        if !self.enabled {
            return self.clone();
        }
        let mut history = self.spans();
        if let Some(open) = history.last_mut().filter(|span| span.until.is_none()) {
            open.until = Some(now);
        }
        Workflow {
            enabled: false,
            enabled_at: None,
            history,
            updated_at: now,
            revision: self.revision + 1,
            ..self.clone()
        }
    }

    /// The enabled spans, including the current one of a workflow stored before spans were
    /// recorded.
    fn spans(&self) -> Vec<EnabledSpan> {
        match (self.history.is_empty(), self.enabled, self.enabled_at) {
            (true, true, Some(from)) => vec![EnabledSpan { from, until: None }],
            _ => self.history.clone(),
        }
    }

    /// Whether this workflow processes the created object, and if not, why: the object must be
    /// under the trigger dir and created while the workflow was enabled.
    pub fn decide(&self, event: &ObjectCreated) -> Result<(), Skip> {
        if !self.trigger.contains(&event.object.bucket, &event.object.key) {
            return Err(Skip::OutsideTriggerDir { dir: self.trigger.dir.clone() });
        }
        if self.spans().iter().any(|span| span.covers(event.event_time)) {
            return Ok(());
        }
        match (self.enabled, self.enabled_at) {
            (true, Some(enabled_at)) => Err(Skip::UploadedBeforeEnabled { enabled_at }),
            _ => Err(Skip::Disabled),
        }
    }

    /// The key's path below the trigger dir (`sub/clip.mp4` for `in/sub/clip.mp4` under `in/`).
    pub fn relative_key<'k>(&self, key: &'k str) -> &'k str {
        key.strip_prefix(self.trigger.dir.as_str()).unwrap_or(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::notification::NotifyMode;
    use crate::domain::object::{ObjectRef, parse_event_time};
    use crate::domain::task::{SnapshotSpec, TimePoint, TranscodeSpec};

    fn spec() -> WorkflowSpec {
        WorkflowSpec {
            name: "demo_flow-1".into(),
            trigger: TriggerSpec { bucket: "media-in".into(), dir: "uploads/".into() },
            output: OutputSpec::default(),
            tasks: vec![TaskSpec::Transcode(TranscodeSpec::default())],
            limits: Limits::default(),
            notification: None,
        }
    }

    fn now() -> DateTime<Utc> {
        parse_event_time("2026-11-25T10:00:00Z").unwrap()
    }

    fn errors_of(spec: WorkflowSpec) -> Vec<String> {
        match Workflow::create(spec, now()) {
            Err(WorkflowError::Invalid(errors)) => errors,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    fn created(key: &str, at: &str) -> ObjectCreated {
        ObjectCreated {
            object: ObjectRef::new("media-in", key),
            size: Some(1),
            etag: None,
            version_id: None,
            sequencer: None,
            event_time: parse_event_time(at).unwrap(),
        }
    }

    #[test]
    fn rule1_name_accepts_letters_digits_underscore_backslash_dash() {
        let mut spec = spec();
        spec.name = "A_b\\c-9".into();
        assert!(Workflow::create(spec, now()).is_ok());
    }

    #[test]
    fn rule1_name_rejects_empty_long_or_other_characters() {
        for bad in ["", "has space", "dot.name", "é", &"x".repeat(129)] {
            let mut spec = spec();
            spec.name = bad.into();
            assert_eq!(errors_of(spec), vec!["name: must be 1–128 letters, digits, '_', '\\' or '-'"], "{bad:?}");
        }
        let mut spec = spec();
        spec.name = "x".repeat(128);
        assert!(Workflow::create(spec, now()).is_ok());
    }

    #[test]
    fn rule2_trigger_bucket_is_required() {
        let mut spec = spec();
        spec.trigger.bucket = " ".into();
        assert_eq!(errors_of(spec), vec!["trigger.bucket: is required"]);
    }

    #[test]
    fn rule2_trigger_dir_must_end_with_slash() {
        let mut spec = spec();
        spec.trigger.dir = "uploads".into();
        assert_eq!(errors_of(spec), vec!["trigger.dir: must end with '/'"]);
    }

    #[test]
    fn trigger_dir_depth_is_bounded_so_the_dispatcher_reads_a_bounded_number_of_dirs() {
        let mut spec = spec();
        spec.trigger.dir = "d/".repeat(MAX_TRIGGER_DEPTH);
        assert!(Workflow::create(spec.clone(), now()).is_ok());
        spec.trigger.dir = "d/".repeat(MAX_TRIGGER_DEPTH + 1);
        assert_eq!(errors_of(spec), vec!["trigger.dir: must be at most 16 directories deep"]);
    }

    #[test]
    fn trigger_dirs_of_a_key_are_the_root_and_each_directory_on_the_way() {
        assert_eq!(trigger_dirs_of("clip.mp4").collect::<Vec<_>>(), vec![""]);
        assert_eq!(trigger_dirs_of("in/sub/clip.mp4").collect::<Vec<_>>(), vec!["", "in/", "in/sub/"]);
        assert_eq!(trigger_dirs_of("a//b.mp4").collect::<Vec<_>>(), vec!["", "a/", "a//"]);
        let hostile = "x/".repeat(1000) + "clip.mp4";
        let dirs: Vec<_> = trigger_dirs_of(&hostile).collect();
        assert_eq!(dirs.len(), MAX_TRIGGER_DEPTH + 1, "a hostile key costs a bounded number of reads");
        // every dir a valid workflow can have that holds the key is among them
        let workflow_dir = "x/".repeat(MAX_TRIGGER_DEPTH);
        assert!(dirs.contains(&workflow_dir.as_str()));
    }

    #[test]
    fn rule2_trigger_dir_leading_slash_is_stripped_and_blank_means_bucket() {
        let mut spec = spec();
        spec.trigger.dir = "/uploads/".into();
        assert_eq!(Workflow::create(spec.clone(), now()).unwrap().trigger.dir, "uploads/");
        spec.trigger.dir = "".into();
        assert_eq!(Workflow::create(spec.clone(), now()).unwrap().trigger.dir, "");
        spec.trigger.dir = "/".into();
        assert_eq!(Workflow::create(spec, now()).unwrap().trigger.dir, "");
    }

    #[test]
    fn rule3_output_defaults_to_trigger_bucket_and_dir() {
        let workflow = Workflow::create(spec(), now()).unwrap();
        assert_eq!(workflow.output, Location { bucket: "media-in".into(), dir: "uploads/".into() });
    }

    #[test]
    fn rule3_output_dir_must_end_with_slash_and_strips_leading_slash() {
        let mut spec = spec();
        spec.output = OutputSpec { bucket: Some("media-out".into()), dir: Some("/out".into()) };
        assert_eq!(errors_of(spec.clone()), vec!["output.dir: must end with '/'"]);
        spec.output.dir = Some("/out/".into());
        let workflow = Workflow::create(spec, now()).unwrap();
        assert_eq!(workflow.output, Location { bucket: "media-out".into(), dir: "out/".into() });
    }

    #[test]
    fn rule3_bad_output_bucket_names_field() {
        let mut spec = spec();
        spec.output.bucket = Some("Bad_Bucket".into());
        assert_eq!(errors_of(spec), vec!["output.bucket: is not a valid bucket name (3–63 of a-z, 0-9, '.', '-')"]);
    }

    #[test]
    fn rule4_at_least_one_task() {
        let mut spec = spec();
        spec.tasks.clear();
        assert_eq!(errors_of(spec), vec!["tasks: needs 1–20 tasks"]);
    }

    #[test]
    fn rule5_created_disabled_and_enable_records_time() {
        let workflow = Workflow::create(spec(), now()).unwrap();
        assert!(!workflow.enabled);
        assert_eq!(workflow.enabled_at, None);
        let later = parse_event_time("2026-11-25T11:00:00Z").unwrap();
        let enabled = workflow.enable(later);
        assert!(enabled.enabled);
        assert_eq!(enabled.enabled_at, Some(later));
        assert_eq!(enabled.revision, 2);
        assert_eq!(enabled.enable(now()), enabled, "enabling twice keeps the first time");
        let disabled = enabled.disable(later);
        assert_eq!((disabled.enabled, disabled.enabled_at, disabled.revision), (false, None, 3));
        assert_eq!(disabled.history, vec![EnabledSpan { from: later, until: Some(later) }]);
    }

    #[test]
    fn rule5_uploads_made_while_enabled_are_processed_after_a_disable() {
        let at = |t: &str| parse_event_time(t).unwrap();
        let workflow = Workflow::create(spec(), now())
            .unwrap()
            .enable(at("2026-11-25T10:00:00Z"))
            .disable(at("2026-11-25T11:00:00Z"))
            .enable(at("2026-11-25T12:00:00Z"))
            .disable(at("2026-11-25T13:00:00Z"));
        assert_eq!(workflow.decide(&created("uploads/a.mp4", "2026-11-25T10:59:59Z")), Ok(()));
        assert_eq!(workflow.decide(&created("uploads/a.mp4", "2026-11-25T12:30:00Z")), Ok(()));
        assert_eq!(workflow.decide(&created("uploads/a.mp4", "2026-11-25T11:00:00Z")), Err(Skip::Disabled));
        assert_eq!(workflow.decide(&created("uploads/a.mp4", "2026-11-25T13:00:01Z")), Err(Skip::Disabled));
        let mut flapping = Workflow::create(spec(), now()).unwrap();
        for hour in 0..40 {
            let time = now() + chrono::TimeDelta::hours(hour);
            flapping = flapping.enable(time).disable(time + chrono::TimeDelta::minutes(30));
        }
        assert_eq!(flapping.history.len(), MAX_HISTORY, "the oldest spans are forgotten");
    }

    #[test]
    fn rule5_objects_before_enabled_at_are_skipped() {
        let workflow = Workflow::create(spec(), now()).unwrap().enable(now());
        let before = created("uploads/a.mp4", "2026-11-25T09:59:59.999Z");
        let at = created("uploads/a.mp4", "2026-11-25T10:00:00Z");
        assert_eq!(workflow.decide(&before), Err(Skip::UploadedBeforeEnabled { enabled_at: now() }));
        assert_eq!(workflow.decide(&at), Ok(()));
    }

    #[test]
    fn rule5_disabled_workflow_skips() {
        let workflow = Workflow::create(spec(), now()).unwrap();
        assert_eq!(workflow.decide(&created("uploads/a.mp4", "2026-11-26T00:00:00Z")), Err(Skip::Disabled));
    }

    #[test]
    fn outputs_named_like_uploads_where_uploads_are_are_refused() {
        let named = |pattern: &str, output_dir: Option<&str>| {
            let mut spec = spec();
            spec.output.dir = output_dir.map(Into::into);
            spec.tasks = vec![TaskSpec::Transcode(TranscodeSpec {
                output_name: Some(pattern.into()),
                ..TranscodeSpec::default()
            })];
            Workflow::create(spec, now()).map(|_| ()).map_err(|e| e.to_string())
        };
        let error = named("{inputName}.{format}", None).unwrap_err();
        assert!(error.contains("tasks[0].output_name: names outputs like uploads ({inputName}.mp4)"), "{error}");
        assert!(named("{inputName}", Some("uploads/sub/")).is_err(), "an output dir inside the trigger dir");
        assert!(named("{inputName}.{format}", Some("done/")).is_ok(), "outside the trigger dir it is fine");
        assert!(named("{inputName}_small.{format}", None).is_ok());
        assert!(named("small_{inputName}.{format}", None).is_ok());
        // the upload's own name, whatever its extension
        let error = named("{inputName}.{inputFormat}", None).unwrap_err();
        assert!(error.contains("names outputs like uploads ({inputName}.{inputFormat})"), "{error}");
        assert!(named("{inputName}_{inputFormat}.{format}", None).is_ok());
        let error = named("poster.{format}", Some("done/")).unwrap_err();
        assert!(error.contains("needs {inputName}: without it every upload would write the same file"), "{error}");
    }

    #[test]
    fn type_errors_name_each_field_and_are_reported_with_the_broken_rules() {
        let file = serde_json::json!({
            "name": "bad name", "trigger": {"bucket": "media-in", "dir": "in/"},
            "tasks": [
                {"type": "transcode", "video": {"crf": -5, "width": "wide"}, "containr": "mp4"},
                {"type": "snapshot"},
                {"type": "gif"},
                {"type": "animated", "fps": 99}
            ]
        });
        let WorkflowError::Invalid(errors) = WorkflowSpec::from_value(file).unwrap_err() else { panic!("invalid") };
        assert_eq!(
            errors,
            [
                "tasks[0].containr: unknown field",
                "tasks[0].video.crf: invalid value: integer `-5`, expected u8",
                "tasks[0].video.width: invalid type: string \"wide\", expected u32",
                "tasks[1]: missing field `times`",
                "tasks[2].type: unknown task type \"gif\": use transcode, snapshot, sample, sprite, cover, animated, watermark or adaptive",
                "name: must be 1–128 letters, digits, '_', '\\' or '-'",
                "tasks[3].fps: must be above 0 and at most 30",
            ]
        );
        let good = serde_json::json!({"name": "ok", "trigger": {"bucket": "media-in"}, "tasks": [{"type": "screenshot", "times": [1]}]});
        assert!(WorkflowSpec::from_value(good).is_ok());
    }

    #[test]
    fn rule6_workflow_files_have_no_notification_unless_configured() {
        let plain =
            serde_json::json!({"name": "n", "trigger": {"bucket": "media-in"}, "tasks": [{"type": "transcode"}]});
        let workflow = Workflow::create(WorkflowSpec::from_value(plain.clone()).unwrap(), now()).unwrap();
        assert_eq!(workflow.notification, None, "off unless asked for");
        let mut asked = plain.clone();
        asked["notification"] = serde_json::json!({"target": {"type": "eventbridge", "bus": "default"}});
        let workflow = Workflow::create(WorkflowSpec::from_value(asked).unwrap(), now()).unwrap();
        assert!(workflow.notification.is_some_and(|n| n.mode == NotifyMode::Finish));
        let mut empty = plain;
        empty["notification"] = serde_json::json!({});
        assert_eq!(
            WorkflowSpec::from_value(empty).unwrap_err().to_string(),
            "invalid workflow: notification: missing field `target`"
        );
    }

    #[test]
    fn rule7_matching_covers_nested_dirs_only_under_trigger() {
        let workflow = Workflow::create(spec(), now()).unwrap().enable(now());
        let nested = created("uploads/a/b/c.mp4", "2026-11-26T00:00:00Z");
        assert_eq!(workflow.decide(&nested), Ok(()));
        assert_eq!(workflow.relative_key("uploads/a/b/c.mp4"), "a/b/c.mp4");
        let outside = created("other/c.mp4", "2026-11-26T00:00:00Z");
        assert_eq!(workflow.decide(&outside), Err(Skip::OutsideTriggerDir { dir: "uploads/".into() }));
        let sibling = created("uploads-old/c.mp4", "2026-11-26T00:00:00Z");
        assert!(workflow.decide(&sibling).is_err(), "a dir is a prefix ending in '/'");
    }

    #[test]
    fn when_whole_bucket_triggers_should_match_any_key() {
        let mut spec = spec();
        spec.trigger.dir = String::new();
        let workflow = Workflow::create(spec, now()).unwrap().enable(now());
        assert_eq!(workflow.decide(&created("x.mp4", "2026-11-26T00:00:00Z")), Ok(()));
    }

    #[test]
    fn when_two_tasks_write_same_names_should_reject() {
        let mut spec = spec();
        let snapshot = |definition: &str| {
            TaskSpec::Snapshot(SnapshotSpec {
                definition: Some(definition.into()),
                times: vec![TimePoint::Seconds(1.0)],
                ..SnapshotSpec::default()
            })
        };
        spec.tasks = vec![snapshot("a"), snapshot("a")];
        assert_eq!(
            errors_of(spec.clone()),
            vec!["tasks[1]: writes the same file names as tasks[0]: set a distinct definition"]
        );
        spec.tasks = vec![snapshot("a"), snapshot("b")];
        assert!(Workflow::create(spec, now()).is_ok());
    }

    #[test]
    fn when_several_rules_break_should_report_each_field() {
        let spec = WorkflowSpec {
            name: "bad name".into(),
            trigger: TriggerSpec { bucket: String::new(), dir: "in".into() },
            output: OutputSpec::default(),
            tasks: vec![],
            limits: Limits { max_streams: 0, ..Limits::default() },
            notification: None,
        };
        assert_eq!(errors_of(spec).len(), 5);
    }

    #[test]
    fn replace_keeps_state_and_bumps_revision() {
        let workflow = Workflow::create(spec(), now()).unwrap().enable(now());
        let mut changed = spec();
        changed.trigger.dir = "new/".into();
        let later = parse_event_time("2026-11-26T00:00:00Z").unwrap();
        let replaced = workflow.replace(changed, later).unwrap();
        assert_eq!((replaced.enabled, replaced.enabled_at, replaced.revision), (true, Some(now()), 3));
        assert_eq!(replaced.trigger.dir, "new/");
        let mut renamed = spec();
        renamed.name = "other".into();
        assert!(matches!(workflow.replace(renamed, later), Err(WorkflowError::NameMismatch { .. })));
    }

    fn flow(name: &str, trigger: &str, output: &str) -> Workflow {
        let mut spec = spec();
        spec.name = name.into();
        spec.trigger.dir = trigger.into();
        spec.output.dir = Some(output.into());
        Workflow::create(spec, now()).unwrap()
    }

    #[test]
    fn own_output_inside_own_trigger_is_no_loop() {
        let workflow = flow("a", "in/", "in/").enable(now());
        assert_eq!(workflow.conflicts(std::slice::from_ref(&workflow)), Ok(()));
    }

    #[test]
    fn output_inside_another_enabled_trigger_is_a_loop() {
        let watcher = flow("b", "out/", "done/").enable(now());
        let candidate = flow("a", "in/", "out/sub/");
        let error = candidate.conflicts(std::slice::from_ref(&watcher)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "workflow \"a\" conflicts with enabled workflows: its output s3://media-in/out/sub/ \
             overlaps the trigger s3://media-in/out/ of enabled workflow \"b\", which would take its outputs for uploads"
        );
        assert_eq!(candidate.conflicts(&[watcher.disable(now())]), Ok(()), "disabled workflows do not count");
    }

    #[test]
    fn enabling_a_trigger_over_another_output_is_a_loop_and_whole_bucket_overlaps_all() {
        let producer = flow("b", "src/", "in/").enable(now());
        let candidate = flow("a", "in/deep/", "x/");
        assert_eq!(candidate.conflicts(std::slice::from_ref(&producer)), Ok(()), "disabled: its trigger is inert");
        assert!(candidate.enable(now()).conflicts(std::slice::from_ref(&producer)).is_err());
        let everything = flow("c", "", "y/");
        assert!(everything.enable(now()).conflicts(&[producer]).is_err(), "the whole bucket holds every dir");
    }

    #[test]
    fn enabled_workflows_writing_the_same_outputs_for_the_same_uploads_conflict() {
        let a = flow("a", "in/", "out/").enable(now());
        let b = flow("b", "in/", "out/");
        assert_eq!(b.conflicts(std::slice::from_ref(&a)), Ok(()), "b writes nothing while disabled");
        let error = b.enable(now()).conflicts(std::slice::from_ref(&a)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "workflow \"b\" conflicts with enabled workflows: enabled workflow \"a\" writes the same outputs \
             s3://media-in/out/{inputName}_transcode_1.mp4 for the same uploads"
        );
        // in/sub/x.mp4 lands at out/sub/x_… for a and at out/sub/x_… for c
        let c = flow("c", "in/sub/", "out/sub/").enable(now());
        assert!(c.conflicts(std::slice::from_ref(&a)).is_err());
        assert!(a.conflicts(std::slice::from_ref(&c)).is_err(), "either way round");
        assert_eq!(flow("d", "in/", "other/").enable(now()).conflicts(std::slice::from_ref(&a)), Ok(()));
        assert_eq!(flow("e", "in/sub/", "out/").enable(now()).conflicts(std::slice::from_ref(&a)), Ok(()));
    }

    #[test]
    fn limits_are_validated_with_the_workflow() {
        let mut spec = spec();
        spec.limits.max_size_mb = 0;
        assert_eq!(errors_of(spec), vec!["limits.max_size_mb: must be 1–10240"]);
    }

    #[test]
    fn watermark_image_bucket_defaults_to_trigger_bucket() {
        let mut spec = spec();
        spec.tasks =
            vec![serde_json::from_str(r#"{"type":"watermark","watermarks":[{"image":{"key":"logo.png"}}]}"#).unwrap()];
        let workflow = Workflow::create(spec, now()).unwrap();
        assert_eq!(workflow.tasks[0].watermarks()[0].image.as_ref().unwrap().bucket, "media-in");
    }
}
