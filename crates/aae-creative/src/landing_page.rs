//! The campaign landing page: one self-contained, responsive HTML5 document with inline CSS. The
//! only URLs it references are the ones the caller gives (the call-to-action link and the creatives'
//! `src`, which may be inline `data:` URIs, see [`png_data_uri`]). Every input string is escaped.

use std::fmt::Write as _;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::CreativeError;
use crate::brand::{Rgb, contrast_ratio, parse_palette};

/// Everything the landing page shows. All strings are plain text (no markup).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LandingPage {
    /// BCP 47 language tag for `<html lang>`, e.g. `en` or `pt-BR`.
    pub lang: String,
    /// The document `<title>`.
    pub title: String,
    /// The hero headline, the page's only `<h1>`.
    pub headline: String,
    /// One or two sentences under the headline.
    pub subheadline: String,
    /// Reasons to act, shown as a list.
    pub value_propositions: Vec<ValueProposition>,
    /// The link shown in the hero and again in the closing section.
    pub call_to_action: CallToAction,
    /// Creatives shown in the gallery.
    pub creatives: Vec<GalleryImage>,
    /// 1 to 5 colours as `#rrggbb`: the first is the primary colour, the second the accent.
    pub brand_colors: Vec<String>,
    /// Footer text, e.g. a copyright line.
    pub footer: String,
}

/// One value proposition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueProposition {
    /// Short title.
    pub title: String,
    /// One or two sentences.
    pub text: String,
}

/// The call-to-action link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallToAction {
    /// Button text.
    pub label: String,
    /// `http(s)://…`, `mailto:…` or a relative URL.
    pub url: String,
}

/// One image in the gallery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GalleryImage {
    /// `http(s)://…`, a relative URL, or a `data:image/{png,jpeg,gif,webp};base64,…` URI.
    pub src: String,
    /// Alternative text describing the image; required.
    pub alt: String,
    /// Intrinsic width in pixels.
    pub width: u32,
    /// Intrinsic height in pixels.
    pub height: u32,
}

/// A `data:` URI for PNG bytes, for inlining a creative into the page.
pub fn png_data_uri(png: &[u8]) -> String {
    format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png))
}

/// Escapes text for use in HTML element content and double- or single-quoted attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn required(value: &str, field: &str) -> Result<(), CreativeError> {
    if value.trim().is_empty() {
        return Err(CreativeError::EmptyField { field: field.to_owned() });
    }
    Ok(())
}

fn check_lang(lang: &str) -> Result<(), CreativeError> {
    let mut parts = lang.split('-');
    let primary_ok =
        parts.next().is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    let rest_ok = parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if primary_ok && rest_ok {
        return Ok(());
    }
    Err(CreativeError::InvalidValue {
        field: "lang".to_owned(),
        value: lang.to_owned(),
        expected: "a BCP 47 language tag such as \"en\", \"de\" or \"pt-BR\"".to_owned(),
    })
}

/// The URL's scheme, if it has one (text before a `:` that comes before any `/`, `?` or `#`).
fn scheme(url: &str) -> Option<&str> {
    let end = url.find([':', '/', '?', '#'])?;
    (url.as_bytes().get(end) == Some(&b':')).then(|| &url[..end])
}

fn check_url(url: &str, field: &str, allow_mailto: bool, allow_data_image: bool) -> Result<(), CreativeError> {
    let invalid = |reason: &str| CreativeError::InvalidUrl {
        field: field.to_owned(),
        value: url.to_owned(),
        reason: reason.to_owned(),
    };
    let accepted = match (allow_mailto, allow_data_image) {
        (true, _) => "use an http(s):// URL, a mailto: address or a relative URL",
        (_, true) => "use an http(s):// URL, a relative URL or a data:image/(png|jpeg|gif|webp);base64 URI",
        _ => "use an http(s):// URL or a relative URL",
    };
    if url.trim().is_empty() {
        return Err(invalid(&format!("it is empty; {accepted}")));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(&format!("it contains spaces or control characters (percent-encode them); {accepted}")));
    }
    let Some(scheme) = scheme(url) else { return Ok(()) };
    let rest = &url[scheme.len() + 1..];
    let ok = match scheme.to_ascii_lowercase().as_str() {
        "http" | "https" => rest.starts_with("//") && rest.len() > 2,
        "mailto" => allow_mailto && !rest.is_empty(),
        "data" => {
            allow_data_image
                && ["image/png;base64,", "image/jpeg;base64,", "image/gif;base64,", "image/webp;base64,"]
                    .iter()
                    .any(|p| rest.starts_with(p))
        }
        _ => false,
    };
    if ok { Ok(()) } else { Err(invalid(&format!("the {scheme}: form is not allowed here; {accepted}"))) }
}

