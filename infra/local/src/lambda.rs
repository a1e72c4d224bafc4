//! A local Lambda service: the Invoke API on loopback, running registered functions
//! in-process, with Lambda's asynchronous semantics — `Event` invocations are queued (202),
//! run with bounded concurrency, retried twice on error, then sent to an on-failure queue.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use mediaflow::app::pipeline::attempt::Invocation;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tracing::{error, warn};

/// A function body: the payload and the invocation in, the result or an error message out.
/// The memory the local functions are given, in MB (the template's worker default).
pub const MEMORY_MB: u32 = 3008;

pub type Function =
    Arc<dyn Fn(Value, Invocation) -> Pin<Box<dyn Future<Output = Result<Value, String>> + Send>> + Send + Sync>;

/// Where exhausted asynchronous invocations go (Lambda's on-failure destination).
pub type OnFailure = Arc<dyn Fn(Value) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Lambda retries a failed asynchronous invocation twice.
const ASYNC_ATTEMPTS: u32 = 3;

struct Registered {
    body: Function,
    timeout: Duration,
    on_failure: Option<OnFailure>,
}

struct Shared {
    functions: HashMap<String, Registered>,
    /// Other names a function answers to (e.g. its deployed name).
    aliases: HashMap<String, String>,
    running: AtomicUsize,
    slots: Semaphore,
    retry_delay: Duration,
    invocations: Mutex<HashMap<String, usize>>,
    faults: Mutex<HashMap<String, Faults>>,
}

/// Failures injected into a function, for tests of what happens then.
#[derive(Default)]
struct Faults {
    /// Invoke requests seen so far.
    requests: usize,
    /// Requests whose 1-based number falls here are answered 500 (a Lambda service error).
    failing_requests: std::ops::Range<usize>,
    /// How many more runs fail before the function body is called (a crashed invocation).
    failing_runs: usize,
    /// Runs cut off part-way (see [`LocalLambda::cut_runs`]).
    cuts: Option<Cuts>,
}

/// A share of runs stopped at a random moment within `within`, as SIGKILL stops a process: the
/// function's work is dropped where it stands (its ffmpeg killed with it), nothing after that
/// point runs, and Lambda sees the invocation fail.
struct Cuts {
    share: f64,
    within: Duration,
    random: fastrand::Rng,
    done: usize,
}

