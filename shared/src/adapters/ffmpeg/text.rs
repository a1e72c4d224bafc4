//! Text watermarks drawn into transparent PNGs with the configured TrueType font.
//!
//! ffmpeg then overlays them exactly like image watermarks: no user text ever reaches a filter
//! graph, and text works with any ffmpeg build (static builds since 6.1 ship without
//! `drawtext` unless they include HarfBuzz). An outline (and optionally a shadow) keeps text
//! readable on any picture, light or dark.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};

/// A line or lines of text to draw.
#[derive(Clone, Debug, PartialEq)]
pub struct TextImage {
    pub text: String,
    /// Line height in pixels.
    pub size: u32,
    pub rgb: [u8; 3],
    /// 0–1, multiplied into everything drawn.
    pub opacity: f64,
    /// Outline width in pixels (0: none) and colour.
    pub outline: u32,
    pub outline_rgb: [u8; 3],
    pub shadow: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TextError {
    #[error("the font is not a TrueType/OpenType font: {0}")]
    Font(String),
    #[error("cannot encode the text image: {0}")]
    Encode(String),
    #[error("the text does not fit in {0}x{1} pixels even at the smallest size")]
    DoesNotFit(u32, u32),
}

/// Largest side of a text image, in pixels.
const MAX_SIDE: u32 = 8192;
/// Text is never drawn smaller than this, in pixels.
pub const MIN_SIZE: u32 = 8;

/// A drawn text: its pixels and size.
#[derive(Clone, Debug, PartialEq)]
pub struct DrawnText {
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

impl TextImage {
    /// Draws the text at its size, or smaller (down to [`MIN_SIZE`]) so that it fits in
    /// `room` (width, height): long text on a narrow picture shrinks instead of being cut.
    pub fn render_within(&self, font: &[u8], room: (u32, u32)) -> Result<DrawnText, TextError> {
        let font = FontRef::try_from_slice(font).map_err(|e| TextError::Font(e.to_string()))?;
        let mut image = self.clone();
        for _ in 0..4 {
            let (width, height) = image.measure(&font);
            if width <= room.0 && height <= room.1 {
                return image.draw(&font);
            }
            let scale = (f64::from(room.0) / f64::from(width)).min(f64::from(room.1) / f64::from(height));
            let smaller = ((f64::from(image.size) * scale).floor() as u32).min(image.size.saturating_sub(1));
            if smaller < MIN_SIZE {
                break;
            }
            image.outline = (f64::from(image.outline) * f64::from(smaller) / f64::from(image.size)).round() as u32;
            image.size = smaller;
        }
        Err(TextError::DoesNotFit(room.0, room.1))
    }

    fn margin(&self) -> f32 {
        (self.size as f32 / 10.0).ceil().max((self.outline + self.shadow_offset() + 1) as f32)
    }

    fn shadow_offset(&self) -> u32 {
        if self.shadow { (self.size / 16).max(1) } else { 0 }
    }

    /// Lays the text out: glyphs at their positions, and the image size that holds them.
    fn layout<'f>(&self, font: &'f FontRef<'f>) -> (Vec<ab_glyph::Glyph>, u32, u32) {
        let scaled = font.as_scaled(PxScale::from(self.size as f32));
        let line_height = scaled.height() + scaled.line_gap();
        let margin = self.margin();
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
        (glyphs, image_width, image_height)
    }

    fn measure(&self, font: &FontRef<'_>) -> (u32, u32) {
        let (_, width, height) = self.layout(font);
        (width, height)
    }

    fn draw(&self, font: &FontRef<'_>) -> Result<DrawnText, TextError> {
        let (glyphs, width, height) = self.layout(font);
        let (w, h) = (width as usize, height as usize);
        // Glyph coverage, 0–1 per pixel.
        let mut ink = vec![0f32; w * h];
        for glyph in glyphs {
            let Some(outlined) = font.outline_glyph(glyph) else { continue };
            let bounds = outlined.px_bounds();
            outlined.draw(|gx, gy, coverage| {
                let (x, y) = (bounds.min.x as i64 + i64::from(gx), bounds.min.y as i64 + i64::from(gy));
                if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                    let at = y as usize * w + x as usize;
                    ink[at] = ink[at].max(coverage.clamp(0.0, 1.0));
                }
            });
        }
        let outline = dilate(&ink, w, h, self.outline);
        let offset = self.shadow_offset() as usize;
        let mut rgba = vec![0u8; w * h * 4];
        for y in 0..h {
            for x in 0..w {
                let at = y * w + x;
                // Layers from the bottom: shadow, outline, text.
                let shadow = if offset > 0 && x >= offset && y >= offset {
                    outline[(y - offset) * w + (x - offset)].max(ink[(y - offset) * w + (x - offset)]) * 0.6
                } else {
                    0.0
                };
                let mut pixel = ([0f32; 3], shadow);
                pixel = over(pixel, self.outline_rgb.map(f32::from), outline[at]);
                pixel = over(pixel, self.rgb.map(f32::from), ink[at]);
                let (color, alpha) = pixel;
                let alpha = alpha * self.opacity.clamp(0.0, 1.0) as f32;
                rgba[at * 4..at * 4 + 3].copy_from_slice(&color.map(|c| c.round().clamp(0.0, 255.0) as u8));
                rgba[at * 4 + 3] = (alpha * 255.0).round() as u8;
            }
        }
        Ok(DrawnText { png: encode_png(&rgba, width, height)?, width, height })
    }
}

