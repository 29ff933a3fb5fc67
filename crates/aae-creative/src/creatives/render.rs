//! Composes one creative: background, logo, button, then each text in a colour that reaches WCAG
//! AA contrast against the pixels actually behind it (adding a translucent panel when no colour
//! can), and encodes the PNG.

use image::{DynamicImage, ImageEncoder, RgbImage};

use super::canvas::{self, Luminance};
use super::layout::{self, Slot};
use super::text::{self, FittedText, Fonts, TextStyle};
use super::{CreativeSize, CreativeSpec, LayoutReport, PixelRect, RenderedCreative, TextReport, TextRole};
use crate::CreativeError;
use crate::brand::{Rgb, WCAG_AA_TEXT, contrast_ratio_of_luminances};

/// WCAG 2.x minimum contrast for user-interface components (the button against its surroundings).
const NON_TEXT_CONTRAST: f64 = 3.0;

/// Validated, decoded inputs shared by every size.
pub(crate) struct Inputs<'a> {
    pub spec: &'a CreativeSpec,
    pub palette: &'a [Rgb],
    pub logo: Option<&'a DynamicImage>,
    pub background: Option<&'a DynamicImage>,
    pub fonts: &'a Fonts,
}

/// Lowest contrast between `color` and any luminance in `lum`'s range (1.0 if it falls inside).
fn min_ratio(color: Rgb, lum: Luminance) -> f64 {
    let l = color.relative_luminance();
    if l >= lum.min && l <= lum.max {
        return 1.0;
    }
    contrast_ratio_of_luminances(l, lum.min).min(contrast_ratio_of_luminances(l, lum.max))
}

/// The first candidate reaching `target`, else the one with the highest contrast.
fn pick(candidates: &[Rgb], lum: Luminance, target: f64) -> (Rgb, f64) {
    let rated = candidates.iter().map(|&c| (c, min_ratio(c, lum)));
    if let Some(found) = rated.clone().find(|&(_, r)| r >= target) {
        return found;
    }
    rated.fold((Rgb::WHITE, 0.0), |best, cur| if cur.1 > best.1 { cur } else { best })
}

fn background(inputs: &Inputs<'_>, width: u32, height: u32) -> RgbImage {
    let base = inputs.palette.first().copied().unwrap_or(Rgb::BLACK);
    match inputs.background {
        Some(img) => {
            let mut c = canvas::cover(img, width, height);
            let full = PixelRect { x: 0, y: 0, width, height };
            if canvas::luminance(&c, full).mean > 0.4 {
                canvas::overlay(&mut c, full, Rgb::WHITE, 0.55);
            } else {
                canvas::overlay(&mut c, full, Rgb::BLACK, 0.5);
            }
            c
        }
        None => {
            let end =
                if base.relative_luminance() > 0.18 { base.mix(Rgb::BLACK, 0.22) } else { base.mix(Rgb::WHITE, 0.18) };
            canvas::gradient(width, height, base, end)
        }
    }
}

fn style<'f>(font: &'f ab_glyph::FontRef<'static>, slot: Slot, line_spacing: f32) -> TextStyle<'f> {
    TextStyle { font, max_px: slot.max_px, min_px: slot.min_px, align: slot.align, valign: slot.valign, line_spacing }
}

fn label(role: TextRole) -> &'static str {
    match role {
        TextRole::Headline => "headline",
        TextRole::Body => "body",
        TextRole::CallToAction => "call to action",
    }
}

