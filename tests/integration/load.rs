//! A burst of 200 uploads through the local stack: every one processed once, nothing lost,
//! nothing dead-lettered. Slow: runs when MEDIAFLOW_LOAD_TEST is set (`make test` sets it).

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use serde_json::json;

use crate::support::Harness;

const UPLOADS: usize = 200;

#[tokio::test(flavor = "multi_thread")]
async fn load_200_uploads_in_a_burst_are_each_processed_once() -> anyhow::Result<()> {
    if std::env::var_os("MEDIAFLOW_LOAD_TEST").is_none() {
        eprintln!("skipped: set MEDIAFLOW_LOAD_TEST=1 to run the load test");
        return Ok(());
    }
    let h = Harness::start_with(|options| options.concurrency = 4).await?;
    h.workflow(h.flow("load").task(json!({"type": "snapshot", "times": [0.2], "width": 64}))).await?;
    let clip = h.lavfi_clip(
        "tiny.mp4",
        &["testsrc2=size=160x120:rate=10:duration=1"],
        &["-c:v", "libx264", "-pix_fmt", "yuv420p"],
    )?;
    let started = Instant::now();
    let keys: Vec<String> = (0..UPLOADS).map(|i| format!("in/{i:03}.mp4")).collect();
    let objects: Vec<_> = stream::iter(&keys).map(|key| h.upload(&clip, key)).buffered(16).try_collect().await?;
    let uploaded = started.elapsed();
    for object in &objects {
        h.succeeded(object).await?;
    }
    let elapsed = started.elapsed();
    h.stack.idle(Duration::from_secs(120)).await?;
    assert_eq!(h.keys(&h.bucket, "out/").await?.len(), UPLOADS, "one output per upload");
    assert_eq!(h.stack.reports().iter().flat_map(|r| r.jobs()).count(), UPLOADS, "one job per upload");
    assert_eq!(h.stack.queue_depth(&h.stack.worker_dlq).await?, 0, "nothing dead-lettered");
    eprintln!(
        "load: {UPLOADS} uploads in {:.1}s, all {UPLOADS} jobs finished after {:.1}s: {:.2} jobs/s",
        uploaded.as_secs_f64(),
        elapsed.as_secs_f64(),
        UPLOADS as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
