//! Section 5: the console. The Jobs page over 10,000 jobs (time to first byte, p50 and p95, for
//! the first page of all jobs with the tabs' counts, of the Failed tab and of one workflow): over
//! a store that answers at once (the console's own time) and over the local stack. Then the
//! console function's size, and its cold start: the release bootstrap started against a Lambda
//! Runtime API on loopback (as `cargo lambda watch` and Lambda start it), timed from the process
//! start to its first answer, and a warm answer after it.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use chrono::{TimeDelta, Utc};
use mediaflow::adapters::memory::Memory;
use mediaflow::app::admin::Admin;
use mediaflow::domain::error::{ErrorCode, TaskError};
use mediaflow::domain::job::{Job, JobStatus, Task, TaskStatus};
use mediaflow::domain::object::{ObjectCreated, ObjectHead, ObjectRef};
use mediaflow::domain::workflow::{Workflow, WorkflowSpec};
use mediaflow::ports::JobStore;
use mediaflow_local::{LocalStack, StackOptions};
use serde_json::json;
use tokio::sync::Notify;

const WORKFLOWS: usize = 5;

pub async fn figures(dir: &Path, jobs: usize) -> anyhow::Result<()> {
    // The console's own time: its use-cases and pages over a store that answers at once.
    let memory = Arc::new(Memory::default());
    let admin = mediaflow::wiring::in_memory_admin(&memory);
    let built = jobs_of(&workflows(&admin).await?, jobs)?;
    for (job, tasks) in &built {
        JobStore::create(memory.as_ref(), job, tasks).await?;
    }
    println!("# {jobs} jobs of {WORKFLOWS} workflows over the last 6 days (5 % failed)");
    println!("{:<52} {:>10} {:>10} {:>10}", "Jobs page, time to first byte", "p50", "p95", "max");
    page_times(admin, "in memory", 200).await?;
    // The same on the local stack, whose DynamoDB reads every item of the table for a query
    // of an index (DynamoDB reads only the partition's items, a page at a time).
    let stack = LocalStack::start(StackOptions::from_env()?).await?;
    workflows(&stack.admin()).await?;
    let seeded = Instant::now();
    stack.jobs().import(&built).await?;
    let written = seeded.elapsed();
    page_times(stack.admin(), "local stack", 5).await?;
    println!("# the local stack's jobs written in bulk in {:.1} s", written.as_secs_f64());
    bootstrap_figures(&stack, dir).await
}

/// The Jobs page loaded `loads` times per view, its times printed.
async fn page_times(admin: Admin, store: &str, loads: usize) -> anyhow::Result<()> {
    let local = mediaflow_console::Local::bind(0).await?;
    let link = local.link();
    let serving = tokio::spawn(mediaflow_console::serve(local, Arc::new(admin), std::future::pending()));
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let opened = client.get(&link).send().await?;
    let cookie = opened.headers()["set-cookie"].to_str()?.split(';').next().context("a cookie")?.to_owned();
    let origin = link.split("/?").next().context("an origin")?.to_owned();
    for (name, path) in [
        ("all jobs with the tabs' counts", "/jobs"),
        ("Failed tab", "/jobs?status=failed"),
        ("one workflow", "/jobs?workflow=bench-console-0"),
    ] {
        let mut times = Vec::with_capacity(loads);
        for _ in 0..loads {
            let started = Instant::now();
            let response = client.get(format!("{origin}{path}")).header("cookie", &cookie).send().await?;
            times.push(started.elapsed());
            ensure!(response.status() == 200, "{path}: {}", response.status());
            response.bytes().await?;
        }
        times.sort();
        let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
        let row = format!("{name} ({store}, {loads} loads)");
        println!("{row:<52} {:>7.1} ms {:>7.1} ms {:>7.1} ms", ms(at(0.5)), ms(at(0.95)), ms(at(1.0)));
    }
    serving.abort();
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

async fn workflows(admin: &Admin) -> anyhow::Result<Vec<Workflow>> {
    let mut workflows = Vec::new();
    for n in 0..WORKFLOWS {
        let spec: WorkflowSpec = serde_json::from_value(json!({"name": format!("bench-console-{n}"),
            "trigger": {"bucket": "bench-console", "dir": format!("in{n}/")}, "output": {"dir": format!("out{n}/")},
            "tasks": [{"type": "snapshot", "times": [1]}]}))?;
        workflows.push(admin.apply(spec).await?.workflow);
    }
    Ok(workflows)
}

/// `count` finished jobs (one task each) spread over the last six days.
fn jobs_of(workflows: &[Workflow], count: usize) -> anyhow::Result<Vec<(Job, Vec<Task>)>> {
    let now = Utc::now();
    let mut jobs = Vec::with_capacity(count);
    for n in 0..count {
        let workflow = &workflows[n % WORKFLOWS];
        let created = now - TimeDelta::seconds((n as i64 * 6 * 86_400) / count as i64) - TimeDelta::seconds(5);
        let event = ObjectCreated {
            object: ObjectRef::new("bench-console", format!("{}clip-{n:05}.mp4", workflow.trigger.dir)),
            size: Some(1_000_000),
            etag: None,
            version_id: None,
            sequencer: None,
            event_time: created,
        };
        let (mut job, mut tasks) = Job::start(workflow, &event, &ObjectHead::default(), created);
        finish(&mut job, &mut tasks, n % 20 == 7);
        jobs.push((job, tasks));
    }
    Ok(jobs)
}

fn finish(job: &mut Job, tasks: &mut [Task], failed: bool) {
    let ended = job.created_at + TimeDelta::seconds(4);
    job.status = JobStatus::Finish;
    job.finished_at = Some(ended);
    for task in tasks.iter_mut() {
        task.finished_at = Some(ended);
        task.status = if failed { TaskStatus::Fail } else { TaskStatus::Success };
        if failed {
            let error = TaskError::new(ErrorCode::SourceCorrupt, "the MP4 file is damaged: moov atom not found");
            task.error = Some(error.clone());
            job.error = Some(error);
            job.failed_tasks = 1;
        }
    }
}

/// What the Runtime API on loopback saw of the function.
#[derive(Default)]
struct Runtime {
    /// Events not handed out yet.
    events: Mutex<Vec<serde_json::Value>>,
    answers: Mutex<Vec<(Instant, serde_json::Value)>>,
    answered: Notify,
}

async fn next(State(runtime): State<Arc<Runtime>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let event = runtime.events.lock().expect("lock").pop();
    let Some(event) = event else {
        // No more events: the function waits, as it would between invocations.
        std::future::pending::<()>().await;
        unreachable!("pending never completes");
    };
    let deadline = (Utc::now() + TimeDelta::seconds(30)).timestamp_millis().to_string();
    let headers = [
        ("lambda-runtime-aws-request-id", format!("req-{}", Utc::now().timestamp_nanos_opt().unwrap_or(0))),
        ("lambda-runtime-deadline-ms", deadline),
        ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:console".into()),
        ("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000".into()),
    ];
    let mut response = axum::Json(event).into_response();
    for (name, value) in headers {
        response.headers_mut().insert(name, value.parse().expect("header value"));
    }
    response
}

async fn answer(
    State(runtime): State<Arc<Runtime>>,
    UrlPath(_id): UrlPath<String>,
    _headers: HeaderMap,
    body: String,
) -> &'static str {
    let value = serde_json::from_str(&body).unwrap_or(json!({"raw": body}));
    runtime.answers.lock().expect("lock").push((Instant::now(), value));
    runtime.answered.notify_one();
    "{}"
}

