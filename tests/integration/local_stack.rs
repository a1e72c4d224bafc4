//! The local stack behaves as documented whatever moto does: a multipart upload it reports
//! twice makes one job, its local-time event times are read right in any time zone, and when
//! moto dies the stack says so instead of waiting forever.

use std::time::{Duration, Instant};

use mediaflow::domain::job::{JobId, TaskStatus};
use mediaflow::domain::object::ObjectCreated;
use mediaflow::ports::JobStore;
use serde_json::json;

use crate::support::{Flow, Harness, cargo, fixture};

fn snapshots(h: &Harness) -> Flow {
    h.flow("local").task(json!({"type": "snapshot", "times": [0.5]}))
}

#[test]
fn a_multipart_upload_reported_twice_makes_one_job() -> anyhow::Result<()> {
    Harness::shared(|h| async move {
        h.workflow(snapshots(&h)).await?;
        // 6 MiB: two parts (the video, then padding after its end)
        let mut bytes = std::fs::read(fixture("camera_1080p_h264_aac.mp4"))?;
        bytes.resize(6 * 1024 * 1024, 0);
        let file = h.dir.path().join("big.mp4");
        std::fs::write(&file, bytes)?;
        let object = h.upload_multipart(&file, "in/big.mp4").await?;
        // moto sends ObjectCreated:Put and ObjectCreated:CompleteMultipartUpload
        h.dispatched_times(&object, 2).await?;
        let jobs = h.job_ids_of(&object);
        let reports: Vec<_> = h.stack.reports().into_iter().filter(|r| r.object == object).collect();
        assert_eq!(jobs.len(), 1, "{reports:?}");
        let (_, tasks) = h.stack.finished(&jobs[0], Duration::from_secs(60)).await?;
        assert_eq!(tasks[0].status, TaskStatus::Success, "{:?}", tasks[0].error);
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_are_processed_when_moto_runs_in_another_time_zone() -> anyhow::Result<()> {
    // moto writes event times in its local time, without a zone: New York is 5 hours behind
    let h = Harness::start_with(|options| options.moto_time_zone = Some("EST5EDT,M3.2.0,M11.1.0".into())).await?;
    h.workflow(snapshots(&h)).await?;
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
    let (job, _) = h.succeeded(&object).await?;
    let skew = (job.event_time - chrono::Utc::now()).num_seconds().abs();
    assert!(skew < 120, "the event time is read as UTC: {} ({skew} s off)", job.event_time);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn when_moto_dies_the_stack_says_so_instead_of_waiting() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    h.workflow(snapshots(&h)).await?;
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/clip.mp4").await?;
    let pid = h.stack.moto().pid().expect("moto runs");
    std::process::Command::new("kill").arg("-9").arg(pid.to_string()).status()?;
    let started = Instant::now();
    let error = h.stack.dispatched(&object, Duration::from_secs(600)).await;
    let error = match error {
        // It may have been dispatched before it died: waiting for the job then fails.
        Ok(report) => {
            let job = report.jobs().next().cloned().expect("a job");
            h.stack.finished(&job, Duration::from_secs(600)).await.map(|_| ()).unwrap_err()
        }
        Err(error) => error,
    };
    assert!(started.elapsed() < Duration::from_secs(30), "noticed in {:?}", started.elapsed());
    assert!(
        error.to_string().starts_with("moto_server (the local S3/DynamoDB/SQS server) exited with signal: 9"),
        "{error:#}"
    );
    Ok(())
}

/// `cargo lambda watch`, stopped with its function processes when dropped.
struct CargoLambda {
    child: std::process::Child,
}

impl Drop for CargoLambda {
    fn drop(&mut self) {
        // It runs the functions as children in its own process group: stop the whole group.
        let _ = std::process::Command::new("kill").args(["-TERM", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_functions_run_under_cargo_lambda_watch_as_the_readme_shows() -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    // GIVEN the local stack with its functions behind cargo lambda watch (README: Local development)
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let h = Harness::start_with(|options| options.lambda = mediaflow_local::LambdaMode::Remote(endpoint)).await?;
    let environment: String = h.stack.environment().iter().map(|(name, value)| format!("{name}={value}\n")).collect();
    assert!(environment.contains("AWS_DEFAULT_REGION=us-east-1\n"), "awscli v1 reads AWS_DEFAULT_REGION");
    let env_file = h.dir.path().join("dev.env");
    std::fs::write(&env_file, environment)?;
    let log = std::fs::File::create(h.dir.path().join("cargo-lambda.log"))?;
    let child = cargo()
        .args(["lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", &port.to_string()])
        .args(["--concurrency", "4", "--env-file"])
        .arg(&env_file)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()?;
    let _watch = CargoLambda { child };
    let local = h.workflow(snapshots(&h)).await?;
    // WHEN a video is uploaded
    let object = h.upload(&fixture("camera_1080p_h264_aac.mp4"), "in/clip one.mp4").await?;
    // THEN it is processed by the functions under cargo lambda (the first call builds them)
    let head = h.head(&object).await?.expect("uploaded");
    let event = ObjectCreated {
        object: object.clone(),
        size: None,
        etag: None,
        version_id: None,
        sequencer: None,
        event_time: chrono::Utc::now(),
    };
    let job = JobId::derive(&local.name, &object, &event.upload_identity(&head));
    let started = Instant::now();
    while h.stack.jobs().job(&job).await?.is_none() {
        let log = std::fs::read_to_string(h.dir.path().join("cargo-lambda.log")).unwrap_or_default();
        assert!(started.elapsed() < Duration::from_secs(600), "no job after 10 minutes; cargo lambda says:\n{log}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (_, tasks) = h.stack.finished(&job, Duration::from_secs(300)).await?;
    assert_eq!(tasks[0].status, TaskStatus::Success, "{:?}", tasks[0].error);
    assert_eq!(tasks[0].outputs[0].key, "out/clip one_snapshotByTimeOffset_1_0.jpg");
    assert_eq!(h.stack.invocations(mediaflow_local::WORKER), 0, "nothing ran in this process");
    // AND each function run added what it used, at the memory cargo lambda gave it
    let started = Instant::now();
    let usage = loop {
        let usage = h.stack.jobs().usage(&job).await?;
        if usage.invocations >= 2 || started.elapsed() > Duration::from_secs(30) {
            break usage;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(usage.invocations >= 2 && usage.x86_64_mb_ms + usage.arm64_mb_ms > 0, "{usage:?}");
    Ok(())
}
