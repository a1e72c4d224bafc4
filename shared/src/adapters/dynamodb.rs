//! Workflow and job records in DynamoDB.
//!
//! Both tables have a string partition key `pk` and sort key `sk` (template.yaml creates them,
//! [`create_tables`] does for the local stack).
//!
//! Workflows table — two items per workflow, written in one transaction:
//! - `pk = workflow#<name>`, `sk = workflow`: the record, for lookup by name;
//! - `pk = bucket#<trigger bucket>`, `sk = workflow#<name>`: a copy, so that the dispatcher
//!   reads every workflow of a bucket with one strongly consistent Query;
//!
//! and one item for the whole catalog, `pk = catalog`, `sk = catalog`: its `version`, which every
//! write moves on in the same transaction, conditional on the version the writer read.
//!
//! Jobs table — one partition per job:
//! - `pk = job#<id>`, `sk = job`: the job, with `remaining`, the count of unfinished tasks;
//! - `pk = job#<id>`, `sk = task#<index, 4 digits>`: its tasks.
//!
//! And one item per object whose events carried a sequencer:
//! - `pk = object#<bucket>/<key>`, `sk = sequencer`: the newest sequencer seen, kept for a
//!   week (`expires_at`, the table's TTL attribute) — reordering happens within minutes.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, KeySchemaElement, KeyType, Put, ReturnValue,
    ScalarAttributeType, TransactWriteItem, Update,
};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_dynamo::aws_sdk_dynamodb_1 as dynamo;

use super::sdk_error;
use crate::domain::job::{Job, JobId, JobStatus, Task, TaskError, TaskStatus};
use crate::domain::media::MediaInfo;
use crate::domain::object::{ObjectRef, sequencer_order};
use crate::domain::workflow::Workflow;
use crate::ports::{
    CatalogSnapshot, Claim, Created, Freshness, JobStore, Lease, Progress, StoreError, TaskOutcome, WorkflowStore,
};

type Item = HashMap<String, AttributeValue>;

const PK: &str = "pk";
const SK: &str = "sk";

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

fn to_item<T: Serialize>(value: &T, pk: String, sk: String) -> Result<Item, StoreError> {
    let mut item: Item = dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    item.extend(key(pk, sk));
    Ok(item)
}

fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn value<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    dynamo::to_attribute_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Reads one item, consistently.
async fn get<T: DeserializeOwned>(
    client: &Client,
    table: &str,
    pk: String,
    sk: String,
) -> Result<Option<T>, StoreError> {
    let output = client
        .get_item()
        .table_name(table)
        .set_key(Some(key(pk, sk)))
        .consistent_read(true)
        .send()
        .await
        .map_err(sdk_error)?;
    output.item.map(from_item).transpose()
}

/// Reads the items of partition `pk` whose sort key starts with `prefix`, consistently.
async fn query<T: DeserializeOwned>(
    client: &Client,
    table: &str,
    pk: String,
    prefix: &str,
) -> Result<Vec<T>, StoreError> {
    let items = client
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
        .expression_attribute_values(":pk", s(pk))
        .expression_attribute_values(":prefix", s(prefix))
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(sdk_error)?;
    items.into_iter().map(from_item).collect()
}

/// Whether an SDK error is DynamoDB refusing a condition (directly or inside a transaction).
fn condition_failed<E: ProvideErrorMetadata>(
    error: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool {
    let code = error.as_service_error().and_then(|e| e.code()).unwrap_or_default();
    let message = error.as_service_error().and_then(|e| e.message()).unwrap_or_default();
    code == "ConditionalCheckFailedException"
        || (code == "TransactionCanceledException" && message.contains("ConditionalCheckFailed"))
}

/// Creates both tables with the key schema above (for the local stack; SAM creates them in AWS).
pub async fn create_tables(client: &Client, tables: &[&str]) -> Result<(), StoreError> {
    for table in tables {
        client
            .create_table()
            .table_name(*table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute(PK))
            .attribute_definitions(attribute(SK))
            .key_schema(key_element(PK, KeyType::Hash))
            .key_schema(key_element(SK, KeyType::Range))
            .send()
            .await
            .map_err(sdk_error)?;
    }
    Ok(())
}

fn attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("name and type are set")
}

