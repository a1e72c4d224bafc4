//! Which deployment a command acts on, found as kubectl finds its cluster: the CloudFormation
//! stack `--stack` names (`MEDIAFLOW_STACK`, default `mediaflow`) gives every table, queue and
//! function from its outputs; a flag or environment variable per resource overrides it (what
//! `mediaflow dev up` prints). AWS settings and endpoints come from the environment as for the
//! AWS CLI.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;
use clap::Args;
use mediaflow::app::admin::{Admin, AdminError, Resource};
use mediaflow::wiring::{self, Clients, Deployment};

/// The deployment's resources: its stack, or each resource by name.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Deployment")]
pub struct DeploymentArgs {
    /// The CloudFormation stack mediaflow was deployed as (`sam deploy --stack-name`); its
    /// outputs name the tables, queues and function below.
    #[arg(long, global = true, env = "MEDIAFLOW_STACK", default_value = "mediaflow", value_name = "NAME")]
    pub stack: String,
    /// The workflows table, instead of the stack's output WorkflowsTableName.
    #[arg(long, global = true, env = "WORKFLOWS_TABLE", value_name = "TABLE")]
    pub workflows_table: Option<String>,
    /// The jobs table, instead of the stack's output JobsTableName.
    #[arg(long, global = true, env = "JOBS_TABLE", value_name = "TABLE")]
    pub jobs_table: Option<String>,
    /// The worker function, which `job redo` and `process` start, instead of the stack's
    /// output WorkerFunctionName.
    #[arg(long, global = true, env = "WORKER_FUNCTION", value_name = "FUNCTION")]
    pub worker_function: Option<String>,
    /// The events queue's ARN, which connected buckets notify, instead of the stack's output
    /// EventsQueueArn.
    #[arg(long, global = true, env = "EVENTS_QUEUE_ARN", value_name = "ARN")]
    pub events_queue_arn: Option<String>,
    /// The events queue's URL, where redriven events go, instead of the stack's output
    /// EventsQueueUrl.
    #[arg(long, global = true, env = "EVENTS_QUEUE_URL", value_name = "URL")]
    pub events_queue_url: Option<String>,
    /// The events dead-letter queue, instead of the stack's output EventsDLQUrl.
    #[arg(long, global = true, env = "EVENTS_DLQ_URL", value_name = "URL")]
    pub events_dlq_url: Option<String>,
    /// The worker's dead-letter queue, instead of the stack's output WorkerDLQUrl.
    #[arg(long, global = true, env = "WORKER_DLQ_URL", value_name = "URL")]
    pub worker_dlq_url: Option<String>,
    /// The deployed console, whose pages `bucket connect` lets upload to the bucket (CORS),
    /// instead of the stack's output ConsoleUrl.
    #[arg(long, global = true, env = "CONSOLE_URL", value_name = "URL")]
    pub console_url: Option<String>,
    /// Where chunked tasks keep their parts (`audit` looks for parts left behind there),
    /// instead of the stack's output WorkBucketName.
    #[arg(long, global = true, env = "WORK_BUCKET", value_name = "BUCKET")]
    pub work_bucket: Option<String>,
    /// A price file (YAML or JSON) with the prices that differ from AWS's us-east-1 list
    /// prices, which `job show`, `cost` and the console cost jobs at (see README, "What it
    /// costs").
    #[arg(long, global = true, env = "MEDIAFLOW_PRICES", value_name = "FILE")]
    pub prices: Option<String>,
}

/// The deployment a command acts on, through the administrative use-cases.
#[derive(Debug)]
pub struct Target {
    pub admin: Admin,
    stack: String,
    /// Why the stack's outputs could not be read, when they were needed.
    stack_problem: Option<String>,
}

impl DeploymentArgs {
    /// The names given one by one.
    fn given(&self) -> Deployment {
        let mut deployment = Deployment::default();
        for (resource, name) in [
            (Resource::WorkflowsTable, &self.workflows_table),
            (Resource::JobsTable, &self.jobs_table),
            (Resource::WorkerFunction, &self.worker_function),
            (Resource::EventsQueueArn, &self.events_queue_arn),
            (Resource::EventsQueueUrl, &self.events_queue_url),
            (Resource::EventsDlqUrl, &self.events_dlq_url),
            (Resource::WorkerDlqUrl, &self.worker_dlq_url),
        ] {
            if let Some(name) = name {
                deployment.set(resource, name.clone());
            }
        }
        deployment.set_console_url(self.console_url.clone());
        deployment.set_work_bucket(self.work_bucket.clone());
        deployment
    }

    /// Connects to the deployment: the AWS settings checked, then the names not given read from
    /// the stack's outputs (once, and only when some are missing).
    pub async fn connect(&self) -> anyhow::Result<Target> {
        let sdk = aws().await?;
        let clients = Clients::from_sdk(&sdk);
        let mut deployment = self.given();
        let stack_problem = match deployment.fill_from_stack(&clients, &self.stack).await {
            Ok(()) => None,
            Err(error) => Some(error.to_string()),
        };
        let mut admin = wiring::admin(&clients, &deployment);
        admin.prices = wiring::settings::prices(self.prices.as_deref())?;
        Ok(Target { admin, stack: self.stack.clone(), stack_problem })
    }
}

/// The AWS configuration from the environment, or one line saying what to set.
async fn aws() -> anyhow::Result<SdkConfig> {
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    anyhow::ensure!(
        sdk.region().is_some(),
        "no AWS region: set AWS_REGION (or AWS_PROFILE with a region, as for the AWS CLI)"
    );
    let found = match sdk.credentials_provider() {
        Some(provider) => provider.provide_credentials().await.is_ok(),
        None => false,
    };
    match found {
        true => Ok(sdk),
        false => anyhow::bail!(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (aws configure, \
             aws sso login)"
        ),
    }
}

impl Target {
    /// `result`, with a resource nobody named told as such (see [`Target::explain`]).
    pub fn explained<T>(&self, result: anyhow::Result<T>) -> anyhow::Result<T> {
        result.map_err(|error| match error.downcast::<AdminError>() {
            Ok(admin) => self.explain(admin),
            Err(other) => other,
        })
    }

    /// An administrative failure in words; a resource nobody named says where to name it.
    pub fn explain(&self, error: AdminError) -> anyhow::Error {
        let AdminError::NotConfigured(resource) = error else {
            return error.into();
        };
        let variable = Deployment::variable(resource);
        let output = Deployment::stack_output(resource);
        let flag = variable.to_lowercase().replace('_', "-");
        let stack = &self.stack;
        let why = match &self.stack_problem {
            Some(problem) => format!("cannot read stack {stack:?} ({problem})"),
            None => format!("stack {stack:?} has no output {output}"),
        };
        anyhow::anyhow!(
            "{} is not known: {why}; pass --stack NAME, or set {variable} or --{flag} (stack output {output})",
            resource.describe()
        )
    }
}
