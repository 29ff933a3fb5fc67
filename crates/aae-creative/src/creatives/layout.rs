//! Where each element goes on each canvas. Two families: stacked (logo, headline, body, button from
//! top to bottom; every size narrower than 2.5:1) and banner (logo, text column, button from left
//! to right; the 728×90 leaderboard and 320×50 mobile banner). Boxes never overlap each other.

use super::text::{Align, VAlign};
use super::{CreativeSize, PixelRect};

/// One text box with the range of em sizes it may be set in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub rect: PixelRect,
    pub max_px: f32,
    pub min_px: f32,
    pub align: Align,
    pub valign: VAlign,
}

/// The boxes of one creative.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// Area the logo is scaled into (top-left corner), when a logo is given.
    pub logo: Option<PixelRect>,
    pub headline: Slot,
    pub body: Option<Slot>,
    /// The headline box to use when the body is dropped (banners only).
    pub headline_alone: Slot,
    pub button: PixelRect,
    pub cta: Slot,
    /// Banners under 100 px tall may drop the body text when it does not fit untruncated.
    pub tiny_banner: bool,
    pub button_radius: f32,
}

fn rect(x: f32, y: f32, width: f32, height: f32) -> PixelRect {
    let (x, y) = (x.round().max(0.0), y.round().max(0.0));
    PixelRect { x: x as u32, y: y as u32, width: width.round().max(1.0) as u32, height: height.round().max(1.0) as u32 }
}

fn cta_slot(button: PixelRect) -> Slot {
    let bh = button.height as f32;
    let (ix, iy) = ((bh * 0.3).round(), (bh * 0.16).round());
    let inner = rect(
        button.x as f32 + ix,
        button.y as f32 + iy,
        button.width as f32 - 2.0 * ix,
        button.height as f32 - 2.0 * iy,
    );
    let max_px = bh * 0.4;
    Slot { rect: inner, max_px, min_px: (bh * 0.22).max(8.0).min(max_px), align: Align::Center, valign: VAlign::Center }
}

/// Plans the boxes for `size`.
pub(crate) fn plan(size: CreativeSize, has_logo: bool, has_body: bool) -> Layout {
    let (w, h) = (size.width() as f32, size.height() as f32);
    if w / h >= 2.5 { banner(w, h, has_logo, has_body) } else { stacked(w, h, has_logo, has_body) }
}

fn stacked(w: f32, h: f32, has_logo: bool, has_body: bool) -> Layout {
    let m = w.min(h);
    let pad = (m * 0.07).round().max(8.0);
    let gap = (m * 0.04).round().max(6.0);
    let content_w = w - 2.0 * pad;
    let landscape = w / h > 1.5;
    let align = if landscape { Align::Left } else { Align::Center };
    let mut top = pad;
    let logo = has_logo.then(|| {
        let side = (m * 0.16).round().clamp(24.0, 200.0);
        top += side + gap;
        rect(pad, pad, side, side)
    });
    let bh = (m * 0.11).max(h * 0.055).max(28.0).round();
    let bw = if landscape { (content_w * 0.36).max(bh * 3.0) } else { content_w.min((content_w * 0.6).max(bh * 3.5)) };
    let bx = if landscape { pad } else { ((w - bw) / 2.0).round() };
    let button = rect(bx, h - pad - bh, bw, bh);
    let region = (h - pad - bh - gap - top).max(2.0);
    let headline_max = (m * 0.12).max(22.0);
    let headline_min = (headline_max * 0.4).max(11.0);
    let alone = Slot {
        rect: rect(pad, top, content_w, region),
        max_px: headline_max,
        min_px: headline_min,
        align,
        valign: VAlign::Center,
    };
    let (headline, body) = if has_body {
        let hh = (region * 0.58).round();
        let body_max = headline_max * 0.5;
        let headline = Slot { rect: rect(pad, top, content_w, hh), valign: VAlign::Bottom, ..alone };
        let body = Slot {
            rect: rect(pad, top + hh + gap, content_w, (region - hh - gap).max(1.0)),
            max_px: body_max,
            min_px: (body_max * 0.5).max(10.0).min(body_max),
            align,
            valign: VAlign::Top,
        };
        (headline, Some(body))
    } else {
        (alone, None)
    };
    Layout {
        logo,
        headline,
        body,
        headline_alone: alone,
        button,
        cta: cta_slot(button),
        tiny_banner: false,
        button_radius: bh * 0.3,
    }
}

