//! Section 4 of the bench: one 720p transcode done in one piece and in four chunks (plus the
//! audio) through the local stack, with 1, 2 and 4 workers. For each: the wall time from upload
//! to output, the CPU seconds its ffmpeg runs used, the output's size and its SSIM against the
//! source; and the join's time.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use mediaflow::domain::task::{Parallel, TaskSpec, TranscodeSpec, VideoSpec};
use mediaflow_local::{LocalStack, StackOptions, measure};

use super::{BUCKET, start_job_of};

/// What one run came to.
struct Row {
    wall: Duration,
    cpu: f64,
    size: u64,
    ssim: f64,
    join: Option<Duration>,
}

pub async fn figures(input: &Path) -> anyhow::Result<()> {
    // Child processes of earlier sections (their moto) count once reaped: let that happen first.
    tokio::time::sleep(SETTLE).await;
    println!(
        "{:<22} {:>8} {:>8} {:>7} {:>11} {:>8} {:>8} {:>8}",
        "run", "wall", "CPU", "CPU ×", "size", "size ×", "SSIM", "join"
    );
    let single = run(input, Parallel::Off, 1).await?;
    print_row("one piece, 1 worker", &single, &single);
    for workers in [1, 2, 4] {
        let row = run(input, Parallel::Chunks(4), workers).await?;
        print_row(&format!("4 chunks, {workers} worker{}", if workers > 1 { "s" } else { "" }), &row, &single);
        let target = 1.2 * single.wall.as_secs_f64() / workers as f64 + row.join.unwrap_or_default().as_secs_f64();
        println!("{:<22} target ≤ {target:.1} s (1.2 × one piece / workers + join)", "");
    }
    Ok(())
}

fn print_row(name: &str, row: &Row, single: &Row) {
    println!(
        "{name:<22} {:>7.1}s {:>7.1}s {:>7.2} {:>8.1} MB {:>8.3} {:>8.4} {:>8}",
        row.wall.as_secs_f64(),
        row.cpu,
        row.cpu / single.cpu,
        row.size as f64 / 1e6,
        row.size as f64 / single.size as f64,
        row.ssim,
        row.join.map_or("-".to_owned(), |join| format!("{:.1}s", join.as_secs_f64())),
    );
}

async fn run(input: &Path, parallel: Parallel, workers: usize) -> anyhow::Result<Row> {
    let mut options = StackOptions::from_env()?;
    options.concurrency = workers;
    let ffmpeg = options.ffmpeg.clone();
    let stack = LocalStack::start(options).await?;
    stack.create_bucket(BUCKET).await?;
    let task = TaskSpec::Transcode(TranscodeSpec {
        definition: Some("720p".into()),
        video: Some(VideoSpec { height: 720, ..VideoSpec::default() }),
        parallel,
        ..TranscodeSpec::default()
    });
    let before = children_cpu()?;
    let (id, uploaded) = start_job_of(&stack, input, task).await?;
    let (_, tasks) = stack.finished(&id, Duration::from_secs(3600)).await?;
    let wall = uploaded.elapsed();
    let cpu = children_cpu()? - before;
    let task = tasks.first().context("one task")?;
    let Some(output) = task.outputs.first().filter(|_| task.error.is_none()) else {
        bail!("the job {id} failed: {:?}", task.error);
    };
    let local = tempfile::NamedTempFile::new()?;
    let body = stack.clients.s3.get_object().bucket(&output.bucket).key(&output.key).send().await?.body;
    std::fs::write(local.path(), body.collect().await?.into_bytes())?;
    let ssim = measure::ssim(&ffmpeg, local.path(), input, Some((1280, 720)))?;
    let join = task.chunks.as_ref().and(task.timings).map(|t| Duration::from_millis(t.render_ms));
    // This run's moto stops with its stack; its CPU must not count in the next run.
    drop(stack);
    tokio::time::sleep(SETTLE).await;
    Ok(Row { wall, cpu, size: output.size, ssim, join })
}

/// Long enough for a stopped child process to be reaped.
const SETTLE: Duration = Duration::from_secs(2);

/// CPU seconds (user and system) of this process's ended child processes: the ffmpeg and ffprobe
/// runs (moto, the other child, counts only once its stack stops and it is reaped).
fn children_cpu() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which may hold spaces): cutime and cstime are 14 and 15.
    let fields: Vec<&str> =
        stat.rsplit_once(')').context("no command in /proc/self/stat")?.1.split_whitespace().collect();
    let ticks: f64 =
        fields.get(13..15).context("short /proc/self/stat")?.iter().filter_map(|f| f.parse::<f64>().ok()).sum();
    Ok(ticks / 100.0)
}
