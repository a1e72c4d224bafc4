//! Playlists of adaptive streaming outputs: reading the segments of an HLS media playlist,
//! renaming what playlists and MPDs refer to (to the names the outputs are published under),
//! the bandwidth a rendition needs, the codecs it declares, and the HLS master playlist.

use std::fmt::Write;

use super::media::Size;
use super::task::VideoCodec;

/// One media segment of an HLS media playlist: its URI and length in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaSegment {
    pub uri: String,
    pub seconds: f64,
}

/// The segments of an HLS media playlist, in order.
pub fn segments(playlist: &str) -> Vec<MediaSegment> {
    let mut found = Vec::new();
    let mut seconds = None;
    for line in playlist.lines().map(str::trim) {
        if let Some(info) = line.strip_prefix("#EXTINF:") {
            seconds = info.split(',').next().and_then(|s| s.trim().parse::<f64>().ok());
        } else if !line.is_empty() && !line.starts_with('#') {
            found.push(MediaSegment { uri: line.to_owned(), seconds: seconds.take().unwrap_or(0.0) });
        }
    }
    found
}

/// The init segment an HLS media playlist's `#EXT-X-MAP` names.
pub fn init_segment(playlist: &str) -> Option<String> {
    playlist.lines().find_map(|line| line.trim().strip_prefix("#EXT-X-MAP:")).and_then(|map| attribute(map, "URI"))
}

fn attribute(attributes: &str, name: &str) -> Option<String> {
    let start = attributes.find(&format!("{name}=\""))? + name.len() + 2;
    let end = attributes[start..].find('"')? + start;
    Some(attributes[start..end].to_owned())
}

/// An HLS playlist with every URI it holds (segment lines, `URI="…"` attributes) given by
/// `rename`; URIs it does not know stay.
pub fn rename_uris(playlist: &str, rename: impl Fn(&str) -> Option<String>) -> String {
    let mut renamed = String::with_capacity(playlist.len());
    for line in playlist.lines() {
        let trimmed = line.trim();
        if !trimmed.is_empty() && !trimmed.starts_with('#') {
            renamed.push_str(&rename(trimmed).unwrap_or_else(|| trimmed.to_owned()));
        } else if let Some(uri) = trimmed.starts_with('#').then(|| attribute(trimmed, "URI")).flatten()
            && let Some(new) = rename(&uri)
        {
            renamed.push_str(&trimmed.replacen(&format!("URI=\"{uri}\""), &format!("URI=\"{new}\""), 1));
        } else {
            renamed.push_str(line);
        }
        renamed.push('\n');
    }
    renamed
}

/// The bits per second a rendition needs: the peak over its segments (what HLS's BANDWIDTH
/// means) and the average over all, from each segment's size in bytes and length in seconds.
pub fn bandwidth(segments: &[(u64, f64)]) -> (u64, u64) {
    let peak = segments
        .iter()
        .filter(|(_, seconds)| *seconds > 0.0)
        .map(|(bytes, seconds)| (*bytes as f64 * 8.0 / seconds).ceil() as u64)
        .max()
        .unwrap_or(0);
    let (bytes, seconds) = segments.iter().fold((0u64, 0.0), |(b, s), (bytes, seconds)| (b + bytes, s + seconds));
    let average = if seconds > 0.0 { (bytes as f64 * 8.0 / seconds).ceil() as u64 } else { 0 };
    (peak, average)
}

/// The RFC 6381 codecs of a rendition: the video as encoded (H.264 High, or H.265 Main, at the
/// level the encoder chose, `level` as ffprobe says it) and AAC-LC sound.
pub fn codecs(video: Option<(VideoCodec, u32)>, audio: bool) -> String {
    let mut codecs = Vec::new();
    match video {
        Some((VideoCodec::H265, level)) => codecs.push(format!("hvc1.1.6.L{level}.90")),
        Some((_, level)) => codecs.push(format!("avc1.6400{level:02x}")),
        None => {}
    }
    if audio {
        codecs.push("mp4a.40.2".to_owned());
    }
    codecs.join(",")
}

/// One entry of a master playlist: a rendition's playlist and what players choose it by.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    pub uri: String,
    pub bandwidth: u64,
    pub average_bandwidth: u64,
    pub resolution: Option<Size>,
    pub frame_rate: Option<f64>,
    pub codecs: String,
}

/// The HLS master playlist over `variants` (`version` 7 when segments are fMP4).
pub fn master_playlist(variants: &[Variant], version: u8) -> String {
    let mut text = format!("#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for variant in variants {
        let _ = write!(text, "#EXT-X-STREAM-INF:BANDWIDTH={}", variant.bandwidth.max(1));
        let _ = write!(text, ",AVERAGE-BANDWIDTH={}", variant.average_bandwidth.max(1));
        if let Some(size) = variant.resolution {
            let _ = write!(text, ",RESOLUTION={}x{}", size.width, size.height);
        }
        if let Some(fps) = variant.frame_rate {
            let _ = write!(text, ",FRAME-RATE={fps:.3}");
        }
        let _ = writeln!(text, ",CODECS=\"{}\"\n{}", variant.codecs, variant.uri);
    }
    text
}

