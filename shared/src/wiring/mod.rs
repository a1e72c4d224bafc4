//! The one place that builds adapters and hands them to the use-cases: the dispatcher's and
//! the worker's assembly (shared by the Lambda bootstraps and the local stack, so that both run
//! the same), and the [`Admin`] facade over a [`Deployment`] for the CLI and the console.
//! Settings come from the environment ([`settings`]); a deployment's resource names from flags,
//! the environment or its CloudFormation stack ([`deployment`]).
//!
//! The top of the library: imports everything below it; imported by the functions, the CLI and
//! the local stack, never by the library itself.

pub mod deployment;
pub mod settings;

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use chrono::TimeDelta;

pub use self::deployment::Deployment;
pub use self::settings::{ConfigError, DispatcherConfig, WorkerConfig};
use crate::adapters::aws::dynamodb::{DynamoJobStore, DynamoWorkflowStore};
use crate::adapters::aws::files::S3Files;
use crate::adapters::aws::lambda::LambdaTaskQueue;
use crate::adapters::aws::notify::AwsNotifications;
use crate::adapters::aws::s3::S3ObjectStore;
use crate::adapters::aws::s3_events::S3BucketEvents;
use crate::adapters::aws::sqs::{SqsDeadLetters, SqsQueue};
use crate::adapters::aws::webhook::{Secrets, Webhooks};
use crate::adapters::ffmpeg::Ffmpeg;
use crate::app::admin::audit::Auditor;
use crate::app::admin::backfill::Backfill;
use crate::app::admin::buckets::Buckets;
use crate::app::admin::catalog::Catalog;
use crate::app::admin::dead_letters::DeadLetterAdmin;
use crate::app::admin::explain::Explainer;
use crate::app::admin::jobs::Jobs;
use crate::app::admin::{Admin, Resource};
use crate::app::pipeline::chunking::Chunking;
use crate::app::pipeline::dispatch::Dispatcher;
use crate::app::pipeline::notify::Notifier;
use crate::app::pipeline::parts::PartRunner;
use crate::app::pipeline::prepare::Preparer;
use crate::app::pipeline::recover::Recovery;
use crate::app::pipeline::task::TaskRunner;
use crate::app::pipeline::workspace::Workspace;
use crate::domain::cost::Prices;
use crate::ports::Files;

/// The AWS configuration from the environment (region, credentials, `AWS_ENDPOINT_URL*`), with
/// the functions' retries and timeouts ([`resilience`]; `ATTEMPT_TIMEOUT_SECONDS` overrides
/// [`ATTEMPT_TIMEOUT`]).
pub async fn load_aws() -> SdkConfig {
    let attempt = std::env::var("ATTEMPT_TIMEOUT_SECONDS")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .map_or(ATTEMPT_TIMEOUT, Duration::from_secs_f64);
    let (retry, timeouts) = resilience(attempt);
    aws_config::defaults(BehaviorVersion::latest()).retry_config(retry).timeout_config(timeouts).load().await
}

/// Attempts per SDK call: throttling (503 SlowDown, ProvisionedThroughputExceeded), 5xx answers,
/// lost answers and timeouts are tried again, up to this many times in all.
pub const SDK_ATTEMPTS: u32 = 5;

/// How long one attempt of an SDK call may take before it is given up and tried again (not the
/// streaming of a download's body, which the reader bounds).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// How SDK calls ride out a misbehaving service: the standard retry mode (exponential backoff
/// with full jitter, capped at 20 s, and a retry quota so that an outage is not hammered),
/// [`SDK_ATTEMPTS`] attempts, a 3 s connect timeout and `attempt` per attempt.
pub fn resilience(attempt: Duration) -> (RetryConfig, TimeoutConfig) {
    let retry = RetryConfig::standard().with_max_attempts(SDK_ATTEMPTS).with_max_backoff(Duration::from_secs(20));
    let timeouts =
        TimeoutConfig::builder().connect_timeout(Duration::from_secs(3)).operation_attempt_timeout(attempt).build();
    (retry, timeouts)
}

