//! Brand colours: parsing `#rrggbb` and the WCAG 2.x relative luminance and contrast ratio.

use std::fmt;

use crate::CreativeError;

/// WCAG AA minimum contrast ratio for normal-size text.
pub const WCAG_AA_TEXT: f64 = 4.5;

/// An opaque sRGB colour with 8 bits per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgb {
    /// Red channel.
    pub r: u8,
    /// Green channel.
    pub g: u8,
    /// Blue channel.
    pub b: u8,
}

impl Rgb {
    /// Pure white.
    pub const WHITE: Rgb = Rgb { r: 255, g: 255, b: 255 };
    /// Pure black.
    pub const BLACK: Rgb = Rgb { r: 0, g: 0, b: 0 };

    /// Builds a colour from its three channels.
    pub const fn new(r: u8, g: u8, b: u8) -> Self {
        Rgb { r, g, b }
    }

    /// Parses `#rrggbb` (either case). `field` names the input in the error, e.g. `brand_colors[0]`.
    pub fn parse(value: &str, field: &str) -> Result<Self, CreativeError> {
        let invalid = || CreativeError::InvalidColor { field: field.to_owned(), value: value.to_owned() };
        let hex = value.strip_prefix('#').ok_or_else(invalid)?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| invalid());
        Ok(Rgb { r: channel(0)?, g: channel(2)?, b: channel(4)? })
    }

    /// WCAG 2.x relative luminance, 0.0 (black) to 1.0 (white).
    pub fn relative_luminance(self) -> f64 {
        fn linear(c: u8) -> f64 {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        }
        0.2126 * linear(self.r) + 0.7152 * linear(self.g) + 0.0722 * linear(self.b)
    }

    /// Linear interpolation in sRGB space: `t = 0` gives `self`, `t = 1` gives `other`.
    pub fn mix(self, other: Rgb, t: f32) -> Rgb {
        let t = t.clamp(0.0, 1.0);
        let lerp = |a: u8, b: u8| (f32::from(a) + (f32::from(b) - f32::from(a)) * t).round().clamp(0.0, 255.0) as u8;
        Rgb { r: lerp(self.r, other.r), g: lerp(self.g, other.g), b: lerp(self.b, other.b) }
    }
}

impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

/// WCAG contrast ratio between two relative luminances, from 1.0 to 21.0.
pub fn contrast_ratio_of_luminances(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    (hi + 0.05) / (lo + 0.05)
}

/// WCAG contrast ratio between two colours, from 1.0 to 21.0.
pub fn contrast_ratio(a: Rgb, b: Rgb) -> f64 {
    contrast_ratio_of_luminances(a.relative_luminance(), b.relative_luminance())
}

/// Parses a list of brand colours (`field[i]` in errors), requiring between `min` and `max` entries.
pub(crate) fn parse_palette(colors: &[String], field: &str, min: usize, max: usize) -> Result<Vec<Rgb>, CreativeError> {
    if colors.len() < min || colors.len() > max {
        return Err(CreativeError::WrongCount { field: field.to_owned(), min, max, actual: colors.len() });
    }
    colors.iter().enumerate().map(|(i, c)| Rgb::parse(c, &format!("{field}[{i}]"))).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_both_cases_and_prints_lowercase() {
        assert_eq!(Rgb::parse("#1A73e8", "c").unwrap(), Rgb::new(0x1a, 0x73, 0xe8));
        assert_eq!(Rgb::new(0x1a, 0x73, 0xe8).to_string(), "#1a73e8");
    }

    #[test]
    fn rejects_malformed_colours_naming_the_field() {
        for bad in ["#12345", "123456", "#12345g", "#1234567", "", "#", "#ééé"] {
            let err = Rgb::parse(bad, "brand_colors[2]").unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("brand_colors[2]") && msg.contains("#rrggbb"), "{msg}");
        }
    }

    #[test]
    fn wcag_reference_values() {
        assert!((contrast_ratio(Rgb::WHITE, Rgb::BLACK) - 21.0).abs() < 1e-9);
        assert!((contrast_ratio(Rgb::WHITE, Rgb::WHITE) - 1.0).abs() < 1e-9);
        // #767676 on white is the classic 4.54:1 AA boundary grey.
        let r = contrast_ratio(Rgb::new(0x76, 0x76, 0x76), Rgb::WHITE);
        assert!((r - 4.54).abs() < 0.01, "{r}");
    }

    #[test]
    fn palette_count_is_checked() {
        let err = parse_palette(&[], "brand_colors", 1, 5).unwrap_err();
        assert!(err.to_string().contains("brand_colors has 0 entries"), "{err}");
        let six = vec!["#000000".to_owned(); 6];
        assert!(parse_palette(&six, "brand_colors", 1, 5).is_err());
    }
}