/// A DASH MPD whose segment templates (`initialization`, `media` as ffmpeg wrote them) are
/// replaced by `init` and `media`, and whose Representation `id`s get the `bandwidth` given.
pub fn rewrite_mpd(mpd: &str, templates: [(&str, &str); 2], bandwidth: impl Fn(&str) -> Option<u64>) -> String {
    let mut text = mpd.to_owned();
    for (old, new) in templates {
        text = text.replace(&format!("\"{old}\""), &format!("\"{}\"", xml_attribute(new)));
    }
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim_start();
        let ids = trimmed.starts_with("<Representation ").then(|| attribute(trimmed, "id")).flatten();
        match (ids.as_deref().and_then(&bandwidth), attribute(trimmed, "bandwidth")) {
            (Some(new), Some(old)) => {
                out.push_str(&line.replacen(&format!("bandwidth=\"{old}\""), &format!("bandwidth=\"{new}\""), 1));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

fn xml_attribute(value: &str) -> String {
    value.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::task::uri_reference;

    const MEDIA: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI=\"s0_init.mp4\"\n\
#EXTINF:4.000000,\ns0_00001.m4s\n#EXTINF:2.5,\ns0_00002.m4s\n#EXT-X-ENDLIST\n";

    #[test]
    fn a_media_playlist_lists_its_segments_and_init() {
        assert_eq!(
            segments(MEDIA),
            vec![
                MediaSegment { uri: "s0_00001.m4s".into(), seconds: 4.0 },
                MediaSegment { uri: "s0_00002.m4s".into(), seconds: 2.5 }
            ]
        );
        assert_eq!(init_segment(MEDIA).as_deref(), Some("s0_init.mp4"));
    }

    #[test]
    fn every_uri_is_renamed_and_names_are_encoded_for_uris() {
        let renamed = rename_uris(MEDIA, |uri| Some(uri_reference(&format!("my clip #1 ü_{uri}"))));
        assert!(renamed.contains("#EXT-X-MAP:URI=\"my%20clip%20%231%20%C3%BC_s0_init.mp4\"\n"), "{renamed}");
        assert!(renamed.contains("\nmy%20clip%20%231%20%C3%BC_s0_00002.m4s\n"));
        assert_eq!(segments(&renamed).len(), 2);
        assert!(renamed.contains("#EXTINF:2.5,\n") && renamed.ends_with("#EXT-X-ENDLIST\n"));
    }

    #[test]
    fn bandwidth_is_the_peak_segment_and_the_average() {
        assert_eq!(bandwidth(&[(500_000, 4.0), (400_000, 2.0), (100, 0.0)]), (1_600_000, 1_200_134));
        assert_eq!(bandwidth(&[]), (0, 0));
    }

    #[test]
    fn codecs_name_the_profile_and_level() {
        assert_eq!(codecs(Some((VideoCodec::H264, 31)), true), "avc1.64001f,mp4a.40.2");
        assert_eq!(codecs(Some((VideoCodec::H265, 93)), false), "hvc1.1.6.L93.90");
        assert_eq!(codecs(None, true), "mp4a.40.2");
    }

    #[test]
    fn the_master_playlist_says_what_players_choose_by() {
        let variant = Variant {
            uri: "clip_1_0.m3u8".into(),
            bandwidth: 900_000,
            average_bandwidth: 700_000,
            resolution: Some(Size::new(640, 360)),
            frame_rate: Some(25.0),
            codecs: "avc1.64001e,mp4a.40.2".into(),
        };
        let audio = Variant { resolution: None, frame_rate: None, codecs: "mp4a.40.2".into(), ..variant.clone() };
        assert_eq!(
            master_playlist(&[variant, audio], 3),
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n\
#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=700000,RESOLUTION=640x360,FRAME-RATE=25.000,CODECS=\"avc1.64001e,mp4a.40.2\"\n\
clip_1_0.m3u8\n\
#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=700000,CODECS=\"mp4a.40.2\"\nclip_1_0.m3u8\n"
        );
    }

    #[test]
    fn an_mpd_names_segments_as_published_with_measured_bandwidth() {
        let mpd = "<MPD>\n  <Representation id=\"0\" bandwidth=\"10\" width=\"2\">\n    \
<SegmentTemplate initialization=\"s$RepresentationID$_init.mp4\" media=\"s$RepresentationID$_$Number%05d$.m4s\"/>\n</MPD>\n";
        let templates = [
            ("s$RepresentationID$_init.mp4", "i&$RepresentationID$.mp4"),
            ("s$RepresentationID$_$Number%05d$.m4s", "m_$Number$.m4s"),
        ];
        let rewritten = rewrite_mpd(mpd, templates, |id| (id == "0").then_some(999));
        assert!(rewritten.contains("bandwidth=\"999\" width=\"2\""), "{rewritten}");
        assert!(rewritten.contains("initialization=\"i&amp;$RepresentationID$.mp4\" media=\"m_$Number$.m4s\""));
    }
}
