//! `mediaflow job watch`: a progress bar per task (on standard error) until the job finishes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::bail;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use mediaflow::domain::job::JobStatus;
use mediaflow::jobs::{JobRef, JobView, Jobs, JobsError};

use crate::render::job_state;

/// How often the job is read again.
const POLL: Duration = Duration::from_millis(500);

/// Follows the jobs `reference` names (for an upload, from when its jobs appear) until all are
/// finished; returns them.
pub async fn follow(jobs: &Jobs, reference: &JobRef, timeout: Duration) -> anyhow::Result<Vec<JobView>> {
    let started = Instant::now();
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:<28} [{bar:30}] {pos:>3}% {msg}")?.progress_chars("=> ");
    let mut shown: HashMap<(String, u32), ProgressBar> = HashMap::new();
    loop {
        let views = match jobs.find(reference).await {
            Ok(views) => views,
            // An upload whose jobs the dispatcher has not created yet.
            Err(JobsError::NoJobFor(_)) => Vec::new(),
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
