//! One stored upload served to ffmpeg over loopback HTTP, backed by ranged reads.
//!
//! ffmpeg opens `http://127.0.0.1:<port>/<random token>` (with `-protocol_whitelist http,tcp`
//! and the demuxer whitelist) and asks for the byte ranges it needs: headers, an index at the
//! end of the file, a seek target. Nothing else is reachable through it: one path, one object
//! (pinned to its entity tag), loopback only, for as long as the [`Served`] lives.
//!
//! The object is read from storage in blocks of [`BLOCK`] bytes, kept while they fit in
//! [`CACHED_BLOCKS`]: ffmpeg asks for open-ended ranges and reopens the file for every seek and
//! every probe, and blocks keep what is fetched close to what it reads.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::{Bytes, BytesMut};
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

/// How much is read from storage at once.
pub const BLOCK: u64 = 1024 * 1024;
/// How many blocks are kept.
const CACHED_BLOCKS: usize = 32;

#[derive(Debug)]
struct Shared {
    token: String,
    source: Arc<StoredObject>,
    /// Bytes read from storage so far.
    bytes: AtomicU64,
    blocks: tokio::sync::Mutex<Blocks>,
    /// The first failed read, so that a failed probe can tell a replaced upload or a storage
    /// failure from damaged media.
    failure: Mutex<Option<StoreError>>,
}

/// Blocks read so far, the oldest evicted first.
#[derive(Debug, Default)]
struct Blocks {
    kept: HashMap<u64, Bytes>,
    order: VecDeque<u64>,
}

impl Shared {
    /// Block `index` of the object, from the cache or from storage.
    async fn block(&self, index: u64) -> Result<Bytes, StoreError> {
        let mut blocks = self.blocks.lock().await;
        if let Some(block) = blocks.kept.get(&index) {
            return Ok(block.clone());
        }
        let (from, to) = (index * BLOCK, ((index + 1) * BLOCK).min(self.source.size));
        let mut stream = self.source.read(from, Some(to)).await?;
        let mut block = BytesMut::with_capacity((to - from) as usize);
        while let Some(chunk) = stream.next().await {
            block.extend_from_slice(&chunk?);
        }
        let block = block.freeze();
        self.bytes.fetch_add(block.len() as u64, Ordering::Relaxed);
        if blocks.order.len() >= CACHED_BLOCKS
            && let Some(oldest) = blocks.order.pop_front()
        {
            blocks.kept.remove(&oldest);
        }
        blocks.order.push_back(index);
        blocks.kept.insert(index, block.clone());
        Ok(block)
    }

    fn note(&self, error: StoreError) -> std::io::Error {
        let io = std::io::Error::other(error.to_string());
        if let Ok(mut failure) = self.failure.lock() {
            failure.get_or_insert(error);
        }
        io
    }
}

impl Served {
    pub async fn start(source: Arc<StoredObject>) -> std::io::Result<Served> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let token = uuid::Uuid::new_v4().simple().to_string();
        let shared = Arc::new(Shared {
            token: token.clone(),
            source,
            bytes: AtomicU64::new(0),
            blocks: tokio::sync::Mutex::new(Blocks::default()),
            failure: Mutex::new(None),
        });
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

    /// Bytes read from storage so far.
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
    // The first block is read before answering, so that a refused read is an HTTP error.
    let first = match shared.block(start / BLOCK).await {
        Ok(block) => block,
        Err(error) => {
            let status = match error {
                StoreError::Conflict(_) => StatusCode::PRECONDITION_FAILED,
                _ => StatusCode::BAD_GATEWAY,
            };
            let _ = shared.note(error);
            return status.into_response();
        }
    };
    let slice = move |index: u64, block: Bytes| {
        let offset = index * BLOCK;
        let from = start.saturating_sub(offset) as usize;
        let to = ((end + 1 - offset) as usize).min(block.len());
        block.slice(from.min(to)..to)
    };
    let head = futures::stream::once(std::future::ready(Ok::<_, std::io::Error>(slice(start / BLOCK, first))));
    let reader = shared.clone();
    let rest = futures::stream::iter(start / BLOCK + 1..=end / BLOCK).then(move |index| {
        let reader = reader.clone();
        async move { reader.block(index).await.map(|block| slice(index, block)).map_err(|e| reader.note(e)) }
    });
    let body = Body::from_stream(head.chain(rest));
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::adapters::memory::Memory;
    use crate::domain::object::ObjectRef;
    use crate::ports::ObjectStore;

    /// The body of a GET of `url` with `range`, over a plain connection.
    async fn get(url: &str, range: &str) -> (String, Vec<u8>) {
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_once('/').unwrap();
        let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
        let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nRange: {range}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        (String::from_utf8_lossy(&answer[..split]).into_owned(), answer[split + 4..].to_vec())
    }

    #[tokio::test]
    async fn ranges_are_served_from_blocks_read_once() {
        let memory = Memory::default();
        let object = ObjectRef::new("media", "in/big.mp4");
        let data: Vec<u8> = (0..3 * BLOCK).map(|i| (i % 251) as u8).collect();
        memory.put_object(object.clone(), data.clone(), None);
        let etag = memory.head(&object).await.unwrap().unwrap().etag;
        let source = Arc::new(StoredObject { store: Arc::new(memory), object, etag, size: data.len() as u64 });
        let served = Served::start(source).await.unwrap();
        let (head, body) = get(served.url(), "bytes=1048570-1048580").await;
        assert!(head.starts_with("HTTP/1.1 206"), "{head}");
        assert!(head.to_ascii_lowercase().contains("content-range: bytes 1048570-1048580/3145728"), "{head}");
        assert_eq!(body, data[1_048_570..=1_048_580]);
        assert_eq!(served.bytes_read(), 2 * BLOCK, "the two blocks the range spans");
        let (_, again) = get(served.url(), "bytes=1048570-1048580").await;
        assert_eq!(again, body);
        assert_eq!(served.bytes_read(), 2 * BLOCK, "read once");
        let (head, _) =
            get(&served.url().replace(&served.url()[served.url().len() - 8..], "notours0"), "bytes=0-").await;
        assert!(head.starts_with("HTTP/1.1 404"), "only the token's path: {head}");
    }

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
