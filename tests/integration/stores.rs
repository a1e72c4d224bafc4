//! The DynamoDB adapters against a real DynamoDB protocol server: conditional writes do what
//! the use-cases rely on.

use anyhow::Context;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use mediaflow::adapters::aws::dynamodb::DynamoWorkflowStore;
use mediaflow::adapters::aws::s3::{Multipart, S3ObjectStore};
use mediaflow::domain::attempt::Lease;
use mediaflow::domain::chunk::{Chunk, ChunkPlan};
use mediaflow::domain::error::{ErrorCode, TaskError};
use mediaflow::domain::job::{Job, JobResult, JobStatus, TaskStatus};
use mediaflow::domain::object::{ObjectCreated, ObjectHead, ObjectRef, OutputMarker};
use mediaflow::domain::task::{Probe, Target, Tuning, VideoCodec};
use mediaflow::domain::usage::{Architecture, S3Usage, Usage};
use mediaflow::domain::workflow::{Workflow, WorkflowSpec};
use mediaflow::ports::{
    Claim, Created, JobStore, ObjectStore, PartClaim, PartStore, Progress, PutCondition, RequestCounter, StoreError,
    TaskOutcome, WorkflowStore,
};
use mediaflow_local::WORKFLOWS_TABLE;
use serde_json::json;

use crate::support::Harness;

fn spec(bucket: &str) -> WorkflowSpec {
    serde_json::from_value(json!({"name": "w", "trigger": {"bucket": bucket, "dir": "in/"},
        "tasks": [{"type": "transcode"}, {"type": "snapshot", "times": [1]}]}))
    .expect("valid spec")
}

#[tokio::test(flavor = "multi_thread")]
async fn workflow_writes_are_conditional_and_follow_the_trigger_bucket() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let store = DynamoWorkflowStore::new(h.stack.clients.dynamodb.clone(), WORKFLOWS_TABLE);
    let first = Workflow::create(spec("bucket-a"), Utc::now())?;
    assert_eq!(store.snapshot().await?.version, 0);
    store.save(&first, None, 0).await?;
    assert!(matches!(store.save(&first, None, 1).await, Err(StoreError::Conflict(_))), "create twice");
    let moved = first.replace(spec("bucket-b"), Utc::now())?;
    assert!(matches!(store.save(&moved, Some(&first), 0).await, Err(StoreError::Conflict(_))), "stale catalog");
    store.save(&moved, Some(&first), 1).await?;
    assert!(matches!(store.save(&moved, Some(&first), 2).await, Err(StoreError::Conflict(_))), "stale revision");
    assert!(store.for_key("bucket-a", "in/a.mp4").await?.is_empty(), "the old trigger entry is gone");
    assert_eq!(store.for_key("bucket-b", "in/sub/a.mp4").await?, vec![moved.clone()]);
    assert!(store.for_key("bucket-b", "other/a.mp4").await?.is_empty(), "another dir");
    assert_eq!(store.get("w").await?, Some(moved.clone()));
    let snapshot = store.snapshot().await?;
    assert_eq!((snapshot.version, snapshot.workflows), (2, vec![moved.clone()]));
    assert!(matches!(store.delete(&moved, 1).await, Err(StoreError::Conflict(_))), "stale catalog");
    store.delete(&moved, 2).await?;
    assert!(store.for_key("bucket-b", "in/a.mp4").await?.is_empty() && store.get("w").await?.is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn workflows_stored_by_0_1_are_found_and_moved_to_per_dir_reads_by_the_next_change() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let dynamodb = &h.stack.clients.dynamodb;
    // GIVEN a catalog as mediaflow 0.1 wrote it: no layout, one trigger copy per bucket
    let old = Workflow::create(spec("bucket-a"), Utc::now())?.enable(Utc::now());
    let mut copy = serde_dynamo::aws_sdk_dynamodb_1::to_item(&old)?;
    for (name, value) in [("pk", "bucket#bucket-a"), ("sk", "workflow#w")] {
        copy.insert(name.into(), AttributeValue::S(value.into()));
    }
    let mut record = copy.clone();
    record.insert("pk".into(), AttributeValue::S("workflow#w".into()));
    record.insert("sk".into(), AttributeValue::S("workflow".into()));
    let catalog = [("pk", "catalog"), ("sk", "catalog")].map(|(k, v)| (k.to_owned(), AttributeValue::S(v.into())));
    let mut catalog: std::collections::HashMap<_, _> = catalog.into_iter().collect();
    catalog.insert("version".into(), AttributeValue::N("1".into()));
    for item in [copy, record, catalog] {
        dynamodb.put_item().table_name(WORKFLOWS_TABLE).set_item(Some(item)).send().await?;
    }
    // THEN the dispatcher's read still finds it, under its dir only
    let dispatcher = DynamoWorkflowStore::new(dynamodb.clone(), WORKFLOWS_TABLE);
    assert_eq!(dispatcher.for_key("bucket-a", "in/x/a.mp4").await?, vec![old.clone()]);
    assert!(dispatcher.for_key("bucket-a", "other/a.mp4").await?.is_empty());
    // WHEN the next change to the catalog is made
    let cli = DynamoWorkflowStore::new(dynamodb.clone(), WORKFLOWS_TABLE);
    let mut other = spec("bucket-a");
    other.name = "v".into();
    other.trigger.dir = "in/x/".into();
    let other = Workflow::create(other, Utc::now())?;
    cli.save(&other, None, 1).await?;
    // THEN both are read per dir, by a dispatcher that was reading the old copies too
    let fresh = DynamoWorkflowStore::new(dynamodb.clone(), WORKFLOWS_TABLE);
    for store in [&fresh, &dispatcher] {
        let mut found = store.for_key("bucket-a", "in/x/a.mp4").await?;
        found.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(found, vec![other.clone(), old.clone()]);
        assert_eq!(store.for_key("bucket-a", "in/a.mp4").await?, vec![old.clone()]);
    }
    // and a move to another dir of the same bucket leaves nothing behind
    let mut moved = spec("bucket-a");
    moved.trigger.dir = "elsewhere/".into();
    let moved = old.replace(moved, Utc::now())?;
    fresh.save(&moved, Some(&old), 2).await?;
    assert!(fresh.for_key("bucket-a", "in/a.mp4").await?.is_empty());
    assert_eq!(fresh.for_key("bucket-a", "elsewhere/a.mp4").await?, vec![moved]);
    Ok(())
}

