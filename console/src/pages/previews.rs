//! A file's page: what it is, Download, Why didn't it run?, Delete, and a preview in the
//! browser: images, video and audio from a signed link; HLS through hls.js (vendored) from the
//! console's rewrite of each playlist, whose segments are signed links; a sprite task's WebVTT
//! thumbnails with their times. Only playlists and WebVTT tracks (small text) are read by the
//! console; media goes from S3 to the browser.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::join_all;
use mediaflow::domain::object::{ObjectRef, readable_size};
use mediaflow::ports::LinkFor;

use super::buckets::{LINK_LIFETIME, Where, folder_link, folder_of};
use super::{page, refusal, segment};
use crate::Console;
use crate::{playlist, sprites};

pub fn routes() -> Router<Console> {
    Router::new().route("/buckets/{bucket}/object", get(object)).route("/buckets/{bucket}/playlist", get(hls_playlist))
}

/// The most of a playlist or WebVTT track the console reads.
const MOST_TEXT: u64 = 1024 * 1024;

struct Thumbnail {
    start: String,
    end: String,
    url: String,
    x: u32,
    y: u32,
    width: u32,
    height: u32,
}

#[derive(Template)]
#[template(path = "object.html")]
struct Preview {
    section: &'static str,
    bucket: String,
    key: String,
    name: String,
    prefix: String,
    folder: String,
    size: String,
    kind: &'static str,
    download: String,
    /// The console's rewrite of an HLS playlist.
    playlist: String,
    thumbnails: Vec<Thumbnail>,
    /// A WebVTT track that holds captions, as text.
    captions: Option<String>,
    why: String,
    delete: String,
    minutes: u64,
}

/// What a browser can show of a file, by its name.
fn kind_of(key: &str) -> &'static str {
    let extension = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "jpg" | "jpeg" | "png" | "gif" | "webp" => "image",
        "mp4" | "m4v" | "mov" | "webm" => "video",
        "mp3" | "m4a" | "aac" | "ogg" | "opus" | "wav" => "audio",
        "m3u8" => "hls",
        "vtt" => "vtt",
        _ => "other",
    }
}

async fn object(State(console): State<Console>, Path(bucket): Path<String>, Query(at): Query<Where>) -> Response {
    let object = ObjectRef::new(&bucket, &at.key);
    let files = console.admin.files();
    let folder = files.folder(&bucket, &at.key, None).await;
    let size = folder.ok().and_then(|f| f.files.into_iter().find(|file| file.key == at.key)).map(|file| file.size);
    let Some(size) = size else {
        return refusal(StatusCode::NOT_FOUND, &format!("s3://{bucket}/{} does not exist", at.key));
    };
    let download = match files.link(&object, &LinkFor::Download, LINK_LIFETIME).await {
        Ok(url) => url,
        Err(error) => return refusal(StatusCode::BAD_GATEWAY, &error.to_string()),
    };
    let prefix = folder_of(&at.key).to_owned();
    let mut kind = kind_of(&at.key);
    let (mut thumbnails, mut captions) = (Vec::new(), None);
    if kind == "vtt" {
        let text = files.read(&object, MOST_TEXT).await.map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        match text.ok().and_then(|text| sprites::thumbnails(&text, &prefix).map(|found| (text, found))) {
            Some((_, found)) if !found.is_empty() => thumbnails = signed_thumbnails(&console, &bucket, found).await,
            Some((text, _)) => captions = Some(text),
            None => kind = "other",
        }
    }
    page(Preview {
        section: "buckets",
        name: at.key[prefix.len()..].to_owned(),
        folder: folder_link(&bucket, &prefix),
        size: readable_size(size),
        kind,
        download,
        playlist: playlist_link(&bucket, &at.key),
        thumbnails,
        captions,
        why: format!("/why?object={}", segment(&object.to_string())),
        delete: format!("/buckets/{}/delete?key={}", segment(&bucket), segment(&at.key)),
        minutes: LINK_LIFETIME.as_secs() / 60,
        prefix,
        bucket,
        key: at.key,
    })
}

fn playlist_link(bucket: &str, key: &str) -> String {
    format!("/buckets/{}/playlist?key={}", segment(bucket), segment(key))
}

/// The thumbnails with a signed link to their sheets (one per sheet).
async fn signed_thumbnails(console: &Console, bucket: &str, found: Vec<sprites::Thumbnail>) -> Vec<Thumbnail> {
    let mut sheets: Vec<&str> = found.iter().map(|t| t.sheet.as_str()).collect();
    sheets.dedup();
    let links =
        join_all(
            sheets.iter().map(|sheet| {
                let object = ObjectRef::new(bucket, *sheet);
                async move {
                    (sheet.to_string(), console.admin.files().link(&object, &LinkFor::Download, LINK_LIFETIME).await)
                }
            }),
        )
        .await;
    let links: HashMap<String, String> =
        links.into_iter().filter_map(|(sheet, link)| link.ok().map(|link| (sheet, link))).collect();
    found
        .into_iter()
        .filter_map(|t| {
            Some(Thumbnail {
                url: css_url(links.get(&t.sheet)?),
                start: t.start,
                end: t.end,
                x: t.x,
                y: t.y,
                width: t.width,
                height: t.height,
            })
        })
        .collect()
}

/// `url` as it can stand in a CSS `url('…')` inside a style attribute: the characters that
/// could end the string or the function are percent-encoded (a URL means the same with them so).
fn css_url(url: &str) -> String {
    let mut safe = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '\'' => safe.push_str("%27"),
            '"' => safe.push_str("%22"),
            '(' => safe.push_str("%28"),
            ')' => safe.push_str("%29"),
            '\\' => safe.push_str("%5C"),
            c if c.is_control() => {}
            c => safe.push(c),
        }
    }
    safe
}

/// An HLS playlist of the bucket, its references replaced: playlists by this route again,
/// media by signed links.
async fn hls_playlist(State(console): State<Console>, Path(bucket): Path<String>, Query(at): Query<Where>) -> Response {
    if kind_of(&at.key) != "hls" {
        return refusal(StatusCode::BAD_REQUEST, "Only HLS playlists (.m3u8) are played here.");
    }
    let object = ObjectRef::new(&bucket, &at.key);
    let text = match console.admin.files().read(&object, MOST_TEXT).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(error) => return refusal(StatusCode::NOT_FOUND, &format!("{object}: {error}")),
    };
    let folder = folder_of(&at.key);
    let references = playlist::references(&text, folder);
    let (console, bucket) = (&console, &bucket);
    let links = join_all(references.into_iter().map(|reference| async move {
        let link = if reference.playlist {
            Ok(playlist_link(bucket, &reference.key))
        } else {
            let object = ObjectRef::new(bucket, &reference.key);
            console.admin.files().link(&object, &LinkFor::Download, LINK_LIFETIME).await
        };
        (reference.key, link)
    }))
    .await;
    let links: HashMap<String, String> =
        links.into_iter().filter_map(|(key, link)| link.ok().map(|link| (key, link))).collect();
    (
        [(header::CONTENT_TYPE, "application/vnd.apple.mpegurl"), (header::CACHE_CONTROL, "no-store")],
        playlist::rewrite(&text, folder, &links),
    )
        .into_response()
}
