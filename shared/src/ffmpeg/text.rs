//! Text watermarks drawn into transparent PNGs with the configured TrueType font.
//!
//! ffmpeg then overlays them exactly like image watermarks: no user text ever reaches a filter
//! graph, and text works with any ffmpeg build (static builds since 6.1 ship without
//! `drawtext` unless they include HarfBuzz).

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};

/// A line or lines of text to draw.
#[derive(Clone, Debug, PartialEq)]
pub struct TextImage {
    pub text: String,
    /// Line height in pixels.
    pub size: u32,
    pub rgb: [u8; 3],
    /// 0–1, multiplied into the glyph coverage.
    pub opacity: f64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TextError {
    #[error("the font is not a TrueType/OpenType font: {0}")]
    Font(String),
    #[error("cannot encode the text image: {0}")]
    Encode(String),
}

/// Largest side of a text image, in pixels.
const MAX_SIDE: u32 = 8192;

impl TextImage {
    /// Lays the text out (lines split at `\n`, kerning applied) and draws it into an RGBA PNG
    /// just large enough to hold it.
    pub fn render_png(&self, font: &[u8]) -> Result<Vec<u8>, TextError> {
        let font = FontRef::try_from_slice(font).map_err(|e| TextError::Font(e.to_string()))?;
        let scaled = font.as_scaled(PxScale::from(self.size as f32));
        let line_height = scaled.height() + scaled.line_gap();
        let margin = (self.size as f32 / 10.0).ceil();
        let mut glyphs = Vec::new();
        let mut width: f32 = 0.0;
        let lines: Vec<&str> = self.text.lines().collect();
        for (row, line) in lines.iter().enumerate() {
            let baseline = margin + scaled.ascent() + row as f32 * line_height;
            let mut x = margin;
            let mut previous = None;
            for c in line.chars().filter(|c| !c.is_control()) {
                let id = scaled.glyph_id(c);
                if let Some(previous) = previous {
                    x += scaled.kern(previous, id);
                }
                glyphs.push(id.with_scale_and_position(scaled.scale(), point(x, baseline)));
                x += scaled.h_advance(id);
                previous = Some(id);
            }
            width = width.max(x);
        }
        let image_width = ((width + margin).ceil() as u32).clamp(1, MAX_SIDE);
        let image_height = ((margin * 2.0 + line_height * lines.len().max(1) as f32).ceil() as u32).clamp(1, MAX_SIDE);
        let mut rgba = vec![0u8; image_width as usize * image_height as usize * 4];
        for glyph in glyphs {
            let Some(outlined) = font.outline_glyph(glyph) else { continue };
            let bounds = outlined.px_bounds();
            outlined.draw(|gx, gy, coverage| {
                let (x, y) = (bounds.min.x as i64 + i64::from(gx), bounds.min.y as i64 + i64::from(gy));
                if x < 0 || y < 0 || x >= i64::from(image_width) || y >= i64::from(image_height) {
                    return;
                }
                let at = (y as usize * image_width as usize + x as usize) * 4;
                let alpha = (f64::from(coverage.clamp(0.0, 1.0)) * self.opacity.clamp(0.0, 1.0) * 255.0).round() as u8;
                if alpha > rgba[at + 3] {
                    rgba[at..at + 3].copy_from_slice(&self.rgb);
                    rgba[at + 3] = alpha;
                }
            });
        }
        encode_png(&rgba, image_width, image_height)
    }
}

fn encode_png(rgba: &[u8], width: u32, height: u32) -> Result<Vec<u8>, TextError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| TextError::Encode(e.to_string()))?;
    writer.write_image_data(rgba).map_err(|e| TextError::Encode(e.to_string()))?;
    writer.finish().map_err(|e| TextError::Encode(e.to_string()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Debian's DejaVu Sans (fonts-dejavu-core, installed by `make setup`).
    const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

    fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        (info.width, info.height, pixels)
    }

    fn mark(text: &str) -> TextImage {
        TextImage { text: text.into(), size: 40, rgb: [255, 204, 0], opacity: 0.5 }
    }

    #[test]
    fn draws_coloured_translucent_glyphs_on_transparent_ground() {
        let font = std::fs::read(FONT).expect("DejaVu Sans is installed");
        let (width, height, pixels) = decode(&mark("Hé {x}: 'q' ✓").render_png(&font).unwrap());
        assert!(width > 200 && (40..=70).contains(&height), "{width}x{height}");
        let alphas: Vec<u8> = pixels.chunks(4).map(|p| p[3]).collect();
        assert_eq!(pixels[..4], [0, 0, 0, 0], "the corner stays transparent");
        assert_eq!(alphas.iter().max(), Some(&128), "opacity 0.5 caps alpha at half");
        let inked = pixels.chunks(4).find(|p| p[3] == 128).unwrap();
        assert_eq!(inked[..3], [255, 204, 0]);
    }

    #[test]
    fn lines_stack_and_longer_text_is_wider() {
        let font = std::fs::read(FONT).expect("DejaVu Sans is installed");
        let (one_w, one_h, _) = decode(&mark("mediaflow").render_png(&font).unwrap());
        let (two_w, two_h, _) = decode(&mark("mediaflow\nmediaflow").render_png(&font).unwrap());
        let (long_w, _, _) = decode(&mark("mediaflow mediaflow").render_png(&font).unwrap());
        assert_eq!(one_w, two_w);
        assert!(two_h > one_h + 30);
        assert!(long_w > one_w * 3 / 2);
    }

    #[test]
    fn a_file_that_is_not_a_font_is_refused() {
        assert!(matches!(mark("x").render_png(b"not a font"), Err(TextError::Font(_))));
    }
}
