//! A fault-injecting proxy in front of the local server, for the chaos runs and their tests (a
//! test tool, not a part of mediaflow): it forwards every S3, DynamoDB and SQS request to moto,
//! and fails a chosen share of them the ways AWS does when it misbehaves — a 500, S3's 503
//! SlowDown, DynamoDB's ProvisionedThroughputExceeded and Throttling, SQS's throttling, an
//! answer cut off after the request was carried out (a lost answer), an answer slower than the
//! SDK waits — and can refuse everything for a while (the server unreachable). The functions'
//! clients use it as their endpoint, exactly as they use AWS's.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::task::JoinHandle;
use tracing::error;

/// The service a request is for, told by its headers as AWS tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    S3,
    DynamoDb,
    Sqs,
}

/// One way a request fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// 500 InternalError (InternalServerError for DynamoDB).
    ServerError,
    /// S3: 503 SlowDown; DynamoDB: ProvisionedThroughputExceeded or ThrottlingException; SQS:
    /// ThrottlingException.
    Throttled,
    /// The request is carried out, and its answer cut off mid-way: the caller cannot tell
    /// whether it happened.
    LostAnswer,
    /// The answer comes after the plan's `slow` delay (past the SDK's attempt timeout).
    Slow,
    /// The server refused the connection (an outage).
    Refused,
}

impl Fault {
    pub const INJECTED: [Fault; 4] = [Fault::ServerError, Fault::Throttled, Fault::LostAnswer, Fault::Slow];

    pub fn describe(self) -> &'static str {
        match self {
            Fault::ServerError => "500 internal error",
            Fault::Throttled => "throttled (503 SlowDown, ProvisionedThroughputExceeded)",
            Fault::LostAnswer => "answer lost after the request was carried out",
            Fault::Slow => "answer slower than the SDK's timeout",
            Fault::Refused => "server unreachable (outage)",
        }
    }
}

/// Which share of requests fail, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultPlan {
    /// The share of requests (0–1) that fail, per service.
    pub rates: BTreeMap<Service, f64>,
    /// The faults chosen from, evenly.
    pub faults: Vec<Fault>,
    /// How late a slow answer comes.
    pub slow: Duration,
    pub seed: u64,
}

impl FaultPlan {
    /// `rate` of every service's requests, failing every way.
    pub fn everywhere(rate: f64, slow: Duration, seed: u64) -> Self {
        Self {
            rates: [(Service::S3, rate), (Service::DynamoDb, rate), (Service::Sqs, rate)].into(),
            faults: Fault::INJECTED.to_vec(),
            slow,
            seed,
        }
    }
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    plan: Mutex<Option<FaultPlan>>,
    random: Mutex<fastrand::Rng>,
    /// Until when every request is refused.
    outage: Mutex<Option<Instant>>,
    requests: AtomicU64,
    injected: Mutex<BTreeMap<(Service, Fault), u64>>,
}

/// The running proxy; stopped when dropped.
pub struct FaultProxy {
    pub endpoint: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Starts the proxy on a free loopback port, in front of `upstream`, injecting nothing yet.
    pub async fn start(upstream: &str) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder().pool_max_idle_per_host(64).build()?,
            plan: Mutex::new(None),
            random: Mutex::new(fastrand::Rng::with_seed(0)),
            outage: Mutex::new(None),
            requests: AtomicU64::new(0),
            injected: Mutex::new(BTreeMap::new()),
        });
        let app = Router::new().fallback(forward).with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                error!(error = %e, "fault proxy stopped");
            }
        });
        Ok(Self { endpoint, shared, server })
    }

    /// Injects faults as `plan` says from now on (`None`: none).
    pub fn set_plan(&self, plan: Option<FaultPlan>) {
        if let Some(plan) = &plan
            && let Ok(mut random) = self.shared.random.lock()
        {
            *random = fastrand::Rng::with_seed(plan.seed);
        }
        if let Ok(mut current) = self.shared.plan.lock() {
            *current = plan;
        }
    }

    /// Refuses every request for `how_long` from now: the storage server is unreachable.
    pub fn outage(&self, how_long: Duration) {
        if let Ok(mut outage) = self.shared.outage.lock() {
            *outage = Some(Instant::now() + how_long);
        }
    }

    /// Requests seen so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// The faults injected so far, by service and kind.
    pub fn injected(&self) -> BTreeMap<(Service, Fault), u64> {
        self.shared.injected.lock().map(|counts| counts.clone()).unwrap_or_default()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn service_of(headers: &HeaderMap) -> Service {
    match headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        Some(target) if target.starts_with("DynamoDB") => Service::DynamoDb,
        Some(target) if target.starts_with("AmazonSQS") => Service::Sqs,
        _ => Service::S3,
    }
}