fn key_element(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().expect("name and type are set")
}

/// [`WorkflowStore`] on the workflows table.
#[derive(Clone, Debug)]
pub struct DynamoWorkflowStore {
    client: Client,
    table: String,
}

impl DynamoWorkflowStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn record_key(name: &str) -> (String, String) {
        (format!("workflow#{name}"), "workflow".to_owned())
    }

    fn trigger_key(bucket: &str, name: &str) -> (String, String) {
        (format!("bucket#{bucket}"), format!("workflow#{name}"))
    }

    fn catalog_key() -> (String, String) {
        ("catalog".to_owned(), "catalog".to_owned())
    }

    /// Moves the catalog from `version` to the next one, or fails the transaction.
    fn bump(&self, version: u64) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = Self::catalog_key();
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .update_expression("SET version = :next")
            .expression_attribute_values(":next", n(version + 1));
        update = if version == 0 {
            update.condition_expression("attribute_not_exists(pk)")
        } else {
            update.condition_expression("version = :version").expression_attribute_values(":version", n(version))
        };
        Ok(TransactWriteItem::builder()
            .update(update.build().map_err(|e| StoreError::Rejected(e.to_string()))?)
            .build())
    }

    fn put(&self, item: Item, condition: Option<(&str, Option<u64>)>) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some((expression, revision)) = condition {
            put = put.condition_expression(expression);
            if let Some(revision) = revision {
                put = put.expression_attribute_values(":revision", n(revision));
            }
        }
        Ok(TransactWriteItem::builder().put(put.build().map_err(|e| StoreError::Rejected(e.to_string()))?).build())
    }

    fn delete_item(&self, (pk, sk): (String, String), revision: Option<u64>) -> Result<TransactWriteItem, StoreError> {
        let mut delete = Delete::builder().table_name(&self.table).set_key(Some(key(pk, sk)));
        if let Some(revision) = revision {
            delete = delete
                .condition_expression("revision = :revision")
                .expression_attribute_values(":revision", n(revision));
        }
        Ok(TransactWriteItem::builder()
            .delete(delete.build().map_err(|e| StoreError::Rejected(e.to_string()))?)
            .build())
    }

    async fn transact(&self, items: Vec<TransactWriteItem>, name: &str) -> Result<(), StoreError> {
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(error) if condition_failed(&error) => Err(StoreError::Conflict(format!("workflow {name}"))),
            Err(error) => Err(sdk_error(error)),
        }
    }
}

#[async_trait]
impl WorkflowStore for DynamoWorkflowStore {
    async fn for_bucket(&self, bucket: &str) -> Result<Vec<Workflow>, StoreError> {
        query(&self.client, &self.table, format!("bucket#{bucket}"), "workflow#").await
    }

    async fn get(&self, name: &str) -> Result<Option<Workflow>, StoreError> {
        let (pk, sk) = Self::record_key(name);
        get(&self.client, &self.table, pk, sk).await
    }

    async fn snapshot(&self) -> Result<CatalogSnapshot, StoreError> {
        #[derive(serde::Deserialize)]
        struct Version {
            version: u64,
        }
        let (pk, sk) = Self::catalog_key();
        // The version first: a write between the two reads then fails the caller's save.
        let version = get::<Version>(&self.client, &self.table, pk, sk).await?.map_or(0, |v| v.version);
        let pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("sk = :sk")
            .expression_attribute_values(":sk", s("workflow"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk_error)?;
        let workflows = pages.into_iter().map(from_item).collect::<Result<_, _>>()?;
        Ok(CatalogSnapshot { version, workflows })
    }

    async fn save(&self, workflow: &Workflow, previous: Option<&Workflow>, version: u64) -> Result<(), StoreError> {
        let (pk, sk) = Self::record_key(&workflow.name);
        let condition = match previous {
            None => ("attribute_not_exists(pk)", None),
            Some(previous) => ("revision = :revision", Some(previous.revision)),
        };
        let (tpk, tsk) = Self::trigger_key(&workflow.trigger.bucket, &workflow.name);
        let mut items =
            vec![self.put(to_item(workflow, pk, sk)?, Some(condition))?, self.put(to_item(workflow, tpk, tsk)?, None)?];
        if let Some(previous) = previous.filter(|p| p.trigger.bucket != workflow.trigger.bucket) {
            items.push(self.delete_item(Self::trigger_key(&previous.trigger.bucket, &previous.name), None)?);
        }
        items.push(self.bump(version)?);
        self.transact(items, &workflow.name).await
    }

    async fn delete(&self, workflow: &Workflow, version: u64) -> Result<(), StoreError> {
        let items = vec![
            self.delete_item(Self::record_key(&workflow.name), Some(workflow.revision))?,
            self.delete_item(Self::trigger_key(&workflow.trigger.bucket, &workflow.name), None)?,
            self.bump(version)?,
        ];
        self.transact(items, &workflow.name).await
    }
}

/// [`JobStore`] on the jobs table.
#[derive(Clone, Debug)]
pub struct DynamoJobStore {
    client: Client,
    table: String,
}

fn job_pk(id: &JobId) -> String {
    format!("job#{id}")
}

fn task_sk(index: u32) -> String {
    format!("task#{index:04}")
}

impl DynamoJobStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn update(
        &self,
        pk: String,
        sk: String,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .expression_attribute_names("#status", "status")
    }

