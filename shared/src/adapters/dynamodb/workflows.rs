//! [`WorkflowStore`] on the workflows table (layout in the module's documentation).

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};

use super::*;
use crate::domain::workflow::Workflow;
use crate::ports::{CatalogSnapshot, StoreError, WorkflowStore};

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
