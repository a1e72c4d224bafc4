//! Section 8 of the bench: ladders chosen per title. The six sources of section 7, each streamed
//! through the local stack as HLS twice, one job after the other: Apple's H.264 ladder up to
//! 720p (fixed sizes and bitrates, the way a fixed ladder is written, every rung kept) and
//! `renditions: auto` (the default bounds: at most 5 renditions, 240p to the source's 720p, the
//! top at VMAF 95 under the default cap), every rendition scored by VMAF against the source.
//! Prints, per source: each ladder's renditions (size, average bitrate, VMAF), the render and
//! probing times, and the BD-rate of the automatic ladder against the fixed one: the average
//! difference in bitrate at equal VMAF over the VMAF both ladders cover (log bitrate read
//! piecewise-linearly against VMAF).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use mediaflow::domain::job::OutputFile;
use mediaflow::domain::task::{AdaptiveSpec, QualityMetric, Rendition, Renditions, TaskSpec, Tuning};
use mediaflow_local::{LocalStack, StackOptions};

use super::per_title::{make_source, sources};
use super::start_job_of;

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

/// One rendition as measured: its size, its average bitrate and its VMAF.
#[derive(Clone, Debug)]
struct Point {
    height: u32,
    kbps: f64,
    vmaf: f64,
}

pub async fn figures(ffmpeg: &Path, dir: &Path, titles: &[String]) -> anyhow::Result<()> {
    println!("(the sources of section 7; HLS, 6 s segments, H.264 veryfast, no sound; VMAF over one frame in five;");
    println!(" a rendition's bitrate is its AVERAGE-BANDWIDTH; each ladder one job, one after the other)");
    println!("fixed: {}", FIXED.iter().map(|(_, h, k)| format!("{h}p@{k}")).collect::<Vec<_>>().join(" "));
    let fixed_ladder: Vec<Rendition> = FIXED
        .iter()
        .map(|&(width, height, kbps)| Rendition { width, height, bitrate_kbps: Some(kbps), ..Rendition::default() })
        .collect();
    let mut rates = Vec::new();
    for (name, graph) in sources(titles) {
        let source = make_source(ffmpeg, dir, name, graph)?;
        let fixed = ladder(&source, "fixed", fixed_ladder.clone().into(), true).await?;
        let auto = ladder(&source, "auto", Renditions::Auto, false).await?;
        let bd = bd_rate(&fixed.points, &auto.points);
        println!("\n{name}: BD-rate of auto against fixed {}", bd.map_or("- (no VMAF in common)".into(), percent));
        println!("  fixed {} ({:.1} s)", describe(&fixed.points), fixed.render_s);
        println!("  auto  {} ({:.1} s)", describe(&auto.points), auto.render_s);
        let probe_s = auto.tuning.as_ref().map_or(0.0, |t| t.probe_seconds);
        println!(
            "  auto: probing {probe_s:.1} s of {:.1} s, {:.0}% of the rest; {}",
            auto.render_s,
            probe_s / (auto.render_s - probe_s) * 100.0,
            auto.tuning.map_or("not tuned".into(), |t| t.to_string())
        );
        rates.extend(bd);
    }
    let mean = rates.iter().sum::<f64>() / rates.len().max(1) as f64;
    println!(
        "# renditions: auto against the fixed ladder: {} BD-rate on average over {} titles",
        percent(mean),
        rates.len()
    );
    Ok(())
}

fn percent(ratio: f64) -> String {
    format!("{:+.0}%", ratio * 100.0)
}

fn describe(points: &[Point]) -> String {
    points.iter().map(|p| format!("{}p {:.0} kbps {:.1}", p.height, p.kbps, p.vmaf)).collect::<Vec<_>>().join(" | ")
}

/// One ladder task's outcome: its renditions as measured, its render time (the probing
/// included) and the tuning of an automatic ladder.
struct Streamed {
    points: Vec<Point>,
    render_s: f64,
    tuning: Option<Tuning>,
}

