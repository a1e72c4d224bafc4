//! Workflows: the list with a switch per row, the Create workflow form (also Clone and Edit), a
//! workflow's page with its YAML, and Delete.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use mediaflow::app::admin::catalog::CatalogError;
use mediaflow::app::admin::{AdminError, BucketCheck};
use mediaflow::domain::task::preset;
use mediaflow::domain::workflow::{Workflow, WorkflowSpec};
use serde::Deserialize;

use super::{page, page_with, refusal, segment, when};
use crate::Console;
use crate::access::Session;
use crate::form::{Kind, NOTIFY_MODES, NOTIFY_TARGETS, TASK_KINDS, WorkflowForm, task_input, task_label};

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/workflows", get(list))
        .route("/workflows/new", get(new).post(create))
        .route("/workflows/{name}", get(show))
        .route("/workflows/{name}/state", axum::routing::post(switch))
        .route("/workflows/{name}/edit", get(edit).post(save_edit))
        .route("/workflows/{name}/yaml", axum::routing::post(save_yaml))
        .route("/workflows/{name}/delete", get(confirm_delete).post(delete))
}

struct Row {
    name: String,
    path: String,
    enabled: bool,
    trigger: String,
    output: String,
    tasks: String,
    changed: String,
}

#[derive(Template)]
#[template(path = "workflows.html")]
struct List {
    section: &'static str,
    form_token: String,
    rows: Vec<Row>,
    error: Option<String>,
}

/// The task types of a workflow in the form's words: `Transcode, Screenshot`.
fn task_summary(workflow: &Workflow) -> String {
    let labels: Vec<&str> = workflow.tasks.iter().map(|task| task_label(task.kind())).collect();
    if labels.is_empty() { "none".to_owned() } else { labels.join(", ") }
}

async fn list(State(console): State<Console>, session: Session) -> Response {
    list_page(&console, &session, StatusCode::OK, None).await
}

