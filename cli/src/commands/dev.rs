//! `mediaflow dev demo` and `mediaflow dev up`: the example workflows on the local stack.

use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Subcommand;
use mediaflow::app::admin::BucketCheck;
use mediaflow::app::admin::jobs::JobView;
use mediaflow::domain::object::ObjectRef;
use mediaflow::domain::workflow::Workflow;
use tracing::info;

use mediaflow_local::{LambdaMode, LocalStack, StackOptions};

use super::job::job_views;
use super::workflow::read_spec;
use crate::output::Format;

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Start the local stack, apply the example workflows, upload a video, print the outputs,
    /// stop.
    Demo {
        /// The video to upload; by default a clip generated with ffmpeg.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Where the example workflows (*.yaml) and their assets/ are.
        #[arg(long, default_value = "infra/examples")]
        examples: PathBuf,
        /// Where the outputs are saved (as BUCKET/KEY below it).
        #[arg(long, default_value = "demo-outputs")]
        outputs: PathBuf,
    },
    /// Start the local stack with the example workflows and keep it running until Ctrl-C.
    Up {
        /// Where the example workflows (*.yaml) and their assets/ are.
        #[arg(long, default_value = "infra/examples")]
        examples: PathBuf,
        /// Invoke the functions at this Lambda endpoint (`cargo lambda watch`, e.g.
        /// http://127.0.0.1:9000) instead of running them in this process.
        #[arg(long)]
        lambda_endpoint: Option<String>,
        /// Also write the stack's environment to this file (for `cargo lambda watch --env-file`).
        #[arg(long)]
        env_file: Option<PathBuf>,
    },
}

pub async fn run(command: DevCommand, format: Format) -> anyhow::Result<()> {
    match command {
        DevCommand::Demo { input, examples, outputs } => demo(input.as_deref(), &examples, &outputs, format).await,
        DevCommand::Up { examples, lambda_endpoint, env_file } => {
            up(&examples, lambda_endpoint, env_file.as_deref()).await
        }
    }
}

/// How long the demo waits for its jobs.
const JOB_TIMEOUT: Duration = Duration::from_secs(600);

/// Applies and enables every `*.yaml` workflow in `examples`, creating the buckets they name
/// and uploading `examples/assets/*` images to `assets/` in each trigger bucket.
async fn apply_examples(stack: &LocalStack, examples: &Path) -> anyhow::Result<Vec<Workflow>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples)
        .with_context(|| format!("cannot read the examples in {}", examples.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml" || ext == "yml"))
        .collect();
    files.sort();
    let admin = stack.admin();
    let mut workflows = Vec::new();
    for file in files {
        let workflow = admin.apply(read_spec(&file)?).await?.workflow;
        for bucket in [&workflow.trigger.bucket, &workflow.output.bucket] {
            if !stack.bucket_exists(bucket).await {
                stack.create_bucket(bucket).await?;
            }
        }
        for asset in assets(&examples.join("assets"))? {
            let name = asset.file_name().and_then(|n| n.to_str()).context("asset name")?.to_owned();
            stack.upload(&asset, &ObjectRef::new(&workflow.trigger.bucket, format!("assets/{name}"))).await?;
        }
        let workflow = admin.enable(&workflow.name, BucketCheck::Required).await?;
        info!(workflow = %workflow.name, trigger = %workflow.trigger, "example workflow enabled");
        workflows.push(workflow);
    }
    if workflows.is_empty() {
        bail!("no workflow files (*.yaml) in {}", examples.display());
    }
    Ok(workflows)
}

fn assets(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut images: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "png"))
        .collect();
    images.sort();
    Ok(images)
}

/// A 5-second 1280x720 H.264/AAC clip from ffmpeg's test sources.
fn generate_clip(ffmpeg: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let clip = dir.join("mediaflow-demo-clip.mp4");
    let status = Command::new(ffmpeg)
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=5"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=5"])
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-movflags", "+faststart"])
        .arg(&clip)
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {}", ffmpeg.display()))?;
    anyhow::ensure!(status.success(), "ffmpeg could not generate the demo clip");
    Ok(clip)
}

