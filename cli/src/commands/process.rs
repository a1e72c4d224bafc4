//! `mediaflow process`: a workflow run on objects that exist already (a backfill).

use clap::Args;
use mediaflow::app::admin::backfill::{BackfillProgress, Backfilled};
use mediaflow::domain::object::ObjectRef;

use crate::deployment::DeploymentArgs;
use crate::output::{Format, Out, json, table};

#[derive(Debug, Args)]
pub struct ProcessArgs {
    #[command(flatten)]
    deployment: DeploymentArgs,
    /// The workflow to run (enabled or not).
    #[arg(long)]
    workflow: String,
    /// s3://bucket/prefix/ (within the workflow's trigger)
    #[arg(value_parser = parse_prefix)]
    prefix: ObjectRef,
    /// Objects handled at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

/// `s3://bucket/` or `s3://bucket/prefix`.
fn parse_prefix(text: &str) -> Result<ObjectRef, String> {
    let (bucket, prefix) = text
        .strip_prefix("s3://")
        .map(|rest| rest.split_once('/').unwrap_or((rest, "")))
        .filter(|(bucket, _)| !bucket.is_empty())
        .ok_or_else(|| format!("{text:?} is not s3://bucket/prefix/"))?;
    Ok(ObjectRef::new(bucket, prefix))
}

impl ProcessArgs {
    pub async fn run(self, format: Format, out: Out<'_>) -> anyhow::Result<()> {
        let target = self.deployment.connect().await?;
        let bar = indicatif::ProgressBar::new(0).with_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} objects {msg}")?.progress_chars("=> "),
        );
        let seen = |progress: BackfillProgress<'_>| match progress {
            BackfillProgress::Listed(count) => bar.inc_length(count as u64),
            BackfillProgress::Done(_) => bar.inc(1),
        };
        let done = target.admin.backfill(&self.workflow, &self.prefix, self.concurrency, &seen).await;
        bar.finish_and_clear();
        backfilled(out, &target.explained(done.map_err(Into::into))?, format)
    }
}

/// `mediaflow process`: counts, then the jobs started and the objects skipped.
fn backfilled(out: Out<'_>, done: &[Backfilled], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return json(out, done);
    }
    let count = |f: fn(&Backfilled) -> bool| done.iter().filter(|b| f(b)).count();
    writeln!(
        out,
        "{} objects: {} jobs started, {} processed already, {} skipped",
        done.len(),
        count(|b| matches!(b, Backfilled::Started { .. })),
        count(|b| matches!(b, Backfilled::Done { .. })),
        count(|b| matches!(b, Backfilled::Skipped { .. })),
    )?;
    let mut rows = table(&["OBJECT", "JOB OR REASON"]);
    for item in done {
        let (object, detail) = match item {
            Backfilled::Started { object, job_id } => (object, format!("{job_id} (started)")),
            Backfilled::Done { object, job_id } => (object, format!("{job_id} (processed already)")),
            Backfilled::Skipped { object, reason } => (object, reason.clone()),
        };
        rows.add_row(vec![object.to_string(), detail]);
    }
    if !done.is_empty() {
        writeln!(out, "{rows}")?;
    }
    Ok(())
}