/// `source` streamed as the ladder of `renditions`, one job on a fresh local stack, every
/// rendition scored by VMAF (the fixed ladder whole, `keep_above_source`: a source of a lower
/// bitrate than a rung would drop it).
async fn ladder(
    source: &Path,
    definition: &str,
    renditions: Renditions,
    keep_above_source: bool,
) -> anyhow::Result<Streamed> {
    let task = TaskSpec::Adaptive(AdaptiveSpec {
        definition: Some(definition.into()),
        renditions,
        keep_above_source,
        remove_audio: true,
        quality: Some(QualityMetric::Vmaf),
        ..AdaptiveSpec::default()
    });
    let stack = LocalStack::start(StackOptions::from_env()?).await?;
    stack.create_bucket(super::BUCKET).await?;
    let (id, _) = start_job_of(&stack, source, task).await?;
    let (_, tasks) = stack.finished(&id, Duration::from_secs(3600)).await?;
    let task = tasks.first().context("one task")?;
    let master = match (task.outputs.last(), &task.error) {
        (Some(master), None) => master,
        (_, error) => bail!("the job {id} failed: {error:?}"),
    };
    let object = stack.clients.s3.get_object().bucket(&master.bucket).key(&master.key).send().await?;
    let text = String::from_utf8(object.body.collect().await?.into_bytes().to_vec())?;
    Ok(Streamed {
        points: points(master, &text)?,
        render_s: task.timings.context("no timings")?.render_ms as f64 / 1000.0,
        tuning: master.tuning.clone(),
    })
}

/// Each rendition of a ladder: its VMAF from the master playlist's record, its bitrate from the
/// playlist's `AVERAGE-BANDWIDTH` (the variants in the ladder's order).
fn points(master: &OutputFile, playlist: &str) -> anyhow::Result<Vec<Point>> {
    let variants: Vec<&str> = playlist.lines().filter(|l| l.starts_with("#EXT-X-STREAM-INF:")).collect();
    if variants.len() != master.quality.len() {
        bail!("{} variants, {} scores: {playlist}", variants.len(), master.quality.len());
    }
    variants
        .iter()
        .zip(&master.quality)
        .map(|(variant, score)| {
            let bandwidth = variant
                .split("AVERAGE-BANDWIDTH=")
                .nth(1)
                .and_then(|rest| rest.split(',').next())
                .context("no AVERAGE-BANDWIDTH")?;
            Ok(Point {
                height: score.height.context("a rendition's score")?,
                kbps: bandwidth.parse::<f64>()? / 1000.0,
                vmaf: score.mean,
            })
        })
        .collect()
}

/// The average difference in bitrate of `test` against `reference` at equal VMAF, over the
/// VMAF both cover; each curve's log bitrate read piecewise-linearly against VMAF through its
/// points, the cheapest at each VMAF kept. Where they share less than one VMAF point (a ladder
/// of one rung), at `test`'s points that lie within `reference`'s.
fn bd_rate(reference: &[Point], test: &[Point]) -> Option<f64> {
    let (a, b) = (curve(reference), curve(test));
    let low = a.first()?.0.max(b.first()?.0);
    let high = a.last()?.0.min(b.last()?.0);
    if high - low < 1.0 {
        let inside: Vec<f64> =
            b.iter().filter(|p| (a[0].0..=a[a.len() - 1].0).contains(&p.0)).map(|p| p.1 - at(&a, p.0)).collect();
        return (!inside.is_empty()).then(|| (inside.iter().sum::<f64>() / inside.len() as f64).exp() - 1.0);
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
        // One rung: against the reference's bitrate at its VMAF (1414 kbps at 85).
        let one = bd_rate(&reference, &[point(707.1, 85.0)]).unwrap();
        assert!((one + 0.5).abs() < 1e-3, "{one}");
        // A rendition dearer than one that looks better is not on the curve.
        let wasteful = [point(1000.0, 80.0), point(3000.0, 85.0), point(2000.0, 90.0), point(4000.0, 95.0)];
        assert_eq!(curve(&wasteful).len(), 3);
    }
}