/// An HTTP API event for `path` with no session: the console answers with its sign-in redirect.
fn api_event(path: &str) -> serde_json::Value {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"host": "console.example", "x-forwarded-proto": "https"},
        "requestContext": {"accountId": "123456789012", "apiId": "console", "domainName": "console.example",
            "domainPrefix": "console", "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.1", "userAgent": "bench"}, "requestId": "id", "routeKey": "$default",
            "stage": "$default", "time": "06/Dec/2026:10:00:00 +0000", "timeEpoch": 0},
        "isBase64Encoded": false
    })
}

async fn bootstrap_figures(stack: &LocalStack, dir: &Path) -> anyhow::Result<()> {
    let bootstrap = std::env::current_exe()?.with_file_name("console");
    let Ok(metadata) = std::fs::metadata(&bootstrap) else {
        println!("console function: {} not built (make bench builds it)", bootstrap.display());
        return Ok(());
    };
    println!(
        "console function: {:.1} MiB bootstrap ({}; `sam build` builds the same profile for arm64)",
        metadata.len() as f64 / (1024.0 * 1024.0),
        std::env::consts::ARCH
    );
    let mut colds = Vec::new();
    let mut warms = Vec::new();
    for _ in 0..5 {
        let (cold, warm) = one_start(stack, &bootstrap, dir).await?;
        colds.push(cold);
        warms.push(warm);
    }
    colds.sort();
    warms.sort();
    println!(
        "cold start (process start → first answer): min {:.1} ms, median {:.1} ms; warm answer: median {:.2} ms",
        ms(colds[0]),
        ms(colds[colds.len() / 2]),
        ms(warms[warms.len() / 2])
    );
    Ok(())
}

async fn one_start(stack: &LocalStack, bootstrap: &Path, dir: &Path) -> anyhow::Result<(Duration, Duration)> {
    let runtime = Arc::new(Runtime::default());
    // Popped from the end: the first event is the last.
    *runtime.events.lock().expect("lock") = vec![api_event("/workflows"), api_event("/jobs")];
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(answer))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(answer))
        .route("/2018-06-01/runtime/init/error", post(|| async { "{}" }))
        .with_state(runtime.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let mut command = tokio::process::Command::new(bootstrap);
    command
        .env_clear()
        .envs(stack.environment())
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "console")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("COGNITO_DOMAIN", "https://mediaflow-bench.auth.us-east-1.amazoncognito.com")
        .env("COGNITO_CLIENT_ID", "bench")
        .env("COGNITO_ISSUER", "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_bench")
        .env("CONSOLE_URL", "https://console.example")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = command.spawn().context("start the console bootstrap")?;
    for _ in 0..2 {
        tokio::time::timeout(Duration::from_secs(30), runtime.answered.notified())
            .await
            .context("the console function did not answer")?;
    }
    child.kill().await?;
    server.abort();
    let answers = runtime.answers.lock().expect("lock");
    ensure!(answers.len() == 2, "two answers: {}", answers.len());
    ensure!(answers[0].1["statusCode"] == 303, "the sign-in redirect: {}", answers[0].1);
    Ok((answers[0].0 - started, answers[1].0 - answers[0].0))
}
