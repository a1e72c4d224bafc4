//! Settings from the environment, and the wiring of adapters into use-cases — shared by the
//! Lambda bootstraps and the local stack so that both run the same assembly.

use std::path::PathBuf;
use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use chrono::TimeDelta;

use crate::adapters::dynamodb::{DynamoJobStore, DynamoWorkflowStore};
use crate::adapters::lambda::LambdaTaskQueue;
use crate::adapters::notify::AwsNotifications;
use crate::adapters::s3::S3ObjectStore;
use crate::adapters::s3_events::S3BucketEvents;
use crate::adapters::sqs::{SqsDeadLetters, SqsQueue};
use crate::adapters::webhook::{Secrets, Webhooks};
use crate::backfill::Backfill;
use crate::buckets::Buckets;
use crate::catalog::Catalog;
use crate::dead_letters::DeadLetterAdmin;
use crate::dispatch::{self, Dispatcher, Match};
use crate::domain::object::ObjectRef;
use crate::domain::workflow::Location;
use crate::ffmpeg::Ffmpeg;
use crate::jobs::Jobs;
use crate::notify::{Notifier, RetryPolicy};
use crate::parts::{Chunking, PartPorts, PartRunner};
use crate::ports::StoreError;
use crate::prepare::Preparer;
use crate::process::TaskRunner;
use crate::recover::Recovery;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    #[error("environment variable {0} is not a whole number: {1:?}")]
    Invalid(&'static str, String),
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing(name))
}

fn path_or(name: &str, default: &str) -> PathBuf {
    std::env::var_os(name).filter(|v| !v.is_empty()).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// The dispatcher's settings.
#[derive(Clone, Debug)]
pub struct DispatcherConfig {
    /// `WORKFLOWS_TABLE`
    pub workflows_table: String,
    /// `JOBS_TABLE`
    pub jobs_table: String,
    /// `WORKER_FUNCTION`: name or ARN of the worker Lambda.
    pub worker_function: String,
    /// `EVENTS_DLQ_URL`: where events that can never be handled are kept, with the reason.
    pub events_dlq_url: String,
}

impl DispatcherConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            workflows_table: required("WORKFLOWS_TABLE")?,
            jobs_table: required("JOBS_TABLE")?,
            worker_function: required("WORKER_FUNCTION")?,
            events_dlq_url: required("EVENTS_DLQ_URL")?,
        })
    }
}

/// The worker's settings.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// `JOBS_TABLE`
    pub jobs_table: String,
    /// `WORKER_FUNCTION`, else `AWS_LAMBDA_FUNCTION_NAME` (Lambda sets it): the worker itself,
    /// which a job's preparation invokes once per task.
    pub worker_function: String,
    /// `FFMPEG_PATH`, default `/opt/bin/ffmpeg` (the layer).
    pub ffmpeg: PathBuf,
    /// `FFPROBE_PATH`, default `/opt/bin/ffprobe`.
    pub ffprobe: PathBuf,
    /// `FONT_PATH`: TrueType font for text watermarks, default `/opt/fonts/DejaVuSans.ttf`.
    pub font: PathBuf,
    /// `SCRATCH_DIR`, default `/tmp`: each invocation works in its own directory below.
    pub scratch: PathBuf,
    /// `DEADLINE_MARGIN_SECONDS`, default 20: rendering stops this long before the invocation's
    /// deadline, leaving time to record the outcome.
    pub margin: TimeDelta,
    /// `WEBHOOK_ALLOW_PRIVATE=1` lets webhooks reach loopback, private and link-local addresses
    /// and plain http (local testing only).
    pub webhook_allow_private: bool,
    /// How event deliveries are retried.
    pub notify_retry: RetryPolicy,
    /// `WORK_BUCKET` (and `WORK_DIR`, default `parts/`): where the parts of long transcodes are
    /// kept until they are joined; without it every task runs in one piece.
    pub work: Option<Location>,
    /// `INVOCATION_SECONDS`, default 900: the worker's Lambda timeout, which decides when a
    /// transcode is split.
    pub invocation_seconds: f64,
}

