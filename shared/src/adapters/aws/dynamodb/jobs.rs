//! [`JobStore`] on the jobs table (layout in the module's documentation).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};
use chrono::{DateTime, TimeDelta, Utc};

use super::partitions::{index_attributes, sequencer_pk, stored_job};
use super::*;
use crate::domain::attempt::Lease;
use crate::domain::error::TaskError;
use crate::domain::job::{Job, JobId, JobStatus, Task, TaskStatus};
use crate::domain::media::MediaInfo;
use crate::domain::notification::{Delivery, DeliveryState};
use crate::domain::object::{ObjectRef, sequencer_order};
use crate::domain::usage::Usage;
use crate::ports::{Claim, Created, Freshness, Held, JobStore, Progress, StoreError, TaskOutcome};

/// [`JobStore`] on the jobs table.
#[derive(Clone, Debug)]
pub struct DynamoJobStore {
    pub(super) client: Client,
    pub(super) table: String,
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
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub(super) fn update(
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

    pub(super) async fn get_task(&self, id: &JobId, index: u32) -> Result<Option<Task>, StoreError> {
        get(&self.client, &self.table, job_pk(id), task_sk(index)).await
    }

    /// Sets `attribute` of an existing item unless it is set already.
    pub(super) async fn set_once(
        &self,
        pk: String,
        sk: String,
        attribute: &str,
        set: AttributeValue,
    ) -> Result<(), StoreError> {
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

    /// The update that takes the waiting task or part at `sk` (or one whose lease ran out, or a
    /// chunked task its parts started, which has none) for
    /// `lease`: a new attempt, held until `lease.until`; `more` sets more. Answers the item as
    /// it is then.
    pub(super) fn take(
        &self,
        sk: String,
        id: &JobId,
        lease: &Lease,
        more: &str,
    ) -> Result<aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder, StoreError> {
        Ok(self
            .update(job_pk(id), sk)
            .update_expression(format!(
                "SET #status = :processing, attempts = if_not_exists(attempts, :zero) + :one, \
                 lease_until = :lease, claimed_by = :holder{more}"
            ))
            .condition_expression(
                "attribute_exists(pk) AND (#status = :waiting OR (#status = :processing AND \
                 (lease_until < :now_ms OR attribute_not_exists(lease_until))))",
            )
            .expression_attribute_values(":processing", value(&TaskStatus::Processing)?)
            .expression_attribute_values(":waiting", value(&TaskStatus::Waiting)?)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":lease", n(lease.until.timestamp_millis()))
            .expression_attribute_values(":holder", s(&lease.holder))
            .expression_attribute_values(":now_ms", n(lease.now.timestamp_millis()))
            .return_values(ReturnValue::AllNew))
    }

    /// Gives the claimed attempt `attempt` of the task or part at `sk` back for a retry, noting
    /// why; whether it was still that attempt's.
    pub(super) async fn give_back(
        &self,
        sk: String,
        id: &JobId,
        attempt: u32,
        error: &TaskError,
    ) -> Result<bool, StoreError> {
        let result = self
            .update(job_pk(id), sk)
            .update_expression("SET #status = :waiting, #error = :error REMOVE lease_until")
            .condition_expression("#status = :processing AND attempts = :attempt")
            .expression_attribute_names("#error", "error")
            .expression_attribute_values(":waiting", value(&TaskStatus::Waiting)?)
            .expression_attribute_values(":processing", value(&TaskStatus::Processing)?)
            .expression_attribute_values(":attempt", n(attempt))
            .expression_attribute_values(":error", value(error)?)
            .send()
            .await;
        applied(result)
    }

    /// Moves a waiting job to PROCESSING: one of its tasks (or parts) started.
    pub(super) async fn mark_processing(&self, id: &JobId) -> Result<(), StoreError> {
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
            _ => Ok(()),
        }
    }

