//! Ad creatives: one PNG per standard ad size from a headline, body, call to action, brand
//! colours and optional logo and background image, each with a [`LayoutReport`] of what was drawn.

mod canvas;
mod layout;
mod render;
mod text;
mod wrap;

use serde::{Deserialize, Serialize};

use crate::CreativeError;
use crate::brand::parse_palette;

/// Longest accepted headline, in characters.
pub const MAX_HEADLINE_CHARS: usize = 200;
/// Longest accepted body text, in characters.
pub const MAX_BODY_CHARS: usize = 500;
/// Longest accepted call-to-action label, in characters.
pub const MAX_CALL_TO_ACTION_CHARS: usize = 40;

/// The standard ad sizes AAE renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreativeSize {
    /// 1080×1080 feed post.
    Square,
    /// 1080×1920 story / reel.
    Story,
    /// 1200×628 landscape link ad.
    Landscape,
    /// 300×250 medium rectangle.
    MediumRectangle,
    /// 728×90 leaderboard.
    Leaderboard,
    /// 160×600 wide skyscraper.
    WideSkyscraper,
    /// 320×50 mobile banner.
    MobileBanner,
}

impl CreativeSize {
    /// Every standard size, in the order they are rendered by default.
    pub const ALL: [CreativeSize; 7] = [
        CreativeSize::Square,
        CreativeSize::Story,
        CreativeSize::Landscape,
        CreativeSize::MediumRectangle,
        CreativeSize::Leaderboard,
        CreativeSize::WideSkyscraper,
        CreativeSize::MobileBanner,
    ];

    /// Width in pixels.
    pub const fn width(self) -> u32 {
        self.dimensions().0
    }

    /// Height in pixels.
    pub const fn height(self) -> u32 {
        self.dimensions().1
    }

    /// `(width, height)` in pixels.
    pub const fn dimensions(self) -> (u32, u32) {
        match self {
            CreativeSize::Square => (1080, 1080),
            CreativeSize::Story => (1080, 1920),
            CreativeSize::Landscape => (1200, 628),
            CreativeSize::MediumRectangle => (300, 250),
            CreativeSize::Leaderboard => (728, 90),
            CreativeSize::WideSkyscraper => (160, 600),
            CreativeSize::MobileBanner => (320, 50),
        }
    }

    /// Stable name used in file names and storage keys, e.g. `square_1080x1080`.
    pub const fn name(self) -> &'static str {
        match self {
            CreativeSize::Square => "square_1080x1080",
            CreativeSize::Story => "story_1080x1920",
            CreativeSize::Landscape => "landscape_1200x628",
            CreativeSize::MediumRectangle => "medium_rectangle_300x250",
            CreativeSize::Leaderboard => "leaderboard_728x90",
            CreativeSize::WideSkyscraper => "wide_skyscraper_160x600",
            CreativeSize::MobileBanner => "mobile_banner_320x50",
        }
    }
}

fn all_sizes() -> Vec<CreativeSize> {
    CreativeSize::ALL.to_vec()
}

/// What to render. Texts are plain text (no markup); images are raw PNG, JPEG or WebP file bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreativeSpec {
    /// The headline, 1 to [`MAX_HEADLINE_CHARS`] characters.
    pub headline: String,
    /// Supporting text, up to [`MAX_BODY_CHARS`] characters; may be empty.
    pub body: String,
    /// Button label, 1 to [`MAX_CALL_TO_ACTION_CHARS`] characters.
    pub call_to_action: String,
    /// 1 to 5 colours as `#rrggbb`: the first is the background, later ones accents.
    pub brand_colors: Vec<String>,
    /// Logo image, drawn into the top-left corner.
    #[serde(default)]
    pub logo: Option<Vec<u8>>,
    /// Background image, scaled to cover the canvas under a legibility scrim.
    #[serde(default)]
    pub background: Option<Vec<u8>>,
    /// Sizes to render; empty (or absent) means [`CreativeSize::ALL`].
    #[serde(default = "all_sizes")]
    pub sizes: Vec<CreativeSize>,
}

impl CreativeSpec {
    /// A spec with no images, rendering every standard size.
    pub fn new(
        headline: impl Into<String>,
        body: impl Into<String>,
        call_to_action: impl Into<String>,
        brand_colors: Vec<String>,
    ) -> Self {
        CreativeSpec {
            headline: headline.into(),
            body: body.into(),
            call_to_action: call_to_action.into(),
            brand_colors,
            logo: None,
            background: None,
            sizes: all_sizes(),
        }
    }
}