/// Chooses the text colour, adds a backing panel inside `slot` if needed, draws, and reports.
fn draw_element(
    canvas: &mut RgbImage,
    role: TextRole,
    fitted: &FittedText,
    slot: PixelRect,
    font: &ab_glyph::FontRef<'static>,
    candidates: &[Rgb],
    notes: &mut Vec<String>,
) -> TextReport {
    let region = fitted.ink.unwrap_or(slot);
    let (mut color, mut ratio) = pick(candidates, canvas::luminance(canvas, region), WCAG_AA_TEXT);
    let mut backing_panel = false;
    if ratio < WCAG_AA_TEXT
        && let Some(ink) = fitted.ink
    {
        backing_panel = true;
        let lum = canvas::luminance(canvas, ink);
        let text_color = if min_ratio(Rgb::WHITE, lum) >= min_ratio(Rgb::BLACK, lum) { Rgb::WHITE } else { Rgb::BLACK };
        let panel_color = if text_color == Rgb::WHITE { Rgb::BLACK } else { Rgb::WHITE };
        let margin = (fitted.px * 0.3).round().max(2.0) as u32;
        let x0 = ink.x.saturating_sub(margin).max(slot.x);
        let y0 = ink.y.saturating_sub(margin).max(slot.y);
        let x1 = (ink.x + ink.width + margin).min(slot.x + slot.width);
        let y1 = (ink.y + ink.height + margin).min(slot.y + slot.height);
        let panel = PixelRect { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
        let radius = [ink.x - x0, ink.y - y0, x1 - (ink.x + ink.width), y1 - (ink.y + ink.height)]
            .into_iter()
            .min()
            .unwrap_or(0) as f32;
        let saved = image::imageops::crop_imm(canvas, panel.x, panel.y, panel.width, panel.height).to_image();
        for alpha in [0.3, 0.45, 0.6, 0.75, 0.9, 1.0] {
            image::imageops::replace(canvas, &saved, i64::from(panel.x), i64::from(panel.y));
            canvas::fill_rounded_rect(canvas, panel, radius, panel_color, alpha);
            (color, ratio) = (text_color, min_ratio(text_color, canvas::luminance(canvas, ink)));
            if ratio >= WCAG_AA_TEXT {
                break;
            }
        }
        notes.push(format!("{} set on a translucent panel to reach 4.5:1 contrast", label(role)));
    }
    text::draw(canvas, fitted, font, color, slot);
    if fitted.truncated {
        notes.push(format!("{} truncated with an ellipsis: it does not fit even at the smallest size", label(role)));
    }
    if fitted.below_minimum {
        notes.push(format!("{} shrunk below its usual minimum to {:.1}px to fit a long word", label(role), fitted.px));
    }
    if fitted.missing_glyphs > 0 {
        notes.push(format!("{} has {} characters the embedded font cannot draw", label(role), fitted.missing_glyphs));
    }
    TextReport {
        role,
        text_box: slot,
        ink_bounds: fitted.ink,
        font_size_px: fitted.px,
        lines: fitted.lines.clone(),
        truncated: fitted.truncated,
        shrunk_below_minimum: fitted.below_minimum,
        missing_glyphs: fitted.missing_glyphs,
        color: color.to_string(),
        contrast_ratio: (ratio * 100.0).floor() / 100.0,
        backing_panel,
    }
}

/// Renders `inputs` at `size`.
pub(crate) fn render_one(inputs: &Inputs<'_>, size: CreativeSize) -> Result<RenderedCreative, CreativeError> {
    let (width, height) = size.dimensions();
    let spec = inputs.spec;
    let fonts = inputs.fonts;
    let mut notes = Vec::new();
    let mut canvas = background(inputs, width, height);
    let has_body = !spec.body.trim().is_empty();
    let plan = layout::plan(size, inputs.logo.is_some(), has_body);
    let logo = match (inputs.logo, plan.logo) {
        (Some(img), Some(area)) => Some(canvas::paste_logo(&mut canvas, img, area)),
        _ => None,
    };

    let mut headline_slot = plan.headline;
    let mut headline = text::fit_text(&spec.headline, headline_slot.rect, &style(&fonts.bold, headline_slot, 1.0));
    let mut body = None;
    let mut body_dropped = false;
    if let Some(mut slot) = plan.body {
        // The body never outsizes the headline, even when a long word made the headline small.
        slot.max_px = slot.max_px.min(headline.px * 0.7).max(slot.min_px.min(headline.px));
        slot.min_px = slot.min_px.min(slot.max_px);
        let fitted = text::fit_text(&spec.body, slot.rect, &style(&fonts.regular, slot, 1.15));
        if fitted.truncated && plan.tiny_banner {
            body_dropped = true;
            headline_slot = plan.headline_alone;
            headline = text::fit_text(&spec.headline, headline_slot.rect, &style(&fonts.bold, headline_slot, 1.0));
            notes.push(format!("body text dropped: it does not fit the {width}x{height} banner without truncation"));
        } else {
            body = Some((slot, fitted));
        }
    }

    // The button should stand out from the average colour around it (WCAG's 3:1 for components);
    // its label is checked against the button itself below.
    let mean = canvas::luminance(&canvas, plan.button).mean;
    let around_button = Luminance { min: mean, max: mean, mean };
    let base = inputs.palette.first().copied().unwrap_or(Rgb::BLACK);
    let mut accents: Vec<Rgb> = inputs.palette.iter().skip(1).copied().collect();
    accents.extend([base.mix(Rgb::WHITE, 0.85), base.mix(Rgb::BLACK, 0.7), Rgb::WHITE, Rgb::BLACK]);
    let (button_color, _) = pick(&accents, around_button, NON_TEXT_CONTRAST);
    canvas::fill_rounded_rect(&mut canvas, plan.button, plan.button_radius, button_color, 1.0);
    let cta = text::fit_text(&spec.call_to_action, plan.cta.rect, &style(&fonts.bold, plan.cta, 1.0));

    let mut headline_colors: Vec<Rgb> = inputs.palette.iter().skip(1).copied().collect();
    headline_colors.extend([Rgb::WHITE, Rgb::BLACK]);
    let plain = [Rgb::WHITE, Rgb::BLACK];
    let mut texts = vec![draw_element(
        &mut canvas,
        TextRole::Headline,
        &headline,
        headline_slot.rect,
        &fonts.bold,
        &headline_colors,
        &mut notes,
    )];
    if let Some((slot, fitted)) = &body {
        texts.push(draw_element(&mut canvas, TextRole::Body, fitted, slot.rect, &fonts.regular, &plain, &mut notes));
    }
    let mut label_colors = plain.to_vec();
    label_colors.extend(inputs.palette.iter().copied());
    let best_label = pick(&label_colors, canvas::luminance(&canvas, cta.ink.unwrap_or(plan.cta.rect)), 21.0).0;
    texts.push(draw_element(
        &mut canvas,
        TextRole::CallToAction,
        &cta,
        plan.cta.rect,
        &fonts.bold,
        &[best_label],
        &mut notes,
    ));

    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(canvas.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .map_err(|e| CreativeError::Encode { artifact: "png".to_owned(), reason: e.to_string() })?;
    Ok(RenderedCreative {
        size,
        name: size.name().to_owned(),
        png,
        layout: LayoutReport {
            texts,
            body_dropped,
            logo,
            button: plan.button,
            button_color: button_color.to_string(),
            notes,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_ratio_is_one_inside_the_range_and_exact_outside() {
        let lum = Luminance { min: 0.0, max: 0.2, mean: 0.1 };
        assert_eq!(min_ratio(Rgb::new(60, 60, 60), lum), 1.0);
        let white = min_ratio(Rgb::WHITE, lum);
        assert!((white - 1.05 / 0.25).abs() < 1e-9, "{white}");
    }

    #[test]
    fn pick_prefers_the_first_candidate_that_passes() {
        let dark = Luminance { min: 0.01, max: 0.02, mean: 0.015 };
        let orange = Rgb::new(0xff, 0x99, 0x00);
        assert_eq!(pick(&[orange, Rgb::WHITE], dark, WCAG_AA_TEXT).0, orange);
        let grey = Luminance { min: 0.1, max: 0.6, mean: 0.3 };
        let (c, r) = pick(&[orange, Rgb::WHITE, Rgb::BLACK], grey, WCAG_AA_TEXT);
        assert!(r < WCAG_AA_TEXT && c == Rgb::BLACK, "{c} {r}");
    }
}