async fn demo(input: Option<&Path>, examples: &Path, outputs: &Path, format: Format) -> anyhow::Result<()> {
    let options = StackOptions::from_env()?;
    let scratch = tempfile::tempdir()?;
    let clip = match input {
        Some(path) => path.to_owned(),
        None => generate_clip(&options.ffmpeg, scratch.path())?,
    };
    let stack = LocalStack::start(options).await?;
    eprintln!("local stack up: S3, DynamoDB and SQS at {}", stack.endpoint());
    let workflows = apply_examples(&stack, examples).await?;
    let target = &workflows[0];
    let name = clip.file_name().and_then(|n| n.to_str()).context("the input needs a file name")?;
    let object = ObjectRef::new(&target.trigger.bucket, format!("{}{name}", target.trigger.dir));
    stack.upload(&clip, &object).await?;
    eprintln!("uploaded {} as {object}; waiting for its jobs", clip.display());
    let report = stack.dispatched(&object, Duration::from_secs(60)).await?;
    let ids: Vec<_> = report.jobs().cloned().collect();
    if ids.is_empty() {
        bail!("no workflow started a job for {object}: {:?}", report.outcomes);
    }
    let admin = stack.admin();
    for id in &ids {
        stack.finished(id, JOB_TIMEOUT).await?;
    }
    // The outputs' own notifications reach the dispatcher too; it skips them. The invocation
    // that finished a job adds what it used as it ends.
    stack.idle(Duration::from_secs(60)).await?;
    let mut views = Vec::new();
    for id in &ids {
        views.push(admin.job(id).await?);
    }
    let saved = save_outputs(&stack, &views, outputs).await?;
    job_views(&mut std::io::stdout().lock(), &views, &admin.prices, format)?;
    eprintln!("{saved} outputs saved under {}/; the local stack stops now", outputs.display());
    Ok(())
}

/// Downloads every output of `views` to `dir`, keeping its bucket and key as the path.
async fn save_outputs(stack: &LocalStack, views: &[JobView], dir: &Path) -> anyhow::Result<usize> {
    let mut saved = 0;
    for output in views.iter().flat_map(|view| view.tasks.iter().flat_map(|task| &task.outputs)) {
        let relative = Path::new(&output.bucket).join(&output.key);
        anyhow::ensure!(
            relative.components().all(|c| matches!(c, Component::Normal(_))),
            "output key {} is not a plain path",
            output.key
        );
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let object = stack.clients.s3.get_object().bucket(&output.bucket).key(&output.key).send().await?;
        let mut body = object.body.into_async_read();
        let mut file =
            tokio::fs::File::create(&path).await.with_context(|| format!("cannot write {}", path.display()))?;
        tokio::io::copy(&mut body, &mut file).await?;
        saved += 1;
    }
    Ok(saved)
}

async fn up(examples: &Path, lambda_endpoint: Option<String>, env_file: Option<&Path>) -> anyhow::Result<()> {
    let lambda = lambda_endpoint.map_or(LambdaMode::InProcess, LambdaMode::Remote);
    let stack = LocalStack::start(StackOptions { lambda: lambda.clone(), ..StackOptions::from_env()? }).await?;
    let workflows = apply_examples(&stack, examples).await?;
    let console = mediaflow_console::Local::bind(0).await?;
    let link = console.link();
    let mut environment: String = stack.environment().iter().map(|(name, value)| format!("{name}={value}\n")).collect();
    environment.push_str(&format!("MEDIAFLOW_CONSOLE_URL={link}\n"));
    if let Some(file) = env_file {
        std::fs::write(file, &environment).with_context(|| format!("cannot write {}", file.display()))?;
    }
    println!("# mediaflow local stack; Ctrl-C stops it. Its environment, for aws and mediaflow:");
    for line in environment.lines() {
        println!("export {line}");
    }
    for workflow in &workflows {
        println!("# workflow {} (enabled): upload under {}", workflow.name, workflow.trigger);
    }
    if let LambdaMode::Remote(endpoint) = &lambda {
        println!("# uploads are dispatched through the Lambda API at {endpoint} (cargo lambda watch)");
    }
    println!("console: {link}");
    let serving = mediaflow_console::serve(console, std::sync::Arc::new(stack.admin()), std::future::pending());
    tokio::select! {
        result = shutdown_signal() => result,
        error = stack.moto().exited() => Err(error),
        result = serving => Err(anyhow::anyhow!("the console stopped: {result:?}")),
    }
}

/// Ctrl-C or SIGTERM: either way the stack is dropped and stops what it started.
pub(super) async fn shutdown_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
