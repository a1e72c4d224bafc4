//! `mediaflow audit`: whether the deployment kept its promise — every upload has its job, every
//! job finished, every output is stored as recorded, no part left behind — and, with `--fix`,
//! the repairs carried out.

use chrono::{DateTime, TimeDelta, Utc};
use clap::Args;
use mediaflow::app::admin::audit::AuditOptions;
use mediaflow::app::admin::jobs::parse_since;
use mediaflow::domain::audit::{AuditReport, Finding};
use serde::Serialize;

use crate::deployment::DeploymentArgs;
use crate::output::{Format, Out, json, table, time};

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    deployment: DeploymentArgs,
    /// Only this trigger bucket (and its jobs); repeat for more. Every bucket of every workflow
    /// when left out.
    #[arg(long = "bucket", value_name = "BUCKET")]
    buckets: Vec<String>,
    /// Uploads made and jobs created since then: a time (2026-11-27T10:00:00Z) or an age (90m,
    /// 2h, 7d).
    #[arg(long, value_parser = parse_since, default_value = "1d")]
    since: DateTime<Utc>,
    /// Uploads younger than this are not yet expected to have a job.
    #[arg(long, value_parser = age, default_value = "10m")]
    grace: TimeDelta,
    /// An unfinished job with no sign of work for this long is stuck.
    #[arg(long, value_parser = age, default_value = "1h")]
    deadline: TimeDelta,
    /// Carry out the repairs each finding names (idempotent: running it twice does each once).
    #[arg(long)]
    fix: bool,
}

fn age(text: &str) -> Result<TimeDelta, String> {
    let age = humantime::parse_duration(text).map_err(|_| format!("{text:?} is not an age (0s, 90s, 10m, 2h)"))?;
    TimeDelta::from_std(age).map_err(|e| e.to_string())
}

/// What `--fix` did for one finding.
#[derive(Debug, Serialize)]
struct Fixed {
    command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    done: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Audited<'a> {
    #[serde(flatten)]
    report: &'a AuditReport,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fixed: Vec<Fixed>,
}

impl AuditArgs {
    pub async fn run(self, format: Format, out: Out<'_>) -> anyhow::Result<()> {
        let target = self.deployment.connect().await?;
        let options =
            AuditOptions { since: self.since, buckets: self.buckets, grace: self.grace, deadline: self.deadline };
        let report = target.explained(target.admin.audit(&options).await.map_err(Into::into))?;
        let mut fixed = Vec::new();
        if self.fix {
            for repair in report.findings.iter().filter_map(|finding| finding.repair.as_ref()) {
                let (done, error) = match target.admin.repair(repair, self.deadline).await {
                    Ok(done) => (Some(done), None),
                    Err(error) => (None, Some(error.to_string())),
                };
                fixed.push(Fixed { command: repair.to_string(), done, error });
            }
        }
        match format {
            Format::Json => json(out, &Audited { report: &report, fixed })?,
            Format::Table => print(out, &report, &fixed)?,
        }
        anyhow::ensure!(
            report.is_clean(),
            "the audit found {} {}{}",
            report.findings.len(),
            if report.findings.len() == 1 { "problem" } else { "problems" },
            if self.fix { " and ran their repairs: audit again once they are done" } else { ": --fix repairs them" }
        );
        Ok(())
    }
}

fn print(out: Out<'_>, report: &AuditReport, fixed: &[Fixed]) -> anyhow::Result<()> {
    let checked = &report.checked;
    writeln!(
        out,
        "since {}: {} workflows, {} uploads, {} jobs, {} outputs, {} parts checked",
        time(report.since),
        checked.workflows,
        checked.uploads,
        checked.jobs,
        checked.outputs,
        checked.parts
    )?;
    if report.is_clean() {
        writeln!(out, "no findings: every upload has its job, every job finished, every output is stored")?;
        return Ok(());
    }
    let mut findings = table(&["Finding", "Object", "Job", "What", "Repair"]);
    for Finding { kind, object, job_id, detail, repair, .. } in &report.findings {
        findings.add_row(vec![
            kind.describe().to_owned(),
            object.to_string(),
            job_id.as_ref().map(ToString::to_string).unwrap_or_default(),
            detail.clone(),
            repair.as_ref().map(ToString::to_string).unwrap_or_else(|| "(none: look at the jobs)".into()),
        ]);
    }
    writeln!(out, "{findings}")?;
    for Fixed { command, done, error } in fixed {
        match (done, error) {
            (_, Some(error)) => writeln!(out, "{command}: failed: {error}")?,
            (done, None) => writeln!(out, "{command}: {}", done.as_deref().unwrap_or("done"))?,
        }
    }
    Ok(())
}
