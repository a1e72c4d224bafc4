//! Jobs: status tabs and filters over the jobs' indexes (never a scan), and a job's page with
//! its source, tasks, attempts, errors and outputs.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use chrono::{TimeDelta, Utc};
use mediaflow::app::admin::AdminError;
use mediaflow::app::admin::jobs::{JobsError, parse_since};
use mediaflow::domain::cost::{Bill, Usd};
use mediaflow::domain::job::{Job, JobId, JobStatus, TaskStatus};
use mediaflow::domain::object::{ObjectRef, readable_size};
use mediaflow::ports::{JobFilter, JobTally};
use serde::Deserialize;

use super::{page, page_with, refusal, segment, when};
use crate::Console;
use crate::access::Session;
use crate::form::task_label;

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/jobs", get(list))
        .route("/jobs/redo", post(redo_selected))
        .route("/jobs/{id}", get(show))
        .route("/jobs/{id}/redo", post(redo))
}

/// Jobs per page.
const PAGE: usize = 50;

/// The tabs: the statuses of the jobs' index, and finished jobs by outcome.
const TABS: &[(&str, &str)] =
    &[("", "All"), ("waiting", "Waiting"), ("processing", "Running"), ("succeeded", "Succeeded"), ("failed", "Failed")];

/// What the tabs count without `since`: the jobs of the last week.
const COUNTED_DAYS: i64 = 7;
/// The most jobs the tabs count; beyond, they say "1,000+" (a page view reads at most that many).
const MOST_COUNTED: u64 = 1_000;

#[derive(Default, Deserialize)]
struct Filters {
    #[serde(default)]
    workflow: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    since: String,
    /// One upload's jobs: `s3://bucket/key`.
    #[serde(default)]
    key: String,
    page: Option<String>,
}

impl Filters {
    fn href(&self, status: &str, page: Option<&str>) -> String {
        let mut href = format!(
            "/jobs?status={}&workflow={}&since={}&key={}",
            segment(status),
            segment(&self.workflow),
            segment(&self.since),
            segment(&self.key)
        );
        if let Some(page) = page {
            href.push_str(&format!("&page={}", segment(page)));
        }
        href
    }

    fn filter(&self) -> Result<JobFilter, String> {
        let status = match self.status.as_str() {
            "waiting" => Some(JobStatus::Waiting),
            "processing" => Some(JobStatus::Processing),
            "finish" | "succeeded" | "failed" => Some(JobStatus::Finish),
            _ => None,
        };
        let since = match self.since.trim() {
            "" => None,
            text => Some(parse_since(text).map_err(|e| format!("Since: {e}"))?),
        };
        let workflow = Some(self.workflow.clone()).filter(|w| !w.is_empty());
        let input = match self.key.trim() {
            "" => None,
            text => Some(
                ObjectRef::parse_url(text)
                    .filter(|object| !object.key.is_empty())
                    .ok_or_else(|| format!("Key: write it as s3://bucket/path/video.mp4, not {text:?}"))?,
            ),
        };
        Ok(JobFilter {
            workflow,
            input,
            status,
            failed: self.status == "failed",
            succeeded: self.status == "succeeded",
            since,
            limit: PAGE,
            page: self.page.clone(),
        })
    }
}

struct Tab {
    href: String,
    label: &'static str,
    /// How many jobs it holds, as shown beside its label (blank when not counted).
    count: String,
    current: bool,
}