/// A rectangle in canvas pixels; `x`/`y` is the top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PixelRect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl PixelRect {
    /// Whether `other` lies entirely inside `self`.
    pub fn contains(&self, other: &PixelRect) -> bool {
        other.x >= self.x
            && other.y >= self.y
            && other.x + other.width <= self.x + self.width
            && other.y + other.height <= self.y + self.height
    }
}

/// Which text element a [`TextReport`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextRole {
    /// The headline.
    Headline,
    /// The body text.
    Body,
    /// The button label.
    CallToAction,
}

/// How one text element was set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextReport {
    /// Which element.
    pub role: TextRole,
    /// The box the text had to fit; nothing of it is drawn outside.
    pub text_box: PixelRect,
    /// Bounds of the rasterised glyphs (inside `text_box`); `None` if nothing was drawn.
    pub ink_bounds: Option<PixelRect>,
    /// Em size in pixels (as CSS `font-size`).
    pub font_size_px: f32,
    /// The wrapped lines as drawn.
    pub lines: Vec<String>,
    /// Whether text was cut and ended with an ellipsis because it did not fit even at the smallest size.
    pub truncated: bool,
    /// Whether a single word too long for the box forced a size below the element's usual minimum.
    pub shrunk_below_minimum: bool,
    /// Characters the embedded font has no glyph for (drawn as a box).
    pub missing_glyphs: usize,
    /// Text colour as `#rrggbb`.
    pub color: String,
    /// Lowest WCAG contrast ratio between the text colour and any pixel behind the text.
    pub contrast_ratio: f64,
    /// Whether a translucent panel was put behind the text to reach 4.5:1.
    pub backing_panel: bool,
}

/// What was drawn on one creative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayoutReport {
    /// One entry per text element drawn (headline, body unless dropped, call to action).
    pub texts: Vec<TextReport>,
    /// Whether the body text was left out; only ever true for banners under 100 px tall.
    pub body_dropped: bool,
    /// Where the logo was drawn.
    pub logo: Option<PixelRect>,
    /// The call-to-action button.
    pub button: PixelRect,
    /// The button's fill colour as `#rrggbb`.
    pub button_color: String,
    /// Human-readable notes on every compromise made (dropped body, truncation, shrinking, panels).
    pub notes: Vec<String>,
}

/// One rendered creative.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedCreative {
    /// The size rendered.
    pub size: CreativeSize,
    /// `size.name()`, e.g. `square_1080x1080`.
    pub name: String,
    /// PNG bytes (8-bit RGB) of exactly `size.dimensions()`.
    pub png: Vec<u8>,
    /// What was drawn where.
    pub layout: LayoutReport,
}

fn check_text(value: &str, field: &str, max: usize, required: bool) -> Result<(), CreativeError> {
    if required && value.chars().all(|c| c.is_whitespace() || c.is_control()) {
        return Err(CreativeError::EmptyField { field: field.to_owned() });
    }
    let actual = value.chars().count();
    if actual > max {
        return Err(CreativeError::TooLong { field: field.to_owned(), max, actual });
    }
    Ok(())
}

fn decode(bytes: &[u8], field: &str) -> Result<image::DynamicImage, CreativeError> {
    image::load_from_memory(bytes)
        .map_err(|e| CreativeError::InvalidImage { field: field.to_owned(), reason: e.to_string() })
}

/// Renders `spec` in each of its sizes (all standard sizes when `spec.sizes` is empty).
///
/// Deterministic: the same spec gives the same bytes. Fails only on invalid input (see
/// [`CreativeError`]); text that does not fit is shrunk, wrapped or truncated and reported.
pub fn render_ad_creatives(spec: &CreativeSpec) -> Result<Vec<RenderedCreative>, CreativeError> {
    check_text(&spec.headline, "headline", MAX_HEADLINE_CHARS, true)?;
    check_text(&spec.body, "body", MAX_BODY_CHARS, false)?;
    check_text(&spec.call_to_action, "call_to_action", MAX_CALL_TO_ACTION_CHARS, true)?;
    let palette = parse_palette(&spec.brand_colors, "brand_colors", 1, 5)?;
    let logo = spec.logo.as_deref().map(|b| decode(b, "logo")).transpose()?;
    let background = spec.background.as_deref().map(|b| decode(b, "background")).transpose()?;
    let fonts = text::Fonts::load()?;
    let inputs =
        render::Inputs { spec, palette: &palette, logo: logo.as_ref(), background: background.as_ref(), fonts: &fonts };
    let sizes = if spec.sizes.is_empty() { CreativeSize::ALL.as_slice() } else { spec.sizes.as_slice() };
    sizes.iter().map(|&size| render::render_one(&inputs, size)).collect()
}
