//! The stylesheet and script, embedded in the binary.

use axum::Router;
use axum::http::header;
use axum::routing::get;

use crate::Console;

const CSS: &str = include_str!("../assets/console.css");
const JS: &str = include_str!("../assets/console.js");

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/assets/console.css", get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS) }))
        .route("/assets/console.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], JS) }))
}
