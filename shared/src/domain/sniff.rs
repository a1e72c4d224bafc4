//! What the first bytes of an upload say it is, so that files mediaflow does not process
//! (images, playlists, documents, text) are refused with one clear sentence before any tool
//! runs on them, and the picture size a file announces is known even when the tools refuse it.

/// What a file's first bytes show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniffed {
    /// A still image; the size when its header tells it.
    Image {
        format: &'static str,
        size: Option<(u32, u32)>,
    },
    /// A list of other files (HLS, DASH, ffconcat): never followed.
    Playlist(&'static str),
    Document(&'static str),
    Text,
    /// Possibly media: the probe decides.
    Other,
}

/// How many bytes [`sniff`] looks at.
pub const SNIFF_BYTES: usize = 512;

pub fn sniff(head: &[u8]) -> Sniffed {
    let starts = |magic: &[u8]| head.starts_with(magic);
    if let Some(size) = png_size(head) {
        return Sniffed::Image { format: "PNG", size: Some(size) };
    }
    if starts(b"\xff\xd8\xff") {
        return Sniffed::Image { format: "JPEG", size: None };
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Sniffed::Image { format: "WebP", size: None };
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Sniffed::Image { format: "TIFF", size: None };
    }
    if starts(b"BM") && head.len() >= 26 && head[14..18] != [0, 0, 0, 0] {
        return Sniffed::Image { format: "BMP", size: None };
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        let brand = &head[8..12];
        if [&b"heic"[..], b"heix", b"mif1", b"msf1", b"avif", b"avis"].contains(&brand) {
            return Sniffed::Image { format: "HEIF", size: None };
        }
    }
    let text = trim_bom(head);
    if text.starts_with(b"#EXTM3U") {
        return Sniffed::Playlist("an HLS playlist");
    }
    if text.starts_with(b"ffconcat") {
        return Sniffed::Playlist("an ffconcat list");
    }
    if text.starts_with(b"<?xml") || text.starts_with(b"<MPD") {
        let is_mpd = text.windows(4).any(|w| w == b"<MPD");
        return if is_mpd { Sniffed::Playlist("a DASH manifest") } else { Sniffed::Document("an XML document") };
    }
    if starts(b"%PDF") {
        return Sniffed::Document("a PDF document");
    }
    if starts(b"PK\x03\x04") {
        return Sniffed::Document("a ZIP archive");
    }
    if !text.is_empty() && is_text(text) {
        return Sniffed::Text;
    }
    Sniffed::Other
}

impl Sniffed {
    /// The sentence that refuses a file of this kind; `None` when it may be media.
    pub fn refusal(self) -> Option<String> {
        match self {
            Sniffed::Image { format, size: Some((width, height)) } => {
                Some(format!("the file is a {format} image ({width}x{height}), not a video or audio file"))
            }
            Sniffed::Image { format, size: None } => {
                Some(format!("the file is a {format} image, not a video or audio file"))
            }
            Sniffed::Playlist(kind) => {
                Some(format!("the file is {kind}; mediaflow processes media files, not lists that point to them"))
            }
            Sniffed::Document(kind) => Some(format!("the file is {kind}, not a video or audio file")),
            Sniffed::Text => Some("the file is text, not a video or audio file".to_owned()),
            Sniffed::Other => None,
        }
    }
}

/// Width and height from a PNG's header.
pub fn png_size(head: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !head.starts_with(SIGNATURE) || head.get(12..16) != Some(b"IHDR") {
        return None;
    }
    let word = |at: usize| head.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    Some((word(16)?, word(20)?))
}

/// The logical screen size a GIF announces.
pub fn gif_size(head: &[u8]) -> Option<(u32, u32)> {
    if !(head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a")) || head.len() < 10 {
        return None;
    }
    Some((u32::from(u16::from_le_bytes([head[6], head[7]])), u32::from(u16::from_le_bytes([head[8], head[9]]))))
}

fn trim_bom(head: &[u8]) -> &[u8] {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = head.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(head.len());
    &head[start..]
}

/// Printable UTF-8 (a cut multi-byte character at the end is fine).
fn is_text(bytes: &[u8]) -> bool {
    let valid = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) if error.error_len().is_none() => match std::str::from_utf8(&bytes[..error.valid_up_to()]) {
            Ok(text) => text,
            Err(_) => return false,
        },
        Err(_) => return false,
    };
    valid.chars().all(|c| !c.is_control() || c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_named_with_their_size_when_known() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend(20000u32.to_be_bytes());
        png.extend(20000u32.to_be_bytes());
        assert_eq!(sniff(&png), Sniffed::Image { format: "PNG", size: Some((20000, 20000)) });
        assert_eq!(
            sniff(&png).refusal().as_deref(),
            Some("the file is a PNG image (20000x20000), not a video or audio file")
        );
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF"), Sniffed::Image { format: "JPEG", size: None });
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0"), Sniffed::Image { format: "HEIF", size: None });
    }

    #[test]
    fn videos_and_animated_gifs_are_left_to_the_probe() {
        assert_eq!(sniff(b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41"), Sniffed::Other);
        assert_eq!(sniff(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01"), Sniffed::Other);
        assert_eq!(sniff(b"GIF89a\xff\xff\xff\xff"), Sniffed::Other);
        assert_eq!(gif_size(b"GIF89a\xff\xff\xff\xff\x80\0\0"), Some((65535, 65535)));
        assert_eq!(sniff(&[0u8; 512]), Sniffed::Other, "zeros are for the probe to refuse");
    }

    #[test]
    fn playlists_documents_and_text_are_refused_in_one_sentence() {
        assert_eq!(
            sniff(b"#EXTM3U\n#EXTINF:10,\nfile:///etc/passwd\n").refusal().as_deref(),
            Some("the file is an HLS playlist; mediaflow processes media files, not lists that point to them")
        );
        assert_eq!(sniff(b"\xef\xbb\xbf<?xml version=\"1.0\"?><MPD>"), Sniffed::Playlist("a DASH manifest"));
        assert_eq!(sniff(b"ffconcat version 1.0\nfile a.mp4\n"), Sniffed::Playlist("an ffconcat list"));
        assert_eq!(sniff(b"%PDF-1.7\n"), Sniffed::Document("a PDF document"));
        assert_eq!(
            sniff("meeting notes — été\n".as_bytes()).refusal().as_deref(),
            Some("the file is text, not a video or audio file")
        );
    }
}
