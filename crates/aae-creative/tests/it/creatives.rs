//! Ad creatives: sizes, fitting, contrast, logo, errors, determinism.

use aae_creative::{CreativeError, CreativeSize, CreativeSpec, PixelRect, TextRole, render_ad_creatives};

use crate::support::{assert_text_fits, busy_png, decode, encode, solid_png, spec};

#[test]
fn every_standard_size_renders_a_png_of_exactly_that_size() {
    let creatives = render_ad_creatives(&spec()).unwrap();
    let names: Vec<&str> = creatives.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "square_1080x1080",
            "story_1080x1920",
            "landscape_1200x628",
            "medium_rectangle_300x250",
            "leaderboard_728x90",
            "wide_skyscraper_160x600",
            "mobile_banner_320x50"
        ]
    );
    for c in &creatives {
        assert!(c.png.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is not a PNG", c.name);
        assert_eq!(decode(c).dimensions(), c.size.dimensions(), "{}", c.name);
        assert_eq!(c.name, c.size.name());
        assert_text_fits(c);
        let roles: Vec<TextRole> = c.layout.texts.iter().map(|t| t.role).collect();
        assert!(roles.contains(&TextRole::Headline) && roles.contains(&TextRole::CallToAction), "{}", c.name);
    }
}

#[test]
fn only_the_requested_sizes_are_rendered_and_empty_means_all() {
    let mut s = spec();
    s.sizes = vec![CreativeSize::Leaderboard, CreativeSize::Square];
    let sizes: Vec<CreativeSize> = render_ad_creatives(&s).unwrap().iter().map(|c| c.size).collect();
    assert_eq!(sizes, [CreativeSize::Leaderboard, CreativeSize::Square]);
    s.sizes.clear();
    assert_eq!(render_ad_creatives(&s).unwrap().len(), CreativeSize::ALL.len());
}

#[test]
fn nothing_is_drawn_outside_the_text_boxes_button_and_logo() {
    let mut s = spec();
    s.headline = "An unusually long headline that has to wrap over several lines and shrink to fit".to_owned();
    s.background = Some(solid_png(50, 50, [0x33, 0x66, 0x99]));
    s.logo = Some(solid_png(40, 20, [250, 20, 200]));
    for c in render_ad_creatives(&s).unwrap() {
        let img = decode(&c);
        let (w, h) = img.dimensions();
        let plain = *img.get_pixel(w - 1, h - 1);
        let mut allowed: Vec<PixelRect> = vec![c.layout.button];
        allowed.extend(c.layout.logo);
        for t in &c.layout.texts {
            allowed.push(if t.backing_panel { t.text_box } else { t.ink_bounds.unwrap_or(t.text_box) });
        }
        let mut drawn = 0;
        for (x, y, p) in img.enumerate_pixels() {
            if *p != plain {
                let here = PixelRect { x, y, width: 1, height: 1 };
                assert!(allowed.iter().any(|r| r.contains(&here)), "{}: stray pixel at ({x},{y})", c.name);
                drawn += 1;
            }
        }
        assert!(drawn > 0, "{} drew nothing", c.name);
    }
}

#[test]
fn long_headline_shrinks_and_wraps() {
    let size = |headline: &str| {
        let mut s = spec();
        s.headline = headline.to_owned();
        s.sizes = vec![CreativeSize::Square, CreativeSize::MediumRectangle];
        render_ad_creatives(&s).unwrap()
    };
    let short = size("Sale");
    let long = size(
        "Everything in the store is forty percent off this weekend only, including the brand new autumn collection",
    );
    for (a, b) in short.iter().zip(&long) {
        let (sa, sb) = (&a.layout.texts[0], &b.layout.texts[0]);
        assert_eq!((sa.role, sb.role), (TextRole::Headline, TextRole::Headline));
        assert!(sb.font_size_px < sa.font_size_px, "{}: {} !< {}", a.name, sb.font_size_px, sa.font_size_px);
        assert!(sb.lines.len() > 1, "{}: long headline did not wrap", b.name);
        assert!(!sb.truncated, "{}: long headline was truncated", b.name);
        assert_eq!(sb.lines.join(" ").split_whitespace().count(), 17);
        assert_text_fits(b);
    }
}

