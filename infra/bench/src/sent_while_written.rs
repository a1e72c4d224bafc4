//! Section 9 of the bench: a large output sent while it is written. The 1.12 GB input encoded
//! to 1080p H.264 at 60 Mb/s (a few hundred MB of output) through the local stack, its output
//! sent after the encode and while it is written (parts of 16 MiB): upload → last output, the
//! task's render time, and the time from the render's end to the output stored.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use mediaflow::domain::task::{TaskSpec, TranscodeSpec, VideoSpec};
use mediaflow_local::{LocalStack, StackOptions};

use super::{BUCKET, megabytes, start_job_of};

/// Parts of the size deployed workers send.
const PART: u64 = 16 * 1024 * 1024;

pub async fn figures(input: &Path, runs: usize) -> anyhow::Result<()> {
    println!(
        "{:<22} {:>9} {:>16} {:>9} {:>18}",
        "output sent", "output", "upload → output", "render", "render end → stored"
    );
    for run in 0..runs {
        for (mode, part) in [("after the encode", None), ("while written", Some(PART))] {
            let ran = once(input, part).await?;
            println!(
                "{:<22} {:>9} {:>15.2}s {:>8.2}s {:>17.2}s",
                format!("{mode} ({})", run + 1),
                megabytes(ran.size),
                ran.total.as_secs_f64(),
                ran.render.as_secs_f64(),
                ran.stored.as_secs_f64()
            );
        }
    }
    Ok(())
}

/// One job's figures.
struct Ran {
    size: u64,
    total: Duration,
    render: Duration,
    stored: Duration,
}

async fn once(input: &Path, part: Option<u64>) -> anyhow::Result<Ran> {
    let stack = LocalStack::start(StackOptions { send_while_writing: part, ..StackOptions::from_env()? }).await?;
    stack.create_bucket(BUCKET).await?;
    let task = TaskSpec::Transcode(TranscodeSpec {
        definition: Some("1080p".into()),
        video: Some(VideoSpec { height: 1080, bitrate_kbps: Some(60_000), ..VideoSpec::default() }),
        ..TranscodeSpec::default()
    });
    let (id, uploaded) = start_job_of(&stack, input, task).await?;
    let (_, tasks) = stack.finished(&id, Duration::from_secs(3600)).await?;
    let total = uploaded.elapsed();
    let task = tasks.first().context("one task")?;
    let (Some(output), Some(timings)) = (task.outputs.first(), task.timings) else {
        bail!("the job {id} failed: {:?}", task.error);
    };
    Ok(Ran {
        size: output.size,
        total,
        render: Duration::from_millis(timings.render_ms),
        stored: Duration::from_millis(timings.upload_ms),
    })
}
