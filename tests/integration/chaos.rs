//! A short chaos run (`make chaos` runs the long one): uploads of many kinds of small media
//! across three workflows while 10 % of the functions' storage calls fail, worker and dispatcher
//! processes are killed (SIGKILL) and the storage server is unreachable, then stopped, a while; then nothing is lost,
//! duplicated, stuck or overwritten, and the audit finds nothing. Nothing secret is in what the
//! run leaves: its logs, its job records, the events it sent and the console's log.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use mediaflow_local::chaos::{self, ChaosPlan};
use mediaflow_local::{DISPATCHER, JOBS_TABLE, WORKER};
use serde_json::json;

use crate::console::{Browser, console_in};
use crate::support::webhook::{Receiver, SECRET};
use crate::support::{Harness, function_binaries};

/// A credential in the webhook's address, as receivers such as chat services put one there: never
/// logged or sent.
const HOOK_CREDENTIAL: &str = "hook-credential-5f1c2d";

/// What the process logs, kept (the in-process functions log as deployed, in JSON).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("log buffer poisoned"))?.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        self.0.lock().map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default()
    }
}

/// Where in `text` (named `what`) any of `secrets` shows, if anywhere.
fn leaks(what: &str, text: &str, secrets: &[&str]) -> Vec<String> {
    let found = secrets.iter().filter(|secret| text.contains(**secret));
    found.map(|secret| format!("{what} holds {secret}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_is_lost_duplicated_or_stuck_while_storage_fails_and_workers_die() -> anyhow::Result<()> {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter("info,mediaflow=debug,mediaflow_local=debug")
        .with_writer(move || writer.clone())
        .try_init()
        .map_err(|e| anyhow::anyhow!("the test's log: {e}"))?;
    // The functions run as their own processes: a cut run is a SIGKILL of its process group.
    let binaries = function_binaries()?;
    let h = Harness::start_with(|options| {
        options.binaries = Some(binaries);
        options.fault_proxy = true;
        options.sdk_attempt_timeout = Duration::from_secs(2);
        options.lease = chrono::TimeDelta::seconds(5);
        options.concurrency = 6;
    })
    .await?;
    // Every job's events go to a webhook signed with a secret kept in SSM.
    let ssm = &h.stack.clients.ssm;
    let secure = aws_sdk_ssm::types::ParameterType::SecureString;
    ssm.put_parameter().name("/mediaflow/chaos-hook").value(SECRET).r#type(secure).send().await?;
    let receiver = Receiver::start(0).await?;
    let url = format!("{}?key={HOOK_CREDENTIAL}", receiver.url);
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/media");
    let media = chaos::media(&h.stack.options().ffmpeg, &fixtures, h.dir.path())?;
    let plan = ChaosPlan {
        fault_rate: 0.1,
        worker_cuts: 0.1,
        dispatcher_cuts: 0.1,
        outage: Duration::from_secs(3),
        slow: Duration::from_secs(3),
        settle: Duration::from_secs(60),
        notification: Some(json!({"target": {"type": "webhook", "url": url, "secret": "ssm:/mediaflow/chaos-hook"}})),
        ..ChaosPlan::standard(21, 7)
    };
    let report = chaos::run(&h.stack, &media, plan).await?;
    println!("{report}");
    let faulty = &report.phases[1];
    assert!(faulty.faults.values().sum::<u64>() > 0, "faults were injected: {report}");
    assert_eq!(faulty.jobs, faulty.expected_jobs, "{report}");
    assert!(report.held(), "{report}");

    // The console, run on what the run left, hands out presigned links to its outputs.
    let mut environment = h.stack.environment();
    environment.push(("MEDIAFLOW_LOG", "debug".into()));
    let (mut console, link) = console_in(&environment, h.dir.path()).await?;
    let token = link.split("token=").nth(1).context("the link's token")?.to_owned();
    let browser = Browser::open(&link).await?;
    let stills = h.stack.clients.s3.list_objects_v2().bucket("mediaflow-chaos").prefix("chaos/stills/").send().await?;
    let still = stills.contents().first().and_then(|object| object.key()).context("a still")?;
    browser.get("/buckets/mediaflow-chaos?prefix=chaos%2Fstills%2F").await?;
    let preview = browser.get(&format!("/buckets/mediaflow-chaos/object?key={}", still.replace('/', "%2F"))).await?;
    assert!(preview.contains("X-Amz-Signature"), "the preview's download link is presigned");
    browser.get("/jobs").await?;
    console.kill().await?;

    // THEN no secret is in the logs, the job records, the events sent or the console's log
    let secrets = [SECRET, SECRET.trim_start_matches("whsec_"), HOOK_CREDENTIAL, "X-Amz-Signature", &token];
    let mut records = String::new();
    let mut pages = h.stack.clients.dynamodb.scan().table_name(JOBS_TABLE).into_paginator().items().send();
    while let Some(item) = pages.next().await {
        records.push_str(&format!("{:?}\n", item?));
    }
    let sent = receiver.requests();
    assert!(!sent.is_empty(), "events were sent");
    let events: String = sent.iter().map(|(_, body)| String::from_utf8_lossy(body).into_owned()).collect();
    let console_log = std::fs::read_to_string(h.dir.path().join("console.log"))?;
    let mut logged = logs.text();
    for function in [DISPATCHER, WORKER] {
        let process = h.stack.process(function).context("the functions run as processes")?;
        logged.push_str(&std::fs::read_to_string(&process.log)?);
    }
    assert!(logged.contains("chaos-small") && logged.contains("task succeeded"), "the logs were kept");
    assert!(
        console_log.contains("request") && console_log.contains("/jobs"),
        "the console's log was kept: {console_log}"
    );
    let mut found = leaks("the functions' log", &logged, &secrets);
    // A job keeps its workflow's notification target, address included, as the workflow does:
    // its events go where the workflow said when it began. The signing secret is kept by name.
    found.extend(leaks("the job records", &records, &secrets.map(|s| if s == HOOK_CREDENTIAL { SECRET } else { s })));
    found.extend(leaks("the events", &events, &secrets));
    found.extend(leaks("the console's log", &console_log, &secrets));
    assert!(found.is_empty(), "{found:#?}");
    Ok(())
}
