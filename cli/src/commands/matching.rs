//! `mediaflow match`: which workflows an upload would start and what each would write.

use clap::Args;
use mediaflow::app::admin::explain::Match;
use mediaflow::domain::object::ObjectRef;

use crate::deployment::DeploymentArgs;
use crate::output::{Format, Out, json, table};

#[derive(Debug, Args)]
pub struct MatchArgs {
    #[command(flatten)]
    deployment: DeploymentArgs,
    /// s3://bucket/key
    #[arg(value_parser = parse_object)]
    object: ObjectRef,
}

fn parse_object(text: &str) -> Result<ObjectRef, String> {
    ObjectRef::parse_url(text).ok_or_else(|| format!("{text:?} is not s3://bucket/key"))
}

impl MatchArgs {
    pub async fn run(self, format: Format, out: Out<'_>) -> anyhow::Result<()> {
        let target = self.deployment.connect().await?;
        let found = target.explained(target.admin.explain(&self.object).await.map_err(Into::into))?;
        matches(out, &self.object, &found, format)
    }
}

/// `mediaflow match`: per workflow of the bucket, whether it fires and what it would write.
pub fn matches(out: Out<'_>, object: &ObjectRef, matches: &[Match], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return json(out, matches);
    }
    let firing = matches.iter().filter(|m| m.fires).count();
    writeln!(out, "{object}: {firing} of {} workflows of bucket {} would start a job", matches.len(), object.bucket)?;
    if matches.is_empty() {
        return Ok(());
    }
    let mut rows = table(&["WORKFLOW", "FIRES", "OUTPUTS OR REASON"]);
    for m in matches {
        let detail = match &m.reason {
            Some(reason) => reason.clone(),
            None => m.outputs.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
        };
        rows.add_row(vec![m.workflow.clone(), if m.fires { "yes" } else { "no" }.to_owned(), detail]);
    }
    writeln!(out, "{rows}")?;
    Ok(())
}
