//! The `mediaflow` commands, one file per group: its clap types, its handler and how it prints.
//! Groups that act on a deployment take the `Deployment` options
//! ([`DeploymentArgs`](crate::deployment::DeploymentArgs)) and reach it through the
//! [`Admin`](mediaflow::app::admin::Admin) facade only.

mod audit;
mod bucket;
mod console;
mod cost;
mod dev;
mod dlq;
mod job;
mod matching;
mod preset;
mod process;
mod workflow;

use clap::{Parser, Subcommand};

use crate::output::Format;

#[derive(Debug, Parser)]
#[command(name = "mediaflow", version, about = "Serverless media-processing workflows on your own AWS account")]
pub struct Cli {
    /// How results are printed.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, change and inspect workflows.
    Workflow(workflow::WorkflowArgs),
    /// Connect buckets: send their uploads' events to mediaflow.
    Bucket(bucket::BucketArgs),
    /// Find jobs, show one with its tasks and outputs, follow one as it runs, run failed tasks
    /// again.
    Job(job::JobArgs),
    /// What the jobs of a window cost (Lambda and S3 at AWS's list prices, or yours), in total
    /// or by workflow or day, beside what MediaConvert and MPS would charge for the same
    /// outputs.
    Cost(cost::CostArgs),
    /// Which workflows an upload to s3://bucket/key would start, and the keys each would write
    /// (changes nothing).
    Match(matching::MatchArgs),
    /// Runs a workflow on objects that already exist under s3://bucket/prefix/ (enabled or
    /// not); objects it processed already are left alone, so running it twice starts each job
    /// once.
    Process(process::ProcessArgs),
    /// Whether the promise held: uploads without a job, jobs not finished, outputs missing or
    /// changed, duplicate jobs, parts left behind; each with the command that repairs it
    /// (`--fix` runs them). Exits non-zero when something is wrong.
    Audit(audit::AuditArgs),
    /// Look at the dead-letter queues (events, worker) and send their messages back.
    Dlq(dlq::DlqArgs),
    /// MPS's preset templates a transcode's or adaptive task's `definition` may name.
    #[command(subcommand)]
    Preset(preset::PresetCommand),
    /// Open the console: workflows and jobs in a browser, served on 127.0.0.1 until Ctrl-C
    /// (prints the link to open).
    Console(console::ConsoleArgs),
    /// Run mediaflow on this machine against a local S3/DynamoDB/SQS server.
    #[command(subcommand)]
    Dev(dev::DevCommand),
}

impl Command {
    /// Whether the log should stay quiet: the demo prints its own progress, then its results.
    pub fn is_demo(&self) -> bool {
        matches!(self, Command::Dev(dev::DevCommand::Demo { .. }))
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let format = cli.output;
    let out = &mut std::io::stdout().lock();
    match cli.command {
        Command::Workflow(args) => args.run(format, out).await,
        Command::Bucket(args) => args.run(format, out).await,
        Command::Job(args) => args.run(format, out).await,
        Command::Cost(args) => args.run(format, out).await,
        Command::Match(args) => args.run(format, out).await,
        Command::Process(args) => args.run(format, out).await,
        Command::Audit(args) => args.run(format, out).await,
        Command::Dlq(args) => args.run(format, out).await,
        Command::Preset(command) => preset::run(command, format, out),
        Command::Console(args) => args.run().await,
        Command::Dev(command) => dev::run(command, format).await,
    }
}
