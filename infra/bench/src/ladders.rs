//! Section 8 of the bench: ladders chosen per title. The six sources of section 7, each streamed
//! through the local stack as HLS twice in one job: Apple's H.264 ladder up to 720p (fixed sizes
//! and bitrates, the way a fixed ladder is written) and `renditions: auto` (the default bounds:
//! at most 5 renditions, 240p to the source's 720p, the top at VMAF 95 under the default cap),
//! every rendition scored by VMAF against the source. Prints, per source: each ladder's
//! renditions (size, bitrate, VMAF), the probing and encoding time, and the BD-rate of the
//! automatic ladder against the fixed one: the average difference in bitrate at equal VMAF over
//! the VMAF both ladders cover (log bitrate read piecewise-linearly against VMAF).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use mediaflow::domain::job::{OutputFile, Task};
use mediaflow::domain::task::{AdaptiveSpec, QualityMetric, Rendition, Renditions, TaskSpec};
use mediaflow_local::{LocalStack, StackOptions};

use super::per_title::{SOURCES, make_source};
use super::start_job_of_tasks;

/// Apple's HLS authoring ladder for H.264 at 30 fps, up to 1280x720: (width, height, kbps).
const FIXED: &[(u32, u32, u32)] = &[
    (1280, 720, 4500),
    (1280, 720, 3000),
    (960, 540, 2000),
    (768, 432, 1100),
    (768, 432, 730),
    (640, 360, 365),
    (416, 234, 145),
];

/// One rendition as measured: its size, its bitrate over the output and its VMAF.
#[derive(Clone, Debug)]
struct Point {
    height: u32,
    kbps: f64,
    vmaf: f64,
}

pub async fn figures(ffmpeg: &Path, dir: &Path) -> anyhow::Result<()> {
    println!("(the sources of section 7; HLS, 6 s segments, H.264 veryfast, no sound; VMAF over one frame in five)");
    println!("fixed: {}", FIXED.iter().map(|(_, h, k)| format!("{h}p@{k}")).collect::<Vec<_>>().join(" "));
    let mut rates = Vec::new();
    for (name, graph) in SOURCES {
        let source = make_source(ffmpeg, dir, name, graph)?;
        let (fixed, auto, probe_s, encode_s) = ladders(&source).await?;
        let bd = bd_rate(&fixed, &auto);
        println!("\n{name}: BD-rate of auto against fixed {}", bd.map_or("- (no VMAF in common)".into(), percent));
        println!("  fixed {}", describe(&fixed));
        println!("  auto  {}", describe(&auto));
        println!("  auto: probing {probe_s:.1} s, encoding and scoring {encode_s:.1} s");
        rates.extend(bd);
    }
    let mean = rates.iter().sum::<f64>() / rates.len().max(1) as f64;
    println!("# renditions: auto against the fixed ladder: {} BD-rate on average over {} titles", percent(mean), rates.len());
    Ok(())
}

fn percent(ratio: f64) -> String {
    format!("{:+.0}%", ratio * 100.0)
}

fn describe(points: &[Point]) -> String {
    points.iter().map(|p| format!("{}p {:.0} kbps {:.1}", p.height, p.kbps, p.vmaf)).collect::<Vec<_>>().join(" | ")
}

/// Both ladders of `source` in one job: their renditions as measured, the automatic ladder's
/// probing time and its task's render time.
async fn ladders(source: &Path) -> anyhow::Result<(Vec<Point>, Vec<Point>, f64, f64)> {
    let fixed = FIXED
        .iter()
        .map(|&(width, height, kbps)| Rendition { width, height, bitrate_kbps: Some(kbps), ..Rendition::default() })
        .collect::<Vec<_>>();
    let ladder = |definition: &str, renditions: Renditions| {
        TaskSpec::Adaptive(AdaptiveSpec {
            definition: Some(definition.into()),
            renditions,
            remove_audio: true,
            quality: Some(QualityMetric::Vmaf),
            ..AdaptiveSpec::default()
        })
    };
    let stack = LocalStack::start(StackOptions::from_env()?).await?;
    stack.create_bucket(super::BUCKET).await?;
    let tasks = vec![ladder("fixed", fixed.into()), ladder("auto", Renditions::Auto)];
    let (id, _) = start_job_of_tasks(&stack, source, tasks).await?;
    let (_, tasks) = stack.finished(&id, Duration::from_secs(3600)).await?;
    let [fixed, auto] = tasks.as_slice() else { bail!("the job {id} has {} tasks", tasks.len()) };
    let probe_s = master(auto)?.tuning.as_ref().context("not tuned")?.probe_seconds;
    let encode_s = auto.timings.context("no timings")?.render_ms as f64 / 1000.0;
    Ok((points(fixed)?, points(auto)?, probe_s, encode_s))
}

