//! `mediaflow job`: list jobs, show one with its tasks and outputs, follow one as it runs, run
//! its failed tasks again.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use mediaflow::app::admin::jobs::{JobRef, JobView, JobsError};
use mediaflow::app::admin::{Admin, AdminError};
use mediaflow::domain::cost::{Bill, Prices, Usd};
use mediaflow::domain::job::{Job, JobId, JobResult, JobStatus, TaskStatus};
use mediaflow::ports::{JobFilter, JobPage};
use serde::Serialize;

use crate::deployment::DeploymentArgs;
use crate::output::{Format, Out, bytes, json, seconds, table, time};

#[derive(Debug, Args)]
pub struct JobArgs {
    #[command(flatten)]
    deployment: DeploymentArgs,
    #[command(subcommand)]
    command: JobCommand,
}

#[derive(Debug, Subcommand)]
enum JobCommand {
    /// Jobs, newest first.
    List {
        /// Only the jobs of this workflow.
        #[arg(long)]
        workflow: Option<String>,
        /// Only jobs in this state.
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// Only finished jobs with a failed task.
        #[arg(long)]
        failed: bool,
        /// Only jobs created since then: a time (2026-11-27T10:00:00Z) or an age (90m, 2h, 7d).
        #[arg(long, value_parser = mediaflow::app::admin::jobs::parse_since)]
        since: Option<DateTime<Utc>>,
        /// How many jobs a page shows.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Where the previous page ended (printed below it).
        #[arg(long)]
        page: Option<String>,
    },
    /// A job: its source, every task's status, error, attempts and timings, and its outputs.
    Show {
        /// A job id, or s3://bucket/key for the jobs of that upload.
        job: String,
    },
    /// Runs a finished job's failed tasks again (all of them, or --task N), then shows it.
    Redo {
        /// The job's id.
        job: JobId,
        /// Only this task (its index, as `job show` lists it).
        #[arg(long)]
        task: Option<u32>,
    },
    /// Follows a job with a progress bar per task until it finishes, then shows it.
    Watch {
        /// A job id, or s3://bucket/key for the jobs of that upload.
        job: String,
        /// Give up after this long (90s, 10m).
        #[arg(long, value_parser = humantime::parse_duration, default_value = "30m")]
        timeout: std::time::Duration,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum StatusArg {
    /// Not started yet.
    Waiting,
    /// A task is running.
    Processing,
    /// Every task ended.
    Finish,
}

impl From<StatusArg> for JobStatus {
    fn from(status: StatusArg) -> Self {
        match status {
            StatusArg::Waiting => JobStatus::Waiting,
            StatusArg::Processing => JobStatus::Processing,
            StatusArg::Finish => JobStatus::Finish,
        }
    }
}

impl JobArgs {
    pub async fn run(self, format: Format, out: Out<'_>) -> anyhow::Result<()> {
        let target = self.deployment.connect().await?;
        let result = execute(self.command, &target.admin, format, out).await;
        target.explained(result)
    }
}

async fn execute(command: JobCommand, admin: &Admin, format: Format, out: Out<'_>) -> anyhow::Result<()> {
    match command {
        JobCommand::List { workflow, status, failed, since, limit, page } => {
            let filter = JobFilter {
                workflow,
                input: None,
                status: status.map(Into::into),
                failed,
                succeeded: false,
                since,
                limit,
                page,
            };
            job_page(out, &admin.list_jobs(&filter).await?, format)
        }
        JobCommand::Show { job } => {
            job_views(out, &admin.find_jobs(&JobRef::parse(&job)).await?, &admin.prices, format)
        }
        JobCommand::Redo { job, task } => {
            let rerun = admin.redo(&job, task).await?;
            if format == Format::Table {
                eprintln!("running again: task {}", rerun.iter().map(u32::to_string).collect::<Vec<_>>().join(", "));
            }
            job_views(out, &[admin.job(&job).await?], &admin.prices, format)
        }
        JobCommand::Watch { job, timeout } => {
            let finished = follow(admin, &JobRef::parse(&job), timeout).await?;
            job_views(out, &finished, &admin.prices, format)
        }
    }
}

/// What a job's status column says: WAITING, PROCESSING, or once finished SUCCESS or FAIL.
fn job_state(job: &Job) -> &'static str {
    match (job.result(), job.status) {
        (Some(JobResult::Success), _) => "SUCCESS",
        (Some(JobResult::Fail), _) => "FAIL",
        (None, JobStatus::Waiting) => "WAITING",
        (None, _) => "PROCESSING",
    }
}

/// A page of jobs, and how to get the next.
fn job_page(out: Out<'_>, page: &JobPage, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        #[derive(Serialize)]
        struct Page<'a> {
            jobs: Vec<serde_json::Value>,
            next_page: &'a Option<String>,
        }
        let jobs = page
            .jobs
            .iter()
            .map(|job| {
                let mut value = serde_json::to_value(job)?;
                value["result"] = serde_json::to_value(job.result())?;
                Ok(value)
            })
            .collect::<anyhow::Result<_>>()?;
        return json(out, &Page { jobs, next_page: &page.next_page });
    }
    let mut rows = table(&["JOB", "WORKFLOW", "INPUT", "STATUS", "CREATED", "TOOK", "ERROR"]);
    for job in &page.jobs {
        rows.add_row(vec![
            job.id.to_string(),
            job.workflow.clone(),
            job.input.to_string(),
            job_state(job).to_owned(),
            time(job.created_at),
            job.finished_at.map(|at| seconds(job.created_at, at)).unwrap_or_default(),
            job.error.as_ref().map(|e| e.code.to_string()).unwrap_or_default(),
        ]);
    }
    writeln!(out, "{rows}")?;
    if let Some(next) = &page.next_page {
        writeln!(out, "more: --page {next}")?;
    }
    Ok(())
}