fn validate(page: &LandingPage) -> Result<Vec<Rgb>, CreativeError> {
    check_lang(&page.lang)?;
    required(&page.title, "title")?;
    required(&page.headline, "headline")?;
    required(&page.call_to_action.label, "call_to_action.label")?;
    check_url(&page.call_to_action.url, "call_to_action.url", true, false)?;
    for (i, v) in page.value_propositions.iter().enumerate() {
        required(&v.title, &format!("value_propositions[{i}].title"))?;
    }
    for (i, img) in page.creatives.iter().enumerate() {
        check_url(&img.src, &format!("creatives[{i}].src"), false, true)?;
        required(&img.alt, &format!("creatives[{i}].alt"))?;
        for (name, value) in [("width", img.width), ("height", img.height)] {
            if value == 0 {
                return Err(CreativeError::InvalidValue {
                    field: format!("creatives[{i}].{name}"),
                    value: "0".to_owned(),
                    expected: "the image's size in pixels, at least 1".to_owned(),
                });
            }
        }
    }
    parse_palette(&page.brand_colors, "brand_colors", 1, 5)
}

fn on(color: Rgb) -> Rgb {
    if contrast_ratio(color, Rgb::WHITE) >= contrast_ratio(color, Rgb::BLACK) { Rgb::WHITE } else { Rgb::BLACK }
}

