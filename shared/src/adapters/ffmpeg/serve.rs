//! One stored upload served to ffmpeg over loopback HTTP, backed by ranged reads.
//!
//! ffmpeg opens `http://127.0.0.1:<port>/<random token>` (with `-protocol_whitelist http,tcp`
//! and the demuxer whitelist) and asks for the byte ranges it needs: headers, an index at the
//! end of the file, a seek target, then the rest as it decodes. Nothing else is reachable through
//! it: one path, one object (pinned to its entity tag), loopback only, for as long as the
//! [`Served`] lives.
//!
//! Each request ffmpeg makes is answered by one storage read that runs to the end of the range
//! (ffmpeg asks for open-ended ranges), so a render streams the object once while it decodes
//! and nothing is written to disk. The read goes in whole blocks of [`BLOCK`] bytes, and the
//! last [`CACHED_BLOCKS`] blocks that passed are kept: probes and demuxers reopen the file for
//! every seek, and an index at the end is read more than once. Evicted blocks are filled again,
//! so memory stays the same for a 10 MB upload and a 10 GB one. A read cut off midway is taken
//! up again where it stopped.

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
use tracing::warn;

use crate::ports::{ByteStream, StoreError, StoredObject};

/// The running server; stopped when dropped.
#[derive(Debug)]
pub struct Served {
    url: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

/// The unit of reading and keeping.
pub const BLOCK: u64 = 1024 * 1024;
/// How many blocks are kept.
const CACHED_BLOCKS: usize = 8;
/// How many evicted blocks wait to be filled again.
const SPARE_BLOCKS: usize = 2;
/// How often a storage read cut off midway is taken up again, per request.
const RESUMES: u32 = 3;

#[derive(Debug)]
struct Shared {
    token: String,
    source: Arc<StoredObject>,
    /// Bytes read from storage so far.
    bytes: AtomicU64,
    blocks: Mutex<Blocks>,
    /// Blocks allocated so far (the rest were spare ones filled again).
    allocated: AtomicU64,
    /// The first failed read, so that a failed probe or render can tell a replaced upload or a
    /// storage failure from damaged media.
    failure: Mutex<Option<StoreError>>,
}

/// Blocks read lately, the oldest evicted first. An evicted block that nothing else holds is
/// filled again: a read of any length allocates a few blocks, so memory stays flat.
#[derive(Debug, Default)]
struct Blocks {
    kept: HashMap<u64, Bytes>,
    order: VecDeque<u64>,
    spare: Vec<BytesMut>,
}

impl Shared {
    fn kept(&self, index: u64) -> Option<Bytes> {
        self.blocks.lock().ok()?.kept.get(&index).cloned()
    }

    fn keep(&self, index: u64, block: Bytes) {
        let Ok(mut blocks) = self.blocks.lock() else { return };
        if blocks.kept.insert(index, block).is_some() {
            return;
        }
        blocks.order.push_back(index);
        if blocks.order.len() > CACHED_BLOCKS
            && let Some(oldest) = blocks.order.pop_front()
            && let Some(Ok(mut spare)) = blocks.kept.remove(&oldest).map(Bytes::try_into_mut)
            && blocks.spare.len() < SPARE_BLOCKS
        {
            spare.clear();
            blocks.spare.push(spare);
        }
    }

    /// An empty block to fill: a spare one, or a new one.
    fn empty_block(&self) -> BytesMut {
        let spare = self.blocks.lock().ok().and_then(|mut blocks| blocks.spare.pop());
        spare.unwrap_or_else(|| {
            self.allocated.fetch_add(1, Ordering::Relaxed);
            BytesMut::with_capacity(BLOCK as usize)
        })
    }

    /// The first block kept after `index`, up to `last`.
    fn next_kept(&self, index: u64, last: u64) -> Option<u64> {
        let blocks = self.blocks.lock().ok()?;
        blocks.kept.keys().copied().filter(|kept| (index + 1..=last).contains(kept)).min()
    }

    /// The end (exclusive) of block `index`.
    fn block_end(&self, index: u64) -> u64 {
        ((index + 1) * BLOCK).min(self.source.size)
    }

