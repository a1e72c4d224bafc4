//! Workers killed for real: the worker runs as its own function_binaries, one process per invocation
//! (Lambda's runtime API on loopback), and its process group — the worker and its ffmpeg — is
//! sent SIGKILL while ffmpeg encodes a whole task or one part of a chunked one, as Lambda ends a
//! sandbox that ran out of memory. Lambda's retry takes the task over once its hold runs out;
//! the output is written once; nothing of the killed run keeps running. The dispatcher, killed
//! between recording a job and handing it to a worker, leaves one job that finishes. The storage
//! server, restarted while encodes and uploads are under way, comes back with what it held, and
//! every job finishes once.

use std::time::{Duration, Instant};

use anyhow::Context;
use mediaflow::app::admin::audit::AuditOptions;
use mediaflow::domain::job::{JobResult, TaskStatus};
use mediaflow::ports::{JobFilter, JobStore};
use mediaflow_local::{DISPATCHER, WORKER};
use serde_json::{Value, json};

use crate::support::{Harness, duration, fixture, function_binaries, probe};

/// A process of this machine, as /proc tells it.
struct Running {
    group: u32,
    command: String,
}

fn processes() -> Vec<Running> {
    let entries = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // pid (comm) state ppid pgrp …: the name may hold spaces and parentheses.
            let group = stat.rsplit_once(')')?.1.split_whitespace().nth(2)?.parse().ok()?;
            let command = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let command = String::from_utf8_lossy(&command).replace('\0', " ");
            Some(Running { group, command })
        })
        .collect()
}

