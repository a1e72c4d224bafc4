//! A function run as its own built binary, one process per invocation, as Lambda runs it: the
//! process is started with the function's environment and takes its invocation from Lambda's
//! runtime API, served on loopback for that one invocation. When the run is cut off (a timeout,
//! or [`LocalLambda::cut_runs`](crate::LocalLambda::cut_runs)), its whole process group —
//! ffmpeg included — is killed with SIGKILL, as Lambda ends a sandbox.

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mediaflow::app::pipeline::attempt::Invocation;
use serde_json::Value;
use tokio::sync::oneshot;
use tracing::warn;

use crate::lambda::{Function, MEMORY_MB};

const API: &str = "/2018-06-01/runtime";

/// A built function binary and what it runs with.
#[derive(Clone, Debug)]
pub struct Process {
    pub binary: PathBuf,
    /// The function's name, as Lambda tells it (`AWS_LAMBDA_FUNCTION_NAME`).
    pub name: String,
    pub environment: Vec<(String, String)>,
    /// Where the processes' standard output and error go (appended).
    pub log: PathBuf,
    /// Process groups running now.
    running: Arc<Mutex<BTreeSet<u32>>>,
    /// Runs whose process a signal ended.
    killed: Arc<AtomicUsize>,
}

/// One invocation, as the runtime API hands it out; the answer goes back through `answer`.
struct Pending {
    payload: Value,
    invocation: Invocation,
    function_arn: String,
    answer: Mutex<Option<oneshot::Sender<Result<Value, String>>>>,
    taken: Mutex<bool>,
}

impl Process {
    pub fn new(binary: PathBuf, name: &str, environment: Vec<(String, String)>, log: PathBuf) -> Self {
        Self { binary, name: name.to_owned(), environment, log, running: Arc::default(), killed: Arc::default() }
    }

    /// How many runs a signal ended (SIGKILL from outside), so far.
    pub fn killed(&self) -> usize {
        self.killed.load(Ordering::SeqCst)
    }

    /// The process groups (by their leader's pid) of the invocations running now.
    pub fn running(&self) -> Vec<u32> {
        self.running.lock().map(|running| running.iter().copied().collect()).unwrap_or_default()
    }

    /// This binary as a [`Function`] of the local Lambda service.
    pub fn function(self) -> Function {
        let process = Arc::new(self);
        Arc::new(move |payload, invocation| {
            let process = process.clone();
            Box::pin(async move { process.run(payload, invocation).await })
        })
    }

    async fn run(&self, payload: Value, invocation: Invocation) -> Result<Value, String> {
        let (answer, answered) = oneshot::channel();
        let pending = Arc::new(Pending {
            payload,
            invocation,
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{}", self.name),
            answer: Mutex::new(Some(answer)),
            taken: Mutex::new(false),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let api = listener.local_addr().map_err(|e| e.to_string())?;
        let app = Router::new()
            .route(&format!("{API}/invocation/next"), get(next))
            .route(&format!("{API}/invocation/{{id}}/response"), post(respond))
            .route(&format!("{API}/invocation/{{id}}/error"), post(fail))
            .route(&format!("{API}/init/error"), post(fail_init))
            .with_state(pending.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let _server = AbortOnDrop(server);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let mut child = tokio::process::Command::new(&self.binary)
            .env_clear()
            .envs(self.environment.iter().map(|(k, v)| (k, v)))
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &self.name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", MEMORY_MB.to_string())
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        let group = child.id().ok_or("the function's process ended at once")?;
        let _group = KillGroupOnDrop { group, running: self.running.clone() };
        if let Ok(mut running) = self.running.lock() {
            running.insert(group);
        }
        tokio::select! {
            answer = answered => answer.unwrap_or_else(|_| Err("the runtime API stopped".to_owned())),
            status = child.wait() => Err(match status {
                Ok(status) => {
                    if status.signal().is_some() {
                        self.killed.fetch_add(1, Ordering::SeqCst);
                    }
                    format!("Runtime exited with error: {status}")
                }
                Err(e) => format!("Runtime exited with error: {e}"),
            }),
        }
    }
}

async fn next(State(pending): State<Arc<Pending>>) -> Response {
    let first = pending.taken.lock().map(|mut taken| !std::mem::replace(&mut *taken, true)).unwrap_or(false);
    if !first {
        // One invocation per process: the next one never comes (the process is ended first).
        return std::future::pending::<Response>().await;
    }
    let mut headers = HeaderMap::new();
    let deadline = pending.invocation.deadline.map_or(i64::MAX, |deadline| deadline.timestamp_millis());
    let header = |text: &str| HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static(""));
    headers.insert("lambda-runtime-aws-request-id", header(&pending.invocation.request_id));
    headers.insert("lambda-runtime-deadline-ms", header(&deadline.to_string()));
    headers.insert("lambda-runtime-invoked-function-arn", header(&pending.function_arn));
    (StatusCode::OK, headers, pending.payload.to_string()).into_response()
}

fn answer(pending: &Pending, result: Result<Value, String>) -> StatusCode {
    if let Some(sender) = pending.answer.lock().ok().and_then(|mut answer| answer.take()) {
        let _ = sender.send(result);
    }
    StatusCode::ACCEPTED
}

async fn respond(State(pending): State<Arc<Pending>>, Path(_id): Path<String>, body: Bytes) -> StatusCode {
    answer(
        &pending,
        serde_json::from_slice(&body).or_else(|_| Ok(Value::String(String::from_utf8_lossy(&body).into()))),
    )
}

async fn fail(State(pending): State<Arc<Pending>>, Path(_id): Path<String>, body: Bytes) -> StatusCode {
    let error: Value = serde_json::from_slice(&body).unwrap_or_default();
    let message =
        error["errorMessage"].as_str().map_or_else(|| String::from_utf8_lossy(&body).into_owned(), str::to_owned);
    answer(&pending, Err(message))
}

async fn fail_init(State(pending): State<Arc<Pending>>, body: Bytes) -> StatusCode {
    warn!(error = %String::from_utf8_lossy(&body), "the function's process failed to start");
    answer(&pending, Err(format!("Runtime.InitError: {}", String::from_utf8_lossy(&body))))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Ends the invocation's process group when the run is over, however it ended: SIGKILL to every
/// process in it (the function and its ffmpeg), by group id.
struct KillGroupOnDrop {
    group: u32,
    running: Arc<Mutex<BTreeSet<u32>>>,
}

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(&self.group);
        }
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.group)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