impl WorkerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            jobs_table: required("JOBS_TABLE")?,
            worker_function: required("WORKER_FUNCTION").or_else(|_| required("AWS_LAMBDA_FUNCTION_NAME"))?,
            ffmpeg: path_or("FFMPEG_PATH", "/opt/bin/ffmpeg"),
            ffprobe: path_or("FFPROBE_PATH", "/opt/bin/ffprobe"),
            font: path_or("FONT_PATH", "/opt/fonts/DejaVuSans.ttf"),
            scratch: path_or("SCRATCH_DIR", "/tmp"),
            margin: TimeDelta::seconds(match std::env::var("DEADLINE_MARGIN_SECONDS") {
                Ok(text) => text.trim().parse().map_err(|_| ConfigError::Invalid("DEADLINE_MARGIN_SECONDS", text))?,
                Err(_) => 20,
            }),
            webhook_allow_private: std::env::var("WEBHOOK_ALLOW_PRIVATE").is_ok_and(|v| v.trim() == "1"),
            notify_retry: RetryPolicy::default(),
            work: required("WORK_BUCKET").ok().map(|bucket| Location {
                bucket,
                dir: std::env::var("WORK_DIR").unwrap_or_else(|_| "parts/".to_owned()),
            }),
            invocation_seconds: match std::env::var("INVOCATION_SECONDS") {
                Ok(text) => text.trim().parse().map_err(|_| ConfigError::Invalid("INVOCATION_SECONDS", text))?,
                Err(_) => 900.0,
            },
        })
    }
}

/// The AWS configuration from the environment (region, credentials, `AWS_ENDPOINT_URL*`).
pub async fn load_aws() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// The SDK clients the adapters use, built once per process.
#[derive(Clone, Debug)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub secrets_manager: aws_sdk_secretsmanager::Client,
}

impl Clients {
    /// Clients for the environment's configuration. S3 uses path-style addressing when its
    /// endpoint is overridden: local S3 servers cannot serve virtual-hosted buckets.
    pub fn from_sdk(sdk: &SdkConfig) -> Self {
        let overridden = sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let s3 = aws_sdk_s3::config::Builder::from(sdk).force_path_style(overridden).build();
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            s3: aws_sdk_s3::Client::from_conf(s3),
            lambda: aws_sdk_lambda::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            eventbridge: aws_sdk_eventbridge::Client::new(sdk),
            ssm: aws_sdk_ssm::Client::new(sdk),
            secrets_manager: aws_sdk_secretsmanager::Client::new(sdk),
        }
    }
}

/// The dispatch use-case and where its undeliverable events go.
pub fn dispatcher(clients: &Clients, config: &DispatcherConfig) -> (Dispatcher, SqsDeadLetters) {
    let dispatcher = Dispatcher::new(
        Arc::new(DynamoWorkflowStore::new(clients.dynamodb.clone(), &config.workflows_table)),
        Arc::new(DynamoJobStore::new(clients.dynamodb.clone(), &config.jobs_table)),
        Arc::new(S3ObjectStore::new(clients.s3.clone())),
        Arc::new(LambdaTaskQueue::new(clients.lambda.clone(), &config.worker_function)),
    );
    (dispatcher, SqsDeadLetters::new(clients.sqs.clone(), &config.events_dlq_url))
}

/// How long a claimed task stays with its worker when the invocation has no deadline; the
/// worker's Lambda timeout is at most this long.
pub const LEASE: TimeDelta = TimeDelta::minutes(15);

/// The worker's use-cases: preparing a job, running one of its tasks, recording what lost
/// invocations (its dead-letter queue) could not.
#[derive(Debug)]
pub struct Worker {
    pub preparer: Preparer,
    pub runner: TaskRunner,
    /// Parts of chunked tasks, when the deployment has a work location.
    pub parts: Option<PartRunner>,
    pub recovery: Recovery,
}

