//! [`WorkflowStore`] on the workflows table (layout in the module's documentation).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use futures::future::try_join_all;
use tracing::{info, warn};

use super::bulk::put_all;
use super::*;
use crate::domain::workflow::{Location, Workflow, trigger_dirs_of};
use crate::ports::{CatalogSnapshot, StoreError, WorkflowStore};

/// The layout of the trigger copies that this code reads and writes: one partition per trigger
/// dir. Layout 1 (mediaflow 0.1) kept one partition per bucket, `pk = bucket#<bucket>`; the
/// catalog item records the layout from the first write by this code on.
const LAYOUT: u64 = 2;

/// The catalog item.
#[derive(Debug, Default, serde::Deserialize)]
struct CatalogItem {
    version: u64,
    #[serde(default = "legacy")]
    layout: u64,
}

fn legacy() -> u64 {
    1
}

/// The workflows table's partitions the dispatcher reads for an object at `key` of `bucket`: one
/// per dir on the key's path (each a strongly consistent Query).
pub fn trigger_partitions(bucket: &str, key: &str) -> Vec<String> {
    trigger_dirs_of(key).map(|dir| DynamoWorkflowStore::trigger_partition(bucket, dir)).collect()
}

/// [`WorkflowStore`] on the workflows table.
#[derive(Clone, Debug)]
pub struct DynamoWorkflowStore {
    client: Client,
    table: String,
    /// Set once the catalog is seen at [`LAYOUT`] (it never goes back).
    current: Arc<AtomicBool>,
}

impl DynamoWorkflowStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), current: Arc::default() }
    }

    fn record_key(name: &str) -> (String, String) {
        (format!("workflow#{name}"), "workflow".to_owned())
    }

    fn trigger_partition(bucket: &str, dir: &str) -> String {
        format!("trigger#{bucket}#{dir}")
    }

    fn trigger_key(trigger: &Location, name: &str) -> (String, String) {
        (Self::trigger_partition(&trigger.bucket, &trigger.dir), format!("workflow#{name}"))
    }

    fn catalog_key() -> (String, String) {
        ("catalog".to_owned(), "catalog".to_owned())
    }

    async fn catalog(&self) -> Result<Option<CatalogItem>, StoreError> {
        let (pk, sk) = Self::catalog_key();
        get(&self.client, &self.table, pk, sk).await
    }

    /// Whether the trigger copies are in this code's layout: yes for an empty catalog, which
    /// this code's first write puts at [`LAYOUT`].
    async fn layout_is_current(&self) -> Result<bool, StoreError> {
        if self.current.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let current = self.catalog().await?.is_none_or(|catalog| catalog.layout >= LAYOUT);
        self.current.store(current, Ordering::Relaxed);
        Ok(current)
    }

    /// Moves a catalog written by mediaflow 0.1 to [`LAYOUT`]: copies every workflow into its
    /// trigger dir's partition; the write that follows records the layout in the same
    /// transaction as its version check. Until then the dispatcher reads the old copies.
    async fn upgrade(&self) -> Result<(), StoreError> {
        if self.layout_is_current().await? {
            return Ok(());
        }
        let workflows = self.snapshot().await?.workflows;
        for workflow in &workflows {
            let (pk, sk) = Self::trigger_key(&workflow.trigger, &workflow.name);
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(to_item(workflow, pk, sk)?))
                .send()
                .await
                .map_err(sdk_error)?;
        }
        info!(workflows = workflows.len(), layout = LAYOUT, "workflow triggers copied to the per-dir layout");
        Ok(())
    }

    /// Moves the catalog from `version` to the next one, or fails the transaction.
    fn bump(&self, version: u64) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = Self::catalog_key();
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .update_expression("SET version = :next, layout = :layout")
            .expression_attribute_values(":next", n(version + 1))
            .expression_attribute_values(":layout", n(LAYOUT));
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

    /// Writes `workflows` as new, many at a time, with no version check, and moves the catalog
    /// version on once: for loading a catalog in bulk (the bench's thousands of workflows).
    pub async fn import(&self, workflows: &[Workflow]) -> Result<(), StoreError> {
        let mut items = Vec::with_capacity(workflows.len() * 2);
        for workflow in workflows {
            let (pk, sk) = Self::record_key(&workflow.name);
            let (tpk, tsk) = Self::trigger_key(&workflow.trigger, &workflow.name);
            items.extend([to_item(workflow, pk, sk)?, to_item(workflow, tpk, tsk)?]);
        }
        put_all(&self.client, &self.table, items).await?;
        let (pk, sk) = Self::catalog_key();
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .update_expression("SET version = if_not_exists(version, :zero) + :one, layout = :layout")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":layout", n(LAYOUT))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn transact(&self, items: Vec<TransactWriteItem>, name: &str) -> Result<(), StoreError> {
        match transact(&self.client, items).await {
            Ok(_) => Ok(()),
            Err(error) if condition_failed(&error) => Err(StoreError::Conflict(format!("workflow {name}"))),
            Err(error) => Err(sdk_error(error)),
        }
    }
}

#[async_trait]
impl WorkflowStore for DynamoWorkflowStore {
    async fn for_key(&self, bucket: &str, key: &str) -> Result<Vec<Workflow>, StoreError> {
        if !self.layout_is_current().await? {
            warn!(
                bucket,
                "workflows stored by mediaflow 0.1: reading the whole bucket's; any `mediaflow workflow` change moves them"
            );
            let of_bucket: Vec<Workflow> =
                query(&self.client, &self.table, format!("bucket#{bucket}"), "workflow#").await?;
            return Ok(of_bucket.into_iter().filter(|w| w.trigger.contains(bucket, key)).collect());
        }
        let reads = trigger_partitions(bucket, key)
            .into_iter()
            .map(|partition| query::<Workflow>(&self.client, &self.table, partition, "workflow#"));
        Ok(try_join_all(reads).await?.into_iter().flatten().collect())
    }

    async fn get(&self, name: &str) -> Result<Option<Workflow>, StoreError> {
        let (pk, sk) = Self::record_key(name);
        get(&self.client, &self.table, pk, sk).await
    }

    async fn snapshot(&self) -> Result<CatalogSnapshot, StoreError> {
        // The version first: a write between the two reads then fails the caller's save.
        let version = self.catalog().await?.unwrap_or_default().version;
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
        self.upgrade().await?;
        let (pk, sk) = Self::record_key(&workflow.name);
        let condition = match previous {
            None => ("attribute_not_exists(pk)", None),
            Some(previous) => ("revision = :revision", Some(previous.revision)),
        };
        let (tpk, tsk) = Self::trigger_key(&workflow.trigger, &workflow.name);
        let mut items =
            vec![self.put(to_item(workflow, pk, sk)?, Some(condition))?, self.put(to_item(workflow, tpk, tsk)?, None)?];
        if let Some(previous) = previous.filter(|p| p.trigger != workflow.trigger) {
            items.push(self.delete_item(Self::trigger_key(&previous.trigger, &previous.name), None)?);
        }
        items.push(self.bump(version)?);
        self.transact(items, &workflow.name).await
    }

    async fn delete(&self, workflow: &Workflow, version: u64) -> Result<(), StoreError> {
        self.upgrade().await?;
        let items = vec![
            self.delete_item(Self::record_key(&workflow.name), Some(workflow.revision))?,
            self.delete_item(Self::trigger_key(&workflow.trigger, &workflow.name), None)?,
            self.bump(version)?,
        ];
        self.transact(items, &workflow.name).await
    }
}
