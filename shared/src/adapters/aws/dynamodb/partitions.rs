//! Where the jobs table's writes land: the partition keys of a job's items and index entries.
//!
//! DynamoDB serves one partition at most 1,000 write units a second (an index's partitions
//! too), and every update of a job item is written again to each index (they project every
//! attribute). Keyed by the day alone, every job of a day would write one `by-day` partition,
//! and every job of a busy workflow one `by-workflow` partition; so both are spread over
//! [`SHARDS`] shards, the shard picked from the job's id. Shard 0 is the bare value
//! (`2026-11-27`, `my-workflow`), which jobs written before the shards carry, and shard `n` is
//! `2026-11-27#n`, `my-workflow#n` (a workflow's name has no `#`). The job item's `workflow`
//! attribute is its `by-workflow` partition: reads give the job its name back.
//! `make partitions` prints the writes per partition and second at 1,000 jobs a second.

use chrono::NaiveDate;

use super::*;
use crate::domain::job::Job;
use crate::domain::object::ObjectRef;

/// (index name, partition attribute) of the three indexes; all sort on [`CREATED`].
pub(super) const BY_WORKFLOW: (&str, &str) = ("by-workflow", "workflow");
pub(super) const BY_DAY: (&str, &str) = ("by-day", "day");
pub(super) const BY_INPUT: (&str, &str) = ("by-input", "input_key");
pub(super) const CREATED: &str = "created";

/// The sort key: the creation time to the millisecond (sorts as text), then the id.
pub(super) fn created(job: &Job) -> String {
    format!("{}#{}", job.created_at.format("%Y-%m-%dT%H:%M:%S%.3fZ"), job.id)
}

/// An upload's partition in the `by-input` index.
pub(super) fn input_key(object: &ObjectRef) -> String {
    format!("{}/{}", object.bucket, object.key)
}

/// A day's partition in the `by-day` index (its shard 0).
pub(super) fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// How many shards the `by-day` and `by-workflow` index partitions are spread over.
pub const SHARDS: u32 = 32;

/// The shard of a job among `shards`: FNV-1a of its id's bytes, the same in every process and
/// release.
pub fn shard_of(id: &JobId, shards: u32) -> u32 {
    let hash = id
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3));
    (hash % u64::from(shards.max(1))) as u32
}

/// What the partitions of `base` past shard 0 start with.
pub(super) fn shard_prefix(base: &str) -> String {
    format!("{base}#")
}

/// Shard `shard` of the index partition `base`.
fn shard_key(base: &str, shard: u32) -> String {
    match shard {
        0 => base.to_owned(),
        shard => format!("{}{shard}", shard_prefix(base)),
    }
}

/// Every shard of the index partition `base`, shard 0 first.
pub(super) fn shard_keys(base: &str) -> impl Iterator<Item = String> + '_ {
    (0..SHARDS).map(move |shard| shard_key(base, shard))
}

/// A job as read from its item: named by its workflow again (the item's `workflow` attribute is
/// the job's `by-workflow` partition).
pub(super) fn stored_job(mut job: Job) -> Job {
    if let Some((name, _shard)) = job.workflow.split_once('#') {
        job.workflow = name.to_owned();
    }
    job
}

/// The item of the newest S3 sequencer seen for an object.
pub(super) fn sequencer_pk(object: &ObjectRef) -> String {
    format!("object#{}", input_key(object))
}

/// The partition keys a job's records are written under, on the jobs table and its indexes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobPartitions {
    /// The job's items: the job, its tasks and their parts.
    pub job: String,
    pub by_day: String,
    pub by_workflow: String,
    pub by_input: String,
    /// The item of its upload's newest S3 sequencer.
    pub sequencer: String,
}

/// Where `job`'s records go when the index partitions are spread over `shards` shards: the
/// table's layout with [`SHARDS`], and the one before the shards with 1.
pub fn job_partitions(job: &Job, shards: u32) -> JobPartitions {
    let shard = shard_of(&job.id, shards);
    JobPartitions {
        job: job_pk(&job.id),
        by_day: shard_key(&day_key(job.created_at.date_naive()), shard),
        by_workflow: shard_key(&job.workflow, shard),
        by_input: input_key(&job.input),
        sequencer: sequencer_pk(&job.input),
    }
}

/// What a job item carries for the indexes: its sort key and its partitions. (Its `workflow`
/// attribute becomes its `by-workflow` partition.)
pub(super) fn index_attributes(job: &Job) -> Item {
    let partitions = job_partitions(job, SHARDS);
    Item::from([
        (CREATED.to_owned(), s(created(job))),
        (BY_DAY.1.to_owned(), s(partitions.by_day)),
        (BY_WORKFLOW.1.to_owned(), s(partitions.by_workflow)),
        (BY_INPUT.1.to_owned(), s(partitions.by_input)),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::queries::tests::jobs;
    use super::*;

    fn id(n: usize) -> JobId {
        JobId::derive("flow", &ObjectRef::new("media", format!("in/clip-{n}.mp4")), "etag")
    }

    #[test]
    fn a_jobs_shard_is_the_same_in_every_process_and_release() {
        // FNV-1a of the bytes (as its reference computes them), not std's hasher, which is
        // seeded per process: these never change.
        assert_eq!(shard_of(&JobId::from("job-0".to_owned()), SHARDS), 9);
        assert_eq!(shard_of(&JobId::from("job-98ff2ad43058cffc0446188937bc9af1".to_owned()), SHARDS), 5);
        assert_eq!(shard_of(&id(1), 1), 0, "one shard: the partitions before the shards");
    }

    #[test]
    fn job_ids_spread_evenly_over_the_shards() {
        let mut counts = vec![0usize; SHARDS as usize];
        for n in 0..1000 * SHARDS as usize {
            counts[shard_of(&id(n), SHARDS) as usize] += 1;
        }
        // 1,000 a shard on average; a binomial spread stays well within ±15 %.
        assert!(counts.iter().all(|&count| (850..=1150).contains(&count)), "{counts:?}");
    }

    #[test]
    fn shard_zero_is_the_bare_partition_and_the_others_carry_their_number() {
        let keys: Vec<String> = shard_keys("2026-11-27").collect();
        assert_eq!(keys.len(), SHARDS as usize);
        assert_eq!((keys[0].as_str(), keys[1].as_str()), ("2026-11-27", "2026-11-27#1"));
        assert_eq!(keys.last(), Some(&format!("2026-11-27#{}", SHARDS - 1)));
        let [mut job]: [Job; 1] = jobs(1).try_into().expect("one job");
        assert_eq!(stored_job(job.clone()).workflow, "flow", "an item from before the shards");
        job.workflow = "flow#7".into();
        assert_eq!(stored_job(job).workflow, "flow");
    }
}
