//! A deployment's resource names: the tables, queues and function a stack created. They come
//! from the stack's CloudFormation outputs, or one by one from flags and the environment (which
//! win over the stack's).

use std::collections::{BTreeMap, HashMap};

use super::Clients;
use super::settings::work_location;
use crate::adapters::aws::stack;
use crate::app::admin::Resource;
use crate::app::admin::buckets::StackBuckets;
use crate::domain::workflow::Location;
use crate::ports::StoreError;

/// Which resource names are known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deployment {
    names: BTreeMap<Resource, String>,
    /// The buckets the stack's functions read (`MEDIAFLOW_READ_BUCKETS`) and write
    /// (`MEDIAFLOW_WRITE_BUCKETS`), comma-separated; empty: not known, any the credentials reach.
    buckets: StackBuckets,
    /// The deployed console (`CONSOLE_URL`, or the stack's `ConsoleUrl` output).
    console_url: Option<String>,
    /// Where chunked tasks keep their parts (`WORK_BUCKET` and `WORK_DIR`, or the stack's
    /// `WorkBucketName` output).
    work: Option<Location>,
}

impl Deployment {
    /// The environment variable that names `resource` (the functions' own, and the CLI's).
    pub fn variable(resource: Resource) -> &'static str {
        match resource {
            Resource::WorkflowsTable => "WORKFLOWS_TABLE",
            Resource::JobsTable => "JOBS_TABLE",
            Resource::WorkerFunction => "WORKER_FUNCTION",
            Resource::EventsQueueArn => "EVENTS_QUEUE_ARN",
            Resource::EventsQueueUrl => "EVENTS_QUEUE_URL",
            Resource::EventsDlqUrl => "EVENTS_DLQ_URL",
            Resource::WorkerDlqUrl => "WORKER_DLQ_URL",
        }
    }

    /// The stack output (template.yaml's `Outputs`) that names `resource`.
    pub fn stack_output(resource: Resource) -> &'static str {
        match resource {
            Resource::WorkflowsTable => "WorkflowsTableName",
            Resource::JobsTable => "JobsTableName",
            Resource::WorkerFunction => "WorkerFunctionName",
            Resource::EventsQueueArn => "EventsQueueArn",
            Resource::EventsQueueUrl => "EventsQueueUrl",
            Resource::EventsDlqUrl => "EventsDLQUrl",
            Resource::WorkerDlqUrl => "WorkerDLQUrl",
        }
    }

    /// Names `resource`; a blank value names nothing.
    pub fn set(&mut self, resource: Resource, name: impl Into<String>) {
        let name = name.into();
        if name.trim().is_empty() {
            self.names.remove(&resource);
        } else {
            self.names.insert(resource, name);
        }
    }

    pub fn with(mut self, resource: Resource, name: impl Into<String>) -> Self {
        self.set(resource, name);
        self
    }

    pub fn get(&self, resource: Resource) -> Option<&str> {
        self.names.get(&resource).map(String::as_str)
    }

    /// The resources no name was given for.
    pub fn missing(&self) -> Vec<Resource> {
        Resource::ALL.into_iter().filter(|resource| !self.names.contains_key(resource)).collect()
    }

    /// The names the environment gives (the variables of [`Deployment::variable`], and
    /// `MEDIAFLOW_READ_BUCKETS`, `MEDIAFLOW_WRITE_BUCKETS`).
    pub fn from_env() -> Self {
        let mut deployment = Deployment::default();
        for resource in Resource::ALL {
            if let Ok(name) = std::env::var(Self::variable(resource)) {
                deployment.set(resource, name);
            }
        }
        deployment.set_console_url(std::env::var("CONSOLE_URL").ok());
        deployment.work = work_location(std::env::var("WORK_BUCKET").ok());
        let list = |name: &str| {
            let names = std::env::var(name).unwrap_or_default();
            names.split(',').map(str::trim).filter(|b| !b.is_empty()).map(str::to_owned).collect()
        };
        deployment.buckets =
            StackBuckets { read: list("MEDIAFLOW_READ_BUCKETS"), write: list("MEDIAFLOW_WRITE_BUCKETS") };
        deployment
    }

    /// Names the deployed console; blank or `None` names none.
    pub fn set_console_url(&mut self, url: Option<String>) {
        self.console_url = url.filter(|url| !url.trim().is_empty());
    }

    /// The deployed console's address, when known.
    pub fn console_url(&self) -> Option<&str> {
        self.console_url.as_deref()
    }

    /// Names the work bucket (where chunked tasks keep their parts); blank names none.
    pub fn set_work_bucket(&mut self, bucket: Option<String>) {
        self.work = work_location(bucket);
    }

    /// Where chunked tasks keep their parts, when known.
    pub fn work(&self) -> Option<&Location> {
        self.work.as_ref()
    }

    /// The buckets the stack's functions read and write, where known.
    pub fn buckets(&self) -> &StackBuckets {
        &self.buckets
    }

    /// Fills what is still missing from a stack's outputs.
    pub fn fill_from(&mut self, outputs: &HashMap<String, String>) {
        if self.console_url.is_none() {
            self.console_url = outputs.get("ConsoleUrl").cloned();
        }
        if self.work.is_none() {
            self.work = work_location(outputs.get("WorkBucketName").cloned());
        }
        for resource in self.missing() {
            if let Some(name) = outputs.get(Self::stack_output(resource)) {
                self.set(resource, name.clone());
            }
        }
    }

    /// Fills what is still missing from the outputs of the CloudFormation stack `name` (one
    /// DescribeStacks call, only when something is missing).
    pub async fn fill_from_stack(&mut self, clients: &Clients, name: &str) -> Result<(), StoreError> {
        if self.missing().is_empty() {
            return Ok(());
        }
        let outputs = stack::outputs(&clients.cloudformation, name).await?;
        self.fill_from(&outputs);
        Ok(())
    }

    /// The names as environment variables.
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        self.names.iter().map(|(resource, name)| (Self::variable(*resource), name.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_given_one_by_one_win_over_the_stacks_and_blank_ones_count_as_missing() {
        let mut deployment =
            Deployment::default().with(Resource::JobsTable, "my-jobs").with(Resource::WorkflowsTable, " ");
        assert_eq!(deployment.get(Resource::WorkflowsTable), None);
        let outputs: HashMap<String, String> = [("JobsTableName", "stack-jobs"), ("WorkflowsTableName", "stack-flows")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        deployment.fill_from(&outputs);
        assert_eq!(deployment.get(Resource::JobsTable), Some("my-jobs"));
        assert_eq!(deployment.get(Resource::WorkflowsTable), Some("stack-flows"));
        assert_eq!(deployment.missing().len(), 5);
    }
}
