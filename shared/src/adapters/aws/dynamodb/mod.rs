//! Workflow and job records in DynamoDB.
//!
//! Both tables have a string partition key `pk` and sort key `sk` (template.yaml creates them,
//! [`create_tables`] does for the local stack).
//!
//! Workflows table — two items per workflow, written in one transaction:
//! - `pk = workflow#<name>`, `sk = workflow`: the record, for lookup by name;
//! - `pk = trigger#<trigger bucket>#<trigger dir>`, `sk = workflow#<name>`: a copy, so that the
//!   dispatcher reads the workflows of each directory on a key's path with one strongly
//!   consistent Query per directory, however many workflows the bucket has;
//!
//! and one item for the whole catalog, `pk = catalog`, `sk = catalog`: its `version`, which every
//! write moves on in the same transaction, conditional on the version the writer read, and the
//! `layout` of the copies (see `workflows.rs` for the one before).
//!
//! Jobs table — one partition per job:
//! - `pk = job#<id>`, `sk = job`: the job, with `remaining`, the count of unfinished tasks, and
//!   the attributes of three indexes (all projected, sorted by `created`, the creation time to
//!   the millisecond then the id): `by-workflow` (`workflow`: the workflow's name, or
//!   `<name>#<shard>`), `by-day` (`day`: `YYYY-MM-DD`, or `YYYY-MM-DD#<shard>`) and `by-input`
//!   (`input_key`, `<bucket>/<key>`). A day's jobs and a workflow's are spread over [`SHARDS`]
//!   shards by their id, shard 0 keeping the bare value (`partitions.rs`); see `queries.rs`;
//! - `pk = job#<id>`, `sk = task#<index, 4 digits>`: its tasks, each with its `usage`, grown as
//!   worker invocations end (`usage.rs`), the runs counted kept in `usage_runs`;
//! - `pk = job#<id>`, `sk = usage`: the job's total usage (its preparation's and every task's),
//!   one number per path, outside the indexes (they would copy it at every invocation's end);
//! - `pk = job#<id>`, `sk = part#<index, 4 digits>#<part, 4 digits>`: the parts of a task encoded
//!   in chunks (`parts.rs`).
//!
//! And one item per object whose events carried a sequencer:
//! - `pk = object#<bucket>/<key>`, `sk = sequencer`: the newest sequencer seen, kept for a
//!   week (`expires_at`, the table's TTL attribute) — reordering happens within minutes.
//!
//! Imports the domain and the ports; never the use-cases.

mod bulk;
mod jobs;
mod partitions;
mod parts;
mod queries;
mod sizes;
mod usage;
mod workflows;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, PutRequest, ScalarAttributeType, TransactWriteItem, WriteRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_dynamo::aws_sdk_dynamodb_1 as dynamo;

pub use self::jobs::DynamoJobStore;
pub use self::partitions::{JobPartitions, SHARDS, job_partitions, shard_of};
pub use self::sizes::{item_sizes, value_size};
pub use self::workflows::{DynamoWorkflowStore, trigger_partitions};
use super::sdk_error;
use crate::domain::job::JobId;
use crate::ports::StoreError;

type Item = HashMap<String, AttributeValue>;

const PK: &str = "pk";
const SK: &str = "sk";

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A job's partition: the job, its tasks and the parts of its chunked tasks.
fn job_pk(id: &JobId) -> String {
    format!("job#{id}")
}

fn task_sk(index: u32) -> String {
    format!("task#{index:04}")
}

fn part_sk(index: u32, number: u32) -> String {
    format!("part#{index:04}#{number:04}")
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

/// What a transaction's send gives back.
type Transacted = Result<
    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput,
    aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
>;

/// Writes `items` in one transaction, sent again (after 20 ms, then longer, with jitter, six
/// times at most) while DynamoDB cancels it only because another write held one of its items
/// at that moment (`TransactionConflict`): a cancelled transaction wrote nothing, so sending it
/// again is safe. A job's and a task's items are written by every task and part that ends, and
/// ends come together.
async fn transact(client: &Client, items: Vec<TransactWriteItem>) -> Transacted {
    use backon::{ExponentialBuilder, Retryable};
    let send = || client.transact_write_items().set_transact_items(Some(items.clone())).send();
    let backoff = ExponentialBuilder::default()
        .with_min_delay(std::time::Duration::from_millis(20))
        .with_max_delay(std::time::Duration::from_secs(1))
        .with_max_times(6)
        .with_jitter();
    send.retry(backoff).when(|error| conflicted(error) && !condition_failed(error)).await
}

/// Whether DynamoDB refused a write because another held one of its items (inside a
/// transaction, or a plain write meeting one).
fn conflicted<E: ProvideErrorMetadata>(
    error: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool {
    let code = error.as_service_error().and_then(|e| e.code()).unwrap_or_default();
    let message = error.as_service_error().and_then(|e| e.message()).unwrap_or_default();
    code == "TransactionConflictException"
        || (code == "TransactionCanceledException" && message.contains("TransactionConflict"))
}

/// Whether a conditional write was applied; `false` when its condition did not hold.
fn applied<T, E>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>>,
) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(error) if condition_failed(&error) => Ok(false),
        Err(error) => Err(sdk_error(error)),
    }
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

/// Creates both tables with the key schema above, and the jobs table's indexes (for the local
/// stack; SAM creates them in AWS).
pub async fn create_tables(client: &Client, workflows_table: &str, jobs_table: &str) -> Result<(), StoreError> {
    for table in [workflows_table, jobs_table] {
        let mut request = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute(PK))
            .attribute_definitions(attribute(SK))
            .key_schema(key_element(PK, KeyType::Hash))
            .key_schema(key_element(SK, KeyType::Range));
        if table == jobs_table {
            request = request.attribute_definitions(attribute(partitions::CREATED));
            for (index, partition) in queries::indexes() {
                let index = GlobalSecondaryIndex::builder()
                    .index_name(index)
                    .key_schema(key_element(partition, KeyType::Hash))
                    .key_schema(key_element(partitions::CREATED, KeyType::Range))
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()
                    .map_err(|e| StoreError::Rejected(e.to_string()))?;
                request = request.attribute_definitions(attribute(partition)).global_secondary_indexes(index);
            }
        }
        request.send().await.map_err(sdk_error)?;
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

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::config::http::HttpResponse;
    use aws_sdk_dynamodb::error::{ErrorMetadata, SdkError};
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn refused(code: &str, message: &str) -> SdkError<TransactWriteItemsError, HttpResponse> {
        let error = TransactWriteItemsError::generic(ErrorMetadata::builder().code(code).message(message).build());
        SdkError::service_error(error, HttpResponse::new(400.try_into().expect("a status"), SdkBody::empty()))
    }

    #[test]
    fn a_transaction_cancelled_by_another_write_is_sent_again_and_a_refused_condition_is_not() {
        let reasons = "Transaction cancelled, please refer cancellation reasons for specific reasons";
        let conflict = refused("TransactionCanceledException", &format!("{reasons} [None, TransactionConflict]"));
        assert!(conflicted(&conflict) && !condition_failed(&conflict));
        let condition = refused("TransactionCanceledException", &format!("{reasons} [ConditionalCheckFailed, None]"));
        assert!(!conflicted(&condition) && condition_failed(&condition));
        let plain = refused("TransactionConflictException", "Transaction is ongoing for the item");
        assert!(conflicted(&plain));
        assert!(sdk_error(plain).is_retryable(), "a plain write that met a transaction is tried again");
        assert!(!conflicted(&refused("ValidationException", "The document path provided is invalid")));
    }
}
