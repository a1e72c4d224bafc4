//! The `mediaflow` command line: workflow administration and the local stack.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use mediaflow::adapters::lambda::LambdaTaskQueue;
use mediaflow::backfill::BackfillProgress;
use mediaflow::buckets::Buckets;
use mediaflow::catalog::Catalog;
use mediaflow::config::{self, Clients};
use mediaflow::dead_letters::Which;
use mediaflow::domain::job::{JobId, JobStatus};
use mediaflow::domain::object::ObjectRef;
use mediaflow::domain::workflow::WorkflowSpec;
use mediaflow::jobs::{JobRef, Jobs};
use mediaflow::ports::JobFilter;

use crate::render::Out;
use crate::{demo, render, watch};

#[derive(Debug, Parser)]
#[command(name = "mediaflow", version, about = "Serverless media-processing workflows on your own AWS account")]
pub struct Cli {
    /// How results are printed.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// The deployment's resources (the stack's outputs; `mediaflow dev up` prints them for the
/// local stack). AWS settings and endpoints come from the environment as for the AWS CLI.
#[derive(Clone, Debug, Default, Args)]
pub struct Settings {
    /// The workflows table (stack output WorkflowsTableName).
    #[arg(long, global = true, env = "WORKFLOWS_TABLE", default_value = "", hide_default_value = true)]
    pub workflows_table: String,
    /// The jobs table (stack output JobsTableName).
    #[arg(long, global = true, env = "JOBS_TABLE", default_value = "", hide_default_value = true)]
    pub jobs_table: String,
    /// The worker function (stack output WorkerFunctionName), which `job redo` and `process`
    /// start.
    #[arg(long, global = true, env = "WORKER_FUNCTION", default_value = "", hide_default_value = true)]
    pub worker_function: String,
    /// The events queue's ARN (stack output EventsQueueArn): where connected buckets send their
    /// uploads' events.
    #[arg(long, global = true, env = "EVENTS_QUEUE_ARN", default_value = "", hide_default_value = true)]
    pub events_queue_arn: String,
    /// The events queue's URL (stack output EventsQueueUrl), where redriven events go.
    #[arg(long, global = true, env = "EVENTS_QUEUE_URL", default_value = "", hide_default_value = true)]
    pub events_queue_url: String,
    /// The events dead-letter queue (stack output EventsDLQUrl).
    #[arg(long, global = true, env = "EVENTS_DLQ_URL", default_value = "", hide_default_value = true)]
    pub events_dlq_url: String,
    /// The worker's dead-letter queue (stack output WorkerDLQUrl).
    #[arg(long, global = true, env = "WORKER_DLQ_URL", default_value = "", hide_default_value = true)]
    pub worker_dlq_url: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, change and inspect workflows.
    #[command(subcommand)]
    Workflow(WorkflowCommand),
    /// Connect buckets: send their uploads' events to mediaflow.
    #[command(subcommand)]
    Bucket(BucketCommand),
    /// Find jobs, show one with its tasks and outputs, follow one as it runs.
    #[command(subcommand)]
    Job(JobCommand),
    /// Which workflows an upload to s3://bucket/key would start, and the keys each would write
    /// (changes nothing).
    Match {
        /// s3://bucket/key
        #[arg(value_parser = parse_object)]
        object: ObjectRef,
    },
    /// Runs a workflow on objects that already exist under s3://bucket/prefix/ (enabled or
    /// not); objects it processed already are left alone, so running it twice starts each job
    /// once.
    Process {
        #[arg(long)]
        workflow: String,
        /// s3://bucket/prefix/ (within the workflow's trigger)
        #[arg(value_parser = parse_prefix)]
        prefix: ObjectRef,
        /// Objects handled at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
    /// Look at the dead-letter queues (events, worker) and send their messages back.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// MPS's preset templates a transcode's `definition` may name.
    #[command(subcommand)]
    Preset(PresetCommand),
    /// Run mediaflow on this machine against a local S3/DynamoDB/SQS server.
    #[command(subcommand)]
    Dev(DevCommand),
}

#[derive(Debug, Subcommand)]
pub enum PresetCommand {
    /// Every template with its parameters.
    List,
}

#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Create a workflow from a YAML or JSON file, or replace the one with its name.
    Apply {
        /// The workflow file (`-` reads standard input).
        #[arg(long, short = 'f')]
        file: PathBuf,
    },
    /// Start processing uploads (only objects created from now on). Refused while the trigger
    /// bucket's uploads do not reach mediaflow (`mediaflow bucket connect`).
    Enable {
        name: String,
        /// Enable even so (the bucket's events reach the events queue another way, such as an
        /// EventBridge rule).
        #[arg(long)]
        skip_bucket_check: bool,
    },
    /// Stop processing uploads.
    Disable { name: String },
    /// Print a workflow.
    Show { name: String },
    /// List all workflows.
    List,
    /// Delete a workflow (its jobs stay).
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
pub enum BucketCommand {
    /// Send the events of objects created in the bucket (or under each --prefix) to mediaflow,
    /// keeping the bucket's other notification rules.
    Connect {
        bucket: String,
        /// Connect only keys under this prefix (repeatable), where the bucket's own rules already
        /// cover other keys.
        #[arg(long)]
        prefix: Vec<String>,
    },
    /// Whether the bucket's uploads reach mediaflow, and the bucket's notification rules.
    Status { bucket: String },
    /// Remove the rules `connect` added (and nothing else).
    Disconnect { bucket: String },
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Jobs, newest first.
    List {
        #[arg(long)]
        workflow: Option<String>,
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// Only finished jobs with a failed task.
        #[arg(long)]
        failed: bool,
        /// Only jobs created since then: a time (2026-11-27T10:00:00Z) or an age (90m, 2h, 7d).
        #[arg(long, value_parser = parse_since)]
        since: Option<DateTime<Utc>>,
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

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// The messages a dead-letter queue holds (left in it), with why they are there.
    List {
        #[arg(value_enum)]
        queue: QueueArg,
        #[arg(long, default_value_t = 50)]
        max: usize,
    },
    /// Sends messages back: events to the dispatcher's queue, worker invocations to the worker.
    Redrive {
        #[arg(value_enum)]
        queue: QueueArg,
        #[arg(long, default_value_t = 100)]
        max: usize,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum QueueArg {
    Events,
    Worker,
}

impl From<QueueArg> for Which {
    fn from(queue: QueueArg) -> Self {
        match queue {
            QueueArg::Events => Which::Events,
            QueueArg::Worker => Which::Worker,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    Waiting,
    Processing,
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

fn parse_object(text: &str) -> Result<ObjectRef, String> {
    ObjectRef::parse_url(text).ok_or_else(|| format!("{text:?} is not s3://bucket/key"))
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

/// A time (RFC 3339) or an age before now (`90m`, `2h`, `7d`).
fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    let age = humantime::parse_duration(text)
        .map_err(|_| format!("{text:?} is neither a time (2026-11-27T10:00:00Z) nor an age (90m, 2h, 7d)"))?;
    Ok(Utc::now() - chrono::TimeDelta::from_std(age).map_err(|e| e.to_string())?)
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
        /// Where the outputs are saved (as BUCKET/KEY below it).
        #[arg(long, default_value = "demo-outputs")]
        outputs: PathBuf,
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

/// The deployment the commands act on: its SDK clients and resource names.
#[derive(Clone, Debug)]
pub struct Deployment {
    pub clients: Clients,
    pub settings: Settings,
}

impl Deployment {
    pub async fn from_env(settings: Settings) -> Self {
        Self { clients: Clients::from_sdk(&config::load_aws().await), settings }
    }

    fn workflows_table(&self) -> anyhow::Result<&str> {
        required(&self.settings.workflows_table, "WORKFLOWS_TABLE", "WorkflowsTableName")
    }

    fn jobs_table(&self) -> anyhow::Result<&str> {
        required(&self.settings.jobs_table, "JOBS_TABLE", "JobsTableName")
    }

    /// The worker, which `job redo` and `process` start.
    fn worker_function(&self) -> anyhow::Result<&str> {
        required(&self.settings.worker_function, "WORKER_FUNCTION", "WorkerFunctionName")
    }

    pub fn catalog(&self) -> anyhow::Result<Catalog> {
        Ok(config::catalog(&self.clients, self.workflows_table()?))
    }

    pub fn jobs(&self) -> anyhow::Result<Jobs> {
        Ok(config::jobs(&self.clients, self.jobs_table()?))
    }

    pub fn task_queue(&self) -> anyhow::Result<LambdaTaskQueue> {
        Ok(LambdaTaskQueue::new(self.clients.lambda.clone(), self.worker_function()?))
    }

    pub fn buckets(&self) -> anyhow::Result<Buckets> {
        let arn = required(&self.settings.events_queue_arn, "EVENTS_QUEUE_ARN", "EventsQueueArn")?;
        Ok(config::buckets(&self.clients, arn))
    }
}

/// A setting the command needs, or what to set.
fn required<'a>(value: &'a str, variable: &str, output: &str) -> anyhow::Result<&'a str> {
    let flag = variable.to_lowercase().replace('_', "-");
    anyhow::ensure!(!value.is_empty(), "set {variable} or --{flag} (stack output {output})");
    Ok(value)
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let format = cli.output;
    match cli.command {
        Command::Dev(DevCommand::Demo { input, examples, outputs }) => {
            demo::run(input.as_deref(), &examples, &outputs, format).await
        }
        Command::Dev(DevCommand::Up { examples, lambda_endpoint, env_file }) => {
            demo::up(&examples, lambda_endpoint, env_file.as_deref()).await
        }
        // Needs no deployment, nor AWS settings.
        Command::Preset(PresetCommand::List) => render::presets(&mut std::io::stdout().lock(), format),
        command => {
            let deployment = Deployment::from_env(cli.settings).await;
            execute(command, &deployment, format, &mut std::io::stdout().lock()).await
        }
    }
}

/// Runs a command against `deployment`, printing to `out`.
pub async fn execute(command: Command, deployment: &Deployment, format: Format, out: Out<'_>) -> anyhow::Result<()> {
    match command {
        Command::Workflow(command) => workflow(command, deployment, format, out).await,
        Command::Bucket(command) => bucket(command, &deployment.buckets()?, format, out).await,
        Command::Job(command) => job(command, deployment, format, out).await,
        Command::Preset(PresetCommand::List) => render::presets(out, format),
        Command::Dlq(command) => {
            let settings = &deployment.settings;
            let admin = config::dead_letters(
                &deployment.clients,
                required(&settings.events_dlq_url, "EVENTS_DLQ_URL", "EventsDLQUrl")?,
                required(&settings.worker_dlq_url, "WORKER_DLQ_URL", "WorkerDLQUrl")?,
                required(&settings.events_queue_url, "EVENTS_QUEUE_URL", "EventsQueueUrl")?,
                deployment.worker_function()?,
            );
            match command {
                DlqCommand::List { queue, max } => {
                    render::dead_letters(out, &admin.list(queue.into(), max).await?, format)
                }
                DlqCommand::Redrive { queue, max } => {
                    render::redriven(out, &admin.redrive(queue.into(), max).await?, format)
                }
            }
        }
        Command::Match { object } => {
            let matches = config::explain(&deployment.clients, deployment.workflows_table()?, &object).await?;
            render::matches(out, &object, &matches, format)
        }
        Command::Process { workflow, prefix, concurrency } => {
            let backfill = config::backfill(
                &deployment.clients,
                deployment.workflows_table()?,
                deployment.jobs_table()?,
                deployment.worker_function()?,
            );
            let bar = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} objects {msg}")?.progress_chars("=> "),
            );
            let seen = |progress: BackfillProgress<'_>| match progress {
                BackfillProgress::Listed(count) => bar.inc_length(count as u64),
                BackfillProgress::Done(_) => bar.inc(1),
            };
            let done = backfill.run(&workflow, &prefix, concurrency, &seen).await;
            bar.finish_and_clear();
            render::backfilled(out, &done?, format)
        }
        Command::Dev(_) => anyhow::bail!("dev commands start their own stack"),
    }
}

async fn workflow(
    command: WorkflowCommand,
    deployment: &Deployment,
    format: Format,
    out: Out<'_>,
) -> anyhow::Result<()> {
    let catalog = deployment.catalog()?;
    match command {
        WorkflowCommand::Apply { file } => {
            let (applied, workflow) = catalog.apply(read_spec(&file)?).await?;
            render::applied(out, applied, &workflow, format)?;
            // Not refused: a workflow is applied disabled, and the bucket may be connected next.
            if let Ok(buckets) = deployment.buckets()
                && let Err(not_connected) = buckets.check(&workflow.trigger).await
            {
                eprintln!("warning: {not_connected}");
            }
            Ok(())
        }
        WorkflowCommand::Enable { name, skip_bucket_check } => {
            if !skip_bucket_check {
                let workflow = catalog.get(&name).await?;
                deployment
                    .buckets()
                    .context("cannot check that the trigger bucket is connected (or pass --skip-bucket-check)")?
                    .check(&workflow.trigger)
                    .await?;
            }
            render::workflow(out, &catalog.enable(&name).await?, format)
        }
        WorkflowCommand::Disable { name } => render::workflow(out, &catalog.disable(&name).await?, format),
        WorkflowCommand::Show { name } => render::workflow(out, &catalog.get(&name).await?, format),
        WorkflowCommand::List => render::workflows(out, &catalog.list().await?, format),
        WorkflowCommand::Delete { name } => render::deleted(out, &catalog.delete(&name).await?, format),
    }
}

async fn bucket(command: BucketCommand, buckets: &Buckets, format: Format, out: Out<'_>) -> anyhow::Result<()> {
    let connection = match command {
        BucketCommand::Connect { bucket, prefix } => buckets.connect(&bucket, &prefix).await?,
        BucketCommand::Status { bucket } => buckets.status(&bucket).await?,
        BucketCommand::Disconnect { bucket } => buckets.disconnect(&bucket).await?,
    };
    render::connection(out, &connection, format)
}

async fn job(command: JobCommand, deployment: &Deployment, format: Format, out: Out<'_>) -> anyhow::Result<()> {
    let jobs = &deployment.jobs()?;
    match command {
        JobCommand::List { workflow, status, failed, since, limit, page } => {
            let filter = JobFilter { workflow, status: status.map(Into::into), failed, since, limit, page };
            render::job_page(out, &jobs.list(&filter).await?, format)
        }
        JobCommand::Show { job } => render::job_views(out, &jobs.find(&JobRef::parse(&job)).await?, format),
        JobCommand::Redo { job, task } => {
            let rerun = jobs.redo(&job, task, &deployment.task_queue()?).await?;
            if format == Format::Table {
                eprintln!("running again: task {}", rerun.iter().map(u32::to_string).collect::<Vec<_>>().join(", "));
            }
            render::job_views(out, &[jobs.get(&job).await?], format)
        }
        JobCommand::Watch { job, timeout } => {
            let finished = watch::follow(jobs, &JobRef::parse(&job), timeout).await?;
            render::job_views(out, &finished, format)
        }
    }
}
