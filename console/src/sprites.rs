//! WebVTT thumbnail tracks (a sprite task's `.vtt`): each cue maps a stretch of the video to a
//! rectangle of a sprite sheet (`sheet.jpg#xywh=x,y,w,h`), as players show them over the seek
//! bar. Read here to show the thumbnails with their times.

use percent_encoding::percent_decode_str;

/// One cue: its times as written, and where its thumbnail is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Thumbnail {
    pub start: String,
    pub end: String,
    /// The sheet's key, resolved against the track's folder.
    pub sheet: String,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// The thumbnails of `text`, a WebVTT file whose key starts with `folder`; `None` when it is not
/// a WebVTT file, empty when its cues are not thumbnails (captions).
pub(crate) fn thumbnails(text: &str, folder: &str) -> Option<Vec<Thumbnail>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if !text.starts_with("WEBVTT") {
        return None;
    }
    let mut found = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some((start, end)) = line.split_once("-->") else { continue };
        let Some(payload) = lines.next() else { break };
        let Some((sheet, rect)) = payload.trim().rsplit_once("#xywh=") else { continue };
        let numbers: Vec<u32> = rect.split(',').filter_map(|n| n.trim().parse().ok()).collect();
        let [x, y, width, height] = numbers[..] else { continue };
        let Ok(sheet) = percent_decode_str(sheet).decode_utf8() else { continue };
        if sheet.contains("://") || sheet.split('/').any(|part| part == "..") {
            continue;
        }
        let end = end.split_whitespace().next().unwrap_or_default();
        found.push(Thumbnail {
            start: start.trim().to_owned(),
            end: end.to_owned(),
            sheet: format!("{folder}{}", sheet.trim_start_matches('/')),
            x,
            y,
            width,
            height,
        });
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cues_point_into_sheets_beside_the_track() {
        let track = "WEBVTT\n\n00:00:00.000 --> 00:00:10.000\nclip%20a_0.jpg#xywh=0,0,160,90\n\n\
                     00:00:10.000 --> 00:00:20.000 align:start\nclip%20a_0.jpg#xywh=160,0,160,90\n";
        let found = thumbnails(track, "out/").expect("a WebVTT file");
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[1],
            Thumbnail {
                start: "00:00:10.000".into(),
                end: "00:00:20.000".into(),
                sheet: "out/clip a_0.jpg".into(),
                x: 160,
                y: 0,
                width: 160,
                height: 90
            }
        );
        assert_eq!(thumbnails("WEBVTT\n\n00:01.000 --> 00:02.000\nHello\n", "out/"), Some(vec![]), "captions");
        assert_eq!(thumbnails("1\n00:00:01,000 --> 00:00:02,000\nHi\n", ""), None, "SubRip is not WebVTT");
        let hostile = "WEBVTT\n\n0 --> 1\n../../secret.jpg#xywh=0,0,1,1\n\n0 --> 1\nhttps://x/y.jpg#xywh=0,0,1,1\n";
        assert_eq!(thumbnails(hostile, "out/"), Some(vec![]));
    }
}