/// A job of the test workflow for an upload at `key` of `bucket`, and its tasks.
fn job_for(bucket: &str, key: &str) -> anyhow::Result<(Job, Vec<mediaflow::domain::job::Task>)> {
    let workflow = Workflow::create(spec(bucket), Utc::now())?.enable(Utc::now());
    let event = ObjectCreated {
        object: ObjectRef::new(bucket, key),
        size: Some(1),
        etag: Some("e".into()),
        version_id: None,
        sequencer: Some("01".into()),
        event_time: Utc::now(),
    };
    Ok(Job::start(&workflow, &event, &ObjectHead::default(), Utc::now()))
}

#[test]
fn jobs_are_created_once_claimed_once_and_finished_by_their_last_task() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let jobs = h.stack.jobs();
        let (job, tasks) = job_for(&h.bucket, "in/a.mp4")?;
        assert_eq!(jobs.create(&job, &tasks).await?, Created::New);
        assert_eq!(jobs.create(&job, &tasks).await?, Created::Existing);
        assert_eq!(jobs.tasks(&job.id).await?, tasks);

        let now = Utc::now();
        let lease =
            |holder: &str, now: DateTime<Utc>| Lease { holder: holder.into(), now, until: now + TimeDelta::minutes(5) };
        let Claim::Claimed(first) = jobs.claim(&job.id, 0, &lease("w1", now)).await? else { panic!("first claim") };
        assert_eq!((first.status, first.hold.attempts), (TaskStatus::Processing, 1));
        assert!(matches!(jobs.claim(&job.id, 0, &lease("w2", now)).await?, Claim::Busy { .. }), "held by w1");
        let Claim::Claimed(again) = jobs.claim(&job.id, 0, &lease("w1", now)).await? else {
            panic!("w1's retried claim")
        };
        assert_eq!(again.hold.attempts, 1, "a claim repeated by its holder (a lost answer) is the same attempt");
        assert_eq!(jobs.job(&job.id).await?.map(|j| j.status), Some(JobStatus::Processing));
        // A lease that ran out can be taken over; the old attempt can then no longer finish.
        let later = now + TimeDelta::minutes(6);
        let Claim::Claimed(second) = jobs.claim(&job.id, 0, &lease("w3", later)).await? else { panic!("takeover") };
        assert_eq!(second.hold.attempts, 2);
        let fail = TaskOutcome::Fail(TaskError { code: ErrorCode::SourceCorrupt, message: "x".into() });
        assert!(matches!(jobs.finish(&first, &fail, later).await, Err(StoreError::Conflict(_))));
        let success = TaskOutcome::Success { outputs: vec![], warnings: vec![], timings: Default::default() };
        assert_eq!(jobs.finish(&second, &success, later).await?, Progress::Open);
        assert_eq!(jobs.finish(&second, &success, later).await?, Progress::Open, "repeat: no harm");
        assert!(matches!(jobs.claim(&job.id, 0, &lease("w4", later)).await?, Claim::Done(TaskStatus::Success)));

        let Claim::Claimed(other) = jobs.claim(&job.id, 1, &lease("w5", now)).await? else { panic!("task 1") };
        jobs.record_progress(&other, 40).await?;
        jobs.record_progress(&first, 90).await?;
        assert_eq!(jobs.tasks(&job.id).await?[1].progress, Some(40), "only the current attempt's progress counts");
        assert_eq!(jobs.finish(&other, &fail, now).await?, Progress::JobFinished);
        jobs.record_progress(&other, 50).await?;
        assert_eq!(jobs.tasks(&job.id).await?[1].progress, Some(40), "nor after it ended");
        assert_eq!(jobs.close(&job.id, now).await?, Progress::Open, "finished once");
        let finished = jobs.job(&job.id).await?.expect("job");
        assert_eq!(finished.status, JobStatus::Finish);
        assert!(finished.finished_at.is_some());
        assert_eq!(
            (finished.failed_tasks, finished.error.as_ref().map(|e| e.code)),
            (1, Some(ErrorCode::SourceCorrupt))
        );
        assert_eq!(finished.result(), Some(JobResult::Fail));
        assert!(matches!(jobs.claim(&job.id, 9, &lease("w6", now)).await?, Claim::Missing));
        Ok(())
    })
}

