//! Section 7 of the bench: encodes tuned per title. Six generated 60 s 720p sources of different
//! kinds, each transcoded through the local stack at the fixed CRF 23 and at `crf: auto` (VMAF
//! 93, under the default cap for 720p), both scored by VMAF, and the chosen CRF once more,
//! unscored, for the encode's own time; a title the cap held is encoded once more without it
//! (`max_kbps: 100000`), for what the target alone asks. Then every source at the lowest CRF
//! the target alone chose (the hardest title's), which is what one fixed setting must be to
//! serve every title as well. Prints, per source: bitrate and measured VMAF of each, the CRF
//! chosen and its prediction, the probing time and its share of the encode.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use mediaflow::domain::job::Task;
use mediaflow::domain::task::{Crf, QualityMetric, TaskSpec, TranscodeSpec, Tuning, VideoSpec};
use mediaflow_local::{LocalStack, StackOptions};

use super::start_job_of;

const SECONDS: u32 = 60;
const TARGET: f64 = 93.0;
/// A cap no title reaches: what `crf: auto` chooses for the target alone.
const NO_CAP: Option<u32> = Some(100_000);

/// The kinds of source, each a lavfi graph at 1280x720, 30 fps.
const SOURCES: &[(&str, &str)] = &[
    // A still background with sensor noise and one slowly moving shape.
    (
        "talking head",
        "color=c=0x3a4050:s=1280x720:r=30,noise=alls=4:allf=t,\
         drawbox=x=520+30*sin(t):y=160+10*sin(2*t):w=240:h=400:color=0xc89070:t=fill",
    ),
    // Sharp bars, a cursor that moves and a block of lines that scrolls.
    (
        "screen recording",
        "smptehdbars=s=1280x720:r=30,drawgrid=w=16:h=24:t=1:c=0x202020,\
         drawbox=x=mod(t*150\\,1240):y=mod(t*40\\,680):w=24:h=32:color=white:t=fill",
    ),
    // Flat colours and moving shapes.
    ("animation", "testsrc2=s=1280x720:r=30"),
    // A detailed field panned fast in two directions.
    ("sports (fast pan)", "color=c=0x2f6a2f:s=1280x720:r=30,noise=alls=45,gblur=sigma=1.2,scroll=h=0.012:v=0.004"),
    // Moving shapes under heavy film grain.
    ("film grain", "testsrc2=s=1280x720:r=30,noise=alls=28:allf=t"),
    // Low light: dim gradients with a little noise.
    ("dark scene", "gradients=s=1280x720:r=30:speed=0.01,eq=brightness=-0.32:contrast=0.5,noise=alls=6:allf=t"),
];

/// One encode's figures.
struct Encoded {
    kbps: f64,
    vmaf: Option<f64>,
    render: Duration,
    task: Task,
}

/// The sources whose name holds one of `wanted` (all of them when `wanted` is empty).
pub(super) fn sources<'a>(wanted: &'a [String]) -> impl Iterator<Item = &'static (&'static str, &'static str)> + 'a {
    SOURCES.iter().filter(|(name, _)| wanted.is_empty() || wanted.iter().any(|w| name.contains(w.as_str())))
}

