//! Text fitting and drawing with the embedded DejaVu Sans fonts: greedy word wrap, shrink until the
//! measured glyph ink fits the box, then (only if nothing fits) shrink below the minimum for a
//! single over-long word, and finally truncate with an ellipsis. Nothing is ever drawn outside the
//! box: fitting checks the rasterised glyph bounds, and drawing clips to the box as well.

use ab_glyph::{Font, FontRef, Glyph, GlyphId, ScaleFont, point};
use image::RgbImage;

use super::PixelRect;
use super::canvas::blend;
use super::wrap::{advance, line_height, scale, sizes, wrap, wrap_truncating};
use crate::CreativeError;
use crate::brand::Rgb;

static REGULAR_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// The two embedded faces.
pub(crate) struct Fonts {
    pub regular: FontRef<'static>,
    pub bold: FontRef<'static>,
}

impl Fonts {
    pub fn load() -> Result<Self, CreativeError> {
        let load = |bytes: &'static [u8], name: &str| {
            FontRef::try_from_slice(bytes).map_err(|e| CreativeError::Encode {
                artifact: "png".to_owned(),
                reason: format!("embedded font {name} failed to load: {e}"),
            })
        };
        Ok(Fonts { regular: load(REGULAR_TTF, "DejaVuSans.ttf")?, bold: load(BOLD_TTF, "DejaVuSans-Bold.ttf")? })
    }
}

/// Horizontal alignment of each line inside the box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Center,
}

/// Vertical placement of the block of lines inside the box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VAlign {
    Top,
    Center,
    Bottom,
}

/// How one text element may be sized and placed. Sizes are em sizes in pixels (CSS `font-size`).
#[derive(Clone, Copy)]
pub(crate) struct TextStyle<'f> {
    pub font: &'f FontRef<'static>,
    pub max_px: f32,
    pub min_px: f32,
    pub align: Align,
    pub valign: VAlign,
    /// Line advance as a multiple of the font's ascent-to-descent height.
    pub line_spacing: f32,
}

/// Smallest em size ever drawn; below it the element is left empty (and reported truncated).
const ABSOLUTE_FLOOR_PX: f32 = 4.0;
/// How far below `min_px` a single over-long word may be shrunk before it is truncated instead.
const LONG_WORD_FLOOR: f32 = 0.6;

/// The outcome of fitting one text into one box.
#[derive(Debug, Clone)]
pub(crate) struct FittedText {
    pub px: f32,
    pub lines: Vec<String>,
    pub glyphs: Vec<Glyph>,
    pub ink: Option<PixelRect>,
    pub truncated: bool,
    pub below_minimum: bool,
    pub missing_glyphs: usize,
}

impl FittedText {
    fn empty(px: f32, truncated: bool) -> Self {
        FittedText {
            px,
            lines: Vec::new(),
            glyphs: Vec::new(),
            ink: None,
            truncated,
            below_minimum: false,
            missing_glyphs: 0,
        }
    }
}

