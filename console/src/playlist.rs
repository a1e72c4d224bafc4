//! HLS playlists made playable from a private bucket: every reference a playlist makes (variant
//! playlists, segments, init sections, keys) is resolved against the playlist's folder into an
//! object key, and replaced by a link the caller gives for that key: the console's own playlist
//! route for playlists (so they are rewritten in turn), a presigned URL for everything else.

use std::collections::HashMap;

use percent_encoding::percent_decode_str;

/// What a playlist refers to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Reference {
    /// The object key, resolved against the playlist's folder.
    pub key: String,
    /// Another playlist (a variant or rendition), as opposed to media.
    pub playlist: bool,
}

/// The references of `text`, a playlist whose key starts with `folder` (ending with `/`, or
/// empty). Absolute URLs and references that climb out of the bucket are left out.
pub(crate) fn references(text: &str, folder: &str) -> Vec<Reference> {
    let mut found = Vec::new();
    for line in text.lines() {
        for uri in uris(line) {
            if let Some(reference) = resolve(folder, uri)
                && !found.contains(&reference)
            {
                found.push(reference);
            }
        }
    }
    found
}

/// `text` with each reference replaced by `links[reference.key]` (those without a link stay).
pub(crate) fn rewrite(text: &str, folder: &str, links: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for line in text.lines() {
        let mut line = line.to_owned();
        for uri in uris(&line.clone()) {
            if let Some(link) = resolve(folder, uri).and_then(|reference| links.get(&reference.key)) {
                line = line.replacen(uri, link, 1);
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The URIs of one line: the line itself when it is not a tag, else its `URI="…"` attribute.
fn uris(line: &str) -> Vec<&str> {
    let line = line.trim();
    if line.is_empty() {
        return Vec::new();
    }
    if !line.starts_with('#') {
        return vec![line];
    }
    match line.split_once("URI=\"") {
        Some((_, rest)) => rest.split_once('"').map(|(uri, _)| vec![uri]).unwrap_or_default(),
        None => Vec::new(),
    }
}

fn resolve(folder: &str, uri: &str) -> Option<Reference> {
    if uri.contains("://") || uri.starts_with("data:") {
        return None;
    }
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    let decoded = percent_decode_str(path).decode_utf8().ok()?;
    let mut parts: Vec<&str> = if decoded.starts_with('/') { Vec::new() } else { folder.split('/').collect() };
    parts.retain(|part| !part.is_empty());
    for part in decoded.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    let key = parts.join("/");
    let playlist = key.to_ascii_lowercase().ends_with(".m3u8");
    (!key.is_empty()).then_some(Reference { key, playlist })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\ns0.m3u8\n\
                          #EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720\nhd/s1.m3u8\n";
    const MEDIA: &str = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MAP:URI=\"init%20a.mp4\"\n#EXTINF:6.0,\n\
                         s0_00000.m4s\n#EXTINF:6.0,\n../shared/s0_00001.m4s?x=1\n#EXTINF:1.0,\nhttps://cdn.example/ad.ts\n\
                         #EXT-X-ENDLIST\n";

    #[test]
    fn variants_are_playlists_and_segments_init_sections_are_media() {
        let master = references(MASTER, "out/clip/");
        assert_eq!(
            master,
            [
                Reference { key: "out/clip/s0.m3u8".into(), playlist: true },
                Reference { key: "out/clip/hd/s1.m3u8".into(), playlist: true }
            ]
        );
        let media: Vec<String> = references(MEDIA, "out/clip/").into_iter().map(|r| r.key).collect();
        assert_eq!(media, ["out/clip/init a.mp4", "out/clip/s0_00000.m4s", "out/shared/s0_00001.m4s"]);
        assert!(references("#EXTM3U\n../../../etc.ts\n", "a/").is_empty(), "nothing outside the bucket");
    }

    #[test]
    fn each_reference_is_replaced_by_its_link_and_the_rest_is_kept() {
        let links = HashMap::from([
            ("out/clip/init a.mp4".to_owned(), "https://signed/init".to_owned()),
            ("out/clip/s0_00000.m4s".to_owned(), "https://signed/0".to_owned()),
        ]);
        let rewritten = rewrite(MEDIA, "out/clip/", &links);
        assert!(rewritten.contains("#EXT-X-MAP:URI=\"https://signed/init\"\n"), "{rewritten}");
        assert!(rewritten.contains("\nhttps://signed/0\n"), "{rewritten}");
        assert!(rewritten.contains("\n../shared/s0_00001.m4s?x=1\n"), "no link: unchanged");
        assert!(rewritten.contains("\nhttps://cdn.example/ad.ts\n") && rewritten.ends_with("#EXT-X-ENDLIST\n"));
    }
}
