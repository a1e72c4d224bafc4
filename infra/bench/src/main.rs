//! `make bench`: what mediaflow costs on this machine, against the local stack, with the same
//! ffmpeg on every side. Prints its figures; asserts nothing.
//!
//! 1. Upload → last output of one 720p H.264 transcode (one PutObject per upload), against the
//!    same ffmpeg arguments run bare on a local file and the usual Lambda way (download the
//!    object to scratch, run ffmpeg, upload the output), for a 60 s 1080p input and (unless
//!    `--skip-large`) a high-bitrate input of more than 1 GB.
//! 2. The dispatcher's cost per event with 1, 100 and 10,000 workflows on the bucket, and the
//!    time from a cold start (configuration, clients) to the first event handled.
//! 3. The worker's peak memory (this process without ffmpeg: it hosts the functions) and peak
//!    scratch-disk use, for a 10 MB and the large input, each measured in a fresh process.
//! 4. Chunked encoding ([`chunked`]): CPU seconds, output size and SSIM against one encode, and
//!    the wall time with 1, 2 and 4 workers.
//! 5. The console ([`console`]): the Jobs page over 10,000 jobs, the console function's size and
//!    cold start.

mod chunked;
mod console;
mod ladders;
mod per_title;
mod quality;
mod sent_while_written;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use async_trait::async_trait;
use chrono::Utc;
use clap::Parser;
use mediaflow::adapters::aws::dynamodb::{DynamoJobStore, DynamoWorkflowStore};
use mediaflow::adapters::aws::s3::S3ObjectStore;
use mediaflow::adapters::ffmpeg::args;
use mediaflow::app::admin::BucketCheck;
use mediaflow::app::pipeline::dispatch::Dispatcher;
use mediaflow::domain::job::JobId;
use mediaflow::domain::limits::Limits;
use mediaflow::domain::media::MediaInfo;
use mediaflow::domain::message::WorkerMessage;
use mediaflow::domain::object::{ObjectCreated, ObjectRef};
use mediaflow::domain::task::{OutputNames, TaskSpec, TranscodeSpec, VideoSpec};
use mediaflow::domain::workflow::{Workflow, WorkflowSpec};
use mediaflow::ports::{CatalogSnapshot, RenderRequest, StoreError, StoredObject, TaskQueue, WorkflowStore};
use mediaflow::wiring;
use mediaflow::wiring::Clients;
use mediaflow_local::{JOBS_TABLE, LocalStack, StackOptions, WORKFLOWS_TABLE};
use serde_json::json;

const BUCKET: &str = "bench";

