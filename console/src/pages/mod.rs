//! The pages: one module per section (workflows, jobs), each with its routes, handlers and
//! templates' view models; below them what every page shares.

mod buckets;
mod dead_letters;
mod jobs;
mod previews;
mod uploads;
mod why;
mod workflows;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;
use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::Console;
pub(crate) use crate::render::{page, page_with, refusal};

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/workflows") }))
        .merge(workflows::routes())
        .merge(buckets::routes())
        .merge(previews::routes())
        .merge(uploads::routes())
        .merge(jobs::routes())
        .merge(why::routes())
        .merge(dead_letters::routes())
}

/// What is kept of a path segment (workflow names, job ids) as it is.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// `text` as one segment of a URL path or a query value.
pub(crate) fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// A time as pages show it.
pub(crate) fn when(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