pub fn worker(clients: &Clients, config: &WorkerConfig) -> Worker {
    let jobs = Arc::new(DynamoJobStore::new(clients.dynamodb.clone(), &config.jobs_table));
    let objects = Arc::new(S3ObjectStore::new(clients.s3.clone()));
    let media = Arc::new(Ffmpeg::new(config.ffmpeg.clone(), config.ffprobe.clone(), config.font.clone()));
    let queue = Arc::new(LambdaTaskQueue::new(clients.lambda.clone(), &config.worker_function));
    let notifications = AwsNotifications {
        sqs: clients.sqs.clone(),
        sns: clients.sns.clone(),
        eventbridge: clients.eventbridge.clone(),
        webhooks: Webhooks::new(
            Secrets::new(clients.ssm.clone(), clients.secrets_manager.clone()),
            config.webhook_allow_private,
        ),
    };
    let notifier = Arc::new(Notifier::new(jobs.clone(), Arc::new(notifications), config.notify_retry));
    let chunking = config.work.clone().map(|work| Chunking { work, invocation_seconds: config.invocation_seconds });
    let preparer = Preparer::new(jobs.clone(), objects.clone(), media.clone(), queue.clone(), notifier.clone());
    let preparer = match &chunking {
        Some(chunking) => preparer.with_chunking(jobs.clone(), chunking.clone()),
        None => preparer,
    };
    let parts = chunking.clone().map(|chunking| {
        let ports = PartPorts {
            jobs: jobs.clone(),
            parts: jobs.clone(),
            objects: objects.clone(),
            media: media.clone(),
            queue: queue.clone(),
            notifier: notifier.clone(),
        };
        PartRunner::new(ports, chunking, config.scratch.clone(), LEASE, config.margin)
    });
    Worker {
        preparer,
        parts,
        recovery: Recovery::new(jobs.clone(), notifier.clone()),
        runner: TaskRunner::new(jobs, objects, media, notifier, config.scratch.clone(), LEASE, config.margin)
            .with_chunking(chunking),
    }
}

pub fn catalog(clients: &Clients, workflows_table: &str) -> Catalog {
    Catalog::new(Arc::new(DynamoWorkflowStore::new(clients.dynamodb.clone(), workflows_table)))
}

/// The buckets whose uploads reach the events queue `queue_arn`.
pub fn buckets(clients: &Clients, queue_arn: &str) -> Buckets {
    Buckets::new(Arc::new(S3BucketEvents::new(clients.s3.clone())), queue_arn)
}

pub fn jobs(clients: &Clients, jobs_table: &str) -> Jobs {
    let store = Arc::new(DynamoJobStore::new(clients.dynamodb.clone(), jobs_table));
    Jobs::new(store.clone(), store)
}

/// `mediaflow process`: the dispatcher's job start, on objects listed under a prefix.
pub fn backfill(clients: &Clients, workflows_table: &str, jobs_table: &str, worker_function: &str) -> Backfill {
    let workflows = Arc::new(DynamoWorkflowStore::new(clients.dynamodb.clone(), workflows_table));
    let jobs = Arc::new(DynamoJobStore::new(clients.dynamodb.clone(), jobs_table));
    let objects = Arc::new(S3ObjectStore::new(clients.s3.clone()));
    let queue = Arc::new(LambdaTaskQueue::new(clients.lambda.clone(), worker_function));
    let dispatcher = Dispatcher::new(workflows.clone(), jobs.clone(), objects.clone(), queue);
    Backfill::new(workflows, objects, jobs, dispatcher)
}

/// Which workflows an upload would start (`mediaflow match`).
pub async fn explain(clients: &Clients, workflows_table: &str, object: &ObjectRef) -> Result<Vec<Match>, StoreError> {
    let workflows = DynamoWorkflowStore::new(clients.dynamodb.clone(), workflows_table);
    let objects = S3ObjectStore::new(clients.s3.clone());
    dispatch::explain(&workflows, &objects, object, chrono::Utc::now()).await
}

/// `mediaflow dlq`: the events and worker dead-letter queues, the events queue and the worker.
pub fn dead_letters(
    clients: &Clients,
    events_dlq_url: &str,
    worker_dlq_url: &str,
    events_queue_url: &str,
    worker_function: &str,
) -> DeadLetterAdmin {
    let queue = |url: &str| SqsQueue::new(clients.sqs.clone(), url);
    DeadLetterAdmin::new(
        Arc::new(queue(events_dlq_url)),
        Arc::new(queue(worker_dlq_url)),
        Arc::new(queue(events_queue_url)),
        Arc::new(LambdaTaskQueue::new(clients.lambda.clone(), worker_function)),
    )
}