#[derive(Debug, Parser)]
#[command(name = "mediaflow-bench", about = "Measures mediaflow on the local stack and prints the figures")]
struct Args {
    /// Where inputs are generated (kept between runs) and outputs written.
    #[arg(long, default_value = "target/bench")]
    dir: PathBuf,
    /// Leave out the input of more than 1 GB (it takes minutes to make and move).
    #[arg(long)]
    skip_large: bool,
    /// Workflows on the bucket for the dispatcher's figures.
    #[arg(long, value_delimiter = ',', default_value = "1,100,10000")]
    workflows: Vec<usize>,
    /// Jobs on the stack for the console's figures.
    #[arg(long, default_value_t = 10_000)]
    console_jobs: usize,
    /// Which sections to run (1 pipeline, 2 dispatcher, 3 footprint, 4 chunked, 5 console,
    /// 6 quality scores, 7 encodes tuned per title, 8 ladders chosen per title, 9 a large
    /// output sent while it is written).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,4,5,6,7,8,9")]
    sections: Vec<u8>,
    /// Sections 7 and 8: only the sources whose name holds one of these (e.g. `sports,grain`).
    #[arg(long, value_delimiter = ',')]
    titles: Vec<String>,
    /// Internal: run one job of this input in this process and print its peak memory and
    /// scratch use.
    #[arg(long, hide = true)]
    footprint_of: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Off unless asked for: what the functions log, to see where a figure's time went.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("MEDIAFLOW_LOG") {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
    std::fs::create_dir_all(&args.dir)?;
    let dir = args.dir.canonicalize()?;
    if let Some(input) = &args.footprint_of {
        return footprint(input).await;
    }
    let ffmpeg = StackOptions::from_env()?.ffmpeg;
    println!("# mediaflow bench on {} ({} cores)", host(), std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!("# ffmpeg: {}", first_line(Command::new(&ffmpeg).arg("-version"))?);

    let mut inputs = Vec::new();
    if args.sections.iter().any(|section| [1, 4, 6].contains(section)) {
        inputs.push(("60 s 1080p", make_input(&ffmpeg, &dir, Input::Regular)?));
        if !args.skip_large && args.sections.contains(&1) {
            inputs.push(("60 s 1080p high bitrate", make_input(&ffmpeg, &dir, Input::Large)?));
        }
    }
    let large = match args.sections.contains(&9) && !args.skip_large {
        true => Some(make_input(&ffmpeg, &dir, Input::Large)?),
        false => None,
    };
    if args.sections.contains(&1) {
        pipeline_figures(&ffmpeg, &dir, &inputs).await?;
    }
    if args.sections.contains(&2) {
        println!("\n## 2. Dispatcher: cost per event by workflows on the bucket");
        dispatcher_costs(&args.workflows).await?;
    }
    if args.sections.contains(&3) {
        footprints(&ffmpeg, &dir, args.skip_large)?;
    }
    if args.sections.contains(&4) {
        println!("\n## 4. Chunked encoding of the 60 s 1080p input (720p H.264, 4 chunks and the audio)");
        chunked::figures(&inputs[0].1).await?;
    }
    if args.sections.contains(&5) {
        println!("\n## 5. Console");
        console::figures(&dir, args.console_jobs).await?;
    }
    if args.sections.contains(&6) {
        println!("\n## 6. Quality scores of the 60 s 1080p input's 720p transcode");
        quality::figures(&inputs[0].1, 1.0).await?;
    }
    if args.sections.contains(&7) {
        println!("\n## 7. Encodes tuned per title: fixed CRF against crf: auto");
        per_title::figures(&ffmpeg, &dir, &args.titles).await?;
    }
    if args.sections.contains(&8) {
        println!("\n## 8. Ladders chosen per title: a fixed ladder against renditions: auto");
        ladders::figures(&ffmpeg, &dir, &args.titles).await?;
    }
    if let Some(large) = &large {
        println!("\n## 9. A large output sent while it is written: the 1.12 GB input to 1080p at 60 Mb/s");
        sent_while_written::figures(large, 2).await?;
    }
    Ok(())
}

/// Section 3: the worker's peak memory and scratch use, each input in a fresh process.
fn footprints(ffmpeg: &Path, dir: &Path, skip_large: bool) -> anyhow::Result<()> {
    println!("\n## 3. Worker footprint (fresh process each; ffmpeg not counted)");
    println!("# RSS: the process (local stack, uploader, worker) before the task and at its peak");
    println!("{:<26} {:>9} {:>14} {:>14} {:>14}", "input", "size", "RSS before", "peak RSS", "peak scratch");
    let mut footprints = vec![("10 MB", make_input(ffmpeg, dir, Input::Small)?)];
    if !skip_large {
        footprints.push(("high bitrate", make_input(ffmpeg, dir, Input::Large)?));
    }
    for (name, input) in footprints {
        let output = Command::new(std::env::current_exe()?)
            .arg("--dir")
            .arg(dir)
            .arg("--footprint-of")
            .arg(&input)
            .output()
            .context("run the footprint probe")?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let reason = stderr.lines().find(|line| line.starts_with("Error")).unwrap_or("see its output");
            println!("{name:<26} {:>9}  failed: {reason}", megabytes(std::fs::metadata(&input)?.len()));
            continue;
        }
        let text = String::from_utf8(output.stdout)?;
        let figures: Vec<u64> = text.split_whitespace().map(|n| n.parse::<u64>().unwrap_or(0)).collect();
        let &[before_kib, peak_kib, scratch] = figures.as_slice() else { bail!("footprint probe printed {text:?}") };
        println!(
            "{name:<26} {:>9} {:>10.1} MiB {:>10.1} MiB {:>14}",
            megabytes(std::fs::metadata(&input)?.len()),
            before_kib as f64 / 1024.0,
            peak_kib as f64 / 1024.0,
            megabytes(scratch)
        );
    }
    Ok(())
}