/// Positions `lines` in `bounds` and measures their ink; `None` if any ink falls outside.
fn place(lines: Vec<String>, style: &TextStyle<'_>, px: f32, bounds: PixelRect) -> Option<FittedText> {
    let scaled = style.font.as_scaled(scale(style.font, px));
    let lh = line_height(style, px);
    let block = lh * lines.len() as f32;
    let free = (bounds.height as f32 - block).max(0.0);
    let top = bounds.y as f32
        + match style.valign {
            VAlign::Top => 0.0,
            VAlign::Center => free / 2.0,
            VAlign::Bottom => free,
        };
    let mut glyphs = Vec::new();
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    let mut missing = 0;
    for (i, line) in lines.iter().enumerate() {
        let width = advance(style.font, px, line);
        let mut x = bounds.x as f32
            + match style.align {
                Align::Left => 0.0,
                Align::Center => ((bounds.width as f32 - width) / 2.0).max(0.0),
            };
        let baseline = top + i as f32 * lh + scaled.ascent();
        let mut prev: Option<GlyphId> = None;
        for c in line.chars() {
            let id = scaled.glyph_id(c);
            if id.0 == 0 && !c.is_whitespace() {
                missing += 1;
            }
            if let Some(p) = prev {
                x += scaled.kern(p, id);
            }
            let glyph = id.with_scale_and_position(scaled.scale(), point(x, baseline));
            x += scaled.h_advance(id);
            prev = Some(id);
            if let Some(outline) = style.font.outline_glyph(glyph.clone()) {
                let b = outline.px_bounds();
                (x0, y0, x1, y1) = (x0.min(b.min.x), y0.min(b.min.y), x1.max(b.max.x), y1.max(b.max.y));
                glyphs.push(glyph);
            }
        }
    }
    let ink = if glyphs.is_empty() {
        None
    } else {
        let inside = x0 >= bounds.x as f32
            && y0 >= bounds.y as f32
            && x1 <= (bounds.x + bounds.width) as f32
            && y1 <= (bounds.y + bounds.height) as f32;
        if !inside {
            return None;
        }
        Some(PixelRect { x: x0 as u32, y: y0 as u32, width: (x1 - x0) as u32, height: (y1 - y0) as u32 })
    };
    Some(FittedText { px, lines, glyphs, ink, truncated: false, below_minimum: false, missing_glyphs: missing })
}

/// Fits `text` into `bounds`: the largest size from `style.max_px` down to `style.min_px` at which
/// the wrapped text's ink lies inside the box, else a smaller size for one over-long word, else
/// ellipsis truncation. Never panics and never returns ink outside `bounds`.
pub(crate) fn fit_text(text: &str, bounds: PixelRect, style: &TextStyle<'_>) -> FittedText {
    let cleaned: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    if words.is_empty() || bounds.width == 0 || bounds.height == 0 {
        return FittedText::empty(style.min_px, !words.is_empty());
    }
    let try_size = |px: f32| -> Result<Option<FittedText>, ()> {
        let Some(lines) = wrap(&words, style, px, bounds.width as f32) else { return Err(()) };
        if lines.len() as f32 * line_height(style, px) > bounds.height as f32 {
            return Ok(None);
        }
        Ok(place(lines, style, px, bounds))
    };
    let mut long_word = false;
    for px in sizes(style.max_px, style.min_px) {
        match try_size(px) {
            Ok(Some(fitted)) => return fitted,
            Ok(None) => long_word = false,
            Err(()) => long_word = true,
        }
    }
    let mut px = style.min_px;
    if long_word {
        let floor = (style.min_px * LONG_WORD_FLOOR).max(ABSOLUTE_FLOOR_PX);
        for smaller in sizes(style.min_px, floor).into_iter().skip(1) {
            if let Ok(Some(mut fitted)) = try_size(smaller) {
                fitted.below_minimum = true;
                return fitted;
            }
        }
        px = floor;
    }
    while px >= ABSOLUTE_FLOOR_PX {
        let (lines, truncated) = wrap_truncating(&words, style, px, bounds);
        if !lines.is_empty()
            && let Some(mut fitted) = place(lines, style, px, bounds)
        {
            fitted.truncated = truncated;
            fitted.below_minimum = px < style.min_px;
            return fitted;
        }
        px *= 0.9;
    }
    FittedText::empty(ABSOLUTE_FLOOR_PX, true)
}

