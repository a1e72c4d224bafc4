//! Section 6 of the bench: what scoring costs. The 60 s 1080p input's 720p transcode through the
//! local stack, unscored and scored by each metric: the task's render time (encode and score),
//! the score's share of it, its time per minute of source, and the scores.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use mediaflow::domain::task::{QualityMetric, SCORED_EVERY, TaskSpec, TranscodeSpec, VideoSpec};
use mediaflow_local::{LocalStack, StackOptions};

use super::{BUCKET, start_job_of};

pub async fn figures(input: &Path, minutes: f64) -> anyhow::Result<()> {
    println!("(one frame in {SCORED_EVERY} scored, at the source's size)");
    println!("{:<8} {:>9} {:>9} {:>14}  score", "quality", "render", "scoring", "per source min");
    let (unscored, _) = run(input, None).await?;
    println!("{:<8} {:>8.1}s {:>9} {:>14}", "off", unscored.as_secs_f64(), "-", "-");
    for metric in [QualityMetric::Psnr, QualityMetric::Ssim, QualityMetric::Vmaf] {
        let (render, said) = run(input, Some(metric)).await?;
        let scoring = render.saturating_sub(unscored).as_secs_f64();
        println!(
            "{:<8} {:>8.1}s {:>8.1}s {:>13.1}s  {said}",
            metric.as_str(),
            render.as_secs_f64(),
            scoring,
            scoring / minutes
        );
    }
    Ok(())
}

/// The task's render time, and its score (or why there is none).
async fn run(input: &Path, quality: Option<QualityMetric>) -> anyhow::Result<(Duration, String)> {
    let stack = LocalStack::start(StackOptions::from_env()?).await?;
    stack.create_bucket(BUCKET).await?;
    let task = TaskSpec::Transcode(TranscodeSpec {
        definition: Some("720p".into()),
        video: Some(VideoSpec { height: 720, ..VideoSpec::default() }),
        quality,
        ..TranscodeSpec::default()
    });
    let (id, _) = start_job_of(&stack, input, task).await?;
    let (_, tasks) = stack.finished(&id, Duration::from_secs(3600)).await?;
    let task = tasks.first().context("one task")?;
    let (Some(output), Some(timings)) = (task.outputs.first(), task.timings) else {
        bail!("the job {id} failed: {:?}", task.error);
    };
    let said = match (output.quality.first(), task.warnings.first()) {
        (Some(score), _) => score.to_string(),
        (None, Some(warning)) => warning.clone(),
        (None, None) => String::new(),
    };
    Ok((Duration::from_millis(timings.render_ms), said))
}