pub async fn figures(ffmpeg: &Path, dir: &Path, titles: &[String]) -> anyhow::Result<()> {
    println!("(sources: {SECONDS} s, 1280x720, 30 fps, generated; H.264 veryfast; VMAF over one frame in five)");
    println!("{:<18} {:>13} | {:>41} | {:>21}", "", "CRF 23", "crf: auto, VMAF 93, default cap", "probing");
    println!(
        "{:<18} {:>6} {:>6} | {:>4} {:>6} {:>6} {:>7} {:>6} {:>6} | {:>6} {:>7} {:>6}",
        "source", "kbps", "VMAF", "CRF", "kbps", "VMAF", "predict", "bits", "cap", "probe", "encode", "share"
    );
    let mut rows = Vec::new();
    let (mut saved, mut shares) = (Vec::new(), Vec::new());
    for (name, graph) in sources(titles) {
        let source = make_source(ffmpeg, dir, name, graph)?;
        let fixed = encode(&source, Crf::Fixed(23), None, true).await?;
        let auto = encode(&source, Crf::Auto, None, true).await?;
        let tuning = tuning_of(&auto)?;
        // The encode alone: the chosen CRF again, unscored, under the same cap.
        let encode_s = encode(&source, Crf::Fixed(tuning.crf), tuning.max_kbps, false).await?.render.as_secs_f64();
        let share = tuning.probe_seconds / encode_s;
        let cap = match (tuning.capped, tuning.max_kbps) {
            (true, Some(cap)) => format!("{cap}"),
            _ => "-".into(),
        };
        println!(
            "{:<18} {:>6.0} {:>6} | {:>4} {:>6.0} {:>6} {:>7} {:>+5.0}% {:>6} | {:>5.1}s {:>6.1}s {:>5.0}%",
            name,
            fixed.kbps,
            vmaf(fixed.vmaf),
            tuning.crf,
            auto.kbps,
            vmaf(auto.vmaf),
            vmaf(tuning.predicted_vmaf),
            (auto.kbps / fixed.kbps - 1.0) * 100.0,
            cap,
            tuning.probe_seconds,
            encode_s,
            share * 100.0
        );
        saved.push(auto.kbps / fixed.kbps);
        shares.push(share);
        // What the target alone asks, where the cap held the title.
        let free = match tuning.capped {
            true => Some(encode(&source, Crf::Auto, NO_CAP, true).await?),
            false => None,
        };
        rows.push((*name, source, fixed, auto, tuning, free));
    }
    let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len().max(1) as f64;
    let below = rows.iter().filter(|row| row.2.vmaf.is_some_and(|v| v < TARGET)).count();
    println!(
        "# crf: auto against CRF 23: {:+.0}% bits on average (mean of the ratios); CRF 23 leaves {below} of {} titles below VMAF {TARGET}",
        (mean(&saved) - 1.0) * 100.0,
        rows.len()
    );
    println!("# probing: {:.0}% of the encode on average", mean(&shares) * 100.0);
    println!("\nThe titles the default cap held, without it (max_kbps: 100000): what VMAF 93 alone asks");
    println!("{:<18} {:>4} {:>7} {:>6} {:>7}", "source", "CRF", "kbps", "VMAF", "predict");
    for (name, _, _, _, _, free) in &rows {
        if let Some(free) = free {
            let tuning = tuning_of(free)?;
            let predicted = vmaf(tuning.predicted_vmaf);
            println!("{name:<18} {:>4} {:>7.0} {:>6} {predicted:>7}", tuning.crf, free.kbps, vmaf(free.vmaf));
        }
    }
    // Each title as the target alone has it (capped or not), and the one fixed CRF that meets
    // the target on every title: the hardest title's choice.
    let uncapped: Vec<(&Encoded, Tuning)> = rows
        .iter()
        .map(|row| {
            let encoded = row.5.as_ref().unwrap_or(&row.3);
            Ok((encoded, tuning_of(encoded)?))
        })
        .collect::<anyhow::Result<_>>()?;
    let floor = uncapped.iter().map(|(_, tuning)| tuning.crf).min().context("no title")?;
    println!(
        "\nEvery title at CRF {floor}, the lowest chosen for the target alone: what one fixed CRF needs to serve the hardest title"
    );
    println!("{:<18} {:>13} | {:>13} {:>6}", "", format!("CRF {floor}"), "crf: auto", "");
    println!("{:<18} {:>6} {:>6} | {:>6} {:>6} {:>6}", "source", "kbps", "VMAF", "kbps", "VMAF", "bits");
    let mut saved = Vec::new();
    for ((name, source, ..), (auto, _)) in rows.iter().zip(&uncapped) {
        let equal = encode(source, Crf::Fixed(floor), None, true).await?;
        println!(
            "{:<18} {:>6.0} {:>6} | {:>6.0} {:>6} {:>+5.0}%",
            name,
            equal.kbps,
            vmaf(equal.vmaf),
            auto.kbps,
            vmaf(auto.vmaf),
            (auto.kbps / equal.kbps - 1.0) * 100.0
        );
        saved.push(auto.kbps / equal.kbps);
    }
    println!(
        "# crf: auto against the fixed CRF {floor}: {:+.0}% bits on average ({:+.0}% in total)",
        (mean(&saved) - 1.0) * 100.0,
        (uncapped.iter().map(|(auto, _)| auto.kbps).sum::<f64>()
            / uncapped.iter().zip(&saved).map(|((auto, _), s)| auto.kbps / s).sum::<f64>()
            - 1.0)
            * 100.0
    );
    Ok(())
}

fn vmaf(score: Option<f64>) -> String {
    score.map_or("-".into(), |v| format!("{v:.1}"))
}

/// `graph` as a source file (near-lossless, no sound), made once.
pub(super) fn make_source(ffmpeg: &Path, dir: &Path, name: &str, graph: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("title-{}.mp4", name.split_whitespace().next().unwrap_or(name)));
    if path.exists() {
        return Ok(path);
    }
    let status = Command::new(ffmpeg)
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", graph])
        .args(["-t", &SECONDS.to_string(), "-c:v", "libx264", "-preset", "veryfast", "-crf", "16"])
        .args(["-pix_fmt", "yuv420p", "-g", "60"])
        .arg(&path)
        .status()?;
    if !status.success() {
        bail!("cannot make the {name} source");
    }
    Ok(path)
}

fn tuning_of(encoded: &Encoded) -> anyhow::Result<Tuning> {
    encoded.task.outputs[0].tuning.clone().context("not tuned")
}

/// `source` transcoded at `crf` (under `max_kbps`) through a fresh local stack (scored by VMAF
/// when `scored`).
async fn encode(source: &Path, crf: Crf, max_kbps: Option<u32>, scored: bool) -> anyhow::Result<Encoded> {
    let stack = LocalStack::start(StackOptions::from_env()?).await?;
    stack.create_bucket(super::BUCKET).await?;
    let task = TaskSpec::Transcode(TranscodeSpec {
        definition: Some("title".into()),
        video: Some(VideoSpec { crf: Some(crf), max_kbps, ..VideoSpec::default() }),
        remove_audio: true,
        quality: scored.then_some(QualityMetric::Vmaf),
        ..TranscodeSpec::default()
    });
    let (id, _) = start_job_of(&stack, source, task).await?;
    let (_, mut tasks) = stack.finished(&id, Duration::from_secs(3600)).await?;
    let task = tasks.pop().context("one task")?;
    let (Some(output), Some(timings)) = (task.outputs.first(), task.timings) else {
        bail!("the job {id} failed: {:?}", task.error);
    };
    let seconds = output.duration.unwrap_or(f64::from(SECONDS));
    Ok(Encoded {
        kbps: output.size as f64 * 8.0 / seconds / 1000.0,
        vmaf: output.quality.iter().find(|s| s.metric == QualityMetric::Vmaf).map(|s| s.mean),
        render: Duration::from_millis(timings.render_ms),
        task,
    })
}
