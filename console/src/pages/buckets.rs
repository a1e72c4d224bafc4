//! Buckets: each bucket's state for mediaflow with what fixes it, Create bucket (connected at
//! once), and a file browser per bucket: folders, sizes and times, Create folder, uploads
//! straight from the browser to S3 with signed links, previews, download and delete.

use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mediaflow::app::admin::buckets::StackBuckets;
use mediaflow::domain::object::{ObjectRef, readable_size};
use serde::Deserialize;

use super::{page, page_with, refusal, segment, when};
use crate::Console;
use crate::access::Session;

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/buckets", get(list).post(create))
        .route("/buckets/{bucket}", get(browse))
        .route("/buckets/{bucket}/folders", post(create_folder))
        .route("/buckets/{bucket}/delete", get(confirm_delete).post(delete))
}

/// How long a signed link works.
pub(super) const LINK_LIFETIME: Duration = Duration::from_secs(10 * 60);

struct BucketRow {
    name: String,
    path: String,
    connected: bool,
    state: String,
    /// What the stack's functions may do with it (blank where not known).
    access: String,
    fix: String,
}

#[derive(Template)]
#[template(path = "buckets.html")]
struct Buckets {
    section: &'static str,
    form_token: String,
    rows: Vec<BucketRow>,
    error: Option<String>,
}

async fn list(State(console): State<Console>, session: Session) -> Response {
    render_list(&console, &session, StatusCode::OK, None).await
}

