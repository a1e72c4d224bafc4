//! The stylesheet and script, embedded in the binary.

use axum::Router;
use axum::http::header;
use axum::routing::get;

use crate::Console;

const CSS: &str = include_str!("../assets/console.css");
const JS: &str = include_str!("../assets/console.js");
/// hls.js (Apache-2.0, assets/vendor/hls.js-LICENSE), its light build: HLS without subtitles,
/// alternate audio or DRM, which mediaflow's ladders do not use.
const HLS_JS: &str = include_str!("../assets/vendor/hls.light.min.js");

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/assets/console.css", get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS) }))
        .route("/assets/console.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], JS) }))
        .route(
            "/assets/hls.light.min.js",
            get(|| async {
                let headers = [
                    (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                    (header::CACHE_CONTROL, "public, max-age=86400"),
                ];
                (headers, HLS_JS)
            }),
        )
}