/// The SDK clients the adapters use, built once per process.
#[derive(Clone, Debug)]
pub struct Clients {
    pub cloudformation: aws_sdk_cloudformation::Client,
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
            cloudformation: aws_sdk_cloudformation::Client::new(sdk),
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

/// How long a claimed task or part stays with its worker after the worker's last heartbeat
/// (every quarter of it): a worker that dies frees its work this soon, and Lambda's retry of
/// its invocation (a minute or two later) takes it over.
pub const LEASE: TimeDelta = TimeDelta::minutes(2);

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
    let work = Workspace {
        jobs: jobs.clone(),
        objects,
        media,
        notifier: notifier.clone(),
        scratch: config.scratch.clone(),
        lease: config.lease,
        margin: config.margin,
        send_while_writing: config.send_while_writing,
    };
    let parts = chunking.clone().map(|chunking| PartRunner::new(work.clone(), jobs.clone(), queue, chunking));
    Worker { preparer, parts, recovery: Recovery::new(jobs, notifier), runner: TaskRunner::new(work, chunking) }
}

/// The administrative use-cases over `deployment`: each part whose resources the deployment
/// names (the others fail, naming what is missing).
pub fn admin(clients: &Clients, deployment: &Deployment) -> Admin {
    let name = |resource: Resource| deployment.get(resource).ok_or(resource);
    let workflows =
        name(Resource::WorkflowsTable).map(|table| Arc::new(DynamoWorkflowStore::new(clients.dynamodb.clone(), table)));
    let jobs = name(Resource::JobsTable).map(|table| Arc::new(DynamoJobStore::new(clients.dynamodb.clone(), table)));
    let worker =
        name(Resource::WorkerFunction).map(|function| Arc::new(LambdaTaskQueue::new(clients.lambda.clone(), function)));
    let objects = Arc::new(S3ObjectStore::new(clients.s3.clone()));
    let files: Arc<dyn Files> = Arc::new(S3Files::new(clients.s3.clone()).within(&deployment.buckets().all()));
    let queue = |resource: Resource| name(resource).map(|url| Arc::new(SqsQueue::new(clients.sqs.clone(), url)));
    Admin {
        catalog: workflows.clone().map(|store| Catalog::new(store)),
        buckets: name(Resource::EventsQueueArn).map(|arn| {
            let buckets = Buckets::new(Arc::new(S3BucketEvents::new(clients.s3.clone())), arn);
            match deployment.console_url() {
                Some(url) => buckets.with_console(files.clone(), url),
                None => buckets,
            }
        }),
        jobs: jobs.clone().map(|store| Jobs::new(store.clone(), store)),
        worker: worker.clone().map(|queue| queue as _),
        backfill: (|| {
            let (workflows, jobs, worker) = (workflows.clone()?, jobs.clone()?, worker.clone()?);
            let dispatcher = Dispatcher::new(workflows.clone(), jobs.clone(), objects.clone(), worker);
            Ok(Backfill::new(workflows, objects.clone(), jobs, dispatcher))
        })(),
        dead_letters: (|| {
            Ok(DeadLetterAdmin::new(
                queue(Resource::EventsDlqUrl)?,
                queue(Resource::WorkerDlqUrl)?,
                queue(Resource::EventsQueueUrl)?,
                worker.clone()?,
            ))
        })(),
        explainer: workflows.clone().map(|workflows| Explainer { workflows, objects: objects.clone() }),
        auditor: (|| {
            let (workflows, jobs) = (workflows?, jobs?);
            Ok(Auditor::new(workflows, jobs.clone(), jobs, objects.clone(), deployment.work().cloned()))
        })(),
        files,
        stack_buckets: deployment.buckets().clone(),
        prices: Prices::default(),
    }
}

/// The administrative use-cases over one set of in-memory fakes: for the console's router
/// tests and the bench's figure of the console's own time. No buckets' events, no dead letters.
#[cfg(any(test, feature = "memory"))]
pub fn in_memory_admin(memory: &Arc<crate::adapters::memory::Memory>) -> Admin {
    let dispatcher = Dispatcher::new(memory.clone(), memory.clone(), memory.clone(), memory.clone());
    Admin {
        catalog: Ok(Catalog::new(memory.clone())),
        buckets: Err(Resource::EventsQueueArn),
        jobs: Ok(Jobs::new(memory.clone(), memory.clone())),
        worker: Ok(memory.clone()),
        backfill: Ok(Backfill::new(memory.clone(), memory.clone(), memory.clone(), dispatcher)),
        dead_letters: Err(Resource::EventsDlqUrl),
        explainer: Ok(Explainer { workflows: memory.clone(), objects: memory.clone() }),
        auditor: Ok(Auditor::new(memory.clone(), memory.clone(), memory.clone(), memory.clone(), None)),
        files: memory.clone(),
        stack_buckets: Default::default(),
        prices: Prices::default(),
    }
}