/// Jobs with their tasks: JSON (with each job's `cost` at `prices`), or for each a summary,
/// its tasks and its outputs.
pub fn job_views(out: Out<'_>, views: &[JobView], prices: &Prices, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        let with_cost = |view: &JobView| -> anyhow::Result<serde_json::Value> {
            let mut value = serde_json::to_value(view)?;
            value["cost"] = serde_json::to_value(prices.cost(&view.job.usage))?;
            value["elsewhere"] = serde_json::to_value(prices.elsewhere(&view.job.usage.output))?;
            Ok(value)
        };
        let values = views.iter().map(with_cost).collect::<anyhow::Result<Vec<_>>>()?;
        return match values.as_slice() {
            [one] => json(out, one),
            many => json(out, &many),
        };
    }
    for (i, view) in views.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        job_view(out, view, prices)?;
    }
    Ok(())
}

fn job_view(out: Out<'_>, view: &JobView, prices: &Prices) -> anyhow::Result<()> {
    let job = &view.job;
    writeln!(
        out,
        "job {} (workflow {}, revision {}): {}",
        job.id,
        job.workflow,
        job.workflow_revision,
        job_state(job)
    )?;
    let size = job.input_size.map(|size| format!(" ({})", bytes(size))).unwrap_or_default();
    writeln!(out, "  input    {}{size}", job.input)?;
    if let Some(source) = &job.source {
        writeln!(out, "  source   {}", source.summary())?;
    }
    let took =
        job.finished_at.map(|at| format!(", finished {} later", seconds(job.created_at, at))).unwrap_or_default();
    writeln!(out, "  created  {}{took}", time(job.created_at))?;
    if let Some(error) = &job.error {
        writeln!(out, "  error    {error}")?;
    }
    if let Some(notified) = job.notification_summary() {
        writeln!(out, "  notify   {notified}")?;
    }
    if !job.usage.is_empty() {
        writeln!(out, "  used     {}", job.usage)?;
        writeln!(out, "  cost     {}", Bill { prices, usage: &job.usage })?;
    }
    let mut tasks = table(&["TASK", "STATUS", "PROGRESS", "ATTEMPTS", "OPEN / RENDER / UPLOAD", "COST", "NOTES"]);
    for task in &view.tasks {
        let timings = task
            .timings
            .map(|t| {
                format!(
                    "{:.1} / {:.1} / {:.1} s",
                    t.download_ms as f64 / 1e3,
                    t.render_ms as f64 / 1e3,
                    t.upload_ms as f64 / 1e3
                )
            })
            .unwrap_or_default();
        let mut notes: Vec<String> = task.error.iter().map(ToString::to_string).collect();
        notes.extend(task.warnings.iter().map(|w| format!("warning: {w}")));
        tasks.add_row(vec![
            format!("{} {}", task.index, task.spec.kind()),
            task.status.as_str().to_owned(),
            task.progress.filter(|_| task.status != TaskStatus::Fail).map(|p| format!("{p}%")).unwrap_or_default(),
            task.hold.attempts.to_string(),
            timings,
            if task.usage.is_empty() { String::new() } else { Usd(prices.cost(&task.usage).total()).to_string() },
            notes.join("\n"),
        ]);
    }
    writeln!(out, "{tasks}")?;
    let outputs: Vec<_> = view.tasks.iter().flat_map(|t| t.outputs.iter().map(move |o| (t, o))).collect();
    if outputs.is_empty() {
        return Ok(());
    }
    let mut rows = table(&["TASK", "OUTPUT", "SIZE", "DURATION", "SIZE (PX)", "QUALITY"]);
    for (task, output) in outputs {
        let pixels = match (output.width, output.height) {
            (Some(w), Some(h)) => format!("{w}x{h}"),
            _ => String::new(),
        };
        rows.add_row(vec![
            format!("{} {}", task.index, task.spec.kind()),
            format!("s3://{}/{}", output.bucket, output.key),
            bytes(output.size),
            output.duration.map(|d| format!("{d:.2} s")).unwrap_or_default(),
            pixels,
            output
                .quality
                .iter()
                .map(ToString::to_string)
                .chain(output.tuning.iter().map(ToString::to_string))
                .collect::<Vec<_>>()
                .join("\n"),
        ]);
    }
    writeln!(out, "{rows}")?;
    Ok(())
}

