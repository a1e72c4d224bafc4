//! [`JobQueries`] on the jobs table's indexes: jobs by workflow, by day and by input key, each
//! sorted by `created` (creation time, then id), newest first. Only job items carry the index
//! attributes, so the indexes hold jobs and nothing else.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::*;
use crate::domain::job::Job;
use crate::domain::object::ObjectRef;
use crate::ports::{JobFilter, JobPage, JobQueries, StoreError};

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
        if filter.failed {
            conditions.push("failed_tasks > :zero");
            request = request.expression_attribute_values(":zero", n(0));
        }
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

/// The day of a sort key (`2026-11-27T…`).
fn day_of(created: &str) -> Option<NaiveDate> {
    created.get(..10).and_then(|day| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok())
}

#[async_trait]
impl JobQueries for DynamoJobStore {
    async fn list(&self, filter: &JobFilter) -> Result<JobPage, StoreError> {
        let limit = filter.limit.max(1);
        let before = filter.page.as_deref();
        let jobs = match &filter.workflow {
            Some(workflow) => self.query_index(BY_WORKFLOW, workflow.clone(), filter, before, limit).await?,
            None => {
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

    async fn of_input(&self, object: &ObjectRef) -> Result<Vec<Job>, StoreError> {
        let filter = JobFilter::default();
        self.query_index(BY_INPUT, input_key(object), &filter, None, usize::MAX).await
    }
}

/// The three indexes, as the local stack creates them (template.yaml for AWS).
pub(super) fn indexes() -> Vec<(&'static str, &'static str)> {
    vec![BY_WORKFLOW, BY_DAY, BY_INPUT]
}
