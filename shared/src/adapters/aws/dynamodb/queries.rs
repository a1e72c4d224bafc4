//! [`JobQueries`] on the jobs table's indexes: jobs by workflow, by day and by input key, each
//! sorted by `created` (creation time, then id), newest first. Only job items carry the index
//! attributes, so the indexes hold jobs and nothing else.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::*;
use crate::domain::job::Job;
use crate::domain::job::JobStatus;
use crate::domain::object::ObjectRef;
use crate::ports::{JobFilter, JobPage, JobQueries, JobTally, StoreError};

/// (index name, partition attribute) of the three indexes; all sort on [`CREATED`].
pub(super) const BY_WORKFLOW: (&str, &str) = ("by-workflow", "workflow");
pub(super) const BY_DAY: (&str, &str) = ("by-day", "day");
pub(super) const BY_INPUT: (&str, &str) = ("by-input", "input_key");
pub(super) const CREATED: &str = "created";

/// How far back a listing of every workflow's jobs looks without `since`.
const LOOK_BACK_DAYS: i64 = 90;

/// The sort key: the creation time to the millisecond (sorts as text), then the id.
fn created(job: &Job) -> String {
    format!("{}#{}", job.created_at.format("%Y-%m-%dT%H:%M:%S%.3fZ"), job.id)
}

fn input_key(object: &ObjectRef) -> String {
    format!("{}/{}", object.bucket, object.key)
}

/// What a job item carries for the indexes (the workflow name is an attribute already).
pub(super) fn index_attributes(job: &Job) -> Item {
    Item::from([
        (CREATED.to_owned(), s(created(job))),
        (BY_DAY.1.to_owned(), s(job.created_at.format("%Y-%m-%d").to_string())),
        (BY_INPUT.1.to_owned(), s(input_key(&job.input))),
    ])
}