/// `top` with coverage `alpha` over `(colour, alpha)` (straight alpha).
fn over((color, below): ([f32; 3], f32), top: [f32; 3], alpha: f32) -> ([f32; 3], f32) {
    let out = alpha + below * (1.0 - alpha);
    if out <= 0.0 {
        return ([0.0; 3], 0.0);
    }
    let mix = |i: usize| (top[i] * alpha + color[i] * below * (1.0 - alpha)) / out;
    ([mix(0), mix(1), mix(2)], out)
}

/// The largest coverage within `radius` pixels of each pixel: the outline around the ink.
fn dilate(ink: &[f32], w: usize, h: usize, radius: u32) -> Vec<f32> {
    if radius == 0 {
        return vec![0.0; ink.len()];
    }
    let r = radius as i64;
    let disc: Vec<(i64, i64)> = (-r..=r)
        .flat_map(|dy| (-r..=r).map(move |dx| (dx, dy)))
        .filter(|(dx, dy)| dx * dx + dy * dy <= r * r)
        .collect();
    let mut out = vec![0f32; ink.len()];
    for y in 0..h as i64 {
        for x in 0..w as i64 {
            let mut best = 0f32;
            for (dx, dy) in &disc {
                let (sx, sy) = (x + dx, y + dy);
                if sx >= 0 && sy >= 0 && sx < w as i64 && sy < h as i64 {
                    best = best.max(ink[sy as usize * w + sx as usize]);
                }
            }
            out[y as usize * w + x as usize] = best;
        }
    }
    out
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
        TextImage {
            text: text.into(),
            size: 40,
            rgb: [255, 204, 0],
            opacity: 0.5,
            outline: 0,
            outline_rgb: [0, 0, 0],
            shadow: false,
        }
    }

    fn font() -> Vec<u8> {
        std::fs::read(FONT).expect("DejaVu Sans is installed")
    }

    impl TextImage {
        fn render_png(&self, font: &[u8]) -> Result<Vec<u8>, TextError> {
            self.render_within(font, (MAX_SIDE, MAX_SIDE)).map(|drawn| drawn.png)
        }
    }

    #[test]
    fn draws_coloured_translucent_glyphs_on_transparent_ground() {
        let (width, height, pixels) = decode(&mark("Hé {x}: 'q' ✓").render_png(&font()).unwrap());
        assert!(width > 200 && (40..=70).contains(&height), "{width}x{height}");
        let alphas: Vec<u8> = pixels.chunks(4).map(|p| p[3]).collect();
        assert_eq!(pixels[..4], [0, 0, 0, 0], "the corner stays transparent");
        assert_eq!(alphas.iter().max(), Some(&128), "opacity 0.5 caps alpha at half");
        let inked = pixels.chunks(4).find(|p| p[3] == 128).unwrap();
        assert_eq!(inked[..3], [255, 204, 0]);
    }

    #[test]
    fn an_outline_surrounds_the_glyphs_in_its_own_colour() {
        let white = TextImage { rgb: [255, 255, 255], opacity: 1.0, outline: 3, ..mark("I") };
        let (width, _, pixels) = decode(&white.render_png(&font()).unwrap());
        let row: Vec<&[u8]> = pixels.chunks(4).skip(width as usize * 30).take(width as usize).collect();
        let colours: Vec<[u8; 4]> = row.iter().filter(|p| p[3] == 255).map(|p| [p[0], p[1], p[2], p[3]]).collect();
        assert!(colours.contains(&[0, 0, 0, 255]), "black outline pixels");
        assert!(colours.contains(&[255, 255, 255, 255]), "white text pixels");
        let first = colours.first().unwrap();
        assert_eq!(first, &[0, 0, 0, 255], "the outline is outside the glyph");
    }

    #[test]
    fn text_shrinks_to_fit_the_room_or_fails() {
        let long = TextImage { size: 60, ..mark("mediaflow mediaflow mediaflow") };
        let drawn = long.render_within(&font(), (300, 100)).unwrap();
        assert!(drawn.width <= 300 && drawn.height < 60, "{}x{}", drawn.width, drawn.height);
        assert_eq!(long.render_within(&font(), (30, 5)), Err(TextError::DoesNotFit(30, 5)));
    }

    #[test]
    fn lines_stack_and_longer_text_is_wider() {
        let font = font();
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
