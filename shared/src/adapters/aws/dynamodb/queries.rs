//! [`JobQueries`] on the jobs table's indexes: jobs by workflow, by day and by input key, each
//! sorted by `created` (creation time, then id), newest first. Only job items carry the index
//! attributes, so the indexes hold jobs and nothing else. A day's jobs and a workflow's are
//! spread over shards (`partitions.rs`): a listing reads every shard and merges them newest
//! first, and a page ends at a sort key, which every shard goes on from.

use std::cmp::Reverse;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use futures::future::try_join_all;

use super::partitions::{
    BY_DAY, BY_INPUT, BY_WORKFLOW, CREATED, created, day_key, input_key, shard_keys, shard_prefix, stored_job,
};
use super::*;
use crate::domain::job::Job;
use crate::domain::job::JobStatus;
use crate::domain::object::ObjectRef;
use crate::ports::{JobFilter, JobPage, JobQueries, JobTally, StoreError};

/// How far back a listing of every workflow's jobs looks without `since`.
const LOOK_BACK_DAYS: i64 = 90;

/// The newest `want` jobs of those read from each shard of a partition (each shard's newest
/// `want` that pass the filter: the newest `want` of all are among them).
fn newest(shards: Vec<Vec<Job>>, want: usize) -> Vec<Job> {
    let mut jobs: Vec<Job> = shards.into_iter().flatten().collect();
    jobs.sort_by_cached_key(|job| Reverse(created(job)));
    jobs.truncate(want);
    jobs
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
            // The item's `workflow` is the job's by-workflow partition: its name, or a shard of it.
            conditions.push("(#workflow = :workflow OR begins_with(#workflow, :shards))");
            request = request
                .expression_attribute_names("#workflow", BY_WORKFLOW.1)
                .expression_attribute_values(":workflow", s(workflow.clone()))
                .expression_attribute_values(":shards", s(shard_prefix(workflow)));
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
            jobs.push(stored_job(from_item(item)?));
        }
        Ok(jobs)
    }

    /// Up to `want` jobs of every shard of the index partition `base`, newest first (as
    /// [`Self::query_index`] reads one).
    async fn query_shards(
        &self,
        index: (&str, &str),
        base: &str,
        filter: &JobFilter,
        before: Option<&str>,
        want: usize,
    ) -> Result<Vec<Job>, StoreError> {
        let shards = shard_keys(base).map(|partition| self.query_index(index, partition, filter, before, want));
        Ok(newest(try_join_all(shards).await?, want))
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
            (None, Some(workflow)) => self.query_shards(BY_WORKFLOW, workflow, filter, before, limit).await?,
            (None, None) => {
                // Day by day, from the page's day (or today) back to `since` (or the look-back).
                let today = Utc::now().date_naive();
                let mut day = before.and_then(day_of).unwrap_or(today);
                let first = filter
                    .since
                    .map_or(today - TimeDelta::days(LOOK_BACK_DAYS), |since: DateTime<Utc>| since.date_naive());
                let mut jobs = Vec::new();
                while jobs.len() < limit && day >= first {
                    let found = self.query_shards(BY_DAY, &day_key(day), filter, before, limit - jobs.len()).await?;
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
        // The partitions to count, each in its shards, one after the other: the count stops at `max`.
        let partitions = match workflow {
            Some(workflow) => vec![(BY_WORKFLOW, workflow.to_owned())],
            None => {
                let days = Utc::now().date_naive().iter_days().rev().take_while(|day| *day >= since.date_naive());
                days.map(|day| (BY_DAY, day_key(day))).collect()
            }
        };
        for (index, base) in &partitions {
            for partition in shard_keys(base) {
                if tally.partial {
                    return Ok(tally);
                }
                self.tally_partition(*index, partition, since, max, &mut tally).await?;
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

#[cfg(test)]
pub(super) mod tests {
    use chrono::TimeZone;

    use super::super::partitions::{SHARDS, job_partitions, shard_of};
    use super::*;
    use crate::domain::job::JobId;

    /// `count` jobs of workflow `flow` of one day, some created in the same millisecond.
    pub(crate) fn jobs(count: usize) -> Vec<Job> {
        let start = Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).single().expect("a time");
        (0..count)
            .map(|n| {
                let mut job: Job = serde_json::from_value(serde_json::json!({
                    "id": format!("job-{n:04}"), "workflow": "flow", "workflow_revision": 1,
                    "input": {"bucket": "media", "key": format!("in/{n}.mp4")},
                    "output": {"bucket": "media", "dir": "out/"}, "relative_key": format!("{n}.mp4"),
                    "event_time": "2026-11-27T08:00:00Z", "status": "WAITING", "task_count": 1,
                    "created_at": "2026-11-27T08:00:00Z"
                }))
                .expect("a job");
                job.created_at = start + TimeDelta::milliseconds((n as i64 * 7919) % 5000);
                job.id = JobId::from(format!("job-{n:04}"));
                job
            })
            .collect()
    }

    /// What one shard's query answers: its jobs created before `before`, newest first, `want`
    /// at most (`stored`: each job with its by-day partition and sort key, newest first).
    fn query_shard(stored: &[(String, String, Job)], shard: &str, before: Option<&str>, want: usize) -> Vec<Job> {
        let below = |created: &String| before.is_none_or(|before| created.as_str() < before);
        let found = stored.iter().filter(|(partition, created, _)| partition == shard && below(created));
        found.take(want).map(|(_, _, job)| job.clone()).collect()
    }

    #[test]
    fn pages_over_every_shard_walk_the_days_jobs_newest_first_without_gaps_or_repeats() {
        let all = jobs(500);
        let shards_used: std::collections::BTreeSet<u32> = all.iter().map(|job| shard_of(&job.id, SHARDS)).collect();
        assert_eq!(shards_used.len(), SHARDS as usize, "the jobs are spread over every shard");
        let mut expected = all.clone();
        expected.sort_by_key(|job| Reverse(created(job)));
        let stored: Vec<_> =
            expected.iter().map(|job| (job_partitions(job, SHARDS).by_day, created(job), job.clone())).collect();
        for limit in [1, 7, 50, 1000] {
            let (mut walked, mut before) = (Vec::new(), None::<String>);
            loop {
                let day = day_key(all[0].created_at.date_naive());
                let read =
                    shard_keys(&day).map(|shard| query_shard(&stored, &shard, before.as_deref(), limit)).collect();
                let page = newest(read, limit);
                let next = (page.len() >= limit).then(|| page.last().map(created)).flatten();
                walked.extend(page);
                match next {
                    Some(next) => before = Some(next),
                    None => break,
                }
            }
            let ids = |jobs: &[Job]| jobs.iter().map(|job| job.id.to_string()).collect::<Vec<_>>();
            assert_eq!(ids(&walked), ids(&expected), "pages of {limit}");
        }
    }
}