    /// Ends a task (`SET #status = :final, finished_at = :now` and `changes`) if `condition`
    /// holds, and counts it off the job's open tasks (and as failed with `failure`), in one
    /// transaction.
    #[allow(clippy::too_many_arguments)]
    async fn end_task(
        &self,
        task_key: (&JobId, u32),
        condition: &str,
        status: TaskStatus,
        changes: &str,
        values: Item,
        failure: Option<&TaskError>,
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
            .expression_attribute_values(":minus_one", n(-1));
        // A failure counts on the job, and the first one becomes the job's error.
        let job_update = match failure {
            None => job_update.update_expression("ADD remaining :minus_one"),
            Some(error) => job_update
                .update_expression(
                    "ADD remaining :minus_one, failed_tasks :one SET #error = if_not_exists(#error, :error)",
                )
                .expression_attribute_names("#error", "error")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":error", value(error)?),
        };
        let job_update = job_update.build().map_err(|e| StoreError::Rejected(e.to_string()))?;
        let items = vec![
            TransactWriteItem::builder().update(task_update).build(),
            TransactWriteItem::builder().update(job_update).build(),
        ];
        let result = transact(&self.client, items).await;
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
        let items = job_items(job, tasks)?
            .into_iter()
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
        match transact(&self.client, items).await {
            Ok(_) => Ok(Created::New),
            Err(error) if condition_failed(&error) => Ok(Created::Existing),
            Err(error) => Err(sdk_error(error)),
        }
    }

    async fn job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        Ok(get(&self.client, &self.table, job_pk(id), "job".into()).await?.map(stored_job))
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
        let (pk, sk) = (sequencer_pk(object), "sequencer".to_owned());
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
            .take(task_sk(index), id, lease, ", started_at = if_not_exists(started_at, :now), progress = :zero")?
            .expression_attribute_values(":now", value(&now)?)
            .send()
            .await;
        let task: Task = match result {
            Ok(output) => from_item(output.attributes.unwrap_or_default())?,
            Err(error) if condition_failed(&error) => {
                return Ok(match self.get_task(id, index).await? {
                    None => Claim::Missing,
                    Some(task) if task.status.is_final() => Claim::Done(task.status),
                    // Our own claim, whose answer was lost and the request retried.
                    Some(task) if task.hold.is_held_by(lease) => Claim::Claimed(Box::new(task)),
                    Some(task) => Claim::Busy { lease_until: task.hold.lease_until.unwrap_or(now) },
                });
            }
            Err(error) => return Err(sdk_error(error)),
        };
        self.mark_processing(id).await?;
        Ok(Claim::Claimed(Box::new(task)))
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
        let (status, changes, mut values, failure) = match outcome {
            TaskOutcome::Success { outputs, warnings, timings } => (
                TaskStatus::Success,
                ", outputs = :outputs, warnings = :warnings, timings = :timings, progress = :done \
                 REMOVE lease_until, #error",
                HashMap::from([
                    (":outputs".to_owned(), value(outputs)?),
                    (":warnings".to_owned(), value(warnings)?),
                    (":timings".to_owned(), value(timings)?),
                    (":done".to_owned(), n(100)),
                ]),
                None,
            ),
            TaskOutcome::Fail(error) => (
                TaskStatus::Fail,
                ", #error = :error REMOVE lease_until",
                HashMap::from([(":error".to_owned(), value(error)?)]),
                Some(error),
            ),
        };
        values.insert(":processing".into(), value(&TaskStatus::Processing)?);
        values.insert(":attempt".into(), n(task.hold.attempts));
        let condition = "#status = :processing AND attempts = :attempt";
        match self.end_task((&task.job_id, task.index), condition, status, changes, values, failure, now).await {
            Ok(()) => self.close(&task.job_id, now).await,
            Err(StoreError::Conflict(what)) => {
                // Refused because our own earlier try went through (its answer was lost)?
                match self.get_task(&task.job_id, task.index).await? {
                    Some(stored)
                        if stored.status.is_final()
                            && stored.hold.attempts == task.hold.attempts
                            && stored.hold.claimed_by == task.hold.claimed_by =>
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
                .end_task(
                    (id, task.index),
                    "#status = :waiting",
                    TaskStatus::Fail,
                    ", #error = :error",
                    values,
                    Some(error),
                    now,
                )
                .await;
            match ended {
                // Started meanwhile by a worker of a repeated message: it ends on its own.
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(error) => return Err(error),
            }
        }
        self.close(id, now).await
    }

    async fn renew(&self, id: &JobId, held: Held, attempts: u32, until: DateTime<Utc>) -> Result<(), StoreError> {
        let sk = match held {
            Held::Task(index) => task_sk(index),
            Held::Part { task, number } => part_sk(task, number),
        };
        let result = self
            .update(job_pk(id), sk)
            .update_expression("SET lease_until = :lease")
            .condition_expression("#status = :processing AND attempts = :attempt AND lease_until < :lease")
            .expression_attribute_values(":lease", n(until.timestamp_millis()))
            .expression_attribute_values(":processing", value(&TaskStatus::Processing)?)
            .expression_attribute_values(":attempt", n(attempts))
            .send()
            .await;
        match result {
            Err(error) if !condition_failed(&error) => Err(sdk_error(error)),
            _ => Ok(()),
        }
    }

    async fn usage(&self, id: &JobId) -> Result<Usage, StoreError> {
        super::usage::total(&self.client, &self.table, id).await
    }

    async fn add_usage(&self, id: &JobId, task: Option<u32>, run: &str, usage: &Usage) -> Result<(), StoreError> {
        super::usage::add(&self.client, &self.table, id, task, run, usage).await
    }

    async fn record_progress(&self, task: &Task, percent: u8) -> Result<(), StoreError> {
        let result = self
            .update(job_pk(&task.job_id), task_sk(task.index))
            .update_expression("SET progress = :percent")
            .condition_expression("#status = :processing AND attempts = :attempt")
            .expression_attribute_values(":percent", n(percent.min(100)))
            .expression_attribute_values(":processing", value(&TaskStatus::Processing)?)
            .expression_attribute_values(":attempt", n(task.hold.attempts))
            .send()
            .await;
        match result {
            Err(error) if !condition_failed(&error) => Err(sdk_error(error)),
            _ => Ok(()),
        }
    }

    async fn claim_delivery(&self, id: &JobId, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, StoreError> {
        let sending =
            Delivery { state: DeliveryState::Sending, attempts: 0, error: None, at: None, lease_until: Some(until) };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(job_pk(id), "job".into())))
            .update_expression("SET delivery = :sending")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(delivery) \
                 OR (delivery.#state = :state AND delivery.lease_until < :now_ms))",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sending", value(&sending)?)
            .expression_attribute_values(":state", value(&DeliveryState::Sending)?)
            .expression_attribute_values(":now_ms", n(now.timestamp_millis()))
            .send()
            .await;
        applied(result)
    }

    async fn record_delivery(&self, id: &JobId, delivery: &Delivery) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(job_pk(id), "job".into())))
            .update_expression("SET delivery = :delivery")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":delivery", value(delivery)?)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn reopen(&self, job: &Job, tasks: &[Task]) -> Result<(), StoreError> {
        let count = tasks.len() as u32;
        let failed = tasks.iter().filter(|task| task.status == TaskStatus::Fail).count() as u32;
        let mut set = vec!["#status = :waiting", "redos = :next", "failed_tasks = :failed"];
        let mut remove = vec!["finished_at", "delivery"];
        if failed >= job.failed_tasks {
            remove.push("#error");
        }
        if job.source.is_none() {
            // Failed in preparation: prepared again, from its first attempt.
            set.push("prepare_attempts = :zero");
            remove.push("prepare_sent_at");
        }
        let job_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(job_pk(&job.id), "job".into())))
            .update_expression(format!("SET {} ADD remaining :count REMOVE {}", set.join(", "), remove.join(", ")))
            .condition_expression(
                "#status = :finish AND (redos = :redos OR (attribute_not_exists(redos) AND :redos = :zero))",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":waiting", value(&JobStatus::Waiting)?)
            .expression_attribute_values(":finish", value(&JobStatus::Finish)?)
            .expression_attribute_values(":redos", n(job.redos))
            .expression_attribute_values(":next", n(job.redos + 1))
            .expression_attribute_values(":failed", n(job.failed_tasks.saturating_sub(failed)))
            .expression_attribute_values(":count", n(count))
            .expression_attribute_values(":zero", n(0));
        let job_update = if remove.contains(&"#error") {
            job_update.expression_attribute_names("#error", "error")
        } else {
            job_update
        };
        let mut items = vec![
            TransactWriteItem::builder()
                .update(job_update.build().map_err(|e| StoreError::Rejected(e.to_string()))?)
                .build(),
        ];
        for task in tasks {
            let task_update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(job_pk(&job.id), task_sk(task.index))))
                .update_expression(
                    "SET #status = :waiting, attempts = :zero \
                     REMOVE #error, sent_at, lease_until, claimed_by, started_at, finished_at, progress, timings, warnings, \
                     outputs, chunks, parts_done, join_sent_at",
                )
                .condition_expression("#status = :was")
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#error", "error")
                .expression_attribute_values(":waiting", value(&TaskStatus::Waiting)?)
                .expression_attribute_values(":was", value(&task.status)?)
                .expression_attribute_values(":zero", n(0))
                .build()
                .map_err(|e| StoreError::Rejected(e.to_string()))?;
            items.push(TransactWriteItem::builder().update(task_update).build());
        }
        match transact(&self.client, items).await {
            Ok(_) => Ok(()),
            Err(error) if condition_failed(&error) => Err(StoreError::Conflict(format!("job {}", job.id))),
            Err(error) => Err(sdk_error(error)),
        }
    }

    async fn abandon(
        &self,
        id: &JobId,
        index: u32,
        error: &TaskError,
        now: DateTime<Utc>,
    ) -> Result<Progress, StoreError> {
        let values = HashMap::from([
            (":error".to_owned(), value(error)?),
            (":waiting".to_owned(), value(&TaskStatus::Waiting)?),
            (":processing".to_owned(), value(&TaskStatus::Processing)?),
        ]);
        let condition = "#status IN (:waiting, :processing)";
        let changes = ", #error = :error REMOVE lease_until";
        match self.end_task((id, index), condition, TaskStatus::Fail, changes, values, Some(error), now).await {
            // Ended meanwhile (or missing): nothing of it is lost.
            Ok(()) | Err(StoreError::Conflict(_)) => self.close(id, now).await,
            Err(error) => Err(error),
        }
    }

    async fn count_change(&self, id: &JobId, delivered: bool) -> Result<(), StoreError> {
        let counter = if delivered { "changes_delivered" } else { "changes_failed" };
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(job_pk(id), "job".into())))
            .update_expression("ADD #counter :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#counter", counter)
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn release(&self, task: &Task, error: &TaskError) -> Result<(), StoreError> {
        if self.give_back(task_sk(task.index), &task.job_id, task.hold.attempts, error).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!("task {}/{} (another attempt took it over)", task.job_id, task.index)))
        }
    }
}
