//! The `mediaflow` command line: workflow administration and the local stack.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use mediaflow::catalog::Catalog;
use mediaflow::config::{self, Clients};
use mediaflow::domain::workflow::WorkflowSpec;

use crate::render::Out;
use crate::{demo, render};

#[derive(Debug, Parser)]
#[command(name = "mediaflow", version, about = "Serverless media-processing workflows on your own AWS account")]
pub struct Cli {
    /// How results are printed.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, change and inspect workflows (AWS settings and endpoints from the environment).
    #[command(subcommand)]
    Workflow(WorkflowCommand),
    /// Run mediaflow on this machine against a local S3/DynamoDB/SQS server.
    #[command(subcommand)]
    Dev(DevCommand),
}

#[derive(Debug, Args)]
pub struct Table {
    /// The workflows table of the deployment.
    #[arg(long, env = "WORKFLOWS_TABLE", default_value = "")]
    workflows_table: String,
}

#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Create a workflow from a YAML or JSON file, or replace the one with its name.
    Apply {
        /// The workflow file (`-` reads standard input).
        #[arg(long, short = 'f')]
        file: PathBuf,
        #[command(flatten)]
        table: Table,
    },
    /// Start processing uploads (only objects created from now on).
    Enable {
        name: String,
        #[command(flatten)]
        table: Table,
    },
    /// Stop processing uploads.
    Disable {
        name: String,
        #[command(flatten)]
        table: Table,
    },
    /// Print a workflow.
    Show {
        name: String,
        #[command(flatten)]
        table: Table,
    },
    /// List all workflows.
    List {
        #[command(flatten)]
        table: Table,
    },
    /// Delete a workflow (its jobs stay).
    Delete {
        name: String,
        #[command(flatten)]
        table: Table,
    },
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Start the local stack, apply the example workflows, upload a video, print the outputs,
    /// stop.
    Demo {
        /// The video to upload; by default a clip generated with ffmpeg.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Where the example workflows (*.yaml) and their assets/ are.
        #[arg(long, default_value = "infra/examples")]
        examples: PathBuf,
    },
    /// Start the local stack with the example workflows and keep it running until Ctrl-C.
    Up {
        #[arg(long, default_value = "infra/examples")]
        examples: PathBuf,
        /// Invoke the functions at this Lambda endpoint (`cargo lambda watch`, e.g.
        /// http://127.0.0.1:9000) instead of running them in this process.
        #[arg(long)]
        lambda_endpoint: Option<String>,
        /// Also write the stack's environment to this file (for `cargo lambda watch --env-file`).
        #[arg(long)]
        env_file: Option<PathBuf>,
    },
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

async fn catalog(table: &Table) -> anyhow::Result<Catalog> {
    anyhow::ensure!(!table.workflows_table.is_empty(), "set WORKFLOWS_TABLE or --workflows-table");
    let clients = Clients::from_sdk(&config::load_aws().await);
    Ok(config::catalog(&clients, &table.workflows_table))
}

impl WorkflowCommand {
    fn table(&self) -> &Table {
        match self {
            WorkflowCommand::Apply { table, .. }
            | WorkflowCommand::Enable { table, .. }
            | WorkflowCommand::Disable { table, .. }
            | WorkflowCommand::Show { table, .. }
            | WorkflowCommand::List { table }
            | WorkflowCommand::Delete { table, .. } => table,
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let format = cli.output;
    match cli.command {
        Command::Workflow(command) => {
            let catalog = catalog(command.table()).await?;
            workflow(command, &catalog, format, &mut std::io::stdout().lock()).await
        }
        Command::Dev(DevCommand::Demo { input, examples }) => demo::run(input.as_deref(), &examples, format).await,
        Command::Dev(DevCommand::Up { examples, lambda_endpoint, env_file }) => {
            demo::up(&examples, lambda_endpoint, env_file.as_deref()).await
        }
    }
}

/// Runs a workflow command against `catalog`, printing to `out`.
pub async fn workflow(command: WorkflowCommand, catalog: &Catalog, format: Format, out: Out<'_>) -> anyhow::Result<()> {
    match command {
        WorkflowCommand::Apply { file, .. } => {
            let (applied, workflow) = catalog.apply(read_spec(&file)?).await?;
            render::applied(out, applied, &workflow, format)
        }
        WorkflowCommand::Enable { name, .. } => render::workflow(out, &catalog.enable(&name).await?, format),
        WorkflowCommand::Disable { name, .. } => render::workflow(out, &catalog.disable(&name).await?, format),
        WorkflowCommand::Show { name, .. } => render::workflow(out, &catalog.get(&name).await?, format),
        WorkflowCommand::List { .. } => render::workflows(out, &catalog.list().await?, format),
        WorkflowCommand::Delete { name, .. } => render::deleted(out, &catalog.delete(&name).await?, format),
    }
}