/// The running service; stopped when dropped.
pub struct LocalLambda {
    pub endpoint: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl std::fmt::Debug for LocalLambda {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLambda").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

/// Functions to serve, with their timeouts and on-failure destinations.
#[derive(Default)]
pub struct Functions(HashMap<String, Registered>, HashMap<String, String>);

impl std::fmt::Debug for Functions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl Functions {
    pub fn add(mut self, name: &str, timeout: Duration, on_failure: Option<OnFailure>, body: Function) -> Self {
        self.0.insert(name.to_owned(), Registered { body, timeout, on_failure });
        self
    }

    /// Makes `name` answer to `alias` too (faults and counts stay under `name`).
    pub fn alias(mut self, alias: &str, name: &str) -> Self {
        self.1.insert(alias.to_owned(), name.to_owned());
        self
    }
}

impl LocalLambda {
    /// A loopback listener for the service and its endpoint URL, so that clients of the
    /// service can be built before the functions that use them.
    pub async fn listen() -> anyhow::Result<(tokio::net::TcpListener, String)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        Ok((listener, format!("http://{addr}")))
    }

    /// Serves `functions` on `listener`; at most `concurrency` asynchronous invocations run
    /// at once, and retries wait `retry_delay` times the attempt number.
    pub fn serve(
        listener: tokio::net::TcpListener,
        functions: Functions,
        concurrency: usize,
        retry_delay: Duration,
    ) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared {
            functions: functions.0,
            aliases: functions.1,
            running: AtomicUsize::new(0),
            slots: Semaphore::new(concurrency.max(1)),
            retry_delay,
            invocations: Mutex::new(HashMap::new()),
            faults: Mutex::new(HashMap::new()),
        });
        let addr: SocketAddr = listener.local_addr()?;
        let app =
            Router::new().route("/2015-03-31/functions/{name}/invocations", post(invoke)).with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                error!(error = %e, "local lambda server stopped");
            }
        });
        Ok(Self { endpoint: format!("http://{addr}"), shared, server })
    }

    /// Invokes `name` and waits for its result (as `RequestResponse` does).
    pub async fn call(&self, name: &str, payload: Value) -> Result<Value, String> {
        run_once(&self.shared, name, payload).await
    }

    /// Whether no asynchronous invocation is queued, running or waiting for a retry.
    pub fn is_idle(&self) -> bool {
        self.shared.running.load(Ordering::SeqCst) == 0
    }

    /// Answers Invoke requests number `after + 1` to `after + count` for `name` with a 500
    /// service error (the client's own retries see them too).
    pub fn fail_requests(&self, name: &str, after: usize, count: usize) {
        if let Ok(mut faults) = self.shared.faults.lock() {
            let fault = faults.entry(name.to_owned()).or_default();
            fault.failing_requests = fault.requests + after + 1..fault.requests + after + count + 1;
        }
    }

    /// Makes the next `count` runs of `name` fail as if the invocation crashed.
    pub fn fail_runs(&self, name: &str, count: usize) {
        if let Ok(mut faults) = self.shared.faults.lock() {
            faults.entry(name.to_owned()).or_default().failing_runs = count;
        }
    }

    /// Cuts off `share` (0–1) of the runs of `name` from now on, each at a random moment within
    /// `within` of its start (`share` 0: none).
    pub fn cut_runs(&self, name: &str, share: f64, within: Duration, seed: u64) {
        if let Ok(mut faults) = self.shared.faults.lock() {
            let cuts = (share > 0.0).then(|| Cuts { share, within, random: fastrand::Rng::with_seed(seed), done: 0 });
            faults.entry(name.to_owned()).or_default().cuts = cuts;
        }
    }

    /// How many runs of `name` were cut off so far.
    pub fn runs_cut(&self, name: &str) -> usize {
        let faults = self.shared.faults.lock();
        faults.ok().and_then(|faults| faults.get(name).and_then(|f| f.cuts.as_ref().map(|c| c.done))).unwrap_or(0)
    }

    /// How many times `name` ran (retries count).
    pub fn invocations(&self, name: &str) -> usize {
        self.shared.invocations.lock().map(|counts| counts.get(name).copied().unwrap_or(0)).unwrap_or(0)
    }
}

