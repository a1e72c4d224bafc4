//! What processing costs, on the local stack: every job records what its invocations used
//! (memory × time, invocations, S3 requests and bytes, minutes of output by size), its tasks'
//! usage adds up to it, a longer video costs more, a chunked task counts its parts and its join,
//! and `job show` and `mediaflow cost` price it beside MediaConvert and MPS.

use std::time::{Duration, Instant};

use anyhow::ensure;
use mediaflow::domain::cost::Prices;
use mediaflow::domain::job::{Job, Task};
use mediaflow::domain::usage::Architecture;
use serde_json::{Value, json};

use crate::support::{Harness, mediaflow};

/// A `seconds` long 640x360 test pattern with sound.
fn clip(h: &Harness, seconds: u32) -> anyhow::Result<std::path::PathBuf> {
    let video = format!("testsrc2=size=640x360:rate=25:duration={seconds}");
    let audio = format!("sine=duration={seconds}");
    h.lavfi_clip(
        &format!("cost-{seconds}s.mp4"),
        &[&video, &audio],
        &["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"],
    )
}

/// The job and its tasks once every invocation that worked on them added what it used: the
/// preparation and at least one run of each task (a chunked one: each part and the join). The
/// invocation that finishes a job adds its usage as it ends, just after.
async fn settled(h: &Harness, job: &Job) -> anyhow::Result<(Job, Vec<Task>)> {
    let started = Instant::now();
    loop {
        let view = h.stack.admin().job(&job.id).await?;
        let runs = |task: &Task| 1 + task.chunks.as_ref().map_or(0, |plan| u64::from(plan.parts()));
        let counted = view.tasks.iter().all(|task| task.usage.invocations >= runs(task));
        let total: u64 = view.tasks.iter().map(|task| task.usage.invocations).sum();
        if counted && view.job.usage.invocations > total {
            return Ok((view.job, view.tasks));
        }
        ensure!(started.elapsed() < Duration::from_secs(30), "usage never settled: {:?}", view.job.usage);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn gb_seconds(usage: &mediaflow::domain::usage::Usage) -> f64 {
    usage.gb_seconds(Architecture::X86_64) + usage.gb_seconds(Architecture::Arm64)
}

#[test]
fn every_job_records_what_it_used_its_tasks_add_up_and_a_longer_video_costs_more() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        // GIVEN a workflow that transcodes, takes pictures, and transcodes in two chunks
        let flow = h
            .flow("costed")
            .task(json!({"type": "transcode"}))
            .task(json!({"type": "snapshot", "times": [1]}))
            .task(json!({"type": "transcode", "definition": "chunked", "parallel": 2}));
        let workflow = h.workflow(flow).await?;
        // WHEN a 3 s and a 24 s video are uploaded
        let short = h.upload(&clip(&h, 3)?, "in/short.mp4").await?;
        let long = h.upload(&clip(&h, 24)?, "in/long.mp4").await?;
        let (short, _) = h.succeeded(&short).await?;
        let (long, _) = h.succeeded(&long).await?;
        let (short, short_tasks) = settled(&h, &short).await?;
        let (long, long_tasks) = settled(&h, &long).await?;

        for (job, tasks) in [(&short, &short_tasks), (&long, &long_tasks)] {
            // THEN the job's usage is its preparation's and its tasks', all told
            let tasks_total: mediaflow::domain::usage::Usage = tasks.iter().map(|t| t.usage).sum();
            assert!(job.usage.invocations > tasks_total.invocations, "the preparation counts: {:?}", job.usage);
            assert!(gb_seconds(&job.usage) > gb_seconds(&tasks_total), "{:?} / {tasks_total:?}", job.usage);
            assert!(job.usage.s3.get_requests > tasks_total.s3.get_requests, "the preparation read the upload");
            assert_eq!(job.usage.s3.put_requests, tasks_total.s3.put_requests, "only tasks write");
            let minutes = (job.usage.output.video_minutes(), tasks_total.output.video_minutes());
            assert!((minutes.0 - minutes.1).abs() < 1e-9, "{minutes:?}");
            // AND the whole transcode read the upload, wrote its output, and counts its minutes
            // of 360p video (S3's bytes as S3 counted them, the minutes as the output's length)
            let transcode = &tasks[0];
            let output = &transcode.outputs[0];
            assert!(transcode.usage.s3.bytes_read > 0, "{:?}", transcode.usage);
            assert!(transcode.usage.s3.bytes_written >= output.size, "{:?} / {}", transcode.usage, output.size);
            let seconds = output.duration.expect("a video's length");
            assert!((transcode.usage.output.up_to_480 - seconds).abs() < 0.01, "{:?}", transcode.usage.output);
            assert_eq!(transcode.usage.output.video_minutes() * 60.0, transcode.usage.output.up_to_480);
            // AND pictures are not minutes of video
            assert_eq!(tasks[1].usage.output.video_minutes(), 0.0);
            assert!(tasks[1].usage.s3.put_requests >= 1);
        }
        // AND the chunked transcode of the long video counts each part and the join
        let chunked = &long_tasks[2];
        let parts = u64::from(chunked.chunks.as_ref().expect("split in chunks").parts());
        assert!(parts >= 2 && chunked.usage.invocations > parts, "{parts} parts: {:?}", chunked.usage);
        // AND the longer video's transcode used more and costs more
        let prices = Prices::default();
        let (short_cost, long_cost) = (prices.cost(&short_tasks[0].usage), prices.cost(&long_tasks[0].usage));
        assert!(long_cost.compute > short_cost.compute, "{long_cost:?} / {short_cost:?}");
        assert!(prices.cost(&long.usage).total() > prices.cost(&short.usage).total());

        // AND `job show` prices the job beside MediaConvert and MPS
        let shown = mediaflow(&h, &["job", "show", long.id.as_str()]).await?;
        assert!(shown.contains("  used     ") && shown.contains("GB-s"), "{shown}");
        assert!(shown.contains("  cost     $") && shown.contains("MediaConvert $"), "{shown}");
        let json: Value =
            serde_json::from_str(&mediaflow(&h, &["-o", "json", "job", "show", long.id.as_str()]).await?)?;
        assert!(json["cost"]["total"].as_f64().is_some_and(|total| total > 0.0), "{json}");
        assert!(json["elsewhere"]["mediaconvert"].as_f64().is_some_and(|c| c > 0.0), "{json}");
        // AND `mediaflow cost` totals the workflow's two jobs as they are recorded
        let report: Value =
            serde_json::from_str(&mediaflow(&h, &["-o", "json", "cost", "--since", "1h", "--by", "workflow"]).await?)?;
        let rows = report["rows"].as_array().expect("rows");
        let row = rows.iter().find(|row| row["key"] == workflow.name.as_str()).expect("the workflow's row");
        assert_eq!(row["jobs"], 2, "{row}");
        let recorded = prices.cost(&(short.usage + long.usage)).total();
        assert!((row["cost"]["total"].as_f64().expect("total") - recorded).abs() < 1e-9, "{row} / {recorded}");
        let table = mediaflow(&h, &["cost", "--since", "1h", "--by", "day"]).await?;
        assert!(table.contains("less than the same outputs at MediaConvert"), "{table}");
        assert!(table.contains("us-east-1 prices: Lambda and S3 as of 2025-10-01"), "{table}");
        Ok(())
    })
}