const CSS: &str = r#"*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;line-height:1.55;color:#1b1b1f;background:#fff}
.wrap{max-width:1100px;margin:0 auto;padding:0 1.25rem}
.hero{background:linear-gradient(135deg,var(--primary),var(--primary-deep));color:var(--on-primary);padding:clamp(3rem,10vw,7rem) 0}
.hero h1{font-size:clamp(2rem,6vw,3.75rem);line-height:1.1;margin:0 0 1rem;max-width:18ch}
.hero p{font-size:clamp(1.05rem,2.4vw,1.35rem);margin:0 0 2rem;max-width:60ch}
.cta{display:inline-block;background:var(--accent);color:var(--on-accent);font-weight:700;font-size:1.1rem;text-decoration:none;padding:.9rem 1.8rem;border-radius:999px;box-shadow:0 2px 8px rgba(0,0,0,.2)}
.cta:hover,.cta:focus-visible{filter:brightness(1.08);outline:3px solid var(--on-primary);outline-offset:3px}
main section{padding:clamp(2.5rem,7vw,4.5rem) 0}
.values ul{list-style:none;margin:0;padding:0;display:grid;gap:1.25rem;grid-template-columns:repeat(auto-fit,minmax(240px,1fr))}
.values li{border-top:4px solid var(--primary);background:#f6f7f9;border-radius:.5rem;padding:1.25rem 1.25rem 1.5rem}
.values h2{font-size:1.2rem;margin:0 0 .5rem}
.values p{margin:0}
.gallery{background:#f0f2f5}
.gallery ul{list-style:none;margin:0;padding:0;display:grid;gap:1.25rem;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));align-items:start}
.gallery img{display:block;max-width:100%;height:auto;border-radius:.5rem;box-shadow:0 1px 6px rgba(0,0,0,.15)}
.closing{text-align:center;background:var(--primary);color:var(--on-primary)}
.closing h2{font-size:clamp(1.5rem,4vw,2.25rem);margin:0 0 1.5rem}
footer{padding:2rem 0;font-size:.9rem;color:#4a4a55;border-top:1px solid #e3e5e8}
@media (max-width:640px){.cta{display:block;text-align:center}.hero h1{max-width:none}}
@media (prefers-reduced-motion:no-preference){.cta{transition:filter .15s}}
"#;

/// Renders the landing page as one HTML5 document.
///
/// Fails with a [`CreativeError`] naming the field when `lang` is not a language tag, a required
/// text is empty, a colour is not `#rrggbb`, an image lacks `alt` or a size, or a URL uses a
/// scheme other than those listed on [`CallToAction::url`] and [`GalleryImage::src`].
pub fn landing_page(page: &LandingPage) -> Result<String, CreativeError> {
    let palette = validate(page)?;
    let primary = palette.first().copied().unwrap_or(Rgb::BLACK);
    let accent = palette.get(1).copied().unwrap_or_else(|| on(primary));
    let deep = primary.mix(Rgb::BLACK, 0.25);
    // The hero text sits on a gradient from `primary` to `deep`: pick what reads on both ends.
    let on_primary = if contrast_ratio(primary, Rgb::WHITE).min(contrast_ratio(deep, Rgb::WHITE))
        >= contrast_ratio(primary, Rgb::BLACK).min(contrast_ratio(deep, Rgb::BLACK))
    {
        Rgb::WHITE
    } else {
        Rgb::BLACK
    };

    let mut vars = String::new();
    for (i, c) in palette.iter().enumerate() {
        let _ = write!(vars, "--brand-{}:{c};", i + 1);
    }
    let _ = write!(
        vars,
        "--primary:{primary};--primary-deep:{deep};--on-primary:{on_primary};--accent:{accent};--on-accent:{}",
        on(accent)
    );

    let cta =
        format!(r#"<a class="cta" href="{}">{}</a>"#, esc(&page.call_to_action.url), esc(&page.call_to_action.label));
    let mut html = String::with_capacity(8 * 1024);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n\
         <meta name=\"description\" content=\"{sub}\">\n<style>\n:root{{{vars}}}\n{CSS}</style>\n</head>\n<body>\n\
         <header class=\"hero\">\n<div class=\"wrap\">\n<h1>{headline}</h1>\n<p>{sub}</p>\n{cta}\n</div>\n</header>\n<main>\n",
        lang = esc(&page.lang),
        title = esc(&page.title),
        sub = esc(&page.subheadline),
        headline = esc(&page.headline),
    );
    if !page.value_propositions.is_empty() {
        html.push_str("<section class=\"values\">\n<div class=\"wrap\">\n<ul>\n");
        for v in &page.value_propositions {
            let _ = writeln!(html, "<li><h2>{}</h2><p>{}</p></li>", esc(&v.title), esc(&v.text));
        }
        html.push_str("</ul>\n</div>\n</section>\n");
    }
    if !page.creatives.is_empty() {
        html.push_str("<section class=\"gallery\">\n<div class=\"wrap\">\n<ul>\n");
        for img in &page.creatives {
            let _ = writeln!(
                html,
                "<li><img src=\"{}\" alt=\"{}\" width=\"{}\" height=\"{}\" loading=\"lazy\" decoding=\"async\"></li>",
                esc(&img.src),
                esc(&img.alt),
                img.width,
                img.height
            );
        }
        html.push_str("</ul>\n</div>\n</section>\n");
    }
    let _ = write!(
        html,
        "<section class=\"closing\">\n<div class=\"wrap\">\n<h2>{}</h2>\n{cta}\n</div>\n</section>\n</main>\n\
         <footer>\n<div class=\"wrap\">\n<p>{}</p>\n</div>\n</footer>\n</body>\n</html>\n",
        esc(&page.title),
        esc(&page.footer),
    );
    Ok(html)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn escapes_every_markup_character() {
        assert_eq!(esc(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn language_tags() {
        for ok in ["en", "pt-BR", "zh-Hant-TW", "es-419", "fil"] {
            assert!(check_lang(ok).is_ok(), "{ok}");
        }
        for bad in ["", "e", "english", "en_US", "en-", "en-toolongsubtag", "<en>"] {
            let err = check_lang(bad).unwrap_err().to_string();
            assert!(err.starts_with("lang is"), "{err}");
        }
    }

    #[test]
    fn urls() {
        for ok in ["https://shop.example/sale?x=1#top", "http://a.b", "/sale", "sale.html", "#buy", "?q=1", "./a:b"] {
            assert!(check_url(ok, "u", true, false).is_ok(), "{ok}");
        }
        assert!(check_url("mailto:sales@example.com", "u", true, false).is_ok());
        for bad in
            ["javascript:alert(1)", "JaVaScRiPt:x", "data:text/html,hi", "ftp://x", "https:", "", "a b", "vbscript:x"]
        {
            let err = check_url(bad, "call_to_action.url", true, false).unwrap_err().to_string();
            assert!(err.starts_with("call_to_action.url is"), "{err}");
        }
        assert!(check_url("data:image/png;base64,AAAA", "src", false, true).is_ok());
        assert!(check_url("data:image/svg+xml;base64,AAAA", "src", false, true).is_err());
        assert!(check_url("mailto:x@y", "src", false, true).is_err());
    }

    #[test]
    fn data_uri_prefix() {
        assert_eq!(png_data_uri(&[1, 2, 3]), "data:image/png;base64,AQID");
    }
}
