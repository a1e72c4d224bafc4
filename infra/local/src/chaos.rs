//! Chaos runs: many uploads of real small media across several workflows while the functions'
//! calls to S3, DynamoDB and SQS fail at a stated rate (the [`FaultProxy`]), their runs are cut
//! off part-way (the local Lambda), and the storage server is unreachable, stopped and
//! restarted for a while; then,
//! after the stack settles, the audit — every upload has exactly one job per workflow, every job
//! finished, every output stored as recorded, no upload overwritten, no part left behind. `make
//! chaos` prints the run at scale; a short one is in the tests.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use mediaflow::app::admin::BucketCheck;
use mediaflow::app::admin::audit::AuditOptions;
use mediaflow::domain::audit::AuditReport;
use mediaflow::domain::job::{Job, JobStatus};
use mediaflow::domain::object::ObjectRef;
use mediaflow::domain::workflow::WorkflowSpec;
use mediaflow::ports::JobFilter;
use serde_json::json;

use crate::faults::{Fault, FaultPlan};
use crate::{DISPATCHER, LocalStack, WORKER};

const BUCKET: &str = "mediaflow-chaos";

/// How hard a run is.
#[derive(Clone, Debug)]
pub struct ChaosPlan {
    /// Uploads made with faults injected.
    pub uploads: usize,
    /// Uploads made first on a healthy stack, for comparison.
    pub calm_uploads: usize,
    /// The share of the functions' S3, DynamoDB and SQS calls that fail.
    pub fault_rate: f64,
    /// The share of worker runs cut off, each within `cut_within` of its start.
    pub worker_cuts: f64,
    /// The share of dispatcher runs cut off (between recording a job and sending it, or
    /// anywhere else).
    pub dispatcher_cuts: f64,
    pub cut_within: Duration,
    /// The storage server is unreachable this long, halfway through the uploads.
    pub outage: Duration,
    /// The storage server's process is stopped (SIGSTOP) this long, three quarters of the way
    /// through the uploads, then continued (SIGCONT): every call in flight hangs meanwhile.
    pub freeze: Duration,
    /// The storage server is restarted (it stops taking calls, finishes those in flight, saves
    /// what it holds and exits) a quarter of the way through the uploads, and nothing listens
    /// for this long before it is back.
    pub restart: Duration,
    /// How late a slow answer comes (past the functions' attempt timeout).
    pub slow: Duration,
    /// Uploads made at once.
    pub concurrency: usize,
    /// Given up waiting when no job finished for this long.
    pub settle: Duration,
    pub seed: u64,
    /// Where every workflow of the run sends its job events (a workflow's `notification`).
    pub notification: Option<serde_json::Value>,
}

impl ChaosPlan {
    /// 5 % of storage calls failing, 3 % of worker runs and 5 % of dispatcher runs cut off, a
    /// 5 s outage, a 5 s freeze, a restart with 3 s down.
    pub fn standard(uploads: usize, calm_uploads: usize) -> Self {
        Self {
            uploads,
            calm_uploads,
            fault_rate: 0.05,
            worker_cuts: 0.03,
            dispatcher_cuts: 0.05,
            cut_within: Duration::from_secs(2),
            outage: Duration::from_secs(5),
            freeze: Duration::from_secs(5),
            restart: Duration::from_secs(3),
            slow: Duration::from_secs(5),
            concurrency: 8,
            settle: Duration::from_secs(120),
            seed: 7,
            notification: None,
        }
    }
}

/// What one phase of a run came to.
#[derive(Clone, Debug, Default)]
pub struct Phase {
    pub name: String,
    pub uploads: usize,
    /// Jobs the workflows owe the uploads (one per upload and workflow that wants it).
    pub expected_jobs: usize,
    pub jobs: usize,
    /// Jobs owed and never recorded.
    pub lost: usize,
    /// Jobs recorded beyond one per upload and workflow.
    pub duplicated: usize,
    /// Jobs not finished after the settle time.
    pub stuck: usize,
    pub succeeded: usize,
    /// Failed jobs by error code.
    pub failed: BTreeMap<String, usize>,
    /// Uploads whose stored object changed (written over by mediaflow).
    pub overwritten: usize,
    /// Task attempts beyond the first, and preparations beyond the first.
    pub retries: u64,
    /// Faults the proxy injected, by kind.
    pub faults: BTreeMap<Fault, u64>,
    /// Worker and dispatcher runs cut off.
    pub cuts: usize,
    pub throughput: f64,
    /// Upload to job finished, seconds.
    pub latency: Latency,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
}

