//! [`PartStore`] on the jobs table: a chunked task's parts are items of its job's partition,
//! `sk = part#<task, 4 digits>#<part, 4 digits>` (outside the tasks' `task#` prefix).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::*;
use crate::domain::attempt::Lease;
use crate::domain::chunk::ChunkPlan;
use crate::domain::error::TaskError;
use crate::domain::job::{JobId, PartState, Task, TaskStatus};
use crate::ports::{PartClaim, PartStore, StoreError};

fn built<T, E: std::fmt::Display>(built: Result<T, E>) -> Result<T, StoreError> {
    built.map_err(|e| StoreError::Rejected(e.to_string()))
}

impl DynamoJobStore {
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
        applied(transact(&self.client, items).await)
    }
}

#[async_trait]
impl PartStore for DynamoJobStore {
    async fn split(&self, task: &Task, plan: &ChunkPlan) -> Result<(), StoreError> {
        let id = &task.job_id;
        let split = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(job_pk(id), task_sk(task.index))))
            .update_expression("SET chunks = :plan, parts_done = :zero")
            .condition_expression("#status = :waiting AND attribute_not_exists(chunks)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":plan", value(plan)?)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":waiting", value(&TaskStatus::Waiting)?);
        let mut items = vec![TransactWriteItem::builder().update(built(split.build())?).build()];
        // Parts left from an earlier round (before a redo) are replaced.
        for number in 0..plan.parts() {
            let part = PartState::waiting(id, task.index, number);
            let put = Put::builder().table_name(&self.table).set_item(Some(to_item(
                &part,
                job_pk(id),
                part_sk(task.index, number),
            )?));
            items.push(TransactWriteItem::builder().put(built(put.build())?).build());
        }
        // Split already (a repeated preparation): nothing changes.
        self.transact(items).await.map(|_| ())
    }

    async fn claim_part(&self, id: &JobId, index: u32, number: u32, lease: &Lease) -> Result<PartClaim, StoreError> {
        let result = self.take(part_sk(index, number), id, lease, "")?.send().await;
        let part: PartState = match result {
            Ok(output) => from_item(output.attributes.unwrap_or_default())?,
            Err(error) if condition_failed(&error) => {
                let stored: Option<PartState> =
                    get(&self.client, &self.table, job_pk(id), part_sk(index, number)).await?;
                return Ok(match stored {
                    None => PartClaim::Missing,
                    Some(part) if part.status == TaskStatus::Success => PartClaim::Done,
                    // Our own claim, whose answer was lost and the request retried.
                    Some(part) if part.hold.is_held_by(lease) => PartClaim::Claimed(part),
                    Some(part) => PartClaim::Busy { lease_until: part.hold.lease_until.unwrap_or(lease.now) },
                });
            }
            Err(error) => return Err(sdk_error(error)),
        };
        self.mark_processing(id).await?;
        Ok(PartClaim::Claimed(part))
    }

    async fn start_task(&self, id: &JobId, index: u32, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let result = self
            .update(job_pk(id), task_sk(index))
            .update_expression("SET #status = :processing, started_at = :at")
            .condition_expression("#status = :waiting")
            .expression_attribute_values(":processing", value(&TaskStatus::Processing)?)
            .expression_attribute_values(":waiting", value(&TaskStatus::Waiting)?)
            .expression_attribute_values(":at", value(&at)?)
            .send()
            .await;
        applied(result)
    }

    async fn release_part(&self, part: &PartState, error: &TaskError) -> Result<(), StoreError> {
        // Taken over by another attempt meanwhile: that one's to give back.
        self.give_back(part_sk(part.task, part.number), &part.job_id, part.hold.attempts, error).await.map(|_| ())
    }

    async fn finish_part(&self, part: &PartState) -> Result<Task, StoreError> {
        let id = &part.job_id;
        let done = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(job_pk(id), part_sk(part.task, part.number))))
            .update_expression("SET #status = :success REMOVE lease_until, #error")
            .condition_expression("#status = :processing AND attempts = :attempt")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#error", "error")
            .expression_attribute_values(":success", value(&TaskStatus::Success)?)
            .expression_attribute_values(":processing", value(&TaskStatus::Processing)?)
            .expression_attribute_values(":attempt", n(part.hold.attempts));
        let count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(job_pk(id), task_sk(part.task))))
            .update_expression("ADD parts_done :one")
            .condition_expression("attribute_exists(chunks)")
            .expression_attribute_values(":one", n(1));
        let items = vec![
            TransactWriteItem::builder().update(built(done.build())?).build(),
            TransactWriteItem::builder().update(built(count.build())?).build(),
        ];
        // Refused: this attempt was recorded already (a repeated answer); counted once.
        self.transact(items).await?;
        self.get_task(id, part.task)
            .await?
            .ok_or_else(|| StoreError::Rejected(format!("no task {} in job {id}", part.task)))
    }

    async fn mark_join_sent(&self, id: &JobId, index: u32, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.set_once(job_pk(id), task_sk(index), "join_sent_at", value(&at)?).await
    }
}