impl Drop for LocalLambda {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn run_once(shared: &Shared, name: &str, payload: Value) -> Result<Value, String> {
    let function = shared.functions.get(name).ok_or_else(|| format!("Function not found: {name}"))?;
    if let Ok(mut counts) = shared.invocations.lock() {
        *counts.entry(name.to_owned()).or_default() += 1;
    }
    let crash = shared.faults.lock().ok().and_then(|mut faults| {
        let fault = faults.get_mut(name).filter(|f| f.failing_runs > 0)?;
        fault.failing_runs -= 1;
        Some(())
    });
    if crash.is_some() {
        return Err("Runtime exited with error: injected crash".to_owned());
    }
    let deadline = chrono::TimeDelta::from_std(function.timeout).ok().map(|timeout| Utc::now() + timeout);
    let invocation = Invocation::new(uuid::Uuid::new_v4().to_string(), deadline, MEMORY_MB);
    let cut_at = shared.faults.lock().ok().and_then(|mut faults| {
        let cuts = faults.get_mut(name)?.cuts.as_mut()?;
        (cuts.random.f64() < cuts.share).then(|| cuts.within.mul_f64(cuts.random.f64()))
    });
    let run = tokio::time::timeout(function.timeout, (function.body)(payload, invocation));
    let outcome = match cut_at {
        None => run.await,
        Some(at) => tokio::select! {
            outcome = run => outcome,
            () = tokio::time::sleep(at) => {
                if let Ok(mut faults) = shared.faults.lock()
                    && let Some(cuts) = faults.get_mut(name).and_then(|f| f.cuts.as_mut())
                {
                    cuts.done += 1;
                }
                warn!(function = %name, after_ms = at.as_millis() as u64, "run cut off (as by SIGKILL)");
                return Err("Runtime exited with error: signal: killed".to_owned());
            }
        },
    };
    match outcome {
        Ok(result) => result,
        Err(_) => Err(format!("Task timed out after {:.2} seconds", function.timeout.as_secs_f64())),
    }
}

/// Runs an asynchronous invocation with Lambda's retries, then its on-failure destination.
async fn run_async(shared: Arc<Shared>, name: String, payload: Value) {
    let mut error = String::new();
    for attempt in 1..=ASYNC_ATTEMPTS {
        let outcome = {
            let _slot = shared.slots.acquire().await;
            run_once(&shared, &name, payload.clone()).await
        };
        match outcome {
            Ok(_) => {
                shared.running.fetch_sub(1, Ordering::SeqCst);
                return;
            }
            Err(e) => {
                warn!(function = %name, attempt, error = %e, "asynchronous invocation failed");
                error = e;
                if attempt < ASYNC_ATTEMPTS {
                    tokio::time::sleep(shared.retry_delay * attempt).await;
                }
            }
        }
    }
    if let Some(on_failure) = shared.functions.get(&name).and_then(|f| f.on_failure.clone()) {
        // The record Lambda sends to an on-failure destination.
        on_failure(json!({
            "version": "1.0",
            "timestamp": Utc::now().to_rfc3339(),
            "requestContext": {"functionArn": name, "condition": "RetriesExhausted", "approximateInvokeCount": ASYNC_ATTEMPTS},
            "requestPayload": payload,
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": error},
        }))
        .await;
    }
    shared.running.fetch_sub(1, Ordering::SeqCst);
}

async fn invoke(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Function names may arrive as ARNs; the name is the last part.
    let name = name.rsplit(':').next().unwrap_or(&name);
    let name = shared.aliases.get(name).map_or(name, String::as_str).to_owned();
    if !shared.functions.contains_key(&name) {
        let body = json!({"Type": "User", "message": format!("Function not found: {name}")});
        return (StatusCode::NOT_FOUND, [("x-amzn-errortype", "ResourceNotFoundException")], body.to_string())
            .into_response();
    }
    let injected = shared.faults.lock().ok().is_some_and(|mut faults| {
        let fault = faults.entry(name.clone()).or_default();
        fault.requests += 1;
        fault.failing_requests.contains(&fault.requests)
    });
    if injected {
        let body = json!({"Type": "Service", "message": "injected service error"});
        return (StatusCode::INTERNAL_SERVER_ERROR, [("x-amzn-errortype", "ServiceException")], body.to_string())
            .into_response();
    }
    let payload: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(payload) => payload,
            Err(e) => {
                let body = json!({"Type": "User", "message": format!("Could not parse request body into json: {e}")});
                return (
                    StatusCode::BAD_REQUEST,
                    [("x-amzn-errortype", "InvalidRequestContentException")],
                    body.to_string(),
                )
                    .into_response();
            }
        }
    };
    let invocation_type =
        headers.get("x-amz-invocation-type").and_then(|v| v.to_str().ok()).unwrap_or("RequestResponse");
    match invocation_type {
        "Event" => {
            shared.running.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(run_async(shared.clone(), name, payload));
            StatusCode::ACCEPTED.into_response()
        }
        "DryRun" => StatusCode::NO_CONTENT.into_response(),
        _ => match run_once(&shared, &name, payload).await {
            Ok(result) => (StatusCode::OK, result.to_string()).into_response(),
            Err(e) => {
                let body = json!({"errorType": "Unhandled", "errorMessage": e});
                (StatusCode::OK, [("x-amz-function-error", "Unhandled")], body.to_string()).into_response()
            }
        },
    }
}
