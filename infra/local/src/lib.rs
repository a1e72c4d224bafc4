//! The local stack: mediaflow on one machine, with real parts where users meet them.
//!
//! - moto_server on a loopback port speaks S3, DynamoDB and SQS; the SDK talks to it as to AWS.
//! - Buckets notify an SQS queue of created objects, as the deployed stack's bucket does.
//! - An event source mapping polls that queue and invokes the dispatcher with SQS batches.
//! - A local Lambda service answers the Invoke API on loopback and runs the dispatcher and
//!   worker handlers in-process; the dispatcher reaches the worker through it with the real
//!   Lambda client (`InvocationType=Event`), with retries and an on-failure queue.
//!
//! - Or, with [`StackOptions::template`], template.yaml itself is created on the server (as
//!   `sam deploy` creates it) and the stack runs on its tables, queues and bucket, each function
//!   as its IAM role, with IAM enforced: a permission the template forgot fails there.
//!
//! Everything started here stops when the [`LocalStack`] is dropped. The tests, the bench and
//! `mediaflow dev` stand on it; it imports the library and the functions' handlers, never the CLI.

pub mod chaos;
mod events;
pub mod faults;
mod lambda;
pub mod measure;
mod moto;
mod process;
mod resources;
pub mod template;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::QueueAttributeName;
use mediaflow::adapters::aws::dynamodb::DynamoJobStore;
use mediaflow::app::admin::{Admin, Resource};
use mediaflow::app::pipeline::dispatch::{DispatchReport, Outcome};
use mediaflow::app::pipeline::notify::RetryPolicy;
use mediaflow::domain::job::{Job, JobId, JobStatus, Task};
use mediaflow::domain::object::ObjectRef;
use mediaflow::domain::workflow::Location;
use mediaflow::ports::{JobFilter, JobStore};
use mediaflow::wiring;
use mediaflow::wiring::{Clients, Deployment, DispatcherConfig, WorkerConfig};
use serde_json::Value;

pub use self::events::{EventSource, Target};
pub use self::faults::{Fault, FaultPlan, FaultProxy, Service};
pub use self::lambda::{Function, Functions, LocalLambda, OnFailure};
pub use self::moto::MotoServer;
pub use self::process::Process;
use self::resources::Resources;
pub use self::resources::{JOBS_TABLE, Queue, WORK_BUCKET, WORKFLOWS_TABLE};
use self::template::{Deployed, Principal};

/// The functions' names in the local Lambda service.
pub const DISPATCHER: &str = "dispatcher";
pub const WORKER: &str = "worker";
const REGION: &str = "us-east-1";
/// The stack name template.yaml is created under.
pub const STACK_NAME: &str = "mediaflow";

/// How to run the functions locally.
#[derive(Clone, Debug)]
pub struct StackOptions {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    pub font: PathBuf,
    /// Asynchronous invocations running at once.
    pub concurrency: usize,
    /// The worker's timeout (Lambda's `Timeout`).
    pub worker_timeout: Duration,
    /// How long before its deadline the worker stops rendering.
    pub deadline_margin: chrono::TimeDelta,
    /// Where the dispatcher and worker run.
    pub lambda: LambdaMode,
    /// The time zone moto runs in (`TZ`); moto writes event times in it. Default: inherited.
    pub moto_time_zone: Option<String>,
    /// Whether webhooks may reach loopback and private addresses (default: yes, for local
    /// receivers).
    pub webhook_allow_private: bool,
    /// How event deliveries are retried (default: 5 attempts from 200 ms).
    pub notify_retry: RetryPolicy,
    /// Puts a [`FaultProxy`] between the functions and the server (injecting nothing until it
    /// is given a plan).
    pub fault_proxy: bool,
    /// How long one attempt of the functions' SDK calls may take (default: the deployed
    /// functions' [`wiring::ATTEMPT_TIMEOUT`]).
    pub sdk_attempt_timeout: Duration,
    /// How long a claim outlives its worker's last heartbeat (default 8 s, renewed every 2 s:
    /// a second delivery of a running task steps aside within 3 s; deployed, [`wiring::LEASE`]).
    pub lease: chrono::TimeDelta,
    /// Runs on template.yaml's own resources, created with these parameters (e.g.
    /// `TriggerBuckets`), each function as its role and the harness as an admin user, with IAM
    /// enforced (default: local resources, IAM not enforced).
    pub template: Option<Vec<(String, String)>>,
    /// Runs the dispatcher and the worker as their built binaries from this directory
    /// (`dispatcher`, `worker`), one process per invocation through Lambda's runtime API, so
    /// that a cut run is a SIGKILL of its process group (default: in this process; the
    /// dispatcher's reports are then not kept).
    pub binaries: Option<PathBuf>,
    /// Outputs written front to back go up in parts of this many bytes while they are written
    /// (default 16 MiB, as deployed; `None`: after they are written).
    pub send_while_writing: Option<u64>,
}

