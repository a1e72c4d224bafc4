//! A webhook receiver for the tests: a loopback server that records what it is sent and checks
//! Standard Webhooks signatures as a receiver does.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// The secret the tests' webhooks are signed with.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What a receiver was sent: headers and body of each request.
type Requests = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A webhook receiver on a free loopback port: answers 500 to the first `fail_first` requests.
pub struct Receiver {
    pub url: String,
    seen: Requests,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> anyhow::Result<Receiver> {
        let seen: Requests = Arc::default();
        let app = Router::new().route(
            "/hook",
            post(move |State(seen): State<Requests>, headers: HeaderMap, body: Bytes| async move {
                let mut seen = seen.lock().expect("receiver state");
                seen.push((headers, body));
                if seen.len() <= fail_first { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::NO_CONTENT }
            })
            .with_state(seen.clone()),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Receiver { url, seen, server })
    }

    pub fn requests(&self) -> Vec<(HeaderMap, Bytes)> {
        self.seen.lock().map(|seen| seen.clone()).unwrap_or_default()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Checks a request's Standard Webhooks signature the way a receiver does; its JSON body.
pub fn verified(headers: &HeaderMap, body: &[u8]) -> anyhow::Result<Value> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (id, timestamp) = (header("webhook-id"), header("webhook-timestamp"));
    let age = chrono::Utc::now().timestamp() - timestamp.parse::<i64>()?;
    anyhow::ensure!(age.abs() < 300, "stale timestamp {timestamp}");
    let key = BASE64.decode(SECRET.trim_start_matches("whsec_"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key)?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()));
    anyhow::ensure!(header("webhook-signature").split(' ').any(|s| s == expected), "bad signature");
    Ok(serde_json::from_slice(body)?)
}
