//! The landing page: well-formed, structured, escaped, validated.

use aae_creative::{
    CallToAction, CreativeSize, GalleryImage, LandingPage, ValueProposition, landing_page, png_data_uri,
    render_ad_creatives,
};

use crate::html_check::{Element, parse};
use crate::support::spec;

fn page() -> LandingPage {
    let mut s = spec();
    s.sizes = vec![CreativeSize::MediumRectangle];
    let creative = render_ad_creatives(&s).unwrap().remove(0);
    LandingPage {
        lang: "en-GB".to_owned(),
        title: "Trailhead: summer sale".to_owned(),
        headline: "40% off every trail shoe".to_owned(),
        subheadline: "Until Sunday, while stocks last.".to_owned(),
        value_propositions: vec![
            ValueProposition { title: "Grip".to_owned(), text: "Deep lugs for mud and wet rock.".to_owned() },
            ValueProposition { title: "Returns".to_owned(), text: "60 days, free.".to_owned() },
        ],
        call_to_action: CallToAction {
            label: "Shop the sale".to_owned(),
            url: "https://shop.example/sale?utm=ad".to_owned(),
        },
        creatives: vec![
            GalleryImage {
                src: png_data_uri(&creative.png),
                alt: "Medium rectangle ad: 40% off".to_owned(),
                width: 300,
                height: 250,
            },
            GalleryImage {
                src: "https://cdn.example/c/square.png".to_owned(),
                alt: "Square ad".to_owned(),
                width: 1080,
                height: 1080,
            },
        ],
        brand_colors: vec!["#0b3d91".to_owned(), "#ffb703".to_owned()],
        footer: "© 2025 Trailhead Running Ltd".to_owned(),
    }
}

fn named<'a>(elements: &'a [Element], name: &str) -> Vec<&'a Element> {
    elements.iter().filter(|e| e.name == name).collect()
}

#[test]
fn landing_page_is_well_formed_and_has_the_expected_structure() {
    let html = landing_page(&page()).unwrap();
    assert!(html.starts_with("<!doctype html>\n"));
    let elements = parse(&html).unwrap();
    let htmls = named(&elements, "html");
    assert_eq!(htmls.len(), 1);
    assert_eq!(htmls[0].attr("lang"), Some("en-GB"));
    assert!(named(&elements, "meta").iter().any(|m| m.attr("charset") == Some("utf-8")));
    assert!(
        named(&elements, "meta").iter().any(|m| m.attr("name") == Some("viewport")
            && m.attr("content").is_some_and(|c| c.contains("width=device-width")))
    );
    assert_eq!(named(&elements, "title").len(), 1);
    assert!(html.contains("<title>Trailhead: summer sale</title>"));
    assert_eq!(named(&elements, "h1").len(), 1);
    for section in ["header", "main", "footer", "style"] {
        assert_eq!(named(&elements, section).len(), 1, "{section}");
    }
    let imgs = named(&elements, "img");
    assert_eq!(imgs.len(), 2);
    for img in imgs {
        assert!(img.attr("alt").is_some_and(|a| !a.trim().is_empty()), "{img:?}");
        assert!(img.attr("width").is_some_and(|w| w.parse::<u32>().is_ok()));
        assert!(img.attr("height").is_some_and(|h| h.parse::<u32>().is_ok()));
    }
    let ctas: Vec<_> = named(&elements, "a").into_iter().filter(|a| a.attr("class") == Some("cta")).collect();
    assert_eq!(ctas.len(), 2, "hero and closing call to action");
    assert!(ctas.iter().all(|a| a.attr("href") == Some("https://shop.example/sale?utm=ad")));
    assert_eq!(named(&elements, "li").len(), 4, "two value propositions and two gallery items");
    assert!(html.contains("--brand-1:#0b3d91;--brand-2:#ffb703;"));
    assert!(html.contains("@media"), "responsive rules");
    // Self-contained: no stylesheets, scripts, frames or fonts fetched from elsewhere.
    for tag in ["link", "script", "iframe", "object", "embed"] {
        assert!(named(&elements, tag).is_empty(), "{tag}");
    }
    assert!(!html.contains("@import") && !html.contains("url("));
}

#[test]
fn every_input_string_is_escaped() {
    let evil = "<script>alert(\"x\")</script>' onmouseover='boom' & \"more\"";
    let mut p = page();
    p.title = evil.to_owned();
    p.headline = evil.to_owned();
    p.subheadline = evil.to_owned();
    p.value_propositions = vec![ValueProposition { title: evil.to_owned(), text: evil.to_owned() }];
    p.call_to_action.label = evil.to_owned();
    p.call_to_action.url = "/buy?q=\"><script>x</script>".to_owned();
    p.creatives[0].alt = evil.to_owned();
    p.footer = evil.to_owned();
    let html = landing_page(&p).unwrap();
    assert!(!html.to_ascii_lowercase().contains("<script"), "unescaped script tag");
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;boom&#39; &amp;"));
    let elements = parse(&html).unwrap();
    assert_eq!(named(&elements, "h1").len(), 1);
    assert!(elements.iter().all(|e| e.attrs.iter().all(|(k, _)| !k.starts_with("on"))), "injected event handler");
    let img = named(&elements, "img")[0];
    assert_eq!(
        img.attr("alt").unwrap(),
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;boom&#39; &amp; &quot;more&quot;"
    );
}

#[test]
fn optional_sections_are_left_out_when_empty() {
    let mut p = page();
    p.value_propositions.clear();
    p.creatives.clear();
    let elements = parse(&landing_page(&p).unwrap()).unwrap();
    assert!(named(&elements, "img").is_empty() && named(&elements, "ul").is_empty());
    assert_eq!(named(&elements, "h1").len(), 1);
}

#[test]
fn invalid_inputs_are_rejected_with_the_field_named() {
    type Mutation = Box<dyn Fn(&mut LandingPage)>;
    let cases: Vec<(Mutation, &str)> = vec![
        (Box::new(|p| p.lang = String::new()), "lang is \"\", expected a BCP 47 language tag"),
        (Box::new(|p| p.lang = "english".to_owned()), "lang is \"english\""),
        (
            Box::new(|p| p.call_to_action.url = "javascript:alert(1)".to_owned()),
            "call_to_action.url is \"javascript:alert(1)\"",
        ),
        (Box::new(|p| p.call_to_action.url = String::new()), "call_to_action.url is \"\": it is empty"),
        (Box::new(|p| p.call_to_action.label = " ".to_owned()), "call_to_action.label is empty"),
        (Box::new(|p| p.creatives[1].alt = String::new()), "creatives[1].alt is empty"),
        (Box::new(|p| p.creatives[0].src = "data:text/html;base64,PGI+".to_owned()), "creatives[0].src is"),
        (Box::new(|p| p.creatives[0].width = 0), "creatives[0].width is \"0\""),
        (Box::new(|p| p.brand_colors = vec!["blue".to_owned()]), "brand_colors[0] is \"blue\", expected a hex colour"),
        (Box::new(|p| p.headline = String::new()), "headline is empty"),
    ];
    for (mutate, expected) in cases {
        let mut p = page();
        mutate(&mut p);
        let msg = landing_page(&p).unwrap_err().to_string();
        assert!(msg.starts_with(expected), "{msg:?} does not start with {expected:?}");
    }
    let mut p = page();
    p.call_to_action.url = "mailto:sales@trailhead.example".to_owned();
    assert!(landing_page(&p).is_ok());
    p.call_to_action.url = "/sale".to_owned();
    assert!(landing_page(&p).is_ok());
}
