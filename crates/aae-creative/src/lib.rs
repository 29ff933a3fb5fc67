//! AAE's rendered artifacts: pure functions from typed inputs to bytes.
//!
//! This crate owns the three things a campaign hands to people:
//! - **ad creatives** (PNG), [`render_ad_creatives`]: every standard ad size from one
//!   [`CreativeSpec`], with text set in the embedded DejaVu Sans, wrapped and shrunk until it fits
//!   (never drawn outside its box), coloured to reach WCAG AA contrast against the pixels behind it,
//!   and a [`LayoutReport`] saying what was drawn and every compromise made;
//! - **the landing page** (HTML), [`landing_page`]: one self-contained responsive HTML5 document
//!   with inline CSS and every input string escaped;
//! - **the campaign report** (PDF), [`campaign_report`]: a multi-page PDF with extractable text,
//!   tables and the creatives embedded.
//!
//! It does not own models, storage, agents or jobs: callers pass text and image bytes in and
//! store the bytes that come out. Nothing here does IO beyond reading the bytes it is given, and
//! the same input always gives the same output. Invalid input is a [`CreativeError`] that names
//! the offending field. [`brand`] parses `#rrggbb` colours and computes WCAG contrast ratios.
//!
//! The whole public API:
//!
//! | function | input | output |
//! | --- | --- | --- |
//! | [`render_ad_creatives`] | [`CreativeSpec`] (sizes from [`CreativeSize::ALL`]) | one [`RenderedCreative`] per size: PNG bytes and a [`LayoutReport`] of [`TextReport`]s |
//! | [`landing_page`] | [`LandingPage`] with [`ValueProposition`]s, a [`CallToAction`] and [`GalleryImage`]s | HTML text |
//! | [`png_data_uri`] | PNG bytes | a `data:` URI for [`GalleryImage::src`] |
//! | [`campaign_report`] | [`CampaignReport`] with a [`CampaignBrief`], a [`BudgetPlan`] of [`BudgetLine`]s, [`ReportCreative`]s and [`Kpi`]s | PDF bytes |
//!
//! ```
//! use aae_creative::{CreativeSize, CreativeSpec, render_ad_creatives};
//!
//! let mut spec = CreativeSpec::new("Summer sale", "40% off every shoe", "Shop now", vec!["#0b3d91".into()]);
//! spec.sizes = vec![CreativeSize::MobileBanner];
//! let creatives = render_ad_creatives(&spec)?;
//! assert_eq!(creatives[0].name, "mobile_banner_320x50");
//! assert!(creatives[0].layout.texts.iter().all(|t| t.contrast_ratio >= 4.5));
//! # Ok::<(), aae_creative::CreativeError>(())
//! ```
//!
//! Fonts: DejaVu Sans and DejaVu Sans Bold (Bitstream Vera licence, `assets/fonts/LICENSE`) are
//! compiled in for the creatives; the PDF uses the standard Helvetica fonts and embeds none.

pub mod brand;
mod creatives;
mod error;
mod landing_page;
mod report;

pub use creatives::{
    CreativeSize, CreativeSpec, LayoutReport, MAX_BODY_CHARS, MAX_CALL_TO_ACTION_CHARS, MAX_HEADLINE_CHARS, PixelRect,
    RenderedCreative, TextReport, TextRole, render_ad_creatives,
};
pub use error::CreativeError;
pub use landing_page::{CallToAction, GalleryImage, LandingPage, ValueProposition, landing_page, png_data_uri};
pub use report::{BudgetLine, BudgetPlan, CampaignBrief, CampaignReport, Kpi, ReportCreative, campaign_report};