/// Where the stack's functions run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LambdaMode {
    /// In this process, behind a local Lambda service.
    InProcess,
    /// Behind another Lambda Invoke API, such as `cargo lambda watch`, at this URL.
    Remote(String),
}

impl StackOptions {
    /// ffmpeg and ffprobe from `FFMPEG_PATH`/`FFPROBE_PATH` or the PATH; the font from
    /// `FONT_PATH` or Debian's DejaVu.
    pub fn from_env() -> anyhow::Result<Self> {
        let tool = |var: &str, name: &str| -> anyhow::Result<PathBuf> {
            match std::env::var_os(var) {
                Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
                _ => find_on_path(name)
                    .with_context(|| format!("{name} not found on PATH: install it (make setup) or set {var}")),
            }
        };
        Ok(Self {
            ffmpeg: tool("FFMPEG_PATH", "ffmpeg")?,
            ffprobe: tool("FFPROBE_PATH", "ffprobe")?,
            font: std::env::var_os("FONT_PATH")
                .map_or_else(|| PathBuf::from("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"), PathBuf::from),
            concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()).max(2),
            worker_timeout: Duration::from_secs(900),
            deadline_margin: chrono::TimeDelta::seconds(20),
            lambda: LambdaMode::InProcess,
            moto_time_zone: None,
            webhook_allow_private: true,
            notify_retry: RetryPolicy { attempts: 5, first_delay: Duration::from_millis(200) },
            fault_proxy: false,
            sdk_attempt_timeout: wiring::ATTEMPT_TIMEOUT,
            lease: chrono::TimeDelta::seconds(8),
            template: None,
            binaries: None,
            send_while_writing: Some(16 * 1024 * 1024),
        })
    }
}

/// Clients of the local server (path-style S3) and of the Lambda API at `lambda_endpoint`.
fn local_clients(sdk: &aws_config::SdkConfig, lambda_endpoint: &str) -> Clients {
    let lambda_config = aws_sdk_lambda::config::Builder::from(sdk).endpoint_url(lambda_endpoint).build();
    Clients {
        cloudformation: aws_sdk_cloudformation::Client::new(sdk),
        dynamodb: aws_sdk_dynamodb::Client::new(sdk),
        s3: aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build()),
        lambda: aws_sdk_lambda::Client::from_conf(lambda_config),
        sqs: aws_sdk_sqs::Client::new(sdk),
        sns: aws_sdk_sns::Client::new(sdk),
        eventbridge: aws_sdk_eventbridge::Client::new(sdk),
        ssm: aws_sdk_ssm::Client::new(sdk),
        secrets_manager: aws_sdk_secretsmanager::Client::new(sdk),
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|path| path.is_file())
}