#[test]
fn a_chunked_task_shows_processing_from_its_first_part_and_its_join_still_takes_it() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let jobs = h.stack.jobs();
        let (job, tasks) = job_for(&h.bucket, "in/long.mp4")?;
        jobs.create(&job, &tasks).await?;
        // The title's CRF rides with the plan: every part reads it.
        let tuning = Tuning {
            crf: 26,
            predicted_vmaf: Some(93.4),
            predicted_kbps: Some(2150.5),
            probes: vec![
                Probe { crf: 23, kbps: 3010.25, vmaf: 95.1, height: None },
                Probe { crf: 27, kbps: 1900.0, vmaf: 92.9, height: None },
            ],
            sampled_seconds: 4.0,
            probe_seconds: 7.25,
            note: None,
            ..Tuning::untuned(VideoCodec::H264, Target { vmaf: 93.0, max_kbps: None }, "-")
        };
        let plan = ChunkPlan {
            chunks: vec![Chunk { start: 0.0, length: Some(10.02) }, Chunk { start: 10.02, length: None }],
            audio: true,
            tuning: Some(tuning),
        };
        jobs.split(&tasks[0], &plan).await?;
        assert_eq!(jobs.tasks(&job.id).await?[0].chunks.as_ref(), Some(&plan), "the plan is stored whole");
        let now = Utc::now();
        let lease =
            |holder: &str, now: DateTime<Utc>| Lease { holder: holder.into(), now, until: now + TimeDelta::minutes(5) };
        // GIVEN a part taken
        let PartClaim::Claimed(_) = jobs.claim_part(&job.id, 0, 1, &lease("p1", now)).await? else { panic!("part") };
        // WHEN it starts its task, and another part does too
        assert!(jobs.start_task(&job.id, 0, now).await?, "the first part starts the task");
        assert!(!jobs.start_task(&job.id, 0, now + TimeDelta::seconds(1)).await?, "once");
        // THEN the task shows PROCESSING from then, without a lease
        let task = jobs.tasks(&job.id).await?.remove(0);
        assert_eq!((task.status, task.hold.lease_until, task.hold.attempts), (TaskStatus::Processing, None, 0));
        let started = task.started_at.expect("started");
        assert!((started - now).num_milliseconds().abs() < 1, "{started} against {now}");
        // and the join takes it, keeping that start, and holds it
        let later = now + TimeDelta::minutes(1);
        let Claim::Claimed(joined) = jobs.claim(&job.id, 0, &lease("join", later)).await? else { panic!("join") };
        assert_eq!((joined.hold.attempts, joined.started_at), (1, Some(started)));
        assert!(matches!(jobs.claim(&job.id, 0, &lease("other", later)).await?, Claim::Busy { .. }));
        Ok(())
    })
}