/// Waits for a worker invocation whose ffmpeg runs with arguments that `wanted` accepts, and
/// kills its whole process group with SIGKILL; the group's id.
async fn kill_worker_during(h: &Harness, wanted: impl Fn(&str) -> bool) -> anyhow::Result<u32> {
    let begun = Instant::now();
    while begun.elapsed() < Duration::from_secs(120) {
        let groups = h.stack.process(WORKER).context("the worker runs as processes")?.running();
        let found = processes().into_iter().find(|p| {
            groups.contains(&p.group)
                && p.command.split(' ').next().is_some_and(|exe| exe.ends_with("ffmpeg"))
                && wanted(&p.command)
        });
        if let Some(running) = found {
            let killed =
                std::process::Command::new("kill").args(["-KILL", "--", &format!("-{}", running.group)]).status()?;
            anyhow::ensure!(killed.success(), "kill -KILL -{}", running.group);
            return Ok(running.group);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::bail!("no worker ran such an ffmpeg within 120 s")
}

/// Kills every running process group of function `name`; how many there were.
fn kill_all(h: &Harness, name: &str) -> anyhow::Result<usize> {
    let groups = h.stack.process(name).context("the functions run as processes")?.running();
    for group in &groups {
        std::process::Command::new("kill").args(["-KILL", "--", &format!("-{group}")]).status()?;
    }
    Ok(groups.len())
}

/// A stack whose functions run as their own processes, holds lasting 4 s.
async fn stack_of_processes() -> anyhow::Result<Harness> {
    let binaries = function_binaries()?;
    Harness::start_with(|options| {
        options.binaries = Some(binaries);
        options.lease = chrono::TimeDelta::seconds(4);
    })
    .await
}

/// Runs `task` on a 20 s 720p upload, kills the worker while an ffmpeg `wanted` accepts runs,
/// and checks the task was taken over and its one output is whole.
async fn killed_and_taken_over(name: &str, task: Value, wanted: impl Fn(&str) -> bool) -> anyhow::Result<()> {
    let h = stack_of_processes().await?;
    h.workflow(h.flow(name).task(task)).await?;
    let clip = h.lavfi_clip(
        "long.mp4",
        &["testsrc2=size=1280x720:rate=30:duration=20", "sine=duration=20"],
        &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"],
    )?;
    let object = h.upload(&clip, "in/long.mp4").await?;

    // WHEN the worker's process group is killed while such an ffmpeg runs
    let group = kill_worker_during(&h, wanted).await?;

    // THEN the task is taken over and finishes, its output written once and whole
    let (job, tasks) = h.job_of(&object).await?;
    assert_eq!(h.stack.process(WORKER).map(|p| p.killed()), Some(1), "one run was killed");
    assert_eq!(job.result(), Some(JobResult::Success), "{:?}", job.error);
    assert_eq!(tasks[0].status, TaskStatus::Success);
    let outputs = h.keys(&h.bucket, "out/").await?;
    assert_eq!(outputs.len(), 1, "one output: {outputs:?}");
    let local = h.dir.path().join("output.mp4");
    let body = h.stack.clients.s3.get_object().bucket(&h.bucket).key(&outputs[0]).send().await?.body;
    std::fs::write(&local, body.collect().await?.into_bytes())?;
    let seconds = duration(&probe(&local)?);
    assert!((seconds - 20.0).abs() < 0.5, "the whole clip: {seconds} s");
    // AND the task's usage is what its runs recorded as they ended, each billed at the memory
    // Lambda's runtime gave the function (3008 MB here); the killed run recorded nothing
    let started = Instant::now();
    let usage = loop {
        let usage = h.stack.jobs().tasks(&job.id).await?[0].usage;
        if usage.invocations > 0 || started.elapsed() > Duration::from_secs(30) {
            break usage;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mb_ms = usage.x86_64_mb_ms + usage.arm64_mb_ms;
    assert!(usage.invocations >= 1 && mb_ms > 0, "{usage:?}");
    assert_eq!(mb_ms % 3008, 0, "billed at the function's memory: {usage:?}");
    assert!(usage.s3.bytes_written >= 1, "{usage:?}");
    // AND nothing of the killed run is left running
    assert!(processes().iter().all(|p| p.group != group), "the killed group is gone");
    let scratch = std::fs::read_dir(h.stack.scratch_dir()).map(|dir| dir.count()).unwrap_or(0);
    assert!(scratch <= 1, "at most the killed run's directory is left in scratch ({scratch})");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_while_ffmpeg_encodes_has_its_task_taken_over_and_written_once() -> anyhow::Result<()> {
    let task = json!({"type": "transcode", "container": "mp4", "video": {"codec": "h264", "height": 480}});
    killed_and_taken_over("killed", task, |args| args.contains("libx264")).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_while_ffmpeg_encodes_a_part_has_the_part_taken_over_and_joined_once() -> anyhow::Result<()> {
    let task =
        json!({"type": "transcode", "container": "mp4", "parallel": 3, "video": {"codec": "h264", "height": 480}});
    // A part's encode reads a window of the source (-ss), unlike a whole task's.
    killed_and_taken_over("killed-part", task, |args| args.contains("libx264") && args.contains(" -ss ")).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dispatcher_killed_between_recording_a_job_and_sending_it_leaves_one_job_that_finishes() -> anyhow::Result<()>
{
    let h = stack_of_processes().await?;
    h.workflow(h.flow("handoff").task(json!({"type": "snapshot", "times": [0]}))).await?;
    // The worker's Invoke API fails a few times: the dispatcher is retrying its hand-off meanwhile.
    h.stack.lambda()?.fail_requests(WORKER, 0, 4);
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;

    // WHEN the dispatcher's process is killed once the job is recorded, before it is sent
    let filter = JobFilter { input: Some(object.clone()), limit: 10, ..JobFilter::default() };
    let begun = Instant::now();
    loop {
        anyhow::ensure!(begun.elapsed() < Duration::from_secs(60), "no job recorded within 60 s");
        let jobs = h.stack.admin().list_jobs(&filter).await?.jobs;
        if let Some(job) = jobs.first() {
            anyhow::ensure!(job.prepare_sent_at.is_none(), "the job was sent before the dispatcher could be killed");
            anyhow::ensure!(kill_all(&h, DISPATCHER)? == 1, "one dispatcher was running");
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // THEN the event comes back, the job is found and sent, and finishes: one job, once
    let (job, tasks) = h.job_of(&object).await?;
    assert_eq!(h.stack.process(DISPATCHER).map(|p| p.killed()), Some(1), "the dispatcher was killed");
    assert_eq!(job.result(), Some(JobResult::Success), "{:?}", job.error);
    assert_eq!(tasks[0].status, TaskStatus::Success);
    assert_eq!(h.stack.admin().list_jobs(&filter).await?.jobs.len(), 1, "one job for the upload");
    assert_eq!(h.keys(&h.bucket, "out/").await?.len(), 1, "one still");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_storage_server_restarted_under_load_loses_nothing_and_every_job_finishes_once() -> anyhow::Result<()> {
    let h = stack_of_processes().await?;
    h.workflow(
        h.flow("restarted")
            .task(json!({"type": "snapshot", "times": [0]}))
            .task(json!({"type": "transcode", "container": "mp4", "video": {"codec": "h264", "height": 360}})),
    )
    .await?;
    let clip = h.lavfi_clip(
        "clip.mp4",
        &["testsrc2=size=1280x720:rate=30:duration=8", "sine=duration=8"],
        &["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"],
    )?;
    let mut objects = Vec::new();
    for i in 0..3 {
        objects.push(h.upload(&clip, &format!("in/before-{i}.mp4")).await?);
    }

    // WHEN the storage server restarts (3 s down) while the workers encode
    let encoding = Instant::now();
    while h.stack.process(WORKER).context("the worker runs as processes")?.running().is_empty() {
        anyhow::ensure!(encoding.elapsed() < Duration::from_secs(60), "no worker ran within 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    h.stack.moto().restart(Duration::from_secs(3)).await?;
    objects.push(h.upload(&clip, "in/after.mp4").await?);

    // THEN every upload has one job, finished with both outputs, and the stack kept its records
    for object in &objects {
        let (job, tasks) = h.succeeded(object).await?;
        assert_eq!(tasks.len(), 2, "{object}: {job:?}");
    }
    assert_eq!(h.keys(&h.bucket, "out/").await?.len(), 2 * objects.len(), "two outputs per upload, once each");
    assert_eq!(h.keys(&h.bucket, "in/").await?.len(), objects.len(), "the uploads are all there");
    let options = AuditOptions {
        buckets: vec![h.bucket.clone()],
        grace: chrono::TimeDelta::zero(),
        ..AuditOptions::since(chrono::Utc::now() - chrono::TimeDelta::hours(1))
    };
    let audit = h.stack.admin().audit(&options).await?;
    assert!(audit.is_clean(), "the audit finds nothing: {audit:?}");
    Ok(())
}