    async fn get_task(&self, id: &JobId, index: u32) -> Result<Option<Task>, StoreError> {
        get(&self.client, &self.table, job_pk(id), task_sk(index)).await
    }

    /// Sets `attribute` of an existing item unless it is set already.
    async fn set_once(&self, pk: String, sk: String, attribute: &str, set: AttributeValue) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .update_expression("SET #attribute = :value")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#attribute)")
            .expression_attribute_names("#attribute", attribute)
            .expression_attribute_values(":value", set)
            .send()
            .await;
        match result {
            Err(error) if !condition_failed(&error) => Err(sdk_error(error)),
            _ => Ok(()),
        }
    }

    /// Ends a task (`SET #status = :final, finished_at = :now` and `changes`) if `condition`
    /// holds, and counts it off the job's open tasks, in one transaction.
    async fn end_task(
        &self,
        task_key: (&JobId, u32),
        condition: &str,
        status: TaskStatus,
        changes: &str,
        values: Item,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (id, index) = task_key;
        let task_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(job_pk(id), task_sk(index))))
            .update_expression(format!("SET #status = :final, finished_at = :now{changes}"))
            .condition_expression(condition)
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .expression_attribute_values(":final", value(&status)?)
            .expression_attribute_values(":now", value(&now)?);
        let task_update = if changes.contains("#error") {
            task_update.expression_attribute_names("#error", "error")
        } else {
            task_update
        };
        let task_update = task_update.build().map_err(|e| StoreError::Rejected(e.to_string()))?;
        let job_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(job_pk(id), "job".into())))
            .update_expression("ADD remaining :minus_one")
            .expression_attribute_values(":minus_one", n(-1))
            .build()
            .map_err(|e| StoreError::Rejected(e.to_string()))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(task_update).build())
            .transact_items(TransactWriteItem::builder().update(job_update).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if condition_failed(&error) => Err(StoreError::Conflict(format!("task {id}/{index}"))),
            Err(error) => Err(sdk_error(error)),
        }
    }
}