impl Latency {
    fn of(mut seconds: Vec<f64>) -> Self {
        if seconds.is_empty() {
            return Self::default();
        }
        seconds.sort_by(f64::total_cmp);
        let at = |share: f64| seconds[((seconds.len() as f64 * share).ceil() as usize).clamp(1, seconds.len()) - 1];
        Self { p50: at(0.5), p95: at(0.95), max: at(1.0) }
    }
}

/// A whole run: its phases and the audit after them.
#[derive(Debug)]
pub struct ChaosReport {
    pub plan: ChaosPlan,
    /// Whether the functions ran as their own processes, so that a cut run was a SIGKILL.
    pub processes: bool,
    pub phases: Vec<Phase>,
    pub audit: AuditReport,
}

impl ChaosReport {
    /// Whether the promise held: nothing lost, duplicated, stuck or overwritten, and the audit
    /// found nothing.
    pub fn held(&self) -> bool {
        self.audit.is_clean()
            && self.phases.iter().all(|p| p.lost == 0 && p.duplicated == 0 && p.stuck == 0 && p.overwritten == 0)
    }
}

/// One upload made by the run.
struct Upload {
    object: ObjectRef,
    etag: Option<String>,
    at: DateTime<Utc>,
    /// Jobs owed: one per workflow of its directory.
    owed: usize,
}

/// The run's workflows: two on `chaos/in/` (a still and a small transcode), one on
/// `chaos/loops/` (an animated GIF); each with `notification`, if any.
fn workflows(notification: Option<&serde_json::Value>) -> Vec<serde_json::Value> {
    let mut workflows = vec![
        json!({"name": "chaos-stills", "trigger": {"bucket": BUCKET, "dir": "chaos/in/"}, "output": {"dir": "chaos/stills/"},
               "tasks": [{"type": "snapshot", "times": [0], "format": "jpg", "width": 160}]}),
        json!({"name": "chaos-small", "trigger": {"bucket": BUCKET, "dir": "chaos/in/"}, "output": {"dir": "chaos/small/"},
               "tasks": [{"type": "transcode", "container": "mp4", "video": {"codec": "h264", "height": 144, "crf": 32},
                          "audio": {"codec": "aac", "bitrate_kbps": 48}}]}),
        json!({"name": "chaos-loops", "trigger": {"bucket": BUCKET, "dir": "chaos/loops/"}, "output": {"dir": "chaos/gifs/"},
               "tasks": [{"type": "animated", "format": "gif", "start": 0, "end": 1, "fps": 5, "width": 120}]}),
    ];
    if let Some(notification) = notification {
        workflows.iter_mut().for_each(|workflow| workflow["notification"] = notification.clone());
    }
    workflows
}

/// Small media of many kinds: real clips (a phone camera's H.264/AAC, an MP3), clips made with
/// `ffmpeg` (fragmented MP4, MPEG-TS with a timestamp offset, an odd size), and a truncated one.
pub fn media(ffmpeg: &Path, fixtures: &Path, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let make = |name: &str, args: &[&str]| -> anyhow::Result<PathBuf> {
        let path = dir.join(name);
        let status = std::process::Command::new(ffmpeg)
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(args)
            .arg(&path)
            .status()
            .with_context(|| format!("run {}", ffmpeg.display()))?;
        anyhow::ensure!(status.success(), "ffmpeg could not make {name}");
        Ok(path)
    };
    let clip = |name: &str, extra: &[&str]| -> anyhow::Result<PathBuf> {
        let mut args = vec!["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=15:duration=1", "-f", "lavfi", "-i"];
        args.extend(["sine=duration=1", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"]);
        args.extend(extra);
        make(name, &args)
    };
    let plain = clip("plain.mp4", &[])?;
    let fragmented = clip("fragmented.mp4", &["-movflags", "frag_keyframe+empty_moov"])?;
    let offset = clip("offset.ts", &["-output_ts_offset", "30", "-f", "mpegts"])?;
    let odd = make(
        "odd.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=97x55:rate=10:duration=1",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv444p",
        ],
    )?;
    let bytes = std::fs::read(&plain)?;
    let truncated = dir.join("truncated.mp4");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 5])?;
    Ok(vec![
        fixtures.join("camera_1080p_h264_aac.mp4"),
        plain,
        fragmented,
        offset,
        odd,
        fixtures.join("song_12s_mono.mp3"),
        truncated,
    ])
}