async fn list_page(console: &Console, session: &Session, status: StatusCode, error: Option<String>) -> Response {
    let workflows = match console.admin.workflows().await {
        Ok(workflows) => workflows,
        Err(error) => return refusal(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
    };
    let rows = workflows
        .iter()
        .map(|workflow| Row {
            name: workflow.name.clone(),
            path: segment(&workflow.name),
            enabled: workflow.enabled,
            trigger: workflow.trigger.to_string(),
            output: workflow.output.to_string(),
            tasks: task_summary(workflow),
            changed: when(workflow.updated_at),
        })
        .collect();
    let form_token = session.form_token();
    page_with(status, List { section: "workflows", form_token, rows, error })
}

#[derive(Deserialize)]
struct SwitchForm {
    enabled: String,
}

/// The switch in a workflow's row: enables with the same checks as `mediaflow workflow enable`.
async fn switch(
    State(console): State<Console>,
    session: Session,
    Path(name): Path<String>,
    axum::Form(form): axum::Form<SwitchForm>,
) -> Response {
    let result = match form.enabled.as_str() {
        "on" => console.admin.enable(&name, BucketCheck::Required).await,
        _ => console.admin.disable(&name).await,
    };
    match result {
        Ok(_) => Redirect::to("/workflows").into_response(),
        Err(error) => list_page(&console, &session, StatusCode::CONFLICT, Some(format!("{name}: {error}"))).await,
    }
}

#[derive(Template)]
#[template(path = "workflow.html")]
struct Show {
    section: &'static str,
    name: String,
    path: String,
    enabled: bool,
    trigger: String,
    output: String,
    tasks: String,
    notification: String,
    state: String,
    revision: u64,
    changed: String,
    yaml: String,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
struct ShowQuery {
    saved: Option<String>,
}

async fn show(State(console): State<Console>, Path(name): Path<String>, Query(query): Query<ShowQuery>) -> Response {
    let workflow = match console.admin.workflow(&name).await {
        Ok(workflow) => workflow,
        Err(error) => return not_found_or(error),
    };
    let notification = workflow.notification.as_ref().map_or("off".to_owned(), |n| {
        serde_json::to_value(n)
            .map(|v| format!("{} to {}", v["mode"].as_str().unwrap_or(""), v["target"]))
            .unwrap_or_default()
    });
    let state = match (workflow.enabled, workflow.enabled_at) {
        (true, Some(at)) => format!("enabled since {}: uploads from then on are processed", when(at)),
        _ => "disabled: switch it on in the workflow list".to_owned(),
    };
    let notice = match query.saved.as_deref() {
        Some("created") => Some("Workflow created. It is disabled: switch it on in Manage Workflow."),
        Some(_) => Some("Workflow saved."),
        None => None,
    };
    page(Show {
        section: "workflows",
        path: segment(&workflow.name),
        enabled: workflow.enabled,
        trigger: workflow.trigger.to_string(),
        output: workflow.output.to_string(),
        tasks: task_summary(&workflow),
        notification,
        state,
        revision: workflow.revision,
        changed: when(workflow.updated_at),
        yaml: serde_yaml_ng::to_string(&workflow.spec()).unwrap_or_default(),
        name: workflow.name,
        notice,
    })
}

fn not_found_or(error: AdminError) -> Response {
    match error {
        AdminError::Catalog(CatalogError::NotFound(_)) => refusal(StatusCode::NOT_FOUND, &error.to_string()),
        other => refusal(StatusCode::SERVICE_UNAVAILABLE, &other.to_string()),
    }
}

/// One input of a form, as the field macro draws it.
pub(crate) struct FieldView {
    id: String,
    name: String,
    label: &'static str,
    hint: &'static str,
    value: String,
    errors: Vec<String>,
    options: Vec<(String, String)>,
    readonly: bool,
}

impl FieldView {
    fn new(form: &WorkflowForm, name: &str, label: &'static str, hint: &'static str) -> Self {
        FieldView {
            id: name.replace(['[', ']', '.'], "-"),
            name: name.to_owned(),
            label,
            hint,
            value: form.value(name).to_owned(),
            errors: form.errors_of(name).to_vec(),
            options: Vec::new(),
            readonly: false,
        }
    }

    fn options(mut self, options: Vec<(String, String)>) -> Self {
        self.options = options;
        self
    }
}

struct GroupView {
    kind: &'static str,
    label: &'static str,
    active: bool,
    fields: Vec<FieldView>,
}

struct TaskView {
    index: usize,
    number: usize,
    kind: FieldView,
    groups: Vec<GroupView>,
}

#[derive(Template)]
#[template(path = "workflow_form.html")]
struct FormPage {
    section: &'static str,
    heading: String,
    action: String,
    form_token: String,
    general: Vec<String>,
    name: FieldView,
    trigger: Vec<FieldView>,
    output: Vec<FieldView>,
    notify: bool,
    notification: Vec<FieldView>,
    tasks: Vec<TaskView>,
}

fn choices(values: &[&str]) -> Vec<(String, String)> {
    values.iter().map(|v| ((*v).to_owned(), (*v).to_owned())).collect()
}

/// The options of a field of kind `kind`; empty for a text input.
fn options_of(kind: Kind) -> Vec<(String, String)> {
    match kind {
        Kind::Choice(values) => choices(values),
        Kind::TranscodePreset => std::iter::once((String::new(), "None: the settings below".to_owned()))
            .chain(preset::PRESETS.iter().map(|p| {
                (p.id.to_owned(), format!("{} — {}, {}, {}", p.id, p.container, p.video_summary(), p.audio_summary()))
            }))
            .collect(),
        Kind::LadderPreset => std::iter::once((String::new(), "None: a ladder chosen for each upload".to_owned()))
            .chain(preset::hls_templates().map(|(id, p)| {
                let text = format!("{id} — HLS, {}, {}", p.video_summary(), p.audio_summary());
                (id, text)
            }))
            .collect(),
        Kind::Quality => [("", "Off"), ("vmaf", "VMAF (0–100)"), ("ssim", "SSIM (0–1)"), ("psnr", "PSNR (dB)")]
            .iter()
            .map(|(value, label)| ((*value).to_owned(), (*label).to_owned()))
            .collect(),
        Kind::Text | Kind::Number | Kind::List => Vec::new(),
    }
}

fn form_page(session: &Session, heading: String, action: String, form: &WorkflowForm, editing: bool) -> FormPage {
    let field = |name: &str, label, hint| FieldView::new(form, name, label, hint);
    let mut name = field("name", "Workflow name", "letters, digits, '-' and '_'");
    name.readonly = editing;
    let tasks = (0..form.tasks)
        .map(|index| {
            let selected = form.value(&format!("tasks[{index}].type"));
            let kinds = TASK_KINDS.iter().map(|k| (k.value.to_owned(), k.label.to_owned())).collect();
            let kind = field(&format!("tasks[{index}].type"), "Task type", "").options(kinds);
            let groups = TASK_KINDS
                .iter()
                .map(|k| GroupView {
                    kind: k.value,
                    label: k.label,
                    active: k.value == selected || (selected.is_empty() && k.value == "transcode"),
                    fields: k
                        .fields
                        .iter()
                        .map(|f| {
                            field(&task_input(index, k.value, f.path), f.label, f.hint).options(options_of(f.kind))
                        })
                        .collect(),
                })
                .collect();
            TaskView { index, number: index + 1, kind, groups }
        })
        .collect();
    let targets = NOTIFY_TARGETS.iter().map(|(kind, _, label)| ((*kind).to_owned(), (*label).to_owned())).collect();
    let modes = NOTIFY_MODES.iter().map(|(mode, label)| ((*mode).to_owned(), (*label).to_owned())).collect();
    FormPage {
        section: "workflows",
        heading,
        action,
        form_token: session.form_token(),
        general: form.errors_of("").to_vec(),
        name,
        trigger: vec![
            field("trigger.bucket", "Trigger bucket", "the bucket whose uploads start the workflow"),
            field("trigger.dir", "Trigger directory", "ends with '/'; blank: the whole bucket"),
        ],
        output: vec![
            field("output.bucket", "Output bucket", "blank: the trigger bucket"),
            field("output.dir", "Output directory", "blank: the trigger directory"),
        ],
        notify: form.value("notify") == "on",
        notification: vec![
            field("notification.target.type", "Target", "").options(targets),
            field("notification.address", "Address", "the queue URL, topic ARN, bus name or https URL"),
            field("notification.secret", "Signing secret (webhook)", "ssm:/name, secretsmanager:name or env:NAME"),
            field("notification.mode", "Mode", "").options(modes),
        ],
        tasks,
    }
}

#[derive(Deserialize)]
struct NewQuery {
    from: Option<String>,
}

/// The Create workflow form; `?from=NAME` fills it from a workflow (Clone).
async fn new(State(console): State<Console>, session: Session, Query(query): Query<NewQuery>) -> Response {
    let mut form = WorkflowForm::default();
    if let Some(from) = query.from {
        match console.admin.workflow(&from).await {
            Ok(workflow) => {
                form = WorkflowForm::from_spec(&workflow.spec());
                form.values.insert("name".into(), format!("{from}-copy"));
            }
            Err(error) => return not_found_or(error),
        }
    }
    page(form_page(&session, "Create workflow".into(), "/workflows/new".into(), &form, false))
}

/// What a form's buttons ask: save, or change the form (add or remove a task) and show it again.
fn change_form(form: &mut WorkflowForm) -> bool {
    let action = form.values.remove("action").unwrap_or_else(|| "save".into());
    if action == "add_task" {
        form.values.insert(format!("tasks[{}].type", form.tasks), "transcode".into());
        form.tasks += 1;
        return true;
    }
    let Some(index) = action.strip_prefix("remove:").and_then(|i| i.parse::<usize>().ok()) else { return false };
    // Shift the later tasks down by one.
    let old = std::mem::take(&mut form.values);
    for (name, value) in old {
        match name.strip_prefix("tasks[").and_then(|rest| rest.split_once(']')) {
            Some((i, rest)) => match i.parse::<usize>() {
                Ok(i) if i == index => {}
                Ok(i) if i > index => {
                    form.values.insert(format!("tasks[{}]{rest}", i - 1), value);
                }
                _ => {
                    form.values.insert(name, value);
                }
            },
            None => {
                form.values.insert(name, value);
            }
        }
    }
    form.tasks = form.tasks.saturating_sub(1);
    true
}

fn posted(pairs: Vec<(String, String)>) -> WorkflowForm {
    WorkflowForm::from_pairs(pairs.into_iter().filter(|(name, _)| name != crate::access::FORM_TOKEN))
}

async fn create(
    State(console): State<Console>,
    session: Session,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let mut form = posted(pairs);
    let heading = "Create workflow".to_owned();
    if change_form(&mut form) {
        return page(form_page(&session, heading, "/workflows/new".into(), &form, false));
    }
    if let Some(spec) = form.spec() {
        let name = spec.name.trim().to_owned();
        match console.admin.workflow(&name).await {
            Ok(_) => form
                .errors
                .entry("name".into())
                .or_default()
                .push(format!("a workflow named {name:?} exists: choose another name, or Edit it")),
            Err(AdminError::Catalog(CatalogError::NotFound(_))) => match console.admin.apply(spec).await {
                Ok(outcome) => {
                    return Redirect::to(&format!("/workflows/{}?saved=created", segment(&outcome.workflow.name)))
                        .into_response();
                }
                Err(error) => refuse(&mut form, error),
            },
            Err(error) => refuse(&mut form, error),
        }
    }
    page_with(StatusCode::UNPROCESSABLE_ENTITY, form_page(&session, heading, "/workflows/new".into(), &form, false))
}

/// Sets a refusal of the facade on the form: a workflow's problems beside their fields.
fn refuse(form: &mut WorkflowForm, error: AdminError) {
    match error {
        AdminError::Catalog(CatalogError::Invalid(invalid)) => form.refuse(&invalid),
        other => form.errors.entry(String::new()).or_default().push(other.to_string()),
    }
}

#[derive(Template)]
#[template(path = "workflow_yaml.html")]
struct YamlPage {
    section: &'static str,
    form_token: String,
    name: String,
    path: String,
    why: &'static str,
    yaml: String,
    errors: Vec<String>,
}

/// Edit: the form when it shows every setting of the workflow, its YAML otherwise.
async fn edit(State(console): State<Console>, session: Session, Path(name): Path<String>) -> Response {
    let workflow = match console.admin.workflow(&name).await {
        Ok(workflow) => workflow,
        Err(error) => return not_found_or(error),
    };
    let spec = workflow.spec();
    let form = WorkflowForm::from_spec(&spec);
    if WorkflowSpec::from_value(form.document()).is_ok_and(|shown| shown == spec) {
        let action = format!("/workflows/{}/edit", segment(&name));
        return page(form_page(&session, format!("Edit {name}"), action, &form, true));
    }
    page(YamlPage {
        section: "workflows",
        form_token: session.form_token(),
        path: segment(&name),
        why: "This workflow has settings the form does not show: edit its document.",
        yaml: serde_yaml_ng::to_string(&spec).unwrap_or_default(),
        errors: Vec::new(),
        name,
    })
}

async fn save_edit(
    State(console): State<Console>,
    session: Session,
    Path(name): Path<String>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let mut form = posted(pairs);
    form.values.insert("name".into(), name.clone());
    let action = format!("/workflows/{}/edit", segment(&name));
    if change_form(&mut form) {
        return page(form_page(&session, format!("Edit {name}"), action, &form, true));
    }
    if let Some(spec) = form.spec() {
        match console.admin.apply(spec).await {
            Ok(_) => return Redirect::to(&format!("/workflows/{}?saved=edited", segment(&name))).into_response(),
            Err(error) => refuse(&mut form, error),
        }
    }
    page_with(StatusCode::UNPROCESSABLE_ENTITY, form_page(&session, format!("Edit {name}"), action, &form, true))
}

#[derive(Deserialize)]
struct YamlForm {
    yaml: String,
}

async fn save_yaml(
    State(console): State<Console>,
    session: Session,
    Path(name): Path<String>,
    axum::Form(posted): axum::Form<YamlForm>,
) -> Response {
    let result = match serde_yaml_ng::from_str::<serde_json::Value>(&posted.yaml) {
        Ok(document) => match WorkflowSpec::from_value(document) {
            Ok(spec) if spec.name.trim() == name => {
                console.admin.apply(spec).await.map(|_| ()).map_err(|e| e.to_string())
            }
            Ok(spec) => Err(format!("name: this page edits {name:?}, the document names {:?}", spec.name)),
            Err(invalid) => Err(invalid.to_string()),
        },
        Err(error) => Err(format!("not YAML: {error}")),
    };
    match result {
        Ok(()) => Redirect::to(&format!("/workflows/{}?saved=edited", segment(&name))).into_response(),
        Err(error) => page_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            YamlPage {
                section: "workflows",
                form_token: session.form_token(),
                path: segment(&name),
                why: "Nothing was saved.",
                yaml: posted.yaml,
                errors: vec![error],
                name,
            },
        ),
    }
}

#[derive(Template)]
#[template(path = "delete.html")]
struct ConfirmDelete {
    section: &'static str,
    form_token: String,
    name: String,
    path: String,
}

async fn confirm_delete(State(console): State<Console>, session: Session, Path(name): Path<String>) -> Response {
    if let Err(error) = console.admin.workflow(&name).await {
        return not_found_or(error);
    }
    let form_token = session.form_token();
    page(ConfirmDelete { section: "workflows", form_token, path: segment(&name), name })
}

async fn delete(State(console): State<Console>, Path(name): Path<String>) -> Response {
    match console.admin.delete(&name).await {
        Ok(_) => Redirect::to("/workflows").into_response(),
        Err(error) => not_found_or(error),
    }
}
