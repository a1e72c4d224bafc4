//! One debug line per request: method, path, status and time. Never the query string: the
//! sign-in link's token rides there, and so do the keys users browse.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

pub(crate) async fn requests(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    tracing::debug!(%method, %path, status, ms = started.elapsed().as_millis() as u64, "request");
    response
}
