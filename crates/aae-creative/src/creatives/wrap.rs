//! Measuring and word-wrapping text with the embedded fonts: the size ladder tried while fitting,
//! greedy wrapping, and ellipsis truncation for text that cannot fit at any allowed size.

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont};

use super::PixelRect;
use super::text::TextStyle;

pub(crate) const ELLIPSIS: char = '\u{2026}';

/// Sizes tried, largest first, each about 5 % smaller than the one before, ending exactly at `min`.
pub(crate) fn sizes(max: f32, min: f32) -> Vec<f32> {
    let mut out = Vec::new();
    let mut px = max.max(min);
    while px > min {
        out.push(px);
        px -= (px * 0.05).max(0.5);
    }
    out.push(min);
    out
}

pub(crate) fn scale(font: &FontRef<'static>, em_px: f32) -> PxScale {
    let upem = font.units_per_em().unwrap_or(2048.0);
    PxScale::from(em_px * font.height_unscaled() / upem)
}

pub(crate) fn line_height(style: &TextStyle<'_>, px: f32) -> f32 {
    scale(style.font, px).y * style.line_spacing
}

pub(crate) fn advance(font: &FontRef<'static>, px: f32, text: &str) -> f32 {
    let scaled = font.as_scaled(scale(font, px));
    let mut width = 0.0;
    let mut prev: Option<GlyphId> = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            width += scaled.kern(p, id);
        }
        width += scaled.h_advance(id);
        prev = Some(id);
    }
    width
}

/// Greedy wrap at `px`; `None` when some single word is wider than the box.
pub(crate) fn wrap(words: &[&str], style: &TextStyle<'_>, px: f32, width: f32) -> Option<Vec<String>> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in words {
        if advance(style.font, px, word) > width {
            return None;
        }
        let candidate = if current.is_empty() { (*word).to_owned() } else { format!("{current} {word}") };
        if current.is_empty() || advance(style.font, px, &candidate) <= width {
            current = candidate;
        } else {
            lines.push(std::mem::replace(&mut current, (*word).to_owned()));
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    Some(lines)
}

/// Longest prefix of `text` that, followed by an ellipsis, fits `width`.
fn with_ellipsis(text: &str, style: &TextStyle<'_>, px: f32, width: f32) -> String {
    let chars: Vec<char> = text.chars().collect();
    for keep in (0..=chars.len()).rev() {
        let prefix: String = chars[..keep].iter().collect();
        let candidate = format!("{}{ELLIPSIS}", prefix.trim_end());
        if advance(style.font, px, &candidate) <= width {
            return candidate;
        }
    }
    String::new()
}

/// Wrap at `px`, cutting over-long words and surplus lines with an ellipsis.
pub(crate) fn wrap_truncating(
    words: &[&str],
    style: &TextStyle<'_>,
    px: f32,
    bounds: PixelRect,
) -> (Vec<String>, bool) {
    let width = bounds.width as f32;
    let max_lines = (bounds.height as f32 / line_height(style, px)).floor() as usize;
    let mut truncated = false;
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in words {
        let word = if advance(style.font, px, word) > width {
            truncated = true;
            with_ellipsis(word, style, px, width)
        } else {
            (*word).to_owned()
        };
        if word.is_empty() {
            continue;
        }
        let candidate = if current.is_empty() { word.clone() } else { format!("{current} {word}") };
        if current.is_empty() || advance(style.font, px, &candidate) <= width {
            current = candidate;
        } else {
            lines.push(std::mem::replace(&mut current, word));
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    if lines.len() > max_lines {
        truncated = true;
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            *last = with_ellipsis(last, style, px, width);
        }
    }
    lines.retain(|l| !l.is_empty());
    (lines, truncated)
}
