//! Records in bulk: the items a job is stored as (which `create` writes in one conditional
//! transaction), and loading many items unconditionally, 25 a request (BatchWriteItem), for
//! restores, imports and the bench's thousands of jobs and workflows; never on the pipeline's
//! paths, whose writes are conditional.

use super::jobs::{job_pk, task_sk};
use super::queries::index_attributes;
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

/// A job's items: the job (with its count of unfinished tasks and the index attributes) and one
/// per task.
pub(super) fn job_items(job: &Job, tasks: &[Task]) -> Result<Vec<Item>, StoreError> {
    let mut job_item = to_item(job, job_pk(&job.id), "job".into())?;
    job_item.insert("remaining".into(), n(tasks.iter().filter(|task| !task.status.is_final()).count()));
    job_item.extend(index_attributes(job));
    let mut items = vec![job_item];
    for task in tasks {
        items.push(to_item(task, job_pk(&job.id), task_sk(task.index))?);
    }
    Ok(items)
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