impl Shared {
    /// The fault this request meets, if any.
    fn draw(&self, service: Service) -> Option<Fault> {
        if self.outage.lock().ok().and_then(|outage| *outage).is_some_and(|until| Instant::now() < until) {
            return Some(Fault::Refused);
        }
        let plan = self.plan.lock().ok()?.clone()?;
        let rate = plan.rates.get(&service).copied().unwrap_or(0.0);
        let mut random = self.random.lock().ok()?;
        if plan.faults.is_empty() || random.f64() >= rate {
            return None;
        }
        Some(plan.faults[random.usize(..plan.faults.len())])
    }

    fn count(&self, service: Service, fault: Fault) {
        if let Ok(mut counts) = self.injected.lock() {
            *counts.entry((service, fault)).or_default() += 1;
        }
    }

    fn slow(&self) -> Duration {
        self.plan.lock().ok().and_then(|plan| plan.as_ref().map(|plan| plan.slow)).unwrap_or_default()
    }
}

/// The error AWS would answer with.
fn refusal(service: Service, fault: Fault, throttle_flavour: bool) -> Response {
    let json = |status: StatusCode, kind: &str, message: &str| {
        let body = serde_json::json!({"__type": kind, "message": message}).to_string();
        (status, [("content-type", "application/x-amz-json-1.0")], body).into_response()
    };
    let xml = |status: StatusCode, code: &str, message: &str| {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault</RequestId></Error>"
        );
        (status, [("content-type", "application/xml")], body).into_response()
    };
    match (service, fault) {
        (Service::S3, Fault::Throttled) => {
            xml(StatusCode::SERVICE_UNAVAILABLE, "SlowDown", "Please reduce your request rate.")
        }
        (Service::S3, _) => xml(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
        ),
        (Service::DynamoDb, Fault::Throttled) if throttle_flavour => json(
            StatusCode::BAD_REQUEST,
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
        (Service::DynamoDb, Fault::Throttled) => json(
            StatusCode::BAD_REQUEST,
            "com.amazonaws.dynamodb.v20120810#ThrottlingException",
            "Rate of requests exceeds the allowed throughput.",
        ),
        (Service::DynamoDb, _) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            "com.amazonaws.dynamodb.v20120810#InternalServerError",
            "Internal server error",
        ),
        (Service::Sqs, Fault::Throttled) => json(StatusCode::BAD_REQUEST, "ThrottlingException", "Rate exceeded"),
        (Service::Sqs, _) => json(StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", "Internal failure"),
    }
}

/// Hop-by-hop headers are the proxy's own; the rest travel as they are.
fn end_to_end(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "connection" | "keep-alive" | "transfer-encoding" | "upgrade" | "host" | "proxy-connection"
    )
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let service = service_of(request.headers());
    let fault = shared.draw(service);
    if let Some(fault) = fault {
        shared.count(service, fault);
    }
    match fault {
        Some(Fault::Refused) => {
            // As close to a refused connection as a server can come: no answer at all.
            return cut_off(StatusCode::SERVICE_UNAVAILABLE);
        }
        Some(fault @ (Fault::ServerError | Fault::Throttled)) => {
            let flavour = shared.requests.load(Ordering::Relaxed) % 2 == 0;
            return refusal(service, fault, flavour);
        }
        Some(Fault::Slow) => tokio::time::sleep(shared.slow()).await,
        _ => {}
    }
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = shared.client.request(parts.method.clone(), format!("{}{path}", shared.upstream));
    for (name, value) in parts.headers.iter().filter(|(name, _)| end_to_end(name)) {
        upstream = upstream.header(name, value);
    }
    let answer = match upstream.body(reqwest::Body::wrap_stream(body.into_data_stream())).send().await {
        Ok(answer) => answer,
        Err(e) => return (StatusCode::BAD_GATEWAY, format!("upstream: {e}")).into_response(),
    };
    let lost = fault == Some(Fault::LostAnswer);
    if lost && (parts.method == axum::http::Method::HEAD || answer.content_length() == Some(0)) {
        // Nothing to cut short: the request was carried out, and the caller hears a 500.
        return refusal(service, Fault::ServerError, false);
    }
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers().iter().filter(|(name, _)| end_to_end(name)) {
        response = response.header(name, value);
    }
    let body = match lost {
        // The headers arrive, the body breaks off at once: the connection closes mid-answer.
        true => Body::from_stream(broken()),
        false => Body::from_stream(answer.bytes_stream()),
    };
    response.body(body).unwrap_or_else(|e| (StatusCode::BAD_GATEWAY, e.to_string()).into_response())
}

fn broken() -> futures::stream::BoxStream<'static, Result<bytes::Bytes, std::io::Error>> {
    futures::stream::once(async { Err(std::io::Error::other("connection reset")) }).boxed()
}

/// An answer whose body breaks off at once: the connection closes mid-answer.
fn cut_off(status: StatusCode) -> Response {
    Response::builder()
        .status(status)
        .header("content-length", "1024")
        .body(Body::from_stream(broken()))
        .unwrap_or_else(|e| (StatusCode::BAD_GATEWAY, e.to_string()).into_response())
}