/// The running local stack.
pub struct LocalStack {
    // Fields drop in order: pollers and functions stop before the server they use.
    events: Option<EventSource>,
    /// Feeds the worker's dead-letter queue back to the worker, as the template's mapping does.
    lost: Option<EventSource>,
    lambda: Option<Arc<LocalLambda>>,
    /// The functions' processes, with [`StackOptions::binaries`].
    processes: BTreeMap<&'static str, Process>,
    reports: Arc<Mutex<Vec<DispatchReport>>>,
    /// What the harness, the CLI and the console use: the server itself.
    pub clients: Clients,
    /// What the dispatcher and the worker use: through the fault proxy when there is one, with
    /// the deployed functions' retries and timeouts; as their roles on a template's resources.
    dispatcher_clients: Clients,
    worker_clients: Clients,
    proxy: Option<FaultProxy>,
    pub sqs: aws_sdk_sqs::Client,
    pub events_queue: Queue,
    pub events_dlq: Queue,
    pub worker_dlq: Queue,
    resources: Resources,
    /// template.yaml as created on the server, with [`StackOptions::template`].
    deployed: Option<Deployed>,
    options: StackOptions,
    lambda_endpoint: String,
    moto: MotoServer,
    workdir: tempfile::TempDir,
}

impl std::fmt::Debug for LocalStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStack").field("endpoint", &self.moto.endpoint).finish_non_exhaustive()
    }
}