fn banner(w: f32, h: f32, has_logo: bool, has_body: bool) -> Layout {
    let pad = (h * 0.12).round().max(4.0);
    let gap = pad;
    let mut left = pad;
    let logo = has_logo.then(|| {
        let side = h - 2.0 * pad;
        left += side + gap;
        rect(pad, pad, side, side)
    });
    let bh = ((h - 2.0 * pad) * 0.75).round();
    let bw = (w * 0.24).round();
    let button = rect(w - pad - bw, ((h - bh) / 2.0).round(), bw, bh);
    let column_w = (button.x as f32 - gap - left).max(1.0);
    let column_h = h - 2.0 * pad;
    let headline_max = (h * 0.36).min(column_h / 1.2);
    let alone = Slot {
        rect: rect(left, pad, column_w, column_h),
        max_px: headline_max,
        min_px: (headline_max * 0.5).max(9.0).min(headline_max),
        align: Align::Left,
        valign: VAlign::Center,
    };
    let (headline, body) = if has_body {
        let hh = (column_h * 0.55).round();
        let inner_gap = (h * 0.03).round().max(1.0);
        let head_max = (hh / 1.2).min(headline_max);
        let headline = Slot {
            rect: rect(left, pad, column_w, hh),
            max_px: head_max,
            min_px: (head_max * 0.5).max(9.0).min(head_max),
            valign: VAlign::Bottom,
            ..alone
        };
        let body_h = (column_h - hh - inner_gap).max(1.0);
        let body_max = (body_h / 1.25).min(head_max * 0.7).max(8.0);
        let body = Slot {
            rect: rect(left, pad + hh + inner_gap, column_w, body_h),
            max_px: body_max,
            min_px: 9.0_f32.min(body_max),
            align: Align::Left,
            valign: VAlign::Top,
        };
        (headline, Some(body))
    } else {
        (alone, None)
    };
    Layout {
        logo,
        headline,
        body,
        headline_alone: alone,
        button,
        cta: cta_slot(button),
        tiny_banner: h < 100.0,
        button_radius: bh * 0.3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inside(inner: PixelRect, outer: PixelRect) -> bool {
        inner.x >= outer.x
            && inner.y >= outer.y
            && inner.x + inner.width <= outer.x + outer.width
            && inner.y + inner.height <= outer.y + outer.height
    }

    fn disjoint(a: PixelRect, b: PixelRect) -> bool {
        a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y
    }

    #[test]
    fn boxes_lie_inside_the_canvas_and_do_not_overlap() {
        for size in CreativeSize::ALL {
            for (logo, body) in [(true, true), (false, true), (true, false), (false, false)] {
                let l = plan(size, logo, body);
                let canvas = PixelRect { x: 0, y: 0, width: size.width(), height: size.height() };
                let mut boxes = vec![l.headline.rect, l.button];
                boxes.extend(l.body.map(|b| b.rect));
                boxes.extend(l.logo);
                for (i, a) in boxes.iter().enumerate() {
                    assert!(inside(*a, canvas), "{size:?} box {a:?} leaves the canvas");
                    for b in &boxes[i + 1..] {
                        assert!(disjoint(*a, *b), "{size:?}: {a:?} overlaps {b:?}");
                    }
                }
                assert!(inside(l.cta.rect, l.button));
                assert!(inside(l.headline_alone.rect, canvas));
                assert!(l.headline.min_px <= l.headline.max_px);
            }
        }
    }
}
