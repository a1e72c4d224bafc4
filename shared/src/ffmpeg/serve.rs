//! One stored upload served to ffmpeg over loopback HTTP, backed by ranged reads.
//!
//! ffmpeg opens `http://127.0.0.1:<port>/<random token>` (with `-protocol_whitelist http,tcp`
//! and the demuxer whitelist) and asks for the byte ranges it needs: headers, an index at the
//! end of the file, a seek target. Nothing else is reachable through it: one path, one object
//! (pinned to its entity tag), loopback only, for as long as the [`Served`] lives.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use tokio::task::JoinHandle;

use crate::ports::{StoreError, StoredObject};

/// The running server; stopped when dropped.
#[derive(Debug)]
pub struct Served {
    url: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    token: String,
    source: Arc<StoredObject>,
    bytes: AtomicU64,
    /// The first failed read, so that a failed probe can tell a replaced upload or a storage
    /// failure from damaged media.
    failure: Mutex<Option<StoreError>>,
}

impl Served {
    pub async fn start(source: Arc<StoredObject>) -> std::io::Result<Served> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let token = uuid::Uuid::new_v4().simple().to_string();
        let shared =
            Arc::new(Shared { token: token.clone(), source, bytes: AtomicU64::new(0), failure: Mutex::new(None) });
        let app = Router::new().route("/{token}", get(serve)).with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "source server stopped");
            }
        });
        Ok(Served { url: format!("http://127.0.0.1:{port}/{token}"), shared, server })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Bytes sent to ffmpeg so far.
    pub fn bytes_read(&self) -> u64 {
        self.shared.bytes.load(Ordering::Relaxed)
    }

    /// The first read that failed, if any.
    pub fn failure(&self) -> Option<StoreError> {
        self.shared.failure.lock().ok().and_then(|mut failure| failure.take())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// `bytes=START-` or `bytes=START-END` (inclusive), as ffmpeg asks.
fn range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(value) = headers.get(header::RANGE) else { return Ok(None) };
    let spec = value.to_str().map_err(|_| ())?.strip_prefix("bytes=").ok_or(())?;
    let (start, end) = spec.split_once('-').ok_or(())?;
    let start: u64 = start.trim().parse().map_err(|_| ())?;
    let end = match end.trim() {
        "" => size.saturating_sub(1),
        end => end.parse::<u64>().map_err(|_| ())?.min(size.saturating_sub(1)),
    };
    if start >= size || end < start {
        return Err(());
    }
    Ok(Some((start, end)))
}

async fn serve(State(shared): State<Arc<Shared>>, Path(token): Path<String>, headers: HeaderMap) -> Response {
    if token != shared.token {
        return StatusCode::NOT_FOUND.into_response();
    }
    let size = shared.source.size;
    let (status, start, end) = match range(&headers, size) {
        Ok(Some((start, end))) => (StatusCode::PARTIAL_CONTENT, start, end),
        Ok(None) if size > 0 => (StatusCode::OK, 0, size - 1),
        _ => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return response;
        }
    };
    let stream = match shared.source.read(start, Some(end + 1)).await {
        Ok(stream) => stream,
        Err(error) => {
            let status = match error {
                StoreError::Conflict(_) => StatusCode::PRECONDITION_FAILED,
                _ => StatusCode::BAD_GATEWAY,
            };
            if let Ok(mut failure) = shared.failure.lock() {
                failure.get_or_insert(error);
            }
            return status.into_response();
        }
    };
    let counter = shared.clone();
    let body = Body::from_stream(stream.inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            counter.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
    }));
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end + 1 - start));
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{end}/{size}"))
    {
        headers.insert(header::CONTENT_RANGE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(range: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(range).unwrap());
        headers
    }

    #[test]
    fn ranges_are_open_or_closed_and_clamped_to_the_object() {
        assert_eq!(range(&HeaderMap::new(), 100), Ok(None));
        assert_eq!(range(&headers("bytes=0-"), 100), Ok(Some((0, 99))));
        assert_eq!(range(&headers("bytes=10-19"), 100), Ok(Some((10, 19))));
        assert_eq!(range(&headers("bytes=90-500"), 100), Ok(Some((90, 99))));
        assert_eq!(range(&headers("bytes=100-"), 100), Err(()));
        assert_eq!(range(&headers("items=1-2"), 100), Err(()));
    }
}