/// Runs `plan` on `stack` (which must have a fault proxy and run its functions in-process) with
/// uploads taken round-robin from `media`.
pub async fn run(stack: &LocalStack, media: &[PathBuf], plan: ChaosPlan) -> anyhow::Result<ChaosReport> {
    let proxy = stack.fault_proxy().context("the stack has no fault proxy (StackOptions::fault_proxy)")?;
    let lambda = stack.lambda()?;
    anyhow::ensure!(!media.is_empty(), "no media to upload");
    let admin = stack.admin();
    let started = Utc::now();
    stack.create_bucket(BUCKET).await?;
    for workflow in workflows(plan.notification.as_ref()) {
        let spec = WorkflowSpec::from_value(workflow).map_err(|e| anyhow::anyhow!("{e}"))?;
        let applied = admin.apply(spec).await?;
        admin.enable(&applied.workflow.name, BucketCheck::Required).await?;
    }
    let mut phases = Vec::new();
    if plan.calm_uploads > 0 {
        proxy.set_plan(None);
        lambda.cut_runs(WORKER, 0.0, plan.cut_within, plan.seed);
        lambda.cut_runs(DISPATCHER, 0.0, plan.cut_within, plan.seed);
        phases.push(phase(stack, media, "calm", plan.calm_uploads, false, &plan).await?);
    }
    if plan.uploads > 0 {
        proxy.set_plan(Some(FaultPlan::everywhere(plan.fault_rate, plan.slow, plan.seed)));
        lambda.cut_runs(WORKER, plan.worker_cuts, plan.cut_within, plan.seed);
        lambda.cut_runs(DISPATCHER, plan.dispatcher_cuts, Duration::from_millis(300), plan.seed + 1);
        let faults_before = proxy.injected();
        let mut faulty = phase(stack, media, "faults", plan.uploads, true, &plan).await?;
        for ((service, fault), count) in proxy.injected() {
            let before = faults_before.get(&(service, fault)).copied().unwrap_or(0);
            *faulty.faults.entry(fault).or_default() += count - before;
        }
        faulty.cuts = lambda.runs_cut(WORKER) + lambda.runs_cut(DISPATCHER);
        proxy.set_plan(None);
        lambda.cut_runs(WORKER, 0.0, plan.cut_within, plan.seed);
        lambda.cut_runs(DISPATCHER, 0.0, plan.cut_within, plan.seed);
        phases.push(faulty);
    }
    let options = AuditOptions {
        since: started - TimeDelta::minutes(1),
        buckets: vec![BUCKET.to_owned()],
        grace: TimeDelta::zero(),
        // After the settle time every job must have finished.
        deadline: TimeDelta::seconds(1),
    };
    let audit = admin.audit(&options).await?;
    let processes = stack.process(WORKER).is_some() && stack.process(DISPATCHER).is_some();
    Ok(ChaosReport { plan, processes, phases, audit })
}

