//! `make partitions`: a simulation of uploads arriving at a steady rate (1,000 a second for a
//! minute by default) through mediaflow's write paths, counting the capacity units each
//! partition key takes each second (DynamoDB's tables and indexes, S3's prefixes) with the keys
//! mediaflow's own functions choose, against what one partition serves. Before the index
//! partitions were sharded, with them, and with the uploads spread over sub-dirs; then the
//! Lambda concurrency the same load needs. Seeded: the same figures on every run.

mod model;
mod rows;

use std::collections::HashMap;

use clap::Parser;
use mediaflow::adapters::aws::dynamodb::SHARDS;

use self::model::{Invocation, Layout, Rng, Workload};
use self::rows::Row;

#[derive(Debug, Parser)]
#[command(name = "partitions", about = "Writes per partition key and second at a steady upload rate, simulated")]
struct Args {
    /// Uploads a second.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Seconds of uploads (the run goes on until every job is done).
    #[arg(long, default_value_t = 60)]
    seconds: u32,
    /// One upload in this many lasts an hour, and its transcode is split in parts (0: none).
    #[arg(long, default_value_t = 200)]
    long_every: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// The busiest key of a row: its units in its busiest second.
#[derive(Clone, Debug, Default)]
struct Peak {
    units: u32,
    key: String,
    keys: usize,
}

/// What one run came to.
struct Outcome {
    peaks: HashMap<Row, Peak>,
    /// Each row's units over all its keys, in its busiest second.
    totals: HashMap<Row, u32>,
    workers: Concurrency,
    dispatchers: Concurrency,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let workload = Workload::new(args.long_every)?;
    let layouts = [
        ("before", Layout { shards: 1, upload_dirs: 1 }),
        ("sharded", Layout { shards: SHARDS, upload_dirs: 1 }),
        ("+16 dirs", Layout { shards: SHARDS, upload_dirs: 16 }),
    ];
    println!(
        "{} uploads a second for {} s (seed {}): workflow \"busy\" (transcode 720p, 2 snapshots, GIF; finish\n\
         event) of 10–120 s 1080p clips, one in {} an hour long (its transcode in parts)",
        args.rate, args.seconds, args.seed, args.long_every
    );
    let (job, tasks, workflow) = &workload.sizes;
    println!(
        "items, in bytes: job {} created, {} probed, {} finished; tasks {tasks:?}; workflow {workflow};\n\
         a write in a transaction counts twice, on the indexes too",
        job[0], job[1], job[2]
    );
    println!(
        "before: the index partitions unsharded (the day, the workflow's name), uploads in one dir;\n\
         sharded: in {SHARDS} shards; +16 dirs: uploads also spread over 16 sub-dirs of the trigger dir"
    );
    let outcomes: Vec<(&str, Outcome)> =
        layouts.iter().map(|(name, layout)| (*name, run(&args, &workload, *layout))).collect();
    println!();
    println!(
        "{:<38} {:>11} {:>12} {:>12} {:>12}   busiest key ({})",
        "partition key", "limit/s", "before", "sharded", "+16 dirs", layouts[2].0
    );
    let mut over_after = Vec::new();
    for row in Row::ALL {
        let figures: Vec<&Peak> = outcomes.iter().map(|(_, outcome)| &outcome.peaks[&row]).collect();
        let cell = |peak: &Peak| match peak.units > row.limit() {
            true => format!("{} over", thousands(peak.units)),
            false => thousands(peak.units),
        };
        let last = figures[figures.len() - 1];
        if last.units > row.limit() {
            over_after.push(row.label());
        }
        println!(
            "{:<38} {:>7} {:>3} {:>12} {:>12} {:>12}   {} (1 of {})",
            row.label(),
            thousands(row.limit()),
            row.unit(),
            cell(figures[0]),
            cell(figures[1]),
            cell(last),
            last.key,
            thousands(last.keys as u32)
        );
    }
    println!();
    let totals = &outcomes[0].1.totals;
    println!(
        "DynamoDB, whole tables in their busiest second (on-demand: 40,000 units a second a table unless\n\
         raised; a new table takes 4,000 writes at once and twice its previous peak within 30 minutes):"
    );
    println!(
        "  jobs table {} WCU (sequencer items included), each index {} WCU, reads {} RCU; workflows table {} RCU",
        thousands(totals[&Row::JobWrites] + totals[&Row::Sequencer]),
        thousands(totals[&Row::ByDay]),
        thousands(totals[&Row::JobReads]),
        thousands(totals[&Row::Triggers])
    );
    println!();
    // The same work whatever the keys: the first run's figures.
    let (workers, dispatchers) = (&outcomes[0].1.workers, &outcomes[0].1.dispatchers);
    println!("Lambda, concurrent executions (account default 1,000; a function adds at most 1,000 every 10 s):");
    println!(
        "  worker      peak {:>7}, up by as much as {:>6} in 10 s; {:.0} invocations a second",
        thousands(workers.peak),
        thousands(workers.ramp),
        workers.per_second
    );
    println!(
        "  dispatcher  peak {:>7}, up by as much as {:>6} in 10 s; {:.0} events a second, 10 a batch",
        thousands(dispatchers.peak),
        thousands(dispatchers.ramp),
        dispatchers.per_second
    );
    println!();
    // The shard counts between none and the table's, from their own runs.
    let shard_counts = [1, 4, 8, 16, SHARDS].into_iter().filter(|&shards| shards <= SHARDS);
    let sweep: Vec<String> = shard_counts
        .map(|shards| {
            let peaks = match shards {
                1 => &outcomes[0].1.peaks,
                SHARDS => &outcomes[1].1.peaks,
                shards => &run(&args, &workload, Layout { shards, upload_dirs: 1 }).peaks,
            };
            format!("{shards}: {} / {}", thousands(peaks[&Row::ByDay].units), thousands(peaks[&Row::ByWorkflow].units))
        })
        .collect();
    println!("by-day / by-workflow WCU of the busiest shard, by shard count: {}", sweep.join(", "));
    match over_after.is_empty() {
        true => println!("no partition key above its limit with the shards and the uploads spread"),
        false => println!("above the limit with the shards and the uploads spread: {}", over_after.join(", ")),
    }
    Ok(())
}

/// Every upload of the run through the model, counted per key and second.
fn run(args: &Args, workload: &Workload, layout: Layout) -> Outcome {
    let mut rng = Rng::new(args.seed);
    let mut keys: HashMap<(Row, String), u32> = HashMap::new();
    let mut counts: HashMap<(u32, u32), u32> = HashMap::new();
    let mut per_second: HashMap<(Row, u32), u32> = HashMap::new();
    let mut invocations = Vec::new();
    let (mut at, uploads) = (0.0, u64::from(args.rate) * u64::from(args.seconds));
    for n in 0..uploads {
        // Arrivals at random times, `rate` a second on average.
        at += -(1.0 - rng.unit()).ln() / f64::from(args.rate);
        let (requests, ran) = workload.requests(n, at, layout, &mut rng);
        for request in requests {
            let (next, second) = (keys.len() as u32, request.at.max(0.0) as u32);
            *per_second.entry((request.row, second)).or_default() += request.units;
            let id = *keys.entry((request.row, request.key)).or_insert(next);
            *counts.entry((id, second)).or_default() += request.units;
        }
        invocations.extend(ran);
    }
    let mut names: Vec<Option<&(Row, String)>> = vec![None; keys.len()];
    for (key, &id) in &keys {
        names[id as usize] = Some(key);
    }
    let mut peaks: HashMap<Row, Peak> = Row::ALL.into_iter().map(|row| (row, Peak::default())).collect();
    for (row, _) in keys.keys() {
        peaks.entry(*row).or_default().keys += 1;
    }
    for ((id, _second), units) in counts {
        let Some((row, key)) = names[id as usize] else { continue };
        let peak = peaks.entry(*row).or_default();
        // Ties go to the first key in order: the same key on every run.
        if units > peak.units || (units == peak.units && *key < peak.key) {
            (peak.units, peak.key) = (units, key.clone());
        }
    }
    let mut totals: HashMap<Row, u32> = HashMap::new();
    for ((row, _second), units) in per_second {
        let total = totals.entry(row).or_default();
        *total = (*total).max(units);
    }
    let seconds = f64::from(args.seconds);
    let (workers, dispatchers): (Vec<Invocation>, Vec<Invocation>) = invocations.into_iter().partition(|i| i.worker);
    Outcome { peaks, totals, workers: concurrency(&workers, seconds), dispatchers: concurrency(&dispatchers, seconds) }
}

/// How many invocations of a function run at once at their busiest, and how fast that rises.
#[derive(Debug)]
struct Concurrency {
    peak: u32,
    ramp: u32,
    per_second: f64,
}

fn concurrency(invocations: &[Invocation], seconds: f64) -> Concurrency {
    let end = invocations.iter().map(|i| i.to).fold(0.0, f64::max).ceil() as usize + 1;
    // Running at each whole second.
    let mut change = vec![0i64; end + 1];
    for invocation in invocations {
        change[invocation.from.ceil() as usize] += 1;
        change[invocation.to.ceil() as usize] -= 1;
    }
    let running: Vec<i64> = change
        .iter()
        .scan(0, |running, step| {
            *running += step;
            Some(*running)
        })
        .collect();
    let peak = running.iter().copied().max().unwrap_or(0);
    let ramp = running.windows(11).map(|w| w[10] - w[0]).max().unwrap_or(0);
    Concurrency { peak: peak as u32, ramp: ramp as u32, per_second: invocations.len() as f64 / seconds }
}

fn thousands(value: u32) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
