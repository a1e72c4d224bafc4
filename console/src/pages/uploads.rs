//! Uploads from a bucket's page, straight from the browser to S3: the console signs, the
//! browser sends the bytes. A file up to the size the page sets goes in one PUT; a larger one
//! as a multipart upload, its parts signed one by one and sent four at a time; resumable (the
//! page keeps the upload's id and the ETags of the parts S3 took, and sends only the others)
//! and abortable (the stored parts are dropped). Each answer is JSON for the page's script.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use mediaflow::domain::object::ObjectRef;
use mediaflow::ports::{LinkFor, UploadedPart};
use serde::Deserialize;
use serde_json::json;

use super::buckets::LINK_LIFETIME;
use crate::Console;

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/buckets/{bucket}/uploads", post(upload_link))
        .route("/buckets/{bucket}/multipart", post(begin))
        .route("/buckets/{bucket}/multipart/part", post(part_link))
        .route("/buckets/{bucket}/multipart/complete", post(complete))
        .route("/buckets/{bucket}/multipart/abort", post(abort))
}

/// S3's limit on the parts of one upload.
const MOST_PARTS: u32 = 10_000;

#[derive(Deserialize)]
struct Asked {
    key: String,
    #[serde(default)]
    content_type: String,
    /// The multipart upload a part belongs to.
    #[serde(default)]
    upload_id: String,
    /// A part's number (from 1).
    #[serde(default)]
    number: u32,
    /// The stored parts, `number:etag` separated by commas.
    #[serde(default)]
    parts: String,
}

impl Asked {
    /// The object asked for; `None` when the key names no file.
    fn object(&self, bucket: &str) -> Option<ObjectRef> {
        (!self.key.is_empty() && !self.key.ends_with('/')).then(|| ObjectRef::new(bucket, &self.key))
    }

    fn content_type(&self) -> &str {
        if self.content_type.is_empty() { "application/octet-stream" } else { &self.content_type }
    }
}

fn unnamed() -> Response {
    failed(StatusCode::UNPROCESSABLE_ENTITY, "a file needs a name")
}

fn failed(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, message.to_string()).into_response()
}

/// Lets the pages of the request's origin (the guard checked it is this console's) send
/// their bytes to `bucket`: the bucket's CORS rule for the console, added if missing.
async fn open_to_page(console: &Console, bucket: &str, headers: &HeaderMap) {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else { return };
    if let Err(error) = console.admin.files().allow_origin(bucket, origin).await {
        tracing::warn!(bucket, origin, %error, "the bucket's CORS rule for the console could not be set");
    }
}

/// A link with which the page PUTs one file.
async fn upload_link(
    State(console): State<Console>,
    Path(bucket): Path<String>,
    headers: HeaderMap,
    axum::Form(asked): axum::Form<Asked>,
) -> Response {
    let Some(object) = asked.object(&bucket) else { return unnamed() };
    open_to_page(&console, &bucket, &headers).await;
    let content_type = asked.content_type().to_owned();
    let what = LinkFor::Upload { content_type: content_type.clone() };
    match console.admin.files().link(&object, &what, LINK_LIFETIME).await {
        Ok(url) => Json(json!({"url": url, "content_type": content_type})).into_response(),
        Err(error) => failed(StatusCode::BAD_GATEWAY, error),
    }
}

/// Begins a multipart upload.
async fn begin(
    State(console): State<Console>,
    Path(bucket): Path<String>,
    headers: HeaderMap,
    axum::Form(asked): axum::Form<Asked>,
) -> Response {
    let Some(object) = asked.object(&bucket) else { return unnamed() };
    open_to_page(&console, &bucket, &headers).await;
    match console.admin.files().begin_upload(&object, asked.content_type()).await {
        Ok(upload_id) => Json(json!({"upload_id": upload_id})).into_response(),
        Err(error) => failed(StatusCode::BAD_GATEWAY, error),
    }
}

/// A link for one part of an upload.
async fn part_link(
    State(console): State<Console>,
    Path(bucket): Path<String>,
    axum::Form(asked): axum::Form<Asked>,
) -> Response {
    let Some(object) = asked.object(&bucket) else { return unnamed() };
    if asked.upload_id.is_empty() || !(1..=MOST_PARTS).contains(&asked.number) {
        return failed(StatusCode::UNPROCESSABLE_ENTITY, format!("a part is numbered 1 to {MOST_PARTS} of an upload"));
    }
    let what = LinkFor::Part { upload_id: asked.upload_id.clone(), number: asked.number };
    match console.admin.files().link(&object, &what, LINK_LIFETIME).await {
        Ok(url) => Json(json!({"url": url})).into_response(),
        Err(error) => failed(StatusCode::BAD_GATEWAY, error),
    }
}

async fn complete(
    State(console): State<Console>,
    Path(bucket): Path<String>,
    axum::Form(asked): axum::Form<Asked>,
) -> Response {
    let Some(object) = asked.object(&bucket) else { return unnamed() };
    let parts: Option<Vec<UploadedPart>> = asked
        .parts
        .split(',')
        .map(|pair| {
            let (number, etag) = pair.split_once(':')?;
            Some(UploadedPart { number: number.trim().parse().ok()?, etag: etag.trim().to_owned() })
        })
        .collect();
    let Some(parts) = parts.filter(|parts| !parts.is_empty()) else {
        return failed(StatusCode::UNPROCESSABLE_ENTITY, "the parts are number:etag, separated by commas");
    };
    match console.admin.files().finish_upload(&object, &asked.upload_id, &parts).await {
        Ok(()) => Json(json!({"key": object.key})).into_response(),
        Err(error) => failed(StatusCode::BAD_GATEWAY, error),
    }
}

async fn abort(
    State(console): State<Console>,
    Path(bucket): Path<String>,
    axum::Form(asked): axum::Form<Asked>,
) -> Response {
    let Some(object) = asked.object(&bucket) else { return unnamed() };
    match console.admin.files().abort_upload(&object, &asked.upload_id).await {
        Ok(()) => Json(json!({"aborted": true})).into_response(),
        Err(error) => failed(StatusCode::BAD_GATEWAY, error),
    }
}