/// Uploads `count` files under `chaos/*/{name}/` (`faulty`: with the plan's outage, freeze and
/// restart of the storage server on the way), waits until their jobs finish (or nothing moves for the
/// settle time), and counts what came of them.
async fn phase(
    stack: &LocalStack,
    media: &[PathBuf],
    name: &str,
    count: usize,
    faulty: bool,
    plan: &ChaosPlan,
) -> anyhow::Result<Phase> {
    let begun = Instant::now();
    let since = Utc::now() - TimeDelta::seconds(1);
    let uploads: Vec<Upload> = futures::stream::iter(0..count)
        .map(|i| async move {
            if faulty
                && i == count / 2
                && let Some(proxy) = stack.fault_proxy()
            {
                proxy.outage(plan.outage);
            }
            if faulty && i == count * 3 / 4 && !plan.freeze.is_zero() {
                stack.moto().freeze(plan.freeze)?;
            }
            if faulty && i == count / 4 && !plan.restart.is_zero() {
                stack.moto().restart(plan.restart).await?;
            }
            let file = &media[i % media.len()];
            let extension = file.extension().and_then(|e| e.to_str()).unwrap_or("bin");
            let (dir, owed) = if i % 3 == 2 { ("loops", 1) } else { ("in", 2) };
            let object = ObjectRef::new(BUCKET, format!("chaos/{dir}/{name}/{i:05}.{extension}"));
            let at = Utc::now();
            let etag = upload(stack, file, &object).await?;
            Ok::<_, anyhow::Error>(Upload { object, etag, at, owed })
        })
        .buffer_unordered(plan.concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let expected_jobs: usize = uploads.iter().map(|u| u.owed).sum();
    let jobs = settle(stack, name, since, expected_jobs, plan.settle).await?;
    let elapsed = begun.elapsed().as_secs_f64();
    count_phase(stack, name, &uploads, jobs, expected_jobs, elapsed).await
}

/// Puts `file` at `object`, trying again (as an upload tool does) while the storage server is
/// down: a put it refused or never answered was not stored.
async fn upload(stack: &LocalStack, file: &Path, object: &ObjectRef) -> anyhow::Result<Option<String>> {
    let mut attempt = 1;
    loop {
        let body = aws_sdk_s3::primitives::ByteStream::from_path(file).await?;
        match stack.clients.s3.put_object().bucket(&object.bucket).key(&object.key).body(body).send().await {
            Ok(put) => return Ok(put.e_tag().map(str::to_owned)),
            Err(error) if attempt < 30 => {
                tracing::warn!(key = %object.key, attempt, error = %aws_sdk_s3::error::DisplayErrorContext(&error), "upload refused; trying again");
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => return Err(error).with_context(|| format!("upload {object}")),
        }
    }
}

/// The jobs of the phase's uploads, once all are finished or none finished for `settle`.
async fn settle(
    stack: &LocalStack,
    name: &str,
    since: DateTime<Utc>,
    expected: usize,
    settle: Duration,
) -> anyhow::Result<Vec<Job>> {
    let admin = stack.admin();
    let mut last_change = Instant::now();
    let mut finished_before = 0;
    loop {
        let mut jobs = Vec::new();
        let mut filter = JobFilter { since: Some(since), limit: 1000, ..JobFilter::default() };
        loop {
            let page = admin.list_jobs(&filter).await?;
            jobs.extend(page.jobs.into_iter().filter(|job| job.input.key.contains(&format!("/{name}/"))));
            match page.next_page {
                Some(next) => filter.page = Some(next),
                None => break,
            }
        }
        let finished = jobs.iter().filter(|job| job.status == JobStatus::Finish).count();
        let idle = stack.lambda().is_ok_and(|lambda| lambda.is_idle());
        if finished >= expected && idle && stack.queue_depth(&stack.events_queue).await? == 0 {
            return Ok(jobs);
        }
        if finished != finished_before {
            (finished_before, last_change) = (finished, Instant::now());
        } else if last_change.elapsed() > settle {
            return Ok(jobs);
        }
        // Each look reads the jobs index, which the local server answers by reading its whole
        // table while every other DynamoDB call waits: not too often.
        tokio::time::sleep(Duration::from_secs(if expected > 200 { 5 } else { 1 })).await;
    }
}

async fn count_phase(
    stack: &LocalStack,
    name: &str,
    uploads: &[Upload],
    jobs: Vec<Job>,
    expected_jobs: usize,
    elapsed: f64,
) -> anyhow::Result<Phase> {
    let admin = stack.admin();
    let mut phase =
        Phase { name: name.to_owned(), uploads: uploads.len(), expected_jobs, jobs: jobs.len(), ..Phase::default() };
    let mut per_upload: HashMap<(&str, &ObjectRef), usize> = HashMap::new();
    for job in &jobs {
        *per_upload.entry((job.workflow.as_str(), &job.input)).or_default() += 1;
    }
    phase.duplicated = per_upload.values().map(|n| n - 1).sum();
    phase.lost = expected_jobs.saturating_sub(per_upload.len());
    let uploaded_at: HashMap<&ObjectRef, DateTime<Utc>> = uploads.iter().map(|u| (&u.object, u.at)).collect();
    let mut latencies = Vec::new();
    let mut last_finish = None;
    for job in &jobs {
        if job.status != JobStatus::Finish {
            phase.stuck += 1;
            continue;
        }
        match &job.error {
            Some(error) => *phase.failed.entry(error.code.as_str().to_owned()).or_default() += 1,
            None => phase.succeeded += 1,
        }
        if let (Some(finished), Some(at)) = (job.finished_at, uploaded_at.get(&job.input)) {
            latencies.push((finished - *at).num_milliseconds() as f64 / 1000.0);
            last_finish = last_finish.max(Some(finished));
        }
        phase.retries += u64::from(job.prepare_attempts.saturating_sub(1));
        let view = admin.job(&job.id).await?;
        phase.retries += view.tasks.iter().map(|task| u64::from(task.hold.attempts.saturating_sub(1))).sum::<u64>();
    }
    for upload in uploads {
        let head = stack.clients.s3.head_object().bucket(BUCKET).key(&upload.object.key).send().await?;
        if head.e_tag() != upload.etag.as_deref() {
            phase.overwritten += 1;
        }
    }
    phase.latency = Latency::of(latencies);
    let first = uploads.iter().map(|u| u.at).min();
    phase.throughput = match (first, last_finish) {
        (Some(first), Some(last)) if last > first => {
            phase.jobs as f64 / ((last - first).num_milliseconds() as f64 / 1000.0)
        }
        _ => phase.jobs as f64 / elapsed.max(0.001),
    };
    Ok(phase)
}

impl fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = &self.plan;
        writeln!(
            f,
            "faults: {:.0} % of the functions' S3/DynamoDB/SQS calls fail; {:.0} % of worker runs and {:.0} % of dispatcher runs {}; storage restarted ({} s down) at a quarter, unreachable for {} s halfway, its process stopped for {} s at three quarters",
            plan.fault_rate * 100.0,
            plan.worker_cuts * 100.0,
            plan.dispatcher_cuts * 100.0,
            if self.processes { "killed (SIGKILL of their processes)" } else { "cut off in process" },
            plan.restart.as_secs(),
            plan.outage.as_secs(),
            plan.freeze.as_secs()
        )?;
        writeln!(
            f,
            "{:<7} {:>7} {:>6} {:>5} {:>5} {:>5} {:>6} {:>11} {:>7} {:>7} {:>6} {:>6} {:>7} {:>7} {:>7}",
            "phase",
            "uploads",
            "jobs",
            "lost",
            "dup",
            "stuck",
            "ok",
            "failed",
            "overwr",
            "retries",
            "faults",
            "cuts",
            "jobs/s",
            "p50 s",
            "p95 s"
        )?;
        for p in &self.phases {
            let failed: usize = p.failed.values().sum();
            writeln!(
                f,
                "{:<7} {:>7} {:>6} {:>5} {:>5} {:>5} {:>6} {:>11} {:>7} {:>7} {:>6} {:>6} {:>7.1} {:>7.1} {:>7.1}  (max {:.1} s)",
                p.name,
                p.uploads,
                p.jobs,
                p.lost,
                p.duplicated,
                p.stuck,
                p.succeeded,
                failed,
                p.overwritten,
                p.retries,
                p.faults.values().sum::<u64>(),
                p.cuts,
                p.throughput,
                p.latency.p50,
                p.latency.p95,
                p.latency.max
            )?;
        }
        for p in &self.phases {
            for (code, count) in &p.failed {
                writeln!(f, "  {} failed: {count} × {code}", p.name)?;
            }
            for (fault, count) in &p.faults {
                writeln!(f, "  {} injected: {count} × {}", p.name, fault.describe())?;
            }
        }
        let checked = &self.audit.checked;
        writeln!(
            f,
            "audit: {} findings ({} uploads, {} jobs, {} outputs, {} parts checked)",
            self.audit.findings.len(),
            checked.uploads,
            checked.jobs,
            checked.outputs,
            checked.parts
        )?;
        for finding in &self.audit.findings {
            writeln!(f, "  {}: {} {}", finding.kind.describe(), finding.object, finding.detail)?;
        }
        Ok(())
    }
}
