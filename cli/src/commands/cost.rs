//! `mediaflow cost`: what the jobs of a window cost (Lambda and S3 at the price list), in total
//! or by workflow or day, beside what MediaConvert and MPS would charge for the same outputs.

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use mediaflow::app::admin::jobs::parse_since;
use mediaflow::domain::cost::{CostBy, CostReport, CostRow, Usd};
use mediaflow::domain::usage::Architecture;

use crate::deployment::DeploymentArgs;
use crate::output::{Format, Out, json, table};

#[derive(Debug, Args)]
pub struct CostArgs {
    #[command(flatten)]
    deployment: DeploymentArgs,
    /// Jobs created since then: a time (2026-11-27T10:00:00Z) or an age (90m, 2h, 30d).
    #[arg(long, value_parser = parse_since, default_value = "30d")]
    since: DateTime<Utc>,
    /// A row per workflow or per day (UTC), and the total; the total alone when left out.
    #[arg(long, value_enum)]
    by: Option<ByArg>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ByArg {
    Workflow,
    Day,
}

impl CostArgs {
    pub async fn run(self, format: Format, out: Out<'_>) -> anyhow::Result<()> {
        let target = self.deployment.connect().await?;
        let by = match self.by {
            None => CostBy::Total,
            Some(ByArg::Workflow) => CostBy::Workflow,
            Some(ByArg::Day) => CostBy::Day,
        };
        let report = target.explained(target.admin.cost(self.since, by).await.map_err(Into::into))?;
        match format {
            Format::Json => json(out, &report),
            Format::Table => print(out, &report, self.since),
        }
    }
}

fn print(out: Out<'_>, report: &CostReport, since: DateTime<Utc>) -> anyhow::Result<()> {
    let first = match report.by {
        CostBy::Total => "",
        CostBy::Workflow => "WORKFLOW",
        CostBy::Day => "DAY",
    };
    let mut header =
        vec![first, "JOBS", "VIDEO OUT", "GB-S", "INVOCATIONS", "S3 GET / PUT", "COST", "MEDIACONVERT", "MPS"];
    if report.by == CostBy::Total {
        header.remove(0);
    }
    let mut rows = table(&header);
    for row in report.rows.iter().chain([&report.total]) {
        let mut cells = cells(row);
        if report.by == CostBy::Total {
            cells.remove(0);
        }
        rows.add_row(cells);
    }
    writeln!(out, "jobs created since {}", since.format("%Y-%m-%d %H:%M UTC"))?;
    writeln!(out, "{rows}")?;
    if let Some(saving) = report.saving_on_mediaconvert() {
        writeln!(out, "{:.0} % less than the same outputs at MediaConvert", saving * 100.0)?;
    }
    let prices = &report.prices;
    writeln!(out, "{}; set yours with --prices FILE", prices.dated())?;
    Ok(())
}

fn cells(row: &CostRow) -> Vec<String> {
    let usage = &row.usage;
    let gb_seconds = usage.gb_seconds(Architecture::X86_64) + usage.gb_seconds(Architecture::Arm64);
    vec![
        row.key.clone(),
        row.jobs.to_string(),
        format!("{:.1} min", usage.output.video_minutes()),
        format!("{gb_seconds:.1}"),
        usage.invocations.to_string(),
        format!("{} / {}", usage.s3.get_requests, usage.s3.put_requests),
        Usd(row.cost.total()).to_string(),
        Usd(row.elsewhere.mediaconvert).to_string(),
        Usd(row.elsewhere.mps).to_string(),
    ]
}