#[test]
fn large_outputs_go_up_in_parts_under_the_same_write_conditions() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let s3 = &h.stack.clients.s3;
        let multipart = Multipart { threshold: 5 * 1024 * 1024, part: 5 * 1024 * 1024, concurrency: 2 };
        let store = S3ObjectStore::new(s3.clone()).with_multipart(multipart);
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("out.mp4");
        let data: Vec<u8> =
            (0..12 * 1024 * 1024 + 333).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        std::fs::write(&file, &data)?;
        let target = ObjectRef::new(&h.output_bucket, "out/big.mp4");
        let marker = OutputMarker::new("job-1", "w", &ObjectRef::new(&h.bucket, "in/big.mp4"), &target);
        // WHEN a file above the threshold is written where nothing is
        let size = store.put(&file, &target, "video/mp4", &marker, &PutCondition::Absent).await?;
        // THEN it is there whole, in three parts, with its type and our marker
        assert_eq!(size, data.len() as u64);
        let got = s3.get_object().bucket(&target.bucket).key(&target.key).send().await?;
        assert_eq!(got.content_type(), Some("video/mp4"));
        assert!(got.e_tag().is_some_and(|etag| etag.ends_with("-3\"")), "{:?}", got.e_tag());
        assert_eq!(got.body.collect().await?.into_bytes().as_ref(), data.as_slice());
        let head = store.head(&target).await?.expect("written");
        assert_eq!(head.marker, Some(marker.clone()));
        // and written again where something now is, it is refused and leaves no parts behind
        let refused = store.put(&file, &target, "video/mp4", &marker, &PutCondition::Absent).await;
        assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
        let open = s3.list_multipart_uploads().bucket(&target.bucket).send().await?;
        assert!(open.uploads().is_empty(), "aborted: {:?}", open.uploads());
        // while over our own output, as it stands, it is written
        store.put(&file, &target, "video/mp4", &marker, &PutCondition::Unchanged(head.etag.expect("etag"))).await?;
        Ok(())
    })
}

#[test]
fn ranged_reads_of_a_large_upload_return_its_bytes_from_anywhere_and_only_while_it_is_unchanged() -> anyhow::Result<()>
{
    Harness::shared(|h| async move {
        // GIVEN an upload above the size the local stack reads from its stored buffer (64 MiB)
        let s3 = &h.stack.clients.s3;
        let store = S3ObjectStore::new(s3.clone());
        let data: Vec<u8> =
            (0..65 * 1024 * 1024 + 777).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let upload = ObjectRef::new(&h.bucket, "in/large.mp4");
        let put = s3.put_object().bucket(&upload.bucket).key(&upload.key).body(data.clone().into()).send().await?;
        let etag = put.e_tag().context("an entity tag")?.to_owned();
        let read = |from: u64, to: Option<u64>, etag: String| {
            let (store, upload) = (&store, &upload);
            async move {
                let mut stream = store.read(upload, Some(&etag), from, to).await?;
                let mut bytes = Vec::new();
                while let Some(chunk) = stream.next().await {
                    bytes.extend_from_slice(&chunk?);
                }
                Ok::<_, anyhow::Error>(bytes)
            }
        };
        // WHEN ranges are read as ffmpeg asks for them: the head, a closed range across the
        // MiB steps the buffer is read in, and an open-ended range to the end
        let size = data.len() as u64;
        let middle = 40 * 1024 * 1024 - 10;
        for (from, to) in [(0, Some(12)), (middle, Some(middle + 2 * 1024 * 1024 + 20)), (size - 100, None)] {
            let end = to.unwrap_or(size) as usize;
            // THEN each holds exactly the bytes of that range
            assert!(read(from, to, etag.clone()).await? == data[from as usize..end], "bytes {from}..{end}");
        }
        // and once the upload is replaced, a read pinned to the old one is refused
        s3.put_object().bucket(&upload.bucket).key(&upload.key).body(b"replaced".to_vec().into()).send().await?;
        let stale = store.read(&upload, Some(&etag), middle, None).await;
        assert!(matches!(stale, Err(StoreError::Conflict(_))), "{:?}", stale.map(|_| ()));
        Ok(())
    })
}