/// Section 1: upload → last output against bare ffmpeg and the usual way.
async fn pipeline_figures(ffmpeg: &Path, dir: &Path, inputs: &[(&str, PathBuf)]) -> anyhow::Result<()> {
    println!("\n## 1. One 720p H.264 transcode: upload → last output");
    println!("# event: the upload's event reaching the dispatcher, a wait the usual way has too; the");
    println!("# ratios leave it out of the pipeline (with it: the last column)");
    println!(
        "{:<26} {:>9} {:>8} {:>8} {:>9} {:>7} {:>14} {:>15} {:>10}",
        "input", "size", "bare", "usual", "pipeline", "event", "pipeline/bare", "pipeline/usual", "with event"
    );
    for (name, input) in inputs {
        let size = std::fs::metadata(input)?.len();
        let bare = bare_ffmpeg(ffmpeg, input, dir)?;
        let sides = match through_the_stack(input).await {
            Ok(sides) => sides,
            Err(error) => {
                println!("{name:<26} {:>9} {:>7.2}s  failed: {error:#}", megabytes(size), bare.as_secs_f64());
                continue;
            }
        };
        let (usual, pipeline, event) =
            (sides.usual.as_secs_f64(), sides.pipeline.as_secs_f64(), sides.delivery.as_secs_f64());
        println!(
            "{name:<26} {:>9} {:>7.2}s {:>7.2}s {:>8.2}s {:>6.2}s {:>14.3} {:>15.3} {:>10.3}",
            megabytes(size),
            bare.as_secs_f64(),
            usual,
            pipeline,
            event,
            (pipeline - event) / bare.as_secs_f64(),
            (pipeline - event) / usual,
            pipeline / usual
        );
        println!("{:<26} {}", "", sides.detail);
    }

    Ok(())
}

fn host() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned())
}