async fn render_list(console: &Console, session: &Session, status: StatusCode, error: Option<String>) -> Response {
    let names = match console.admin.files().buckets().await {
        Ok(names) => names,
        Err(error) => return refusal(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
    };
    let mut rows = Vec::new();
    for name in names {
        let (connected, state, fix) = match console.admin.bucket_status(&name).await {
            Ok(connection) if connection.is_connected() => {
                let prefixes: Vec<&str> =
                    connection.prefixes.iter().map(|p| if p.is_empty() { "the whole bucket" } else { p }).collect();
                (true, format!("uploads under {} reach mediaflow", prefixes.join(", ")), String::new())
            }
            Ok(_) => (
                false,
                "uploads do not reach mediaflow".into(),
                format!("mediaflow bucket connect {name} (and name it in the stack's TriggerBuckets)"),
            ),
            Err(error) => (false, error.to_string(), "name it in the stack's TriggerBuckets parameter".into()),
        };
        let (access, more) = access_of(&console.admin.stack_buckets, &name);
        let fix = [fix, more].into_iter().filter(|f| !f.is_empty()).collect::<Vec<_>>().join("; ");
        rows.push(BucketRow { path: segment(&name), name, connected, state, access, fix });
    }
    let form_token = session.form_token();
    page_with(status, Buckets { section: "buckets", form_token, rows, error })
}

/// What the stack's functions may do with `bucket`, and the template parameter that allows
/// what they may not.
fn access_of(stack: &StackBuckets, bucket: &str) -> (String, String) {
    let (read, write) = (stack.can_read(bucket), stack.can_write(bucket));
    let said = |can: Option<bool>, yes: &str, no: &str| match can {
        Some(true) => yes.to_owned(),
        Some(false) => no.to_owned(),
        None => String::new(),
    };
    let access =
        [said(read, "reads its uploads", "cannot read it"), said(write, "writes outputs", "writes no outputs")]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
    let fix = [
        said(read, "", "add it to the stack's TriggerBuckets parameter"),
        said(write, "", "add it to OutputBuckets to write outputs there"),
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join("; ");
    (access, fix)
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    name: String,
    #[serde(default)]
    prefix: String,
}

async fn create(State(console): State<Console>, session: Session, axum::Form(form): axum::Form<Named>) -> Response {
    let name = form.name.trim();
    match console.admin.create_bucket(name).await {
        Ok(_) => Redirect::to(&format!("/buckets/{}", segment(name))).into_response(),
        Err(error) => {
            render_list(&console, &session, StatusCode::UNPROCESSABLE_ENTITY, Some(format!("{name}: {error}"))).await
        }
    }
}

struct FileRow {
    name: String,
    size: String,
    modified: String,
    open: String,
    why: String,
    delete: String,
}

#[derive(Template)]
#[template(path = "bucket.html")]
struct Browse {
    section: &'static str,
    form_token: String,
    bucket: String,
    bucket_path: String,
    prefix: String,
    crumbs: Vec<(String, String)>,
    folders: Vec<(String, String)>,
    files: Vec<FileRow>,
    next: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Where {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    pub(super) key: String,
    page: Option<String>,
}

pub(super) fn folder_link(bucket: &str, prefix: &str) -> String {
    format!("/buckets/{}?prefix={}", segment(bucket), segment(prefix))
}

/// The folder a key is in (`a/b/` of `a/b/c.mp4`).
pub(super) fn folder_of(key: &str) -> &str {
    key.rfind('/').map_or("", |slash| &key[..=slash])
}

async fn browse(
    State(console): State<Console>,
    session: Session,
    Path(bucket): Path<String>,
    Query(at): Query<Where>,
) -> Response {
    let folder = match console.admin.files().folder(&bucket, &at.prefix, at.page.clone()).await {
        Ok(folder) => folder,
        Err(error) => return refusal(StatusCode::NOT_FOUND, &format!("{bucket}: {error}")),
    };
    let mut crumbs = Vec::new();
    let mut so_far = String::new();
    for part in at.prefix.split_terminator('/') {
        so_far.push_str(part);
        so_far.push('/');
        crumbs.push((part.to_owned(), folder_link(&bucket, &so_far)));
    }
    let object_link = |what: &str, key: &str| format!("/buckets/{}/{what}?key={}", segment(&bucket), segment(key));
    let files = folder
        .files
        .iter()
        .map(|file| FileRow {
            name: file.key[at.prefix.len()..].to_owned(),
            size: readable_size(file.size),
            modified: file.modified.map_or(String::new(), when),
            open: object_link("object", &file.key),
            why: format!("/why?object={}", segment(&format!("s3://{bucket}/{}", file.key))),
            delete: object_link("delete", &file.key),
        })
        .collect();
    let folders =
        folder.folders.iter().map(|sub| (sub[at.prefix.len()..].to_owned(), folder_link(&bucket, sub))).collect();
    let next = folder.next.map(|page| format!("{}&page={}", folder_link(&bucket, &at.prefix), segment(&page)));
    page(Browse {
        section: "buckets",
        form_token: session.form_token(),
        bucket_path: segment(&bucket),
        bucket,
        prefix: at.prefix,
        crumbs,
        folders,
        files,
        next,
        notice: None,
    })
}

async fn create_folder(
    State(console): State<Console>,
    Path(bucket): Path<String>,
    axum::Form(form): axum::Form<Named>,
) -> Response {
    let name = form.name.trim().trim_matches('/');
    if name.is_empty() || name.contains('/') {
        return refusal(StatusCode::UNPROCESSABLE_ENTITY, "A folder name is one name, without '/'.");
    }
    let prefix = format!("{}{name}/", form.prefix);
    match console.admin.files().create_folder(&bucket, &prefix).await {
        Ok(()) => Redirect::to(&folder_link(&bucket, &prefix)).into_response(),
        Err(error) => refusal(StatusCode::UNPROCESSABLE_ENTITY, &error.to_string()),
    }
}

#[derive(Template)]
#[template(path = "delete_object.html")]
struct ConfirmDelete {
    section: &'static str,
    form_token: String,
    bucket: String,
    bucket_path: String,
    key: String,
    name: String,
    back: String,
}

async fn confirm_delete(session: Session, Path(bucket): Path<String>, Query(at): Query<Where>) -> Response {
    let prefix = folder_of(&at.key);
    page(ConfirmDelete {
        section: "buckets",
        form_token: session.form_token(),
        bucket_path: segment(&bucket),
        name: at.key[prefix.len()..].to_owned(),
        back: folder_link(&bucket, prefix),
        bucket,
        key: at.key,
    })
}

async fn delete(
    State(console): State<Console>,
    Path(bucket): Path<String>,
    axum::Form(at): axum::Form<Where>,
) -> Response {
    match console.admin.files().delete(&ObjectRef::new(&bucket, &at.key)).await {
        Ok(()) => Redirect::to(&folder_link(&bucket, folder_of(&at.key))).into_response(),
        Err(error) => refusal(StatusCode::BAD_GATEWAY, &error.to_string()),
    }
}