#[test]
fn text_reaches_wcag_aa_on_light_dark_and_mid_grey_brands() {
    for colors in [
        vec!["#ffffff"],
        vec!["#fff3b0"],
        vec!["#000000"],
        vec!["#0b1f3a"],
        vec!["#777777"],
        vec!["#808080", "#7a7a7a"],
        vec!["#ff0000", "#00ff00", "#0000ff"],
    ] {
        let mut s = spec();
        s.brand_colors = colors.iter().map(|c| (*c).to_owned()).collect();
        for c in render_ad_creatives(&s).unwrap() {
            for t in &c.layout.texts {
                assert!(
                    t.contrast_ratio >= 4.5,
                    "{colors:?} {}: {:?} has contrast {}",
                    c.name,
                    t.role,
                    t.contrast_ratio
                );
            }
        }
    }
}

#[test]
fn text_reaches_wcag_aa_on_a_busy_background_image() {
    let mut s = spec();
    s.background = Some(busy_png());
    let creatives = render_ad_creatives(&s).unwrap();
    for c in &creatives {
        assert_text_fits(c);
        for t in &c.layout.texts {
            assert!(t.contrast_ratio >= 4.5, "{}: {:?} has contrast {}", c.name, t.role, t.contrast_ratio);
        }
    }
    let panels = creatives.iter().flat_map(|c| &c.layout.texts).filter(|t| t.backing_panel).count();
    assert!(panels > 0, "a busy background should need a backing panel somewhere");
    assert!(creatives.iter().any(|c| c.layout.notes.iter().any(|n| n.contains("panel"))));
}

#[test]
fn jpeg_background_and_logo_are_accepted() {
    let mut s = spec();
    let photo = image::RgbImage::from_fn(300, 200, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 120]));
    s.background = Some(encode(photo.into(), image::ImageFormat::Jpeg));
    s.logo = Some(encode(image::RgbImage::from_pixel(30, 30, image::Rgb([9, 9, 9])).into(), image::ImageFormat::Jpeg));
    s.sizes = vec![CreativeSize::Landscape];
    let c = &render_ad_creatives(&s).unwrap()[0];
    assert_eq!(decode(c).dimensions(), (1200, 628));
    assert!(c.layout.logo.is_some());
}

#[test]
fn invalid_colour_names_the_field_and_the_format() {
    let mut s = spec();
    s.brand_colors = vec!["#12345".to_owned()];
    let err = render_ad_creatives(&s).unwrap_err();
    assert!(matches!(&err, CreativeError::InvalidColor { field, .. } if field == "brand_colors[0]"), "{err:?}");
    assert_eq!(err.code(), aae_types::ErrorCode::InvalidInput);
    let msg = err.to_string();
    assert!(msg.contains("brand_colors[0]") && msg.contains("#rrggbb") && msg.contains("\"#12345\""), "{msg}");

    s.brand_colors = vec!["#000000".to_owned(), "red".to_owned()];
    assert!(render_ad_creatives(&s).unwrap_err().to_string().starts_with("brand_colors[1] is \"red\""));
}

#[test]
fn other_invalid_inputs_are_rejected_with_the_field_named() {
    type Mutation = Box<dyn Fn(&mut CreativeSpec)>;
    let cases: Vec<(Mutation, &str)> = vec![
        (Box::new(|s| s.headline = "   ".to_owned()), "headline is empty"),
        (Box::new(|s| s.headline = "x".repeat(201)), "headline has 201 characters, shorten it to at most 200"),
        (Box::new(|s| s.call_to_action = String::new()), "call_to_action is empty"),
        (Box::new(|s| s.body = "y".repeat(501)), "body has 501 characters"),
        (Box::new(|s| s.brand_colors.clear()), "brand_colors has 0 entries, expected between 1 and 5"),
        (Box::new(|s| s.brand_colors = vec!["#000000".to_owned(); 6]), "brand_colors has 6 entries"),
        (Box::new(|s| s.logo = Some(b"not an image".to_vec())), "logo could not be decoded"),
        (Box::new(|s| s.background = Some(vec![0x89, b'P', b'N', b'G'])), "background could not be decoded"),
    ];
    for (mutate, expected) in cases {
        let mut s = spec();
        mutate(&mut s);
        let msg = render_ad_creatives(&s).unwrap_err().to_string();
        assert!(msg.starts_with(expected), "{msg:?} does not start with {expected:?}");
    }
}

