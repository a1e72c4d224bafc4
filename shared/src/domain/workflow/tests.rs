//! The seed's rules for workflows, and matching, lifecycle and conflicts.

use chrono::{DateTime, Utc};

use super::lifecycle::MAX_HISTORY;
use super::*;
use crate::domain::limits::Limits;
use crate::domain::notification::NotifyMode;
use crate::domain::object::{ObjectCreated, ObjectRef, parse_event_time};
use crate::domain::task::{SnapshotSpec, TaskSpec, TimePoint, TranscodeSpec};

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
        spec.tasks =
            vec![TaskSpec::Transcode(TranscodeSpec { output_name: Some(pattern.into()), ..TranscodeSpec::default() })];
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
            "tasks[0].video.crf: invalid value: integer `-5`, expected a CRF number or \"auto\"",
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
    let plain = serde_json::json!({"name": "n", "trigger": {"bucket": "media-in"}, "tasks": [{"type": "transcode"}]});
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
