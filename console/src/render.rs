//! Turning a template into a response, and the page that says why a request was refused.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// A page, or a page saying why not.
pub(crate) fn page(template: impl Template) -> Response {
    page_with(StatusCode::OK, template)
}

pub(crate) fn page_with(status: StatusCode, template: impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "a page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page did not render").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "refusal.html")]
struct Refusal<'a> {
    title: &'a str,
    message: &'a str,
}

/// A page that says in one sentence why the request was not served.
pub(crate) fn refusal(status: StatusCode, message: &str) -> Response {
    page_with(status, Refusal { title: status.canonical_reason().unwrap_or("Refused"), message })
}