#[test]
fn uploads_in_parts_left_unfinished_are_listed_under_a_dir_with_when_they_began_and_dropped() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let store = S3ObjectStore::new(h.stack.clients.s3.clone());
        let input = ObjectRef::new(&h.bucket, "in/clip.mp4");
        let mut begun = Vec::new();
        for key in ["out/a.mp4", "out/b.mp4", "other/c.mp4"] {
            let target = ObjectRef::new(&h.output_bucket, key);
            let marker = OutputMarker::new("job-1", "w", &input, &target);
            let id = store.begin_parts(&target, "video/mp4", &marker).await?;
            store.put_part(&target, &id, 2, bytes::Bytes::from_static(b"a part")).await?;
            begun.push((target, id));
        }
        let started = chrono::Utc::now() - TimeDelta::minutes(10);
        let listed = store.unfinished_parts(&h.output_bucket, "out/").await?;
        let keys: Vec<&str> = listed.iter().map(|u| u.object.key.as_str()).collect();
        assert_eq!(keys, ["out/a.mp4", "out/b.mp4"], "only under the dir");
        assert!(listed.iter().all(|u| u.begun.is_some_and(|at| at > started)), "{listed:?}");
        assert_eq!(listed[0].id, begun[0].1);
        for (target, id) in &begun {
            store.abort_parts(target, id).await?;
        }
        assert!(store.unfinished_parts(&h.output_bucket, "").await?.is_empty());
        Ok(())
    })
}

#[test]
fn usage_adds_up_on_the_task_and_the_job_once_per_run_even_on_records_older_than_usage() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let jobs = h.stack.jobs();
        let (job, tasks) = job_for(&h.bucket, "in/used.mp4")?;
        jobs.create(&job, &tasks).await?;
        // GIVEN a job whose task was written before records had a usage
        let table =
            h.stack.deployment().get(mediaflow::app::admin::Resource::JobsTable).expect("jobs table").to_owned();
        for sk in ["task#0000"] {
            h.stack
                .clients
                .dynamodb
                .update_item()
                .table_name(&table)
                .key("pk", AttributeValue::S(format!("job#{}", job.id)))
                .key("sk", AttributeValue::S(sk.into()))
                .update_expression("REMOVE #usage")
                .expression_attribute_names("#usage", "usage")
                .send()
                .await?;
        }
        let mut task_run = Usage::invocation(
            Architecture::Arm64,
            3008,
            1500,
            S3Usage { get_requests: 3, put_requests: 2, bytes_read: 1000, bytes_written: 500 },
        );
        task_run.output.add_video(12.5, 1280, 720);
        let prepare_run =
            Usage::invocation(Architecture::Arm64, 3008, 200, S3Usage { get_requests: 4, ..S3Usage::default() });
        // WHEN a task's invocation adds what it used, and its answer is lost and it is added again
        jobs.add_usage(&job.id, Some(0), "req-1@1", &task_run).await?;
        jobs.add_usage(&job.id, Some(0), "req-1@1", &task_run).await?;
        // THEN the task and the job have it once
        assert_eq!(jobs.tasks(&job.id).await?[0].usage, task_run);
        assert_eq!(jobs.usage(&job.id).await?, task_run);
        assert!(jobs.job(&job.id).await?.expect("job").usage.is_empty(), "not on the job's record, which indexes copy");
        // AND the preparation counts on the job alone, another task on itself and the job
        jobs.add_usage(&job.id, None, "req-0@1", &prepare_run).await?;
        jobs.add_usage(&job.id, None, "req-0@1", &prepare_run).await?;
        jobs.add_usage(&job.id, Some(1), "req-2@1", &task_run).await?;
        // (the same request retried by Lambda is another run)
        jobs.add_usage(&job.id, Some(1), "req-2@2", &task_run).await?;
        let stored = jobs.tasks(&job.id).await?;
        assert_eq!(stored[0].usage, task_run);
        assert_eq!(stored[1].usage, task_run + task_run);
        assert_eq!(jobs.usage(&job.id).await?, task_run + task_run + task_run + prepare_run);
        // AND a job that is gone takes nothing and gets no record
        let (gone, _) = job_for(&h.bucket, "in/gone.mp4")?;
        jobs.add_usage(&gone.id, Some(0), "req-3@1", &task_run).await?;
        jobs.add_usage(&gone.id, None, "req-4@1", &prepare_run).await?;
        assert!(jobs.job(&gone.id).await?.is_none());
        assert!(jobs.usage(&gone.id).await?.is_empty(), "no total of a job that is gone");
        Ok(())
    })
}