fn first_line(command: &mut Command) -> anyhow::Result<String> {
    let output = command.output()?;
    Ok(String::from_utf8_lossy(&output.stdout).lines().next().unwrap_or_default().to_owned())
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

#[derive(Clone, Copy)]
enum Input {
    /// 10 MB: a few seconds of 1080p.
    Small,
    /// 60 s of 1080p at a camera's usual quality.
    Regular,
    /// 60 s of 1080p at 150 Mb/s (constant bitrate): more than 1 GB.
    Large,
}

/// Makes (once) an input in `dir`.
fn make_input(ffmpeg: &Path, dir: &Path, input: Input) -> anyhow::Result<PathBuf> {
    let (name, seconds, video): (&str, u32, &[&str]) = match input {
        Input::Small => {
            ("small-1080p.mp4", 6, &["-preset", "veryfast", "-b:v", "12M", "-maxrate", "12M", "-bufsize", "24M"])
        }
        Input::Regular => ("regular-1080p-60s.mp4", 60, &["-preset", "veryfast", "-crf", "20"]),
        Input::Large => (
            "large-1080p-60s.mp4",
            60,
            &[
                "-preset",
                "ultrafast",
                "-b:v",
                "150M",
                "-minrate",
                "150M",
                "-maxrate",
                "150M",
                "-bufsize",
                "150M",
                "-x264-params",
                "nal-hrd=cbr",
            ],
        ),
    };
    let path = dir.join(name);
    if path.is_file() {
        return Ok(path);
    }
    eprintln!("making {} …", path.display());
    let source = format!("testsrc2=size=1920x1080:rate=30:duration={seconds}");
    let status = Command::new(ffmpeg)
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", &source])
        .args(["-f", "lavfi", "-i", &format!("sine=frequency=440:duration={seconds}")])
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .args(video)
        .args(["-c:a", "aac", "-shortest", "-movflags", "+faststart"])
        .arg(&path)
        .status()?;
    ensure!(status.success(), "ffmpeg could not make {name}");
    Ok(path)
}

/// The transcode every side runs.
fn transcode() -> TaskSpec {
    TaskSpec::Transcode(TranscodeSpec {
        definition: Some("720p".into()),
        video: Some(VideoSpec { height: 720, ..VideoSpec::default() }),
        ..TranscodeSpec::default()
    })
}

/// The worker's own ffmpeg arguments for `input`, writing into `workdir`; the worker reads the
/// upload from its loopback server, here it is the local file.
fn worker_args(input: &Path, workdir: &Path) -> anyhow::Result<Vec<String>> {
    const SERVED: &str = "http://127.0.0.1:1/upload";
    let source = mediaflow_source(input)?;
    let limits = Limits::default();
    let spec = transcode();
    let store = S3ObjectStore::new(aws_sdk_s3::Client::from_conf(aws_sdk_s3::Config::builder().build()));
    let upload = StoredObject { store: Arc::new(store), object: ObjectRef::new(BUCKET, "in"), etag: None, size: 0 };
    let request = RenderRequest {
        spec: &spec,
        names: OutputNames { spec: &spec, position: 0, input_name: "in", input_format: "mp4" },
        part: None,
        upload: Arc::new(upload),
        source: &source,
        limits: &limits,
        watermark_images: &[],
        workdir,
        stop_by: None,
        progress: None,
        tuning: None,
        feed: None,
    };
    let plan = args::plan(&request, SERVED)?;
    let mut args = plan.runs.first().and_then(|run| run.attempts.first().cloned()).context("no ffmpeg run planned")?;
    let at = args.iter().position(|arg| arg == SERVED).context("the upload is not an input")?;
    args[at] = format!("file:{}", input.display());
    let whitelist = args.iter().position(|arg| arg == "http,tcp").context("no protocol whitelist")?;
    args[whitelist] = "file".into();
    Ok(args)
}

/// What the worker's probe would record, read with ffprobe.
fn mediaflow_source(input: &Path) -> anyhow::Result<MediaInfo> {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-show_format", "-show_streams", "-of", "json"])
        .arg(input)
        .output()?;
    ensure!(output.status.success(), "ffprobe failed on {}", input.display());
    Ok(mediaflow::adapters::ffmpeg::probe::parse(&output.stdout)?)
}

/// The worker's arguments, run bare on the local file.
fn bare_ffmpeg(ffmpeg: &Path, input: &Path, dir: &Path) -> anyhow::Result<Duration> {
    let workdir = tempfile::tempdir_in(dir)?;
    let args = worker_args(input, workdir.path())?;
    let started = Instant::now();
    let status = Command::new(ffmpeg).args(&args).stdin(std::process::Stdio::null()).output()?;
    ensure!(status.status.success(), "bare ffmpeg failed: {}", String::from_utf8_lossy(&status.stderr));
    Ok(started.elapsed())
}

/// The usual way and the pipeline, on one local stack: (usual, pipeline).
async fn through_the_stack(input: &Path) -> anyhow::Result<Sides> {
    let options = StackOptions::from_env()?;
    let ffmpeg = options.ffmpeg.clone();
    let stack = LocalStack::start(options).await?;
    stack.create_bucket(BUCKET).await?;
    let s3 = &stack.clients.s3;

    // The usual way: the object is there; download it, run ffmpeg, upload the output.
    let object = ObjectRef::new(BUCKET, "usual/input.mp4");
    stack.upload(input, &object).await?;
    let scratch = tempfile::tempdir()?;
    let started = Instant::now();
    let local = scratch.path().join("input.mp4");
    let mut body = s3.get_object().bucket(BUCKET).key(&object.key).send().await?.body.into_async_read();
    let mut file = tokio::fs::File::create(&local).await?;
    tokio::io::copy(&mut body, &mut file).await?;
    let download = started.elapsed();
    let args = worker_args(&local, scratch.path())?;
    let status = tokio::process::Command::new(&ffmpeg).args(&args).stdin(std::process::Stdio::null()).output().await?;
    ensure!(status.status.success(), "ffmpeg failed: {}", String::from_utf8_lossy(&status.stderr));
    let output = std::fs::read_dir(scratch.path())?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| path != &local)
        .context("ffmpeg wrote no output")?;
    let body = aws_sdk_s3::primitives::ByteStream::from_path(&output).await?;
    s3.put_object().bucket(BUCKET).key("usual/output.mp4").body(body).send().await?;
    let usual = started.elapsed();

    // The pipeline: a workflow, one upload, until the job is finished.
    let (id, uploaded) = start_job(&stack, input).await?;
    let delivery = uploaded.elapsed();
    let (job, tasks) = stack.finished(&id, Duration::from_secs(3600)).await?;
    let pipeline = uploaded.elapsed();
    if tasks.iter().any(|t| t.error.is_some()) {
        bail!("the pipeline's job {} failed: {:?}", job.id, tasks.iter().map(|t| &t.error).collect::<Vec<_>>());
    }
    // Where the pipeline's time went: to the task's start (dispatch, job records, the probe),
    // then the task's own phases.
    let task = tasks.first().context("one task")?;
    let to_start = task.started_at.map_or(f64::NAN, |at| (at - job.created_at).as_seconds_f64());
    let phases = task.timings.unwrap_or_default();
    let detail = format!(
        "usual: download {:.2}s. pipeline: job created → task started (probe) {to_start:.2}s; \
         task: open {:.2}s, render {:.2}s, upload {:.2}s",
        download.as_secs_f64(),
        phases.download_ms as f64 / 1e3,
        phases.render_ms as f64 / 1e3,
        phases.upload_ms as f64 / 1e3
    );
    Ok(Sides { usual, pipeline, delivery, detail })
}

