//! Fixtures shared by the test modules.

use std::io::Cursor;

use aae_creative::{CreativeSize, CreativeSpec, PixelRect, RenderedCreative};

/// A typical spec: two brand colours, no images, every size.
pub fn spec() -> CreativeSpec {
    CreativeSpec::new(
        "Summer sale: 40% off trail shoes",
        "Lightweight, grippy and built for long days on rough ground. Free returns for 60 days.",
        "Shop now",
        vec!["#0b3d91".to_owned(), "#ffb703".to_owned()],
    )
}

pub fn encode(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A PNG of one colour.
pub fn solid_png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    encode(image::RgbImage::from_pixel(width, height, image::Rgb(rgb)).into(), image::ImageFormat::Png)
}

/// A busy black-and-white pattern: the worst case for text legibility.
pub fn busy_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(640, 640, |x, y| {
        let on = ((x / 3) + (y / 5)) % 2 == 0 || (x * 7 + y * 3) % 11 == 0;
        if on { image::Rgb([255, 255, 255]) } else { image::Rgb([0, 0, 0]) }
    });
    encode(img.into(), image::ImageFormat::Png)
}

pub fn decode(c: &RenderedCreative) -> image::RgbImage {
    let img = image::load_from_memory_with_format(&c.png, image::ImageFormat::Png).unwrap();
    img.to_rgb8()
}

pub fn canvas(size: CreativeSize) -> PixelRect {
    PixelRect { x: 0, y: 0, width: size.width(), height: size.height() }
}

/// Every text's ink lies inside its box, and every box inside the canvas.
pub fn assert_text_fits(c: &RenderedCreative) {
    let canvas = canvas(c.size);
    for t in &c.layout.texts {
        assert!(canvas.contains(&t.text_box), "{}: {:?} box {:?} leaves the canvas", c.name, t.role, t.text_box);
        if let Some(ink) = t.ink_bounds {
            assert!(t.text_box.contains(&ink), "{}: {:?} ink {ink:?} outside {:?}", c.name, t.role, t.text_box);
        }
    }
    assert!(canvas.contains(&c.layout.button), "{}: button leaves the canvas", c.name);
}