struct Row {
    id: String,
    path: String,
    created: String,
    input: String,
    workflow: String,
    status: String,
    class: &'static str,
    error: String,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct List {
    section: &'static str,
    tabs: Vec<Tab>,
    /// Which jobs the tabs count, in words.
    counted: String,
    workflows: Vec<String>,
    workflow: String,
    status: String,
    since: String,
    key: String,
    rows: Vec<Row>,
    next: Option<String>,
    error: Option<String>,
    notice: Option<String>,
    form_token: String,
    /// Rows can be picked for a redo (the Failed tab).
    selectable: bool,
}

/// A job's state in words and the badge it wears.
fn state(job: &Job) -> (String, &'static str) {
    match (job.status, job.failed_tasks, &job.error) {
        (JobStatus::Waiting, ..) => ("Waiting".into(), "waiting"),
        (JobStatus::Processing, ..) => ("Running".into(), "running"),
        (JobStatus::Finish, 0, None) => ("Succeeded".into(), "ok"),
        (JobStatus::Finish, ..) => ("Failed".into(), "failed"),
    }
}

async fn list(State(console): State<Console>, session: Session, Query(filters): Query<Filters>) -> Response {
    render_list(&console, &session, filters, None).await
}

async fn render_list(console: &Console, session: &Session, filters: Filters, notice: Option<String>) -> Response {
    let workflows =
        console.admin.workflows().await.map(|all| all.into_iter().map(|w| w.name).collect()).unwrap_or_default();
    let (found, tally) = match filters.filter() {
        Err(error) => (Err(error), None),
        Ok(filter) => {
            let (found, tally) = tokio::join!(console.admin.list_jobs(&filter), tally(console, &filter));
            (found.map_err(|error| error.to_string()), tally)
        }
    };
    let (rows, next, error) = match found {
        Ok(found) => {
            let rows = found.jobs.iter().map(row).collect();
            (rows, found.next_page.map(|page| filters.href(&filters.status, Some(&page))), None)
        }
        Err(error) => (Vec::new(), None, Some(error)),
    };
    let tabs = TABS
        .iter()
        .map(|(status, label)| Tab {
            href: filters.href(status, None),
            label,
            count: tally.as_ref().map(|(tally, _)| count_of(tally, status)).unwrap_or_default(),
            current: filters.status == *status,
        })
        .collect();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    page_with(
        status,
        List {
            section: "jobs",
            tabs,
            counted: tally.map(|(_, counted)| counted).unwrap_or_default(),
            workflows,
            workflow: filters.workflow,
            since: filters.since,
            key: filters.key,
            selectable: filters.status == "failed",
            status: filters.status,
            rows,
            next,
            error,
            notice,
            form_token: session.form_token(),
        },
    )
}

fn row(job: &Job) -> Row {
    let (status, class) = state(job);
    Row {
        id: job.id.to_string(),
        path: segment(job.id.as_str()),
        created: when(job.created_at),
        input: job.input.to_string(),
        workflow: job.workflow.clone(),
        status,
        class,
        error: job.error.as_ref().map(ToString::to_string).unwrap_or_else(|| {
            if job.failed_tasks > 0 { format!("{} task(s) failed", job.failed_tasks) } else { String::new() }
        }),
    }
}

/// The tabs' counts over the filter's workflow and window (the last week without `since`),
/// and the window in words; `None` when they could not be had (the list still shows) or the
/// list is one upload's.
async fn tally(console: &Console, filter: &JobFilter) -> Option<(JobTally, String)> {
    if filter.input.is_some() {
        return None;
    }
    let (since, counted) = match filter.since {
        Some(since) => (since, format!("Counts: jobs created since {}", when(since))),
        None => (
            Utc::now() - TimeDelta::days(COUNTED_DAYS),
            format!("Counts: jobs created in the last {COUNTED_DAYS} days"),
        ),
    };
    match console.admin.tally_jobs(filter.workflow.as_deref(), since, MOST_COUNTED).await {
        Ok(tally) => Some((tally, counted)),
        Err(error) => {
            tracing::warn!(%error, "the jobs were not counted");
            None
        }
    }
}

/// A tab's count as shown: `204`, or `1,000+` when counting stopped.
fn count_of(tally: &JobTally, status: &str) -> String {
    let figure = match status {
        "waiting" => tally.waiting,
        "processing" => tally.running,
        "succeeded" => tally.succeeded,
        "failed" => tally.failed,
        _ => tally.total(),
    };
    let digits = figure.to_string();
    let mut shown = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            shown.push(',');
        }
        shown.push(digit);
    }
    if tally.partial {
        shown.push('+');
    }
    shown
}

/// Redoes the failed tasks of every job picked on the Failed tab.
async fn redo_selected(
    State(console): State<Console>,
    session: Session,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let mut redone = 0;
    let mut refused = Vec::new();
    for (_, id) in pairs.into_iter().filter(|(name, _)| name == "job") {
        match console.admin.redo(&JobId::from(id.clone()), None).await {
            Ok(_) => redone += 1,
            Err(error) => refused.push(format!("{id}: {error}")),
        }
    }
    let mut notice = format!("{redone} job(s) sent to run their failed tasks again.");
    if !refused.is_empty() {
        notice.push_str(&format!(" Not redone: {}", refused.join("; ")));
    }
    let filters = Filters { status: "failed".into(), ..Filters::default() };
    render_list(&console, &session, filters, Some(notice)).await
}

#[derive(Deserialize)]
struct RedoForm {
    task: Option<u32>,
}

/// Runs a finished job's failed tasks (or one of them) again.
async fn redo(
    State(console): State<Console>,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<RedoForm>,
) -> Response {
    match console.admin.redo(&JobId::from(id.clone()), form.task).await {
        Ok(_) => Redirect::to(&format!("/jobs/{}", segment(&id))).into_response(),
        Err(error) => refusal(StatusCode::CONFLICT, &error.to_string()),
    }
}