#[async_trait]
impl JobStore for DynamoJobStore {
    async fn create(&self, job: &Job, tasks: &[Task]) -> Result<Created, StoreError> {
        let mut job_item = to_item(job, job_pk(&job.id), "job".into())?;
        job_item.insert("remaining".into(), n(tasks.len()));
        let items = std::iter::once(job_item)
            .chain(
                tasks
                    .iter()
                    .map(|task| to_item(task, job_pk(&job.id), task_sk(task.index)))
                    .collect::<Result<Vec<_>, _>>()?,
            )
            .map(|item| {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .map_err(|e| StoreError::Rejected(e.to_string()))?;
                Ok(TransactWriteItem::builder().put(put).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(Created::New),
            Err(error) if condition_failed(&error) => Ok(Created::Existing),
            Err(error) => Err(sdk_error(error)),
        }
    }

    async fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        get(&self.client, &self.table, job_pk(id), "job".into()).await
    }

    async fn tasks(&self, id: &JobId) -> Result<Vec<Task>, StoreError> {
        query(&self.client, &self.table, job_pk(id), "task#").await
    }

    async fn mark_prepare_sent(&self, id: &JobId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.set_once(job_pk(id), "job".into(), "prepare_sent_at", value(&at)?).await
    }

    async fn begin_prepare(&self, id: &JobId) -> Result<u32, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(job_pk(id), "job".into())))
            .update_expression("ADD prepare_attempts :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(sdk_error)?;
        let attempts = output.attributes().and_then(|a| a.get("prepare_attempts")).and_then(|v| v.as_n().ok());
        attempts
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("job {id} without prepare_attempts")))
    }

    async fn mark_sent(&self, id: &JobId, index: u32, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.set_once(job_pk(id), task_sk(index), "sent_at", value(&at)?).await
    }

    async fn record_sequencer(&self, object: &ObjectRef, sequencer: &str) -> Result<Freshness, StoreError> {
        let (pk, sk) = (format!("object#{}/{}", object.bucket, object.key), "sequencer".to_owned());
        let expires_at = (Utc::now() + TimeDelta::days(7)).timestamp();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk.clone(), sk.clone())))
            .update_expression("SET #order = :order, sequencer = :sequencer, expires_at = :expires")
            .condition_expression("attribute_not_exists(pk) OR #order <= :order")
            .expression_attribute_names("#order", "order")
            .expression_attribute_values(":order", s(sequencer_order(sequencer)))
            .expression_attribute_values(":sequencer", s(sequencer))
            .expression_attribute_values(":expires", n(expires_at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Freshness::Newest),
            Err(error) if condition_failed(&error) => {
                #[derive(serde::Deserialize)]
                struct Seen {
                    sequencer: String,
                }
                // Only a strictly newer sequencer makes this event stale; a concurrent write of
                // the same one (a duplicate delivery) does not.
                let seen: Option<Seen> = get(&self.client, &self.table, pk, sk).await?;
                Ok(match seen {
                    Some(seen) if sequencer_order(&seen.sequencer) > sequencer_order(sequencer) => {
                        Freshness::Stale { newest: seen.sequencer }
                    }
                    _ => Freshness::Newest,
                })
            }
            Err(error) => Err(sdk_error(error)),
        }
    }

    async fn claim(&self, id: &JobId, index: u32, lease: &Lease) -> Result<Claim, StoreError> {
        let now = lease.now;
        let result = self
            .update(job_pk(id), task_sk(index))
            .update_expression(
                "SET #status = :processing, attempts = if_not_exists(attempts, :zero) + :one, \
                 lease_until = :lease, started_at = :now, claimed_by = :holder",
            )
            .condition_expression(
                "attribute_exists(pk) AND (#status = :waiting OR (#status = :processing AND lease_until < :now_ms))",
            )
            .expression_attribute_values(":processing", value(&TaskStatus::Processing)?)
            .expression_attribute_values(":waiting", value(&TaskStatus::Waiting)?)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":lease", n(lease.until.timestamp_millis()))
            .expression_attribute_values(":holder", s(&lease.holder))
            .expression_attribute_values(":now_ms", n(now.timestamp_millis()))
            .expression_attribute_values(":now", value(&now)?)
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let task: Task = match result {
            Ok(output) => from_item(output.attributes.unwrap_or_default())?,
            Err(error) if condition_failed(&error) => {
                return Ok(match self.get_task(id, index).await? {
                    None => Claim::Missing,
                    Some(task) if task.status.is_final() => Claim::Done(task.status),
                    // Our own claim, whose answer was lost and the request retried.
                    Some(task) if task.claimed_by.as_deref() == Some(lease.holder.as_str()) => {
                        Claim::Claimed(Box::new(task))
                    }
                    Some(task) => Claim::Busy { lease_until: task.lease_until.unwrap_or(now) },
                });
            }
            Err(error) => return Err(sdk_error(error)),
        };
        let started = self
            .update(job_pk(id), "job".into())
            .update_expression("SET #status = :processing")
            .condition_expression("#status = :waiting")
            .expression_attribute_values(":processing", value(&JobStatus::Processing)?)
            .expression_attribute_values(":waiting", value(&JobStatus::Waiting)?)
            .send()
            .await;
        match started {
            Err(error) if !condition_failed(&error) => Err(sdk_error(error)),
            _ => Ok(Claim::Claimed(Box::new(task))),
        }
    }

    async fn close(&self, id: &JobId, now: DateTime<Utc>) -> Result<Progress, StoreError> {
        let result = self
            .update(job_pk(id), "job".into())
            .update_expression("SET #status = :finish, finished_at = :now")
            .condition_expression("remaining <= :zero AND #status <> :finish")
            .expression_attribute_values(":finish", value(&JobStatus::Finish)?)
            .expression_attribute_values(":now", value(&now)?)
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Progress::JobFinished),
            Err(error) if condition_failed(&error) => Ok(Progress::Open),
            Err(error) => Err(sdk_error(error)),
        }
    }

    async fn record_source(&self, id: &JobId, source: &MediaInfo) -> Result<(), StoreError> {
        self.set_once(job_pk(id), "job".into(), "source", value(source)?).await
    }

    async fn finish(&self, task: &Task, outcome: &TaskOutcome, now: DateTime<Utc>) -> Result<Progress, StoreError> {
        // A success clears the error an earlier, released attempt may have left.
        let (status, changes, mut values) = match outcome {
            TaskOutcome::Success { outputs, warnings } => (
                TaskStatus::Success,
                ", outputs = :outputs, warnings = :warnings REMOVE lease_until, #error",
                HashMap::from([(":outputs".to_owned(), value(outputs)?), (":warnings".to_owned(), value(warnings)?)]),
            ),
            TaskOutcome::Fail(error) => (
                TaskStatus::Fail,
                ", #error = :error REMOVE lease_until",
                HashMap::from([(":error".to_owned(), value(error)?)]),
            ),
        };
        values.insert(":processing".into(), value(&TaskStatus::Processing)?);
        values.insert(":attempt".into(), n(task.attempts));
        let condition = "#status = :processing AND attempts = :attempt";
        match self.end_task((&task.job_id, task.index), condition, status, changes, values, now).await {
            Ok(()) => self.close(&task.job_id, now).await,
            Err(StoreError::Conflict(what)) => {
                // Refused because our own earlier try went through (its answer was lost)?
                match self.get_task(&task.job_id, task.index).await? {
                    Some(stored)
                        if stored.status.is_final()
                            && stored.attempts == task.attempts
                            && stored.claimed_by == task.claimed_by =>
                    {
                        self.close(&task.job_id, now).await
                    }
                    _ => Err(StoreError::Conflict(format!("{what} (another attempt took it over)"))),
                }
            }
            Err(error) => Err(error),
        }
    }

    async fn fail_waiting(&self, id: &JobId, error: &TaskError, now: DateTime<Utc>) -> Result<Progress, StoreError> {
        for task in self.tasks(id).await?.iter().filter(|task| task.status == TaskStatus::Waiting) {
            let values = HashMap::from([
                (":error".to_owned(), value(error)?),
                (":waiting".to_owned(), value(&TaskStatus::Waiting)?),
            ]);
            let ended = self
                .end_task((id, task.index), "#status = :waiting", TaskStatus::Fail, ", #error = :error", values, now)
                .await;
            match ended {
                // Started meanwhile by a worker of a repeated message: it ends on its own.
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(error) => return Err(error),
            }
        }
        self.close(id, now).await
    }

    async fn release(&self, task: &Task, error: &TaskError) -> Result<(), StoreError> {
        let result = self
            .update(job_pk(&task.job_id), task_sk(task.index))
            .update_expression("SET #status = :waiting, #error = :error REMOVE lease_until")
            .condition_expression("#status = :processing AND attempts = :attempt")
            .expression_attribute_names("#error", "error")
            .expression_attribute_values(":waiting", value(&TaskStatus::Waiting)?)
            .expression_attribute_values(":processing", value(&TaskStatus::Processing)?)
            .expression_attribute_values(":attempt", n(task.attempts))
            .expression_attribute_values(":error", value(error)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if condition_failed(&error) => {
                Err(StoreError::Conflict(format!("task {}/{} (another attempt took it over)", task.job_id, task.index)))
            }
            Err(error) => Err(sdk_error(error)),
        }
    }
}