/// Upload → output the usual way (from the object being there) and through the pipeline, and
/// how much of the pipeline's time the upload's event took to reach the dispatcher: a function
/// triggered by the same event waits as long.
struct Sides {
    usual: Duration,
    pipeline: Duration,
    delivery: Duration,
    /// The pipeline's phases, in words.
    detail: String,
}

/// The transcode workflow on the stack's bucket and one upload of `input`: its job, and when
/// the upload ended.
async fn start_job(stack: &LocalStack, input: &Path) -> anyhow::Result<(JobId, Instant)> {
    start_job_of(stack, input, transcode()).await
}

/// A workflow of `task` on the stack's bucket and one upload of `input`: its job, and when the
/// upload ended.
async fn start_job_of(stack: &LocalStack, input: &Path, task: TaskSpec) -> anyhow::Result<(JobId, Instant)> {
    let spec: WorkflowSpec = serde_json::from_value(json!({
        "name": "bench", "trigger": {"bucket": BUCKET, "dir": "in/"}, "output": {"dir": "out/"},
        "tasks": [serde_json::to_value(task)?]
    }))?;
    let admin = stack.admin();
    let workflow = admin.apply(spec).await?.workflow;
    admin.enable(&workflow.name, BucketCheck::Required).await?;
    let object = ObjectRef::new(BUCKET, "in/input.mp4");
    stack.upload(input, &object).await?;
    let uploaded = Instant::now();
    let report = stack.dispatched(&object, Duration::from_secs(120)).await?;
    Ok((report.jobs().next().cloned().context("no job started")?, uploaded))
}