#[test]
fn logo_changes_the_pixels_in_its_corner() {
    let mut s = spec();
    let without = render_ad_creatives(&s).unwrap();
    s.logo = Some(solid_png(64, 64, [250, 20, 200]));
    let with = render_ad_creatives(&s).unwrap();
    for (a, b) in without.iter().zip(&with) {
        let logo = b.layout.logo.expect("logo drawn");
        let (w, h) = b.size.dimensions();
        // Anchored top-left, inset equally from both edges, in the left half of the canvas.
        assert!(logo.x == logo.y && logo.x <= w.min(h) / 6, "{}: logo {logo:?} not in the corner", b.name);
        assert!(logo.x + logo.width <= w / 2 && logo.y + logo.height <= h, "{}: logo {logo:?} too big", b.name);
        let (ia, ib) = (decode(a), decode(b));
        let centre = ib.get_pixel(logo.x + logo.width / 2, logo.y + logo.height / 2);
        assert_eq!(centre.0, [250, 20, 200], "{}", b.name);
        assert_ne!(ia.get_pixel(logo.x + logo.width / 2, logo.y + logo.height / 2), centre);
        assert!(a.layout.logo.is_none());
        assert_text_fits(b);
    }
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    let mut s = spec();
    s.logo = Some(solid_png(10, 10, [1, 2, 3]));
    s.background = Some(busy_png());
    let a = render_ad_creatives(&s).unwrap();
    let b = render_ad_creatives(&s).unwrap();
    assert_eq!(a, b);
}

#[test]
fn only_tiny_banners_may_drop_the_body() {
    let mut s = spec();
    s.body = "A long supporting paragraph about materials, sizing, delivery times, the returns policy and \
              the loyalty programme that cannot possibly fit a small banner."
        .to_owned();
    for c in render_ad_creatives(&s).unwrap() {
        let has_body = c.layout.texts.iter().any(|t| t.role == TextRole::Body);
        assert_eq!(has_body, !c.layout.body_dropped, "{}", c.name);
        if c.layout.body_dropped {
            assert!(c.size.height() < 100, "{} dropped the body", c.name);
            assert!(c.layout.notes.iter().any(|n| n.starts_with("body text dropped")), "{:?}", c.layout.notes);
        }
    }
    s.body.clear();
    for c in render_ad_creatives(&s).unwrap() {
        assert!(!c.layout.body_dropped && c.layout.texts.iter().all(|t| t.role != TextRole::Body));
    }
}

#[test]
fn overlong_words_are_shrunk_or_truncated_and_reported() {
    let mut s = spec();
    s.headline = "Pneumonoultramicroscopicsilicovolcanoconiosis".to_owned();
    s.sizes = vec![CreativeSize::WideSkyscraper];
    let c = &render_ad_creatives(&s).unwrap()[0];
    let h = &c.layout.texts[0];
    assert!(h.shrunk_below_minimum || h.truncated, "{h:?}");
    assert!(!c.layout.notes.is_empty());
    assert_text_fits(c);
}

#[test]
fn spec_deserialises_with_default_sizes() {
    let json = r##"{"headline":"Hi","body":"","call_to_action":"Go","brand_colors":["#112233"]}"##;
    let s: CreativeSpec = serde_json::from_str(json).unwrap();
    assert_eq!(s.sizes, CreativeSize::ALL);
    assert!(s.logo.is_none());
}