impl DynamoJobStore {
    /// Up to `want` jobs of one index partition, newest first, created before `before` (a
    /// sort key) and not before `since`, that pass the filter's status conditions.
    async fn query_index(
        &self,
        (index, attribute): (&str, &str),
        partition: String,
        filter: &JobFilter,
        before: Option<&str>,
        want: usize,
    ) -> Result<Vec<Job>, StoreError> {
        let low =
            filter.since.map_or_else(|| "0".to_owned(), |since| since.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        let high = before.map_or_else(|| "9".to_owned(), str::to_owned);
        let mut conditions = Vec::new();
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#partition = :partition AND #created BETWEEN :low AND :high")
            .expression_attribute_names("#partition", attribute)
            .expression_attribute_names("#created", CREATED)
            .expression_attribute_values(":partition", s(partition))
            .expression_attribute_values(":low", s(low))
            .expression_attribute_values(":high", s(high.clone()))
            .scan_index_forward(false);
        if let Some(status) = filter.status {
            conditions.push("#status = :status");
            request = request
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", value(&status)?);
        }
        if let Some(workflow) = filter.workflow.as_ref().filter(|_| index != BY_WORKFLOW.0) {
            conditions.push("#workflow = :workflow");
            request = request
                .expression_attribute_names("#workflow", BY_WORKFLOW.1)
                .expression_attribute_values(":workflow", s(workflow.clone()));
        }
        if filter.failed {
            conditions.push("failed_tasks > :zero");
            request = request.expression_attribute_values(":zero", n(0));
        }
        if filter.succeeded {
            conditions
                .push("(attribute_not_exists(failed_tasks) OR failed_tasks = :none) AND attribute_not_exists(#error)");
            request = request.expression_attribute_names("#error", "error").expression_attribute_values(":none", n(0));
        }
        // A page of about what is wanted (one more: the page before's last item comes back);
        // with conditions, pages of up to 1,000 (they drop items after the limit; DynamoDB stops a
        // page at 1 MB anyway).
        request = request.limit(if conditions.is_empty() { want.min(1000) as i32 + 1 } else { 1000 });
        if !conditions.is_empty() {
            request = request.filter_expression(conditions.join(" AND "));
        }
        let mut items = request.into_paginator().items().send();
        let mut jobs = Vec::new();
        while jobs.len() < want
            && let Some(item) = items.try_next().await.map_err(sdk_error)?
        {
            // BETWEEN includes its ends; the page before ended with `before` itself.
            if item.get(CREATED).and_then(|v| v.as_s().ok()) == Some(&high) {
                continue;
            }
            jobs.push(from_item(item)?);
        }
        Ok(jobs)
    }
}

/// What a tally reads of a job item: the attributes that tell its state.
#[derive(serde::Deserialize)]
struct StateOnly {
    status: JobStatus,
    #[serde(default)]
    failed_tasks: u32,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

impl DynamoJobStore {
    /// Counts the jobs of one index partition created since `since` into `tally`, up to `max`.
    async fn tally_partition(
        &self,
        (index, attribute): (&str, &str),
        partition: String,
        since: DateTime<Utc>,
        max: u64,
        tally: &mut JobTally,
    ) -> Result<(), StoreError> {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#partition = :partition AND #created >= :low")
            .projection_expression("#status, failed_tasks, #error")
            .expression_attribute_names("#partition", attribute)
            .expression_attribute_names("#created", CREATED)
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#error", "error")
            .expression_attribute_values(":partition", s(partition))
            .expression_attribute_values(":low", s(since.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()));
        let mut items = request.into_paginator().items().send();
        while let Some(item) = items.try_next().await.map_err(sdk_error)? {
            if tally.total() >= max {
                tally.partial = true;
                break;
            }
            let job: StateOnly = from_item(item)?;
            tally.count(job.status, job.failed_tasks > 0 || job.error.is_some());
        }
        Ok(())
    }
}

/// The day of a sort key (`2026-11-27T…`).
fn day_of(created: &str) -> Option<NaiveDate> {
    created.get(..10).and_then(|day| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok())
}

#[async_trait]
impl JobQueries for DynamoJobStore {
    async fn list(&self, filter: &JobFilter) -> Result<JobPage, StoreError> {
        let limit = filter.limit.max(1);
        let before = filter.page.as_deref();
        let jobs = match (&filter.input, &filter.workflow) {
            (Some(input), _) => self.query_index(BY_INPUT, input_key(input), filter, before, limit).await?,
            (None, Some(workflow)) => self.query_index(BY_WORKFLOW, workflow.clone(), filter, before, limit).await?,
            (None, None) => {
                // Day by day, from the page's day (or today) back to `since` (or the look-back).
                let today = Utc::now().date_naive();
                let mut day = before.and_then(day_of).unwrap_or(today);
                let first = filter
                    .since
                    .map_or(today - TimeDelta::days(LOOK_BACK_DAYS), |since: DateTime<Utc>| since.date_naive());
                let mut jobs = Vec::new();
                while jobs.len() < limit && day >= first {
                    let found = self
                        .query_index(BY_DAY, day.format("%Y-%m-%d").to_string(), filter, before, limit - jobs.len())
                        .await?;
                    jobs.extend(found);
                    day -= TimeDelta::days(1);
                }
                jobs
            }
        };
        let next_page = (jobs.len() >= limit).then(|| jobs.last().map(created)).flatten();
        Ok(JobPage { jobs, next_page })
    }

    async fn tally(&self, workflow: Option<&str>, since: DateTime<Utc>, max: u64) -> Result<JobTally, StoreError> {
        let mut tally = JobTally::default();
        match workflow {
            Some(workflow) => self.tally_partition(BY_WORKFLOW, workflow.to_owned(), since, max, &mut tally).await?,
            None => {
                let mut day = Utc::now().date_naive();
                while day >= since.date_naive() && !tally.partial {
                    let partition = day.format("%Y-%m-%d").to_string();
                    self.tally_partition(BY_DAY, partition, since, max, &mut tally).await?;
                    day -= TimeDelta::days(1);
                }
            }
        }
        Ok(tally)
    }

    async fn of_input(&self, object: &ObjectRef) -> Result<Vec<Job>, StoreError> {
        let filter = JobFilter::default();
        self.query_index(BY_INPUT, input_key(object), &filter, None, usize::MAX).await
    }
}

/// The three indexes, as the local stack creates them (template.yaml for AWS).
pub(super) fn indexes() -> Vec<(&'static str, &'static str)> {
    vec![BY_WORKFLOW, BY_DAY, BY_INPUT]
}