/// Draws fitted text in `color`, blending glyph coverage over the canvas; pixels outside `clip`
/// are never touched.
pub(crate) fn draw(canvas: &mut RgbImage, fitted: &FittedText, font: &FontRef<'static>, color: Rgb, clip: PixelRect) {
    let (cw, ch) = canvas.dimensions();
    let x_end = (clip.x + clip.width).min(cw) as i64;
    let y_end = (clip.y + clip.height).min(ch) as i64;
    for glyph in &fitted.glyphs {
        let Some(outline) = font.outline_glyph(glyph.clone()) else { continue };
        let b = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let x = b.min.x as i64 + i64::from(gx);
            let y = b.min.y as i64 + i64::from(gy);
            if x >= i64::from(clip.x) && y >= i64::from(clip.y) && x < x_end && y < y_end && coverage > 0.0 {
                let pixel = canvas.get_pixel_mut(x as u32, y as u32);
                blend(pixel, color, coverage.min(1.0));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::creatives::wrap::ELLIPSIS;
    use proptest::prelude::*;

    fn style(fonts: &Fonts, max: f32, min: f32) -> TextStyle<'_> {
        TextStyle {
            font: &fonts.bold,
            max_px: max,
            min_px: min,
            align: Align::Center,
            valign: VAlign::Center,
            line_spacing: 1.0,
        }
    }

    fn inside(ink: PixelRect, b: PixelRect) -> bool {
        ink.x >= b.x && ink.y >= b.y && ink.x + ink.width <= b.x + b.width && ink.y + ink.height <= b.y + b.height
    }

    #[test]
    fn short_text_uses_the_maximum_size() {
        let fonts = Fonts::load().unwrap();
        let b = PixelRect { x: 10, y: 10, width: 600, height: 200 };
        let fitted = fit_text("Hello", b, &style(&fonts, 60.0, 20.0));
        assert_eq!(fitted.px, 60.0);
        assert_eq!(fitted.lines, vec!["Hello"]);
        assert!(inside(fitted.ink.unwrap(), b));
    }

    #[test]
    fn long_text_shrinks_and_wraps() {
        let fonts = Fonts::load().unwrap();
        let b = PixelRect { x: 0, y: 0, width: 400, height: 200 };
        let fitted = fit_text(&"Summer savings on every pair of shoes ".repeat(3), b, &style(&fonts, 60.0, 12.0));
        assert!(fitted.px < 60.0 && fitted.lines.len() > 1 && !fitted.truncated, "{fitted:?}");
        assert!(inside(fitted.ink.unwrap(), b));
    }

    #[test]
    fn overlong_word_shrinks_below_minimum_then_truncates() {
        let fonts = Fonts::load().unwrap();
        let b = PixelRect { x: 0, y: 0, width: 100, height: 40 };
        let fitted = fit_text("Supercalifragilistic", b, &style(&fonts, 30.0, 12.0));
        assert!(fitted.below_minimum && !fitted.truncated, "{fitted:?}");
        let fitted = fit_text(&"W".repeat(80), b, &style(&fonts, 30.0, 12.0));
        assert!(fitted.truncated && fitted.lines[0].ends_with(ELLIPSIS), "{fitted:?}");
        assert!(inside(fitted.ink.unwrap(), b));
    }

    #[test]
    fn drawing_never_touches_pixels_outside_the_box() {
        let fonts = Fonts::load().unwrap();
        let mut canvas = RgbImage::from_pixel(200, 120, image::Rgb([10, 20, 30]));
        let b = PixelRect { x: 40, y: 30, width: 120, height: 60 };
        let fitted = fit_text("Jumpy quail (gyp) ÅÉ overflowing WWWWWWWWWWWWWWW", b, &style(&fonts, 40.0, 10.0));
        draw(&mut canvas, &fitted, &fonts.bold, Rgb::WHITE, b);
        let mut inked = 0;
        for (x, y, p) in canvas.enumerate_pixels() {
            let in_box = x >= b.x && x < b.x + b.width && y >= b.y && y < b.y + b.height;
            if p.0 != [10, 20, 30] {
                assert!(in_box, "pixel ({x},{y}) drawn outside the text box");
                inked += 1;
            }
        }
        assert!(inked > 100);
    }

    proptest! {
        #[test]
        fn any_letters_fit_any_box(text in "\\p{L}{1,200}", w in 20u32..600, h in 12u32..300) {
            let fonts = Fonts::load().unwrap();
            let b = PixelRect { x: 3, y: 5, width: w, height: h };
            let fitted = fit_text(&text, b, &style(&fonts, 48.0, 12.0));
            if let Some(ink) = fitted.ink {
                prop_assert!(inside(ink, b), "{ink:?} outside {b:?}");
            }
        }
    }
}