/// How often the job is read again.
const POLL: Duration = Duration::from_millis(500);

/// Follows the jobs `reference` names (for an upload, from when its jobs appear) until all are
/// finished; returns them.
async fn follow(admin: &Admin, reference: &JobRef, timeout: Duration) -> anyhow::Result<Vec<JobView>> {
    let started = Instant::now();
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:<28} [{bar:30}] {pos:>3}% {msg}")?.progress_chars("=> ");
    let mut shown: HashMap<(String, u32), ProgressBar> = HashMap::new();
    loop {
        let views = match admin.find_jobs(reference).await {
            Ok(views) => views,
            // An upload whose jobs the dispatcher has not created yet.
            Err(AdminError::Jobs(JobsError::NoJobFor(_))) => Vec::new(),
            Err(error) => return Err(error.into()),
        };
        for view in &views {
            for task in &view.tasks {
                let bar = shown.entry((view.job.id.to_string(), task.index)).or_insert_with(|| {
                    let bar = bars.add(ProgressBar::new(100).with_style(style.clone()));
                    bar.set_prefix(format!("{} {} {}", view.job.workflow, task.index, task.spec.kind()));
                    bar
                });
                let percent = if task.status.is_final() { 100 } else { task.progress.unwrap_or(0) };
                bar.set_position(u64::from(percent));
                let status = task.status.as_str();
                bar.set_message(match &task.error {
                    Some(error) if task.status.is_final() => format!("{status} {}", error.code),
                    _ => status.to_owned(),
                });
            }
        }
        if !views.is_empty() && views.iter().all(|view| view.job.status == JobStatus::Finish) {
            for bar in shown.values() {
                bar.finish();
            }
            return Ok(views);
        }
        if started.elapsed() > timeout {
            let states: Vec<String> = views.iter().map(|v| format!("{} {}", v.job.id, job_state(&v.job))).collect();
            bail!(
                "still not finished after {timeout:?}: {}",
                if states.is_empty() { "no job yet".into() } else { states.join(", ") }
            );
        }
        tokio::time::sleep(POLL).await;
    }
}