fn master(task: &Task) -> anyhow::Result<&OutputFile> {
    match (task.outputs.last(), &task.error) {
        (Some(master), None) => Ok(master),
        (_, error) => bail!("task {} failed: {error:?}", task.index),
    }
}

/// Each rendition of a ladder task: its VMAF from the master playlist, its bitrate from its
/// segments (`…_{stream}_{segment}.ts`, streams from 0) over the master's length.
fn points(task: &Task) -> anyhow::Result<Vec<Point>> {
    let master = master(task)?;
    let seconds = master.duration.context("the master's length")?;
    let mut points = Vec::new();
    for (stream, score) in master.quality.iter().enumerate() {
        let prefix = format!("_{stream}_");
        let bytes: u64 = task
            .outputs
            .iter()
            .filter(|o| o.key.ends_with(".ts"))
            .filter(|o| o.key.rsplit_once('_').is_some_and(|(head, _)| format!("{head}_").ends_with(&prefix)))
            .map(|o| o.size)
            .sum();
        points.push(Point {
            height: score.height.context("a rendition's score")?,
            kbps: bytes as f64 * 8.0 / seconds / 1000.0,
            vmaf: score.mean,
        });
    }
    Ok(points)
}

/// The average difference in bitrate of `test` against `reference` at equal VMAF, over the
/// VMAF both cover (at least one point wide); each curve's log bitrate read piecewise-linearly
/// against VMAF through its points, the cheapest at each VMAF kept.
fn bd_rate(reference: &[Point], test: &[Point]) -> Option<f64> {
    let (a, b) = (curve(reference), curve(test));
    let low = a.first()?.0.max(b.first()?.0);
    let high = a.last()?.0.min(b.last()?.0);
    if high - low < 1.0 {
        return None;
    }
    const STEPS: usize = 200;
    let diff: f64 = (0..=STEPS)
        .map(|i| {
            let vmaf = low + (high - low) * i as f64 / STEPS as f64;
            at(&b, vmaf) - at(&a, vmaf)
        })
        .sum::<f64>()
        / (STEPS + 1) as f64;
    Some(diff.exp() - 1.0)
}

/// (VMAF, ln kbps) by VMAF, each point that costs more than one of higher VMAF left out.
fn curve(points: &[Point]) -> Vec<(f64, f64)> {
    let mut sorted: Vec<(f64, f64)> = points.iter().map(|p| (p.vmaf, p.kbps.max(1.0).ln())).collect();
    sorted.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut kept: Vec<(f64, f64)> = Vec::new();
    for point in sorted.into_iter().rev() {
        if kept.last().is_none_or(|last| point.1 < last.1 && point.0 < last.0) {
            kept.push(point);
        }
    }
    kept.reverse();
    kept
}

fn at(curve: &[(f64, f64)], vmaf: f64) -> f64 {
    let i = curve.windows(2).position(|pair| vmaf <= pair[1].0).unwrap_or(curve.len().saturating_sub(2));
    match curve.get(i..=i + 1) {
        Some([a, b]) => a.1 + (b.1 - a.1) * (vmaf - a.0) / (b.0 - a.0),
        _ => curve[0].1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(kbps: f64, vmaf: f64) -> Point {
        Point { height: 720, kbps, vmaf }
    }

    #[test]
    fn bd_rate_is_the_bitrate_difference_at_equal_vmaf() {
        let reference = [point(1000.0, 80.0), point(2000.0, 90.0), point(4000.0, 95.0)];
        let half = [point(500.0, 80.0), point(1000.0, 90.0), point(2000.0, 95.0)];
        assert!((bd_rate(&reference, &half).unwrap() + 0.5).abs() < 1e-9);
        assert!(bd_rate(&reference, &reference).unwrap().abs() < 1e-9);
        assert_eq!(bd_rate(&reference, &[point(100.0, 50.0), point(200.0, 60.0)]), None, "no VMAF in common");
        // A rendition dearer than one that looks better is not on the curve.
        let wasteful = [point(1000.0, 80.0), point(3000.0, 85.0), point(2000.0, 90.0), point(4000.0, 95.0)];
        assert_eq!(curve(&wasteful).len(), 3);
    }
}
