//! A short chaos run (`make chaos` runs the long one): uploads of many kinds of small media
//! across three workflows while 10 % of the functions' storage calls fail, worker and dispatcher
//! runs are cut off and the storage server is unreachable for a while; then nothing is lost,
//! duplicated, stuck or overwritten, and the audit finds nothing.

use std::path::PathBuf;
use std::time::Duration;

use mediaflow_local::chaos::{self, ChaosPlan};

use crate::support::Harness;

#[tokio::test(flavor = "multi_thread")]
async fn nothing_is_lost_duplicated_or_stuck_while_storage_fails_and_workers_die() -> anyhow::Result<()> {
    let h = Harness::start_with(|options| {
        options.fault_proxy = true;
        options.sdk_attempt_timeout = Duration::from_secs(2);
        options.lease = chrono::TimeDelta::seconds(5);
        options.concurrency = 6;
    })
    .await?;
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/media");
    let media = chaos::media(&h.stack.options().ffmpeg, &fixtures, h.dir.path())?;
    let plan = ChaosPlan {
        fault_rate: 0.1,
        worker_cuts: 0.1,
        dispatcher_cuts: 0.1,
        outage: Duration::from_secs(3),
        slow: Duration::from_secs(3),
        settle: Duration::from_secs(60),
        ..ChaosPlan::standard(21, 7)
    };
    let report = chaos::run(&h.stack, &media, plan).await?;
    println!("{report}");
    let faulty = &report.phases[1];
    assert!(faulty.faults.values().sum::<u64>() > 0, "faults were injected: {report}");
    assert_eq!(faulty.jobs, faulty.expected_jobs, "{report}");
    assert!(report.held(), "{report}");
    Ok(())
}