/// A task queue that starts nothing: the dispatcher's own cost only.
struct Discard;

#[async_trait]
impl TaskQueue for Discard {
    async fn enqueue(&self, _message: &WorkerMessage) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Events dispatched per workflow count.
const EVENTS: usize = 20;

async fn dispatcher_costs(counts: &[usize]) -> anyhow::Result<()> {
    let stack = LocalStack::start(StackOptions::from_env()?).await?;
    let small = tempfile::NamedTempFile::new()?;
    std::fs::write(small.path(), b"not probed: the dispatcher only HEADs it")?;
    // As a fresh process: clients made from the configuration, no connection open yet; one
    // workflow on the bucket, one new upload.
    let cold = ObjectRef::new("cold", "in/first.mp4");
    stack.clients.s3.create_bucket().bucket(&cold.bucket).send().await?;
    stack.upload(small.path(), &cold).await?;
    let admin = stack.admin();
    let spec: WorkflowSpec =
        serde_json::from_value(json!({"name": "cold", "trigger": {"bucket": "cold", "dir": "in/"},
        "output": {"dir": "out/"}, "tasks": [{"type": "snapshot", "times": [0]}]}))?;
    admin.apply(spec).await?;
    admin.enable("cold", BucketCheck::Skip).await?;
    let started = Instant::now();
    let dispatcher = dispatcher(&fresh_clients(&stack).await);
    let first = dispatcher.dispatch(&event(&cold.bucket, &cold.key)).await?;
    ensure!(first.jobs().count() == 1, "expected one job: {:?}", first.outcomes);
    println!(
        "cold start: clients made and the first event handled (one job) in {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    println!("{:>10} {:>16} {:>10} {:>24}", "workflows", "per event", "ratio", "workflow items read/event");
    let store = DynamoWorkflowStore::new(stack.clients.dynamodb.clone(), WORKFLOWS_TABLE);
    let counted = Arc::new(Counting { inner: store.clone(), read: AtomicUsize::new(0) });
    let clients = fresh_clients(&stack).await;
    let dispatcher = Dispatcher::new(
        counted.clone(),
        Arc::new(DynamoJobStore::new(clients.dynamodb.clone(), JOBS_TABLE)),
        Arc::new(S3ObjectStore::new(clients.s3.clone())),
        Arc::new(Discard),
    );
    let mut base = None;
    for &count in counts {
        let bucket = format!("dispatch-{count}");
        stack.clients.s3.create_bucket().bucket(&bucket).send().await?;
        // Loaded in bulk, not through the catalog, whose conflict check over the whole catalog
        // is not what is measured here.
        let workflows = (0..count)
            .map(|i| {
                let spec: WorkflowSpec = serde_json::from_value(json!({
                    "name": format!("w{count}-{i}"), "trigger": {"bucket": bucket, "dir": format!("d{i}/")},
                    "output": {"dir": format!("out{i}/")}, "tasks": [{"type": "snapshot", "times": [0]}]
                }))?;
                Ok(Workflow::create(spec, Utc::now())?.enable(Utc::now()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        store.import(&workflows).await?;
        // Each event is a new upload under the first workflow's trigger.
        let mut total = Duration::ZERO;
        counted.read.store(0, Ordering::Relaxed);
        for n in 0..EVENTS {
            let key = format!("d0/clip-{n}.mp4");
            stack.upload(small.path(), &ObjectRef::new(&bucket, &key)).await?;
            let started = Instant::now();
            let report = dispatcher.dispatch(&event(&bucket, &key)).await?;
            total += started.elapsed();
            ensure!(report.jobs().count() == 1, "expected one job: {:?}", report.outcomes);
        }
        let per_event = total / EVENTS as u32;
        let ratio = per_event.as_secs_f64() / *base.get_or_insert(per_event.as_secs_f64());
        let read = counted.read.load(Ordering::Relaxed) as f64 / EVENTS as f64;
        println!("{count:>10} {:>13.1} ms {ratio:>10.2} {read:>24.1}", per_event.as_secs_f64() * 1e3);
    }
    Ok(())
}

/// The dispatcher's workflow reads, counted: what a Query reads is what DynamoDB bills and
/// takes time over (moto, which walks the whole table for every Query, does not show it).
struct Counting {
    inner: DynamoWorkflowStore,
    read: AtomicUsize,
}

#[async_trait]
impl WorkflowStore for Counting {
    async fn for_key(&self, bucket: &str, key: &str) -> Result<Vec<Workflow>, StoreError> {
        let found = self.inner.for_key(bucket, key).await?;
        self.read.fetch_add(found.len(), Ordering::Relaxed);
        Ok(found)
    }

    async fn get(&self, name: &str) -> Result<Option<Workflow>, StoreError> {
        self.inner.get(name).await
    }

    async fn snapshot(&self) -> Result<CatalogSnapshot, StoreError> {
        self.inner.snapshot().await
    }

    async fn save(&self, workflow: &Workflow, previous: Option<&Workflow>, version: u64) -> Result<(), StoreError> {
        self.inner.save(workflow, previous, version).await
    }

    async fn delete(&self, workflow: &Workflow, version: u64) -> Result<(), StoreError> {
        self.inner.delete(workflow, version).await
    }
}

/// Clients made as a new process makes them, for the stack's endpoints.
async fn fresh_clients(stack: &LocalStack) -> Clients {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(stack.endpoint())
        .credentials_provider(aws_credential_types::Credentials::new("test", "test", None, None, "bench"))
        .load()
        .await;
    wiring::Clients::from_sdk(&sdk)
}

fn dispatcher(clients: &Clients) -> Dispatcher {
    Dispatcher::new(
        Arc::new(DynamoWorkflowStore::new(clients.dynamodb.clone(), WORKFLOWS_TABLE)),
        Arc::new(DynamoJobStore::new(clients.dynamodb.clone(), JOBS_TABLE)),
        Arc::new(S3ObjectStore::new(clients.s3.clone())),
        Arc::new(Discard),
    )
}

fn event(bucket: &str, key: &str) -> ObjectCreated {
    ObjectCreated {
        object: ObjectRef::new(bucket, key),
        size: None,
        etag: None,
        version_id: None,
        sequencer: None,
        event_time: Utc::now(),
    }
}

/// One pipeline job of `input` in this process: prints its peak RSS (KiB) and the peak bytes
/// in the worker's scratch directory.
async fn footprint(input: &Path) -> anyhow::Result<()> {
    let stack = LocalStack::start(StackOptions::from_env()?).await?;
    stack.create_bucket(BUCKET).await?;
    let scratch = stack.scratch_dir();
    let (id, _) = start_job(&stack, input).await?;
    // What the stack and the upload left behind, before the worker's task grows it.
    let before = status_kib("VmHWM:")?;
    let mut peak = 0;
    let finished = stack.finished(&id, Duration::from_secs(3600));
    tokio::pin!(finished);
    loop {
        tokio::select! {
            done = &mut finished => { done?; break; }
            _ = tokio::time::sleep(Duration::from_millis(50)) => peak = peak.max(dir_size(&scratch)),
        }
    }
    println!("{before} {} {peak}", status_kib("VmHWM:")?);
    Ok(())
}

fn dir_size(dir: &Path) -> u64 {
    walk(dir).iter().filter_map(|path| std::fs::metadata(path).ok()).map(|m| m.len()).sum()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .flat_map(|path| if path.is_dir() { walk(&path) } else { vec![path] })
        .collect()
}

/// A figure of this process's `/proc/self/status` in KiB: `VmHWM:` is its peak resident memory.
fn status_kib(field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no {field} in /proc/self/status"))
}