#[test]
fn a_counted_s3_store_counts_requests_by_s3s_price_class_with_the_bytes_they_moved() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        let multipart = Multipart { threshold: 5 * 1024 * 1024, part: 5 * 1024 * 1024, concurrency: 2 };
        let counter = std::sync::Arc::new(RequestCounter::default());
        let store: std::sync::Arc<dyn ObjectStore> =
            std::sync::Arc::new(S3ObjectStore::new(h.stack.clients.s3.clone()).with_multipart(multipart));
        let store = store.counted(counter.clone());
        let dir = tempfile::tempdir()?;
        let (big, small) = (dir.path().join("big.mp4"), dir.path().join("small.mp4"));
        std::fs::write(&big, vec![7u8; 12 * 1024 * 1024 + 333])?;
        std::fs::write(&small, vec![1u8; 1000])?;
        let target = |key: &str| ObjectRef::new(&h.output_bucket, key);
        let marker = |at: &ObjectRef| OutputMarker::new("job-1", "w", &ObjectRef::new(&h.bucket, "in/c.mp4"), at);
        // WHEN a large file goes up in three parts and a small one in one PUT
        let (big_at, small_at) = (target("counted/big.mp4"), target("counted/small.mp4"));
        store.put(&big, &big_at, "video/mp4", &marker(&big_at), &PutCondition::Absent).await?;
        store.put(&small, &small_at, "video/mp4", &marker(&small_at), &PutCondition::Absent).await?;
        // THEN each is counted at S3's PUT rate: start, three parts and end; one PUT
        let after_writes = counter.usage();
        assert_eq!(after_writes.put_requests, 5 + 1, "{after_writes:?}");
        assert_eq!(after_writes.bytes_written, 12 * 1024 * 1024 + 333 + 1000, "{after_writes:?}");
        assert_eq!((after_writes.get_requests, after_writes.bytes_read), (0, 0));
        // WHEN it is looked at, read in part, listed and removed
        store.head(&small_at).await?.expect("written");
        let read: Vec<_> =
            futures::TryStreamExt::try_collect(store.read(&big_at, None, 100, Some(1100)).await?).await?;
        assert_eq!(read.iter().map(|b| b.len()).sum::<usize>(), 1000);
        store.list(&h.output_bucket, "counted/", None).await?;
        store.delete(&small_at).await?;
        // THEN HEAD and GET count at the GET rate with the bytes sent back, the listing at the
        // PUT rate, the delete not at all
        let after = counter.usage();
        assert_eq!((after.get_requests, after.bytes_read), (2, 1000), "{after:?}");
        assert_eq!(after.put_requests, 7, "{after:?}");
        Ok(())
    })
}