    fn note(&self, error: StoreError) -> std::io::Error {
        let io = std::io::Error::other(error.to_string());
        if let Ok(mut failure) = self.failure.lock() {
            failure.get_or_insert(error);
        }
        io
    }
}

/// The bytes `next..=last` of the object for one request: kept blocks from memory, the rest
/// from one storage read per gap between them (whole blocks), kept as they pass.
struct RangeReader {
    shared: Arc<Shared>,
    /// The next byte to answer.
    next: u64,
    last: u64,
    upstream: Option<Upstream>,
    resumed: u32,
}

/// A storage read in progress: at `offset` of `..end`, filling block `index`.
struct Upstream {
    stream: ByteStream,
    offset: u64,
    end: u64,
    index: u64,
    filling: BytesMut,
}

impl RangeReader {
    /// The next bytes for ffmpeg; a failed read is noted for [`Served::failure`].
    async fn next_chunk(&mut self) -> Option<std::io::Result<Bytes>> {
        Some(self.advance().await?.map_err(|error| self.shared.note(error)))
    }

    async fn advance(&mut self) -> Option<Result<Bytes, StoreError>> {
        loop {
            if self.next > self.last {
                return None;
            }
            let index = self.next / BLOCK;
            let Some(upstream) = self.upstream.as_mut() else {
                if let Some(block) = self.shared.kept(index) {
                    let from = (self.next - index * BLOCK) as usize;
                    let to = (self.last + 1 - index * BLOCK).min(block.len() as u64) as usize;
                    self.next = index * BLOCK + to as u64;
                    return Some(Ok(block.slice(from..to)));
                }
                // Up to the next block kept, or the end of the range.
                let until = self.shared.next_kept(index, self.last / BLOCK).map_or(self.last / BLOCK, |kept| kept - 1);
                let (from, to) = (index * BLOCK, self.shared.block_end(until));
                match self.shared.source.read(from, Some(to)).await {
                    Ok(stream) => {
                        let filling = self.shared.empty_block();
                        self.upstream = Some(Upstream { stream, offset: from, end: to, index, filling });
                    }
                    Err(error) => return Some(Err(error)),
                }
                continue;
            };
            match upstream.stream.next().await {
                Some(Ok(chunk)) => {
                    let start = upstream.offset;
                    upstream.offset += chunk.len() as u64;
                    self.shared.bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    let mut rest = chunk.clone();
                    while !rest.is_empty() {
                        let block = (self.shared.block_end(upstream.index) - upstream.index * BLOCK) as usize;
                        let part = rest.split_to((block - upstream.filling.len()).min(rest.len()));
                        upstream.filling.extend_from_slice(&part);
                        if upstream.filling.len() == block {
                            let full = std::mem::replace(&mut upstream.filling, self.shared.empty_block());
                            self.shared.keep(upstream.index, full.freeze());
                            upstream.index += 1;
                        }
                    }
                    // What this request has not answered yet (a resumed read repeats a little).
                    let (from, to) = (self.next.max(start), (self.last + 1).min(upstream.offset));
                    if from < to {
                        self.next = to;
                        return Some(Ok(chunk.slice((from - start) as usize..(to - start) as usize)));
                    }
                }
                None if upstream.offset == upstream.end => self.upstream = None,
                cut => {
                    let error = match cut {
                        Some(Err(error)) => error,
                        _ => std::io::Error::other(format!("storage ended the read at byte {}", upstream.offset)),
                    };
                    if self.resumed == RESUMES {
                        return Some(Err(StoreError::Io(error)));
                    }
                    self.resumed += 1;
                    warn!(%error, at = upstream.offset, "reading the upload was cut off: taken up again");
                    self.upstream = None;
                }
            }
        }
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
            allocated: AtomicU64::new(0),
            blocks: Mutex::new(Blocks::default()),
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
    let mut reader = RangeReader { shared: shared.clone(), next: start, last: end, upstream: None, resumed: 0 };
    // The first bytes are read before answering, so that a refused read is an HTTP error.
    let first = match reader.advance().await {
        Some(Ok(first)) => first,
        Some(Err(error)) => {
            let status = match error {
                StoreError::Conflict(_) => StatusCode::PRECONDITION_FAILED,
                _ => StatusCode::BAD_GATEWAY,
            };
            let _ = shared.note(error);
            return status.into_response();
        }
        None => Bytes::new(),
    };
    let rest =
        futures::stream::unfold(
            reader,
            |mut reader| async move { reader.next_chunk().await.map(|chunk| (chunk, reader)) },
        );
    let body = Body::from_stream(futures::stream::once(std::future::ready(Ok(first))).chain(rest));
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
    use crate::domain::object::OutputMarker;
    use crate::ports::{ByteStream, ObjectStore, UploadedPart};

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

    /// `blocks` blocks of patterned bytes, stored and served.
    async fn serve_blocks(blocks: u64) -> (Vec<u8>, Served) {
        let memory = Memory::default();
        let object = ObjectRef::new("media", "in/clip.mp4");
        let data: Vec<u8> = (0..blocks * BLOCK).map(|i| (i % 251) as u8).collect();
        memory.put_object(object.clone(), data.clone(), None);
        let etag = memory.head(&object).await.unwrap().unwrap().etag;
        let source = Arc::new(StoredObject { store: Arc::new(memory), object, etag, size: data.len() as u64 });
        (data, Served::start(source).await.unwrap())
    }

    #[tokio::test]
    async fn ranges_are_served_from_blocks_read_once() {
        let (data, served) = serve_blocks(3).await;
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

    #[tokio::test]
    async fn a_long_read_fills_the_same_few_blocks_again() {
        let (data, served) = serve_blocks(40).await;
        let (_, body) = get(served.url(), "bytes=0-").await;
        assert!(body == data, "the whole object");
        let allocated = served.shared.allocated.load(Ordering::Relaxed);
        assert!(allocated <= (CACHED_BLOCKS + SPARE_BLOCKS + 1) as u64, "{allocated} blocks for 40");
        assert_eq!(served.shared.blocks.lock().unwrap().kept.len(), CACHED_BLOCKS);
    }

    /// Storage that answers in 64 KiB chunks, records its reads, and breaks the next
    /// `breaks.1` reads that pass byte `breaks.0`.
    struct Flaky {
        data: Vec<u8>,
        reads: std::sync::Mutex<Vec<(u64, Option<u64>)>>,
        breaks: std::sync::Mutex<(u64, u32)>,
    }

    impl Flaky {
        fn new(data: &[u8]) -> Arc<Flaky> {
            Arc::new(Flaky { data: data.to_vec(), reads: Default::default(), breaks: Default::default() })
        }
    }

    #[async_trait::async_trait]
    impl ObjectStore for Flaky {
        async fn head(&self, _: &ObjectRef) -> Result<Option<crate::domain::object::ObjectHead>, StoreError> {
            unreachable!("only reads")
        }
        async fn download(
            &self,
            _: &ObjectRef,
            _: Option<&str>,
            _: &std::path::Path,
        ) -> Result<Option<u64>, StoreError> {
            unreachable!("only reads")
        }
        async fn read(
            &self,
            _: &ObjectRef,
            _: Option<&str>,
            from: u64,
            to: Option<u64>,
        ) -> Result<ByteStream, StoreError> {
            self.reads.lock().unwrap().push((from, to));
            let to = to.unwrap_or(self.data.len() as u64);
            let break_at = {
                let mut breaks = self.breaks.lock().unwrap();
                let (at, left) = *breaks;
                let breaks_here = left > 0 && (from..to).contains(&at);
                breaks.1 -= u32::from(breaks_here);
                breaks_here.then_some(at)
            };
            let mut chunks = Vec::new();
            for start in (from..to).step_by(64 * 1024) {
                if break_at.is_some_and(|at| at < start + 64 * 1024) {
                    chunks.push(Err(std::io::Error::other("connection reset")));
                    break;
                }
                let end = (start + 64 * 1024).min(to);
                chunks.push(Ok(Bytes::copy_from_slice(&self.data[start as usize..end as usize])));
            }
            Ok(futures::stream::iter(chunks).boxed())
        }
        async fn list(&self, _: &str, _: &str, _: Option<String>) -> Result<crate::ports::KeyPage, StoreError> {
            unreachable!("only reads")
        }
        async fn begin_parts(&self, _: &ObjectRef, _: &str, _: &OutputMarker) -> Result<String, StoreError> {
            unreachable!("only reads")
        }
        async fn put_part(&self, _: &ObjectRef, _: &str, _: u32, _: Bytes) -> Result<UploadedPart, StoreError> {
            unreachable!("only reads")
        }
        async fn finish_parts(
            &self,
            _: &ObjectRef,
            _: &str,
            _: &[UploadedPart],
            _: &crate::ports::PutCondition,
        ) -> Result<(), StoreError> {
            unreachable!("only reads")
        }
        async fn abort_parts(&self, _: &ObjectRef, _: &str) -> Result<(), StoreError> {
            unreachable!("only reads")
        }
        async fn unfinished_parts(&self, _: &str, _: &str) -> Result<Vec<crate::ports::Unfinished>, StoreError> {
            unreachable!("only reads")
        }
        fn counted(self: Arc<Self>, _: Arc<crate::ports::RequestCounter>) -> Arc<dyn ObjectStore> {
            self
        }
        async fn delete(&self, _: &ObjectRef) -> Result<(), StoreError> {
            unreachable!("only reads")
        }
        async fn put(
            &self,
            _: &std::path::Path,
            _: &ObjectRef,
            _: &str,
            _: &crate::domain::object::OutputMarker,
            _: &crate::ports::PutCondition,
        ) -> Result<u64, StoreError> {
            unreachable!("only reads")
        }
    }

    #[tokio::test]
    async fn a_render_streams_the_object_in_one_read_taken_up_again_where_it_broke() {
        let data: Vec<u8> = (0..5 * BLOCK + 12345).map(|i| (i % 253) as u8).collect();
        let store = Flaky::new(&data);
        let object = ObjectRef::new("media", "in/long.mp4");
        let source = StoredObject { store: store.clone(), object, etag: None, size: data.len() as u64 };
        let served = Served::start(Arc::new(source)).await.unwrap();
        // ffmpeg decoding from a seek target to the end
        let (head, body) = get(served.url(), "bytes=1500000-").await;
        assert!(head.starts_with("HTTP/1.1 206"), "{head}");
        assert_eq!(body, data[1_500_000..]);
        assert_eq!(*store.reads.lock().unwrap(), vec![(BLOCK, Some(data.len() as u64))], "one read, whole blocks");
        // the blocks that passed are kept: the index at the end is read from memory
        let (_, tail) = get(served.url(), &format!("bytes={}-", data.len() - 1000)).await;
        assert_eq!(tail, data[data.len() - 1000..]);
        assert_eq!(store.reads.lock().unwrap().len(), 1);
        // a read that breaks midway is taken up at the start of its block, and the answer is whole
        *store.breaks.lock().unwrap() = (300_000, 1);
        store.reads.lock().unwrap().clear();
        let (_, body) = get(served.url(), "bytes=0-").await;
        assert_eq!(body.len(), data.len());
        assert!(body == data, "the body is the object, nothing repeated or lost");
        assert_eq!(*store.reads.lock().unwrap(), vec![(0, Some(BLOCK)), (0, Some(BLOCK))], "then kept blocks");
        assert!(served.failure().is_none());
    }

    #[tokio::test]
    async fn a_read_that_keeps_breaking_is_noted_for_the_caller() {
        let data: Vec<u8> = vec![7; 3 * BLOCK as usize];
        let store = Flaky::new(&data);
        *store.breaks.lock().unwrap() = (BLOCK + 10, 10);
        let source =
            StoredObject { store: store.clone(), object: ObjectRef::new("m", "k"), etag: None, size: 3 * BLOCK };
        let served = Served::start(Arc::new(source)).await.unwrap();
        let (head, body) = get(served.url(), "bytes=0-").await;
        assert!(head.starts_with("HTTP/1.1 206"), "{head}");
        assert!(body.len() < data.len(), "the answer is short: ffmpeg sees the read fail");
        assert!(matches!(served.failure(), Some(StoreError::Io(_))), "and the caller learns why");
        assert_eq!(store.reads.lock().unwrap().len(), 1 + RESUMES as usize);
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
