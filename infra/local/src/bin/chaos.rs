//! `make chaos`: a chaos run on the local stack, printed as a table; exits non-zero when the
//! promise did not hold (something lost, duplicated, stuck or overwritten, or an audit finding).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use mediaflow_local::chaos::{self, ChaosPlan};
use mediaflow_local::{LocalStack, StackOptions};

#[derive(Debug, Parser)]
#[command(about = "Uploads many small files while faults are injected, then audits the stack")]
struct Args {
    /// Uploads made with faults injected (the default is what the local server carries on a
    /// 2-core machine: see README, Chaos runs).
    #[arg(long, default_value_t = 300)]
    uploads: usize,
    /// Uploads made first on a healthy stack, for comparison.
    #[arg(long, default_value_t = 100)]
    calm: usize,
    /// The share of the functions' storage calls that fail (0–1).
    #[arg(long, default_value_t = 0.05)]
    fault_rate: f64,
    /// The share of worker runs cut off part-way (0–1).
    #[arg(long, default_value_t = 0.03)]
    worker_cuts: f64,
    /// The share of dispatcher runs cut off part-way (0–1).
    #[arg(long, default_value_t = 0.05)]
    dispatcher_cuts: f64,
    /// Seconds the storage server is unreachable, halfway through.
    #[arg(long, default_value_t = 5)]
    outage: u64,
    /// Seconds the storage server's process is stopped (SIGSTOP), three quarters of the way.
    #[arg(long, default_value_t = 5)]
    freeze: u64,
    /// Seconds the storage server is down when it is restarted (keeping what it holds), a
    /// quarter of the way.
    #[arg(long, default_value_t = 3)]
    restart: u64,
    /// Where the built `dispatcher` and `worker` binaries are, run as one process per
    /// invocation so that a cut run is a SIGKILL of its process group (default: beside this
    /// binary, where `make chaos` builds them; `-` runs the functions in this process).
    #[arg(long)]
    binaries: Option<PathBuf>,
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MEDIAFLOW_LOG").unwrap_or_else(|_| "error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut options = StackOptions::from_env()?;
    options.fault_proxy = true;
    options.sdk_attempt_timeout = Duration::from_secs(3);
    options.lease = chrono::TimeDelta::seconds(20);
    // Lambda runs many invocations at once: one waiting out a retry must not hold up the rest.
    options.concurrency = 8;
    let beside = std::env::current_exe()?.parent().map(PathBuf::from).unwrap_or_default();
    options.binaries = match args.binaries {
        Some(path) if path.as_os_str() == "-" => None,
        Some(path) => Some(path),
        None => ["dispatcher", "worker"].iter().all(|name| beside.join(name).is_file()).then_some(beside),
    };
    let plan = ChaosPlan {
        fault_rate: args.fault_rate,
        worker_cuts: args.worker_cuts,
        dispatcher_cuts: args.dispatcher_cuts,
        outage: Duration::from_secs(args.outage),
        freeze: Duration::from_secs(args.freeze),
        restart: Duration::from_secs(args.restart),
        seed: args.seed,
        ..ChaosPlan::standard(args.uploads, args.calm)
    };
    let dir = tempfile::tempdir()?;
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/media");
    let media = chaos::media(&options.ffmpeg, &fixtures, dir.path())?;
    let workers = match &options.binaries {
        Some(dir) => format!("the functions as processes of {}", dir.display()),
        None => "the functions in this process".to_owned(),
    };
    eprintln!(
        "chaos: {} uploads on a healthy stack, then {} with faults ({} kinds of media; {workers})",
        plan.calm_uploads,
        plan.uploads,
        media.len()
    );
    let stack = LocalStack::start(options).await?;
    let report = chaos::run(&stack, &media, plan).await?;
    print!("{report}");
    anyhow::ensure!(report.held(), "the promise did not hold");
    println!("nothing lost, duplicated, stuck or overwritten; the audit found nothing");
    Ok(())
}