impl LocalStack {
    pub async fn start(options: StackOptions) -> anyhow::Result<Self> {
        let workdir = tempfile::Builder::new().prefix("mediaflow-local-").tempdir()?;
        let moto = MotoServer::start(workdir.path(), options.moto_time_zone.as_deref()).await?;
        let deployed = match &options.template {
            Some(parameters) => {
                Some(template::deploy(&moto.endpoint, &template::template_path(), STACK_NAME, parameters, true).await?)
            }
            None => None,
        };
        let credentials = |role: &str| -> anyhow::Result<Credentials> {
            Ok(match &deployed {
                Some(deployed) => deployed.principal(role)?.credentials(),
                None => Credentials::new("test", "test", None, None, "mediaflow-local"),
            })
        };
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&moto.endpoint)
            .credentials_provider(credentials("admin")?)
            .load()
            .await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        // In process, failed batches come back quickly; `cargo lambda watch` runs every
        // invocation to its end before answering, so a batch is in hand as long as its jobs.
        let visibility = match options.lambda {
            LambdaMode::InProcess => Duration::from_secs(5),
            LambdaMode::Remote(_) => Duration::from_secs(900),
        };
        let (listener, lambda_endpoint) = match &options.lambda {
            LambdaMode::InProcess => {
                let (listener, endpoint) = LocalLambda::listen().await?;
                (Some(listener), endpoint)
            }
            LambdaMode::Remote(endpoint) => (None, endpoint.clone()),
        };
        let clients = local_clients(&sdk, &lambda_endpoint);
        let resources = match &deployed {
            Some(deployed) => Resources::of(deployed, &sqs).await?,
            None => Resources::create(&clients.dynamodb, &sqs, &clients.s3, visibility).await?,
        };
        let proxy = match options.fault_proxy {
            true => Some(FaultProxy::start(&moto.endpoint).await?),
            false => None,
        };
        let (retry, timeouts) = wiring::resilience(options.sdk_attempt_timeout);
        let function_clients = async |credentials: Credentials| {
            let sdk = aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new(REGION))
                .endpoint_url(proxy.as_ref().map_or(&moto.endpoint, |proxy| &proxy.endpoint))
                .credentials_provider(credentials)
                .retry_config(retry.clone())
                .timeout_config(timeouts.clone())
                .load()
                .await;
            local_clients(&sdk, &lambda_endpoint)
        };
        let dispatcher_clients = function_clients(credentials("DispatcherFunctionRole")?).await;
        let worker_clients = function_clients(credentials("WorkerFunctionRole")?).await;
        let reports = Arc::new(Mutex::new(Vec::new()));
        let scratch = workdir.path().join("scratch");
        std::fs::create_dir_all(&scratch)?;
        let mut stack = LocalStack {
            events: None,
            lost: None,
            lambda: None,
            processes: BTreeMap::new(),
            reports,
            clients,
            dispatcher_clients,
            worker_clients,
            proxy,
            sqs,
            events_queue: resources.events_queue.clone(),
            events_dlq: resources.events_dlq.clone(),
            worker_dlq: resources.worker_dlq.clone(),
            resources,
            deployed,
            options,
            lambda_endpoint,
            moto,
            workdir,
        };
        let target = match listener {
            Some(listener) => {
                if let Some(binaries) = stack.options.binaries.clone() {
                    for (name, role) in [(DISPATCHER, "DispatcherFunctionRole"), (WORKER, "WorkerFunctionRole")] {
                        let log = stack.workdir.path().join(format!("{name}.log"));
                        let process = Process::new(binaries.join(name), name, stack.function_environment(role), log);
                        stack.processes.insert(name, process);
                    }
                }
                let functions = stack.functions(&scratch);
                let retry_delay = Duration::from_millis(500);
                let lambda = Arc::new(LocalLambda::serve(listener, functions, stack.options.concurrency, retry_delay)?);
                stack.lambda = Some(lambda.clone());
                Target::Local(lambda)
            }
            None => Target::Remote(stack.clients.lambda.clone()),
        };
        // Event source mappings poll with their function's role.
        stack.lost = Some(EventSource::start(
            stack.worker_clients.sqs.clone(),
            stack.worker_dlq.url.clone(),
            stack.worker_dlq.arn.clone(),
            target.clone(),
            WORKER,
        ));
        stack.events = Some(EventSource::start(
            stack.dispatcher_clients.sqs.clone(),
            stack.events_queue.url.clone(),
            stack.events_queue.arn.clone(),
            target,
            DISPATCHER,
        ));
        Ok(stack)
    }

    /// The dispatcher and worker handlers, wired as their `main.rs` wires them.
    fn functions(&self, scratch: &Path) -> Functions {
        let dispatcher = Arc::new(wiring::dispatcher(
            &self.dispatcher_clients,
            &DispatcherConfig {
                workflows_table: self.resources.workflows_table.clone(),
                jobs_table: self.resources.jobs_table.clone(),
                worker_function: WORKER.into(),
                events_dlq_url: self.events_dlq.url.clone(),
            },
        ));
        let worker = Arc::new(wiring::worker(
            &self.worker_clients,
            &WorkerConfig {
                jobs_table: self.resources.jobs_table.clone(),
                worker_function: WORKER.into(),
                ffmpeg: self.options.ffmpeg.clone(),
                ffprobe: self.options.ffprobe.clone(),
                font: self.options.font.clone(),
                scratch: scratch.to_owned(),
                margin: self.options.deadline_margin,
                webhook_allow_private: self.options.webhook_allow_private,
                notify_retry: self.options.notify_retry,
                work: Some(Location { bucket: self.resources.work_bucket.clone(), dir: "parts/".into() }),
                invocation_seconds: self.options.worker_timeout.as_secs_f64(),
                lease: self.options.lease,
                send_while_writing: self.options.send_while_writing,
            },
        ));
        let reports = self.reports.clone();
        let dispatch: Function = match self.processes.get(DISPATCHER) {
            Some(process) => process.clone().function(),
            None => Arc::new(move |payload, _invocation| {
                let (dispatcher, reports) = (dispatcher.clone(), reports.clone());
                Box::pin(async move {
                    let (dispatcher, dead_letters) = &*dispatcher;
                    let handled = dispatcher::handler::handle(payload, dispatcher, dead_letters)
                        .await
                        .map_err(|e| e.to_string())?;
                    if let Ok(mut log) = reports.lock() {
                        log.extend(handled.reports);
                    }
                    Ok(handled.response)
                })
            }),
        };
        let work: Function = match self.processes.get(WORKER) {
            Some(process) => process.clone().function(),
            None => Arc::new(move |payload, invocation| {
                let worker = worker.clone();
                Box::pin(async move {
                    worker::handler::handle(payload, &invocation, &worker).await.map_err(|e| e.to_string())
                })
            }),
        };
        // Lambda sends a failed asynchronous invocation to the on-failure queue as the worker.
        let (sqs, dlq) = (self.worker_clients.sqs.clone(), self.worker_dlq.url.clone());
        let on_failure: OnFailure = Arc::new(move |record: Value| {
            let (sqs, dlq) = (sqs.clone(), dlq.clone());
            Box::pin(async move {
                if let Err(e) = sqs.send_message().queue_url(dlq).message_body(record.to_string()).send().await {
                    tracing::error!(error = %e, "cannot send to the worker's on-failure queue");
                }
            })
        });
        let mut functions = Functions::default().add(DISPATCHER, Duration::from_secs(60), None, dispatch).add(
            WORKER,
            self.options.worker_timeout,
            Some(on_failure),
            work,
        );
        // On a template's stack, the CLI and console call the functions by their deployed names.
        if let Some(deployed) = &self.deployed {
            for (output, name) in [("DispatcherFunctionName", DISPATCHER), ("WorkerFunctionName", WORKER)] {
                if let Ok(deployed_name) = deployed.output(output) {
                    functions = functions.alias(deployed_name, name);
                }
            }
        }
        functions
    }

    pub fn endpoint(&self) -> &str {
        &self.moto.endpoint
    }

    /// What the stack was started with.
    pub fn options(&self) -> &StackOptions {
        &self.options
    }

    /// The proxy between the functions and the server, when the stack has one.
    pub fn fault_proxy(&self) -> Option<&FaultProxy> {
        self.proxy.as_ref()
    }

    /// Where the in-process worker's invocations make their scratch directories.
    pub fn scratch_dir(&self) -> PathBuf {
        self.workdir.path().join("scratch")
    }

    /// The local S3/DynamoDB/SQS server.
    pub fn moto(&self) -> &MotoServer {
        &self.moto
    }

    /// What people do with this stack: the CLI's and the console's use-cases.
    pub fn admin(&self) -> Admin {
        wiring::admin(&self.clients, &self.deployment())
    }

    pub fn jobs(&self) -> DynamoJobStore {
        DynamoJobStore::new(self.clients.dynamodb.clone(), &self.resources.jobs_table)
    }

    /// This stack's resource names, as a deployed stack's outputs give them.
    pub fn deployment(&self) -> Deployment {
        let mut deployment = Deployment::default()
            .with(Resource::WorkflowsTable, &self.resources.workflows_table)
            .with(Resource::JobsTable, &self.resources.jobs_table)
            .with(Resource::WorkerFunction, WORKER)
            .with(Resource::EventsQueueArn, &self.events_queue.arn)
            .with(Resource::EventsQueueUrl, &self.events_queue.url)
            .with(Resource::EventsDlqUrl, &self.events_dlq.url)
            .with(Resource::WorkerDlqUrl, &self.worker_dlq.url);
        deployment.set_work_bucket(Some(self.resources.work_bucket.clone()));
        deployment
    }

    /// Creates a bucket and connects it (`mediaflow bucket connect`): every created object's
    /// event goes to the events queue.
    pub async fn create_bucket(&self, bucket: &str) -> anyhow::Result<()> {
        self.clients
            .s3
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .with_context(|| format!("create bucket {bucket}"))?;
        self.admin().connect(bucket, &[]).await?;
        Ok(())
    }

    pub async fn bucket_exists(&self, bucket: &str) -> bool {
        self.clients.s3.head_bucket().bucket(bucket).send().await.is_ok()
    }

    /// Uploads a local file as a user would (PutObject).
    pub async fn upload(&self, file: &Path, to: &ObjectRef) -> anyhow::Result<()> {
        let body = ByteStream::from_path(file).await.with_context(|| format!("read {}", file.display()))?;
        self.clients
            .s3
            .put_object()
            .bucket(&to.bucket)
            .key(&to.key)
            .body(body)
            .send()
            .await
            .with_context(|| format!("upload {to}"))?;
        Ok(())
    }

    /// Every dispatch report so far.
    pub fn reports(&self) -> Vec<DispatchReport> {
        self.reports.lock().map(|log| log.clone()).unwrap_or_default()
    }

    /// Waits until the dispatcher has reported on `object`. With the dispatcher as its own
    /// processes ([`StackOptions::binaries`]), the report is made of the jobs recorded for the
    /// object, once there is one (what it skipped is not known).
    pub async fn dispatched(&self, object: &ObjectRef, timeout: Duration) -> anyhow::Result<DispatchReport> {
        let start = Instant::now();
        loop {
            self.moto.check()?;
            if let Some(report) = self.reports().into_iter().find(|r| &r.object == object) {
                return Ok(report);
            }
            if self.processes.contains_key(DISPATCHER) {
                let filter = JobFilter { input: Some(object.clone()), limit: 100, ..JobFilter::default() };
                let jobs = self.admin().list_jobs(&filter).await?.jobs;
                let started = jobs.into_iter().map(|job| Outcome::Started {
                    workflow: job.workflow,
                    job_id: job.id,
                    new: true,
                    prepare_sent: true,
                });
                let outcomes: Vec<Outcome> = started.collect();
                if !outcomes.is_empty() {
                    return Ok(DispatchReport { object: object.clone(), outcomes });
                }
            }
            if start.elapsed() > timeout {
                bail!("no dispatch of {object} within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until job `id` is FINISH; returns it with its tasks.
    pub async fn finished(&self, id: &JobId, timeout: Duration) -> anyhow::Result<(Job, Vec<Task>)> {
        let jobs = self.jobs();
        let start = Instant::now();
        loop {
            self.moto.check()?;
            if let Some(job) = jobs.job(id).await?
                && job.status == JobStatus::Finish
            {
                let tasks = jobs.tasks(id).await?;
                return Ok((job, tasks));
            }
            if start.elapsed() > timeout {
                let job = jobs.job(id).await?;
                let tasks: Vec<String> = jobs
                    .tasks(id)
                    .await?
                    .iter()
                    .map(|t| {
                        format!(
                            "task {} {} attempt {} sent {:?}",
                            t.index,
                            t.status.as_str(),
                            t.hold.attempts,
                            t.sent_at
                        )
                    })
                    .collect();
                bail!("job {id} did not finish within {timeout:?}: {:?}, {tasks:?}", job.map(|j| j.status));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until no event is queued or being handled and no invocation is running.
    pub async fn idle(&self, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        let mut quiet_checks = 0;
        while quiet_checks < 3 {
            self.moto.check()?;
            let quiet = self.queue_depth(&self.events_queue).await? == 0
                && self.queue_depth(&self.worker_dlq).await? == 0
                && !self.events.as_ref().is_some_and(EventSource::is_busy)
                && !self.lost.as_ref().is_some_and(EventSource::is_busy)
                && self.lambda.as_ref().is_none_or(|l| l.is_idle());
            quiet_checks = if quiet { quiet_checks + 1 } else { 0 };
            if start.elapsed() > timeout {
                bail!("the stack was still busy after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }

    /// Messages in a queue, visible or in flight.
    pub async fn queue_depth(&self, queue: &Queue) -> anyhow::Result<u64> {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&queue.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await?;
        Ok(attributes.attributes().map_or(0, |a| a.values().filter_map(|v| v.parse::<u64>().ok()).sum()))
    }

    /// The in-process Lambda service (absent when the functions run elsewhere).
    pub fn lambda(&self) -> anyhow::Result<&LocalLambda> {
        self.lambda.as_deref().context("functions are not running in this stack")
    }

    /// Invokes a local function and waits for its result (`RequestResponse`).
    pub async fn invoke(&self, function: &str, payload: Value) -> anyhow::Result<Value> {
        self.lambda()?.call(function, payload).await.map_err(anyhow::Error::msg)
    }

    /// How many times a local function ran (retries count).
    pub fn invocations(&self, function: &str) -> usize {
        self.lambda.as_ref().map_or(0, |l| l.invocations(function))
    }

    /// Environment for running the functions outside this process (`cargo lambda watch`).
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        let mut environment = vec![
            ("AWS_ENDPOINT_URL", self.moto.endpoint.clone()),
            ("AWS_ENDPOINT_URL_LAMBDA", self.lambda_endpoint.clone()),
            ("AWS_REGION", REGION.into()),
            // awscli v1 reads only this one.
            ("AWS_DEFAULT_REGION", REGION.into()),
            ("FFMPEG_PATH", self.options.ffmpeg.display().to_string()),
            ("FFPROBE_PATH", self.options.ffprobe.display().to_string()),
            ("FONT_PATH", self.options.font.display().to_string()),
            ("SCRATCH_DIR", self.scratch_dir().display().to_string()),
            ("WEBHOOK_ALLOW_PRIVATE", if self.options.webhook_allow_private { "1" } else { "0" }.into()),
            ("WORK_BUCKET", self.resources.work_bucket.clone()),
            ("INVOCATION_SECONDS", self.options.worker_timeout.as_secs().to_string()),
            ("UPLOAD_PART_MIB", (self.options.send_while_writing.unwrap_or(0) / (1024 * 1024)).to_string()),
        ];
        match self.deployed.as_ref().and_then(|deployed| deployed.principal("admin").ok()) {
            Some(admin) => environment.extend(admin.environment()),
            None => {
                environment.extend([("AWS_ACCESS_KEY_ID", "test".into()), ("AWS_SECRET_ACCESS_KEY", "test".into())])
            }
        }
        environment.extend(self.deployment().environment());
        environment
    }

    /// The environment of a function's own processes ([`StackOptions::binaries`]): as
    /// deployed, through the fault proxy when there is one, as its `role` on a template.
    fn function_environment(&self, role: &str) -> Vec<(String, String)> {
        let mut environment: Vec<(String, String)> = self
            .environment()
            .into_iter()
            .filter(|(name, _)| !name.starts_with("AWS_ACCESS_KEY") && !name.starts_with("AWS_SECRET"))
            .filter(|(name, _)| *name != "AWS_SESSION_TOKEN" && *name != "AWS_ENDPOINT_URL")
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        let endpoint = self.proxy.as_ref().map_or(&self.moto.endpoint, |proxy| &proxy.endpoint);
        environment.push(("AWS_ENDPOINT_URL".into(), endpoint.clone()));
        match self.deployed.as_ref().and_then(|deployed| deployed.principal(role).ok()) {
            Some(role) => environment.extend(role.environment().into_iter().map(|(k, v)| (k.to_owned(), v))),
            None => environment.extend([
                ("AWS_ACCESS_KEY_ID".to_owned(), "test".to_owned()),
                ("AWS_SECRET_ACCESS_KEY".to_owned(), "test".to_owned()),
            ]),
        }
        environment.extend([
            ("LEASE_SECONDS".to_owned(), self.options.lease.num_seconds().to_string()),
            ("ATTEMPT_TIMEOUT_SECONDS".to_owned(), self.options.sdk_attempt_timeout.as_secs_f64().to_string()),
            ("DEADLINE_MARGIN_SECONDS".to_owned(), self.options.deadline_margin.num_seconds().to_string()),
            ("AWS_LAMBDA_LOG_FORMAT".to_owned(), "JSON".to_owned()),
            ("RUST_LOG".to_owned(), "info".to_owned()),
        ]);
        environment
    }

    /// The processes of function `name`, with [`StackOptions::binaries`].
    pub fn process(&self, name: &str) -> Option<&Process> {
        self.processes.get(name)
    }

    /// template.yaml as created on the server ([`StackOptions::template`]): its outputs and
    /// the credentials of its principals.
    pub fn deployed(&self) -> Option<&Deployed> {
        self.deployed.as_ref()
    }

    /// The environment of `mediaflow` run by `principal` of the deployed template (e.g.
    /// `operator`), naming the deployment by its stack as users do.
    pub fn environment_of(&self, principal: &Principal) -> Vec<(&'static str, String)> {
        let mut environment = vec![
            ("AWS_ENDPOINT_URL", self.moto.endpoint.clone()),
            ("AWS_ENDPOINT_URL_LAMBDA", self.lambda_endpoint.clone()),
            ("AWS_REGION", REGION.into()),
            ("MEDIAFLOW_STACK", STACK_NAME.into()),
        ];
        environment.extend(principal.environment());
        environment
    }
}
