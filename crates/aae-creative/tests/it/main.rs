//! Integration tests for aae-creative: one binary, one module per artifact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod creatives;
mod html_check;
mod landing_page;
mod properties;
mod report;
mod support;
