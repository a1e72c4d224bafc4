//! `mediaflow workflow`: apply a workflow file, enable, disable, show, list, delete.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use mediaflow::app::admin::catalog::Applied;
use mediaflow::app::admin::{AdminError, BucketCheck};
use mediaflow::domain::workflow::{Workflow, WorkflowSpec};

use crate::deployment::{DeploymentArgs, Target};
use crate::output::{Format, Out, json, table};

#[derive(Debug, Args)]
pub struct WorkflowArgs {
    #[command(flatten)]
    deployment: DeploymentArgs,
    #[command(subcommand)]
    command: WorkflowCommand,
}

#[derive(Debug, Subcommand)]
enum WorkflowCommand {
    /// Create a workflow from a YAML or JSON file, or replace the one with its name.
    Apply {
        /// The workflow file (`-` reads standard input).
        #[arg(long, short = 'f')]
        file: PathBuf,
    },
    /// Start processing uploads (only objects created from now on). Refused while the trigger
    /// bucket's uploads do not reach mediaflow (`mediaflow bucket connect`).
    Enable {
        /// The workflow's name.
        name: String,
        /// Enable even so (the bucket's events reach the events queue another way, such as an
        /// EventBridge rule).
        #[arg(long)]
        skip_bucket_check: bool,
    },
    /// Stop processing uploads (those made while it was enabled are still processed).
    Disable {
        /// The workflow's name.
        name: String,
    },
    /// Print a workflow as the file `apply` takes, with its defaults filled in.
    Show {
        /// The workflow's name.
        name: String,
    },
    /// List all workflows.
    List,
    /// Delete a workflow (its jobs stay).
    Delete {
        /// The workflow's name.
        name: String,
    },
}

impl WorkflowArgs {
    pub async fn run(self, format: Format, out: Out<'_>) -> anyhow::Result<()> {
        let target = self.deployment.connect().await?;
        let result = execute(self.command, &target, format, out).await;
        target.explained(result)
    }
}

async fn execute(command: WorkflowCommand, target: &Target, format: Format, out: Out<'_>) -> anyhow::Result<()> {
    let admin = &target.admin;
    match command {
        WorkflowCommand::Apply { file } => {
            let outcome = admin.apply(read_spec(&file)?).await?;
            applied(out, outcome.applied, &outcome.workflow, format)?;
            if let Some(warning) = outcome.warning {
                eprintln!("warning: {warning}");
            }
            Ok(())
        }
        WorkflowCommand::Enable { name, skip_bucket_check } => {
            let check = if skip_bucket_check { BucketCheck::Skip } else { BucketCheck::Required };
            let enabled = match admin.enable(&name, check).await {
                Err(missing @ AdminError::NotConfigured(_)) => {
                    return Err(target
                        .explain(missing)
                        .context("cannot check that the trigger bucket is connected (or pass --skip-bucket-check)"));
                }
                other => other?,
            };
            show(out, &enabled, format)
        }
        WorkflowCommand::Disable { name } => show(out, &admin.disable(&name).await?, format),
        WorkflowCommand::Show { name } => show(out, &admin.workflow(&name).await?, format),
        WorkflowCommand::List => list(out, &admin.workflows().await?, format),
        WorkflowCommand::Delete { name } => deleted(out, &admin.delete(&name).await?, format),
    }
}

/// Reads a workflow file: JSON when it ends in `.json`, YAML otherwise. Every problem is
/// reported at once, each with its field path.
pub fn read_spec(file: &Path) -> anyhow::Result<WorkflowSpec> {
    let text = if file == Path::new("-") {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    let value: serde_json::Value = if file.extension().is_some_and(|ext| ext == "json") {
        serde_json::from_str(&text).map_err(anyhow::Error::from)
    } else {
        serde_yaml_ng::from_str(&text).map_err(anyhow::Error::from)
    }
    .with_context(|| format!("{} is not a workflow file", file.display()))?;
    Ok(WorkflowSpec::from_value(value)?)
}

fn state(workflow: &Workflow) -> String {
    match workflow.enabled_at {
        Some(at) if workflow.enabled => format!("enabled since {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
        _ => "disabled".to_owned(),
    }
}

fn applied(out: Out<'_>, applied: Applied, workflow: &Workflow, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return json(out, workflow);
    }
    let verb = match applied {
        Applied::Created => "created (disabled: `mediaflow workflow enable` starts it)",
        Applied::Replaced => "replaced",
        Applied::Unchanged => "unchanged",
    };
    writeln!(out, "workflow {} {verb}, revision {}", workflow.name, workflow.revision)?;
    Ok(())
}

/// One workflow: its state, then the file that makes it.
pub fn show(out: Out<'_>, workflow: &Workflow, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => json(out, workflow),
        Format::Table => {
            writeln!(out, "# {} ({}, revision {})", workflow.name, state(workflow), workflow.revision)?;
            write!(out, "{}", serde_yaml_ng::to_string(&workflow.spec())?)?;
            Ok(())
        }
    }
}

pub fn list(out: Out<'_>, workflows: &[Workflow], format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return json(out, workflows);
    }
    let mut rows = table(&["NAME", "STATE", "TRIGGER", "OUTPUT", "TASKS", "REVISION"]);
    for w in workflows {
        let tasks: Vec<&str> = w.tasks.iter().map(|t| t.kind()).collect();
        rows.add_row(vec![
            w.name.clone(),
            state(w),
            w.trigger.to_string(),
            w.output.to_string(),
            tasks.join(", "),
            w.revision.to_string(),
        ]);
    }
    writeln!(out, "{rows}")?;
    Ok(())
}

fn deleted(out: Out<'_>, workflow: &Workflow, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => json(out, workflow),
        Format::Table => {
            writeln!(out, "workflow {} deleted", workflow.name)?;
            Ok(())
        }
    }
}