struct TaskRow {
    index: u32,
    number: u32,
    /// A failed task of a finished job: it may be run again.
    redo: bool,
    kind: &'static str,
    status: &'static str,
    class: &'static str,
    progress: Option<u8>,
    attempts: u32,
    error: String,
    outputs: Vec<OutputRow>,
    /// What went wrong without failing it (a time point left out, a title not tuned).
    warnings: Vec<String>,
    /// What its invocations cost so far; empty before any ended.
    cost: String,
}

/// One output of a task: where it is, how big, its page in the file browser, and its scores
/// against the source (one per rendition for a ladder's manifest), when the task asked.
struct OutputRow {
    name: String,
    size: String,
    open: String,
    quality: Vec<String>,
    /// The CRF `crf: auto` chose, and what it predicted.
    tuning: Option<String>,
}

#[derive(Template)]
#[template(path = "job.html")]
struct Show {
    section: &'static str,
    id: String,
    status: String,
    class: &'static str,
    live: bool,
    workflow: String,
    workflow_path: String,
    revision: u64,
    input: String,
    source: String,
    created: String,
    finished: String,
    error: String,
    tasks: Vec<TaskRow>,
    form_token: String,
    /// How its events went; `None` without a notification.
    notification: Option<String>,
    /// A finished job with something failed: Redo runs it again.
    redo: bool,
    /// What it used and cost, beside MediaConvert and MPS; `None` before any invocation ended.
    usage: Option<Costed>,
}

struct Costed {
    used: String,
    cost: String,
    /// Whose prices, and how old.
    prices: String,
}

async fn show(State(console): State<Console>, session: Session, Path(id): Path<String>) -> Response {
    let view = match console.admin.job(&JobId::from(id)).await {
        Ok(view) => view,
        Err(error @ AdminError::Jobs(JobsError::NotFound(_))) => {
            return refusal(StatusCode::NOT_FOUND, &error.to_string());
        }
        Err(error) => return refusal(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
    };
    let job = &view.job;
    let prices = &console.admin.prices;
    let (status, class) = state(job);
    let tasks = view
        .tasks
        .iter()
        .map(|task| {
            let (status, class) = match task.status {
                TaskStatus::Waiting => ("Waiting", "waiting"),
                TaskStatus::Processing => ("Running", "running"),
                TaskStatus::Success => ("Succeeded", "ok"),
                TaskStatus::Fail => ("Failed", "failed"),
            };
            TaskRow {
                index: task.index,
                number: task.index + 1,
                redo: job.status == JobStatus::Finish && task.status == TaskStatus::Fail,
                kind: task_label(task.spec.kind()),
                status,
                class,
                progress: task.progress.filter(|_| task.status == TaskStatus::Processing),
                attempts: task.hold.attempts,
                error: task.error.as_ref().map(ToString::to_string).unwrap_or_default(),
                outputs: task
                    .outputs
                    .iter()
                    .map(|o| OutputRow {
                        name: format!("s3://{}/{}", o.bucket, o.key),
                        size: readable_size(o.size),
                        open: format!("/buckets/{}/object?key={}", segment(&o.bucket), segment(&o.key)),
                        quality: o.quality.iter().map(ToString::to_string).collect(),
                        tuning: o.tuning.as_ref().map(ToString::to_string),
                    })
                    .collect(),
                warnings: task.warnings.clone(),
                cost: match task.usage.is_empty() {
                    true => String::new(),
                    false => Usd(prices.cost(&task.usage).total()).to_string(),
                },
            }
        })
        .collect();
    page(Show {
        section: "jobs",
        id: job.id.to_string(),
        status,
        class,
        live: job.status != JobStatus::Finish,
        workflow_path: segment(&job.workflow),
        workflow: job.workflow.clone(),
        revision: job.workflow_revision,
        input: job.input.to_string(),
        source: job.source.as_ref().map_or("not probed yet".to_owned(), |s| s.summary()),
        created: when(job.created_at),
        finished: job.finished_at.map_or("—".to_owned(), when),
        error: job.error.as_ref().map(ToString::to_string).unwrap_or_default(),
        tasks,
        form_token: session.form_token(),
        notification: job.notification_summary(),
        redo: job.status == JobStatus::Finish && (job.failed_tasks > 0 || job.error.is_some()),
        usage: (!job.usage.is_empty()).then(|| Costed {
            used: job.usage.to_string(),
            cost: Bill { prices, usage: &job.usage }.to_string(),
            prices: prices.dated(),
        }),
    })
}
