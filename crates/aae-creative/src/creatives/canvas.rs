//! Pixel operations on an opaque RGB canvas: gradients, cover-scaled images, scrims, rounded
//! rectangles, logo compositing and luminance measurement for contrast decisions.

use image::imageops::FilterType;
use image::{DynamicImage, RgbImage};

use super::PixelRect;
use crate::brand::Rgb;

/// Blends `color` over `pixel` with opacity `alpha` (0..=1), in sRGB space.
pub(crate) fn blend(pixel: &mut image::Rgb<u8>, color: Rgb, alpha: f32) {
    let a = alpha.clamp(0.0, 1.0);
    let mix = |p: u8, c: u8| (f32::from(p) + (f32::from(c) - f32::from(p)) * a).round().clamp(0.0, 255.0) as u8;
    let [r, g, b] = pixel.0;
    pixel.0 = [mix(r, color.r), mix(g, color.g), mix(b, color.b)];
}

/// A diagonal gradient from `from` (top left) to `to` (bottom right).
pub(crate) fn gradient(width: u32, height: u32, from: Rgb, to: Rgb) -> RgbImage {
    let span = (width + height).saturating_sub(2).max(1) as f32;
    RgbImage::from_fn(width, height, |x, y| {
        let c = from.mix(to, (x + y) as f32 / span);
        image::Rgb([c.r, c.g, c.b])
    })
}

/// `img` scaled to cover `width`×`height` exactly, centre-cropped.
pub(crate) fn cover(img: &DynamicImage, width: u32, height: u32) -> RgbImage {
    img.resize_to_fill(width, height, FilterType::Triangle).to_rgb8()
}

/// Blends `color` at `alpha` over every pixel of `rect` (clamped to the canvas).
pub(crate) fn overlay(canvas: &mut RgbImage, rect: PixelRect, color: Rgb, alpha: f32) {
    fill_rounded_rect(canvas, rect, 0.0, color, alpha);
}

/// Fills `rect` with rounded corners of `radius`, anti-aliased, at opacity `alpha`.
pub(crate) fn fill_rounded_rect(canvas: &mut RgbImage, rect: PixelRect, radius: f32, color: Rgb, alpha: f32) {
    let (cw, ch) = canvas.dimensions();
    let (x0, y0) = (rect.x as f32, rect.y as f32);
    let (x1, y1) = ((rect.x + rect.width) as f32, (rect.y + rect.height) as f32);
    let r = radius.min(rect.width as f32 / 2.0).min(rect.height as f32 / 2.0).max(0.0);
    for y in rect.y..(rect.y + rect.height).min(ch) {
        for x in rect.x..(rect.x + rect.width).min(cw) {
            let (cx, cy) = (x as f32 + 0.5, y as f32 + 0.5);
            let coverage = if r > 0.0 {
                let dx = (x0 + r - cx).max(cx - (x1 - r)).max(0.0);
                let dy = (y0 + r - cy).max(cy - (y1 - r)).max(0.0);
                (0.5 - ((dx * dx + dy * dy).sqrt() - r)).clamp(0.0, 1.0)
            } else {
                1.0
            };
            if coverage > 0.0 {
                blend(canvas.get_pixel_mut(x, y), color, alpha * coverage);
            }
        }
    }
}

/// Relative luminance statistics of the pixels in a rectangle.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Luminance {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

/// Luminance range and mean of `rect` (clamped to the canvas); an empty rect reads as mid grey.
pub(crate) fn luminance(canvas: &RgbImage, rect: PixelRect) -> Luminance {
    let mut linear = [0.0f64; 256];
    for (i, v) in linear.iter_mut().enumerate() {
        let c = i as f64 / 255.0;
        *v = if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) };
    }
    let (cw, ch) = canvas.dimensions();
    let (mut min, mut max, mut sum, mut n) = (f64::MAX, f64::MIN, 0.0, 0u64);
    for y in rect.y..(rect.y + rect.height).min(ch) {
        for x in rect.x..(rect.x + rect.width).min(cw) {
            let [r, g, b] = canvas.get_pixel(x, y).0;
            let l = 0.2126 * linear[usize::from(r)] + 0.7152 * linear[usize::from(g)] + 0.0722 * linear[usize::from(b)];
            min = min.min(l);
            max = max.max(l);
            sum += l;
            n += 1;
        }
    }
    if n == 0 {
        let grey = Rgb::new(128, 128, 128).relative_luminance();
        return Luminance { min: grey, max: grey, mean: grey };
    }
    Luminance { min, max, mean: sum / n as f64 }
}

/// Scales `logo` to fit inside `area` (keeping its aspect ratio), composites it over the canvas at
/// the area's top-left corner honouring its alpha channel, and returns the rectangle it covers.
pub(crate) fn paste_logo(canvas: &mut RgbImage, logo: &DynamicImage, area: PixelRect) -> PixelRect {
    let scaled = logo.resize(area.width.max(1), area.height.max(1), FilterType::Triangle).to_rgba8();
    let (cw, ch) = canvas.dimensions();
    for (x, y, p) in scaled.enumerate_pixels() {
        let (cx, cy) = (area.x + x, area.y + y);
        if cx < cw && cy < ch && p.0[3] > 0 {
            let [r, g, b, a] = p.0;
            blend(canvas.get_pixel_mut(cx, cy), Rgb::new(r, g, b), f32::from(a) / 255.0);
        }
    }
    PixelRect { x: area.x, y: area.y, width: scaled.width(), height: scaled.height() }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn gradient_runs_corner_to_corner() {
        let img = gradient(10, 10, Rgb::BLACK, Rgb::WHITE);
        assert_eq!(img.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(9, 9).0, [255, 255, 255]);
    }

    #[test]
    fn rounded_rect_leaves_corners_and_outside_alone() {
        let mut img = RgbImage::from_pixel(40, 40, image::Rgb([0, 0, 0]));
        fill_rounded_rect(&mut img, PixelRect { x: 5, y: 5, width: 30, height: 20 }, 8.0, Rgb::WHITE, 1.0);
        assert_eq!(img.get_pixel(5, 5).0, [0, 0, 0], "corner is rounded off");
        assert_eq!(img.get_pixel(20, 15).0, [255, 255, 255]);
        assert_eq!(img.get_pixel(4, 15).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(20, 25).0, [0, 0, 0]);
    }

    #[test]
    fn luminance_reads_the_extremes() {
        let mut img = RgbImage::from_pixel(4, 4, image::Rgb([0, 0, 0]));
        img.put_pixel(3, 3, image::Rgb([255, 255, 255]));
        let l = luminance(&img, PixelRect { x: 0, y: 0, width: 4, height: 4 });
        assert_eq!((l.min, l.max), (0.0, 1.0));
        assert!((l.mean - 1.0 / 16.0).abs() < 1e-9);
    }
}
