//! What jobs cost over a window: every job created since then, read page by page with its
//! total (kept apart from the job's record), summed by workflow or by day at the deployment's prices, beside what MediaConvert and MPS would charge
//! for the same outputs.

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};

use super::jobs::{Jobs, JobsError};
use crate::domain::cost::{CostBy, CostReport, Prices};
use crate::ports::JobFilter;

/// Jobs read per page.
const PAGE: usize = 1000;
/// Jobs' totals read at once.
const READS: usize = 16;

/// The cost of the jobs created since `since`, grouped `by`.
pub async fn report(jobs: &Jobs, prices: &Prices, since: DateTime<Utc>, by: CostBy) -> Result<CostReport, JobsError> {
    let mut report = CostReport::new(by, prices.clone());
    let mut filter = JobFilter { since: Some(since), limit: PAGE, ..JobFilter::default() };
    loop {
        let page = jobs.list(&filter).await?;
        let mut totals = stream::iter(page.jobs)
            .map(|mut job| async move {
                job.usage = jobs.usage(&job.id).await?;
                Ok::<_, JobsError>(job)
            })
            .buffered(READS);
        while let Some(job) = totals.next().await {
            report.add(&job?);
        }
        match page.next_page {
            Some(next) => filter.page = Some(next),
            None => return Ok(report),
        }
    }
}
