//! Loading records in bulk: items written unconditionally, 25 a request (BatchWriteItem), for
//! restores, imports and the bench's thousands of jobs and workflows. Never on the pipeline's
//! paths, whose writes are conditional.

use super::jobs::job_items;
use super::*;
use crate::domain::job::{Job, Task};

/// Writes `items` unconditionally, 25 a request, sending again what DynamoDB left unprocessed:
/// for loading records in bulk.
pub(super) async fn put_all(client: &Client, table: &str, items: Vec<Item>) -> Result<(), StoreError> {
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let mut requests = items
            .by_ref()
            .take(25)
            .map(|item| {
                let put = PutRequest::builder().set_item(Some(item)).build();
                Ok(WriteRequest::builder().put_request(put.map_err(|e| StoreError::Rejected(e.to_string()))?).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        while !requests.is_empty() {
            let output = client.batch_write_item().request_items(table, requests).send().await.map_err(sdk_error)?;
            requests = output.unprocessed_items.and_then(|mut left| left.remove(table)).unwrap_or_default();
        }
    }
    Ok(())
}

impl DynamoJobStore {
    /// Writes jobs and their tasks as they are, many at a time and without conditions: for
    /// restoring records in bulk (and the bench's thousands of jobs).
    pub async fn import(&self, jobs: &[(Job, Vec<Task>)]) -> Result<(), StoreError> {
        let mut items = Vec::new();
        for (job, tasks) in jobs {
            items.extend(job_items(job, tasks)?);
        }
        put_all(&self.client, &self.table, items).await
    }
}
