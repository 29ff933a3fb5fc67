//! Text for the PDF's standard Helvetica fonts: Windows-1252 (`WinAnsiEncoding`) encoding, advance
//! widths, and word wrapping to a width in points.
//!
//! Characters outside Windows-1252 cannot be shown by a standard font: a few look-alikes are
//! substituted (other dashes and the minus sign become `-`, primes become `'` and `"`, any other
//! whitespace becomes a space) and everything else becomes `?`. The file stays valid either way.

use super::metrics::{HELVETICA, HELVETICA_BOLD};

/// The two faces the report uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Face {
    Regular,
    Bold,
}

impl Face {
    /// Resource name of the font in every page's resource dictionary.
    pub fn resource(self) -> &'static [u8] {
        match self {
            Face::Regular => b"F1",
            Face::Bold => b"F2",
        }
    }
}

/// The Windows-1252 byte for `c`, if it has one.
fn win_ansi(c: char) -> Option<u8> {
    let code = u32::from(c);
    if (0x20..=0x7e).contains(&code) || (0xa0..=0xff).contains(&code) {
        return u8::try_from(code).ok();
    }
    Some(match c {
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8a,
        '‹' => 0x8b,
        'Œ' => 0x8c,
        'Ž' => 0x8e,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9a,
        '›' => 0x9b,
        'œ' => 0x9c,
        'ž' => 0x9e,
        'Ÿ' => 0x9f,
        _ => return None,
    })
}

/// Encodes `text` as Windows-1252, substituting as described in the module docs.
pub(crate) fn encode(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match win_ansi(c) {
            Some(b) => b,
            None if c.is_whitespace() || c.is_control() => b' ',
            None => match c {
                '\u{2010}'..='\u{2012}' | '\u{2212}' | '\u{2043}' => b'-',
                '\u{2032}' => b'\'',
                '\u{2033}' => b'"',
                _ => b'?',
            },
        })
        .collect()
}

/// Width of encoded `bytes` in points at `size`.
pub(crate) fn width(bytes: &[u8], face: Face, size: f32) -> f32 {
    let table = match face {
        Face::Regular => &HELVETICA,
        Face::Bold => &HELVETICA_BOLD,
    };
    let units: u32 =
        bytes.iter().map(|&b| u32::from(table.get(usize::from(b).wrapping_sub(32)).copied().unwrap_or(0))).sum();
    units as f32 * size / 1000.0
}

/// Wraps `text` to `max_width` points. Newlines start new lines (an empty line stays empty); words
/// longer than a line are broken between characters.
pub(crate) fn wrap(text: &str, face: Face, size: f32, max_width: f32) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let encoded = encode(paragraph);
        let mut current: Vec<u8> = Vec::new();
        for mut word in encoded.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
            while width(word, face, size) > max_width {
                if !current.is_empty() {
                    lines.push(std::mem::take(&mut current));
                }
                let mut n = 1;
                while n < word.len() && width(&word[..=n], face, size) <= max_width {
                    n += 1;
                }
                lines.push(word[..n].to_vec());
                word = &word[n..];
            }
            if word.is_empty() {
                continue;
            }
            let extra = width(b" ", face, size) + width(word, face, size);
            if current.is_empty() {
                current = word.to_vec();
            } else if width(&current, face, size) + extra <= max_width {
                current.push(b' ');
                current.extend_from_slice(word);
            } else {
                lines.push(std::mem::replace(&mut current, word.to_vec()));
            }
        }
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_latin1_and_cp1252_and_replaces_the_rest() {
        assert_eq!(encode("Café €5 – “ok”"), b"Caf\xe9 \x805 \x96 \x93ok\x94".to_vec());
        assert_eq!(encode("日本 ok\u{2212}1"), b"?? ok-1".to_vec());
    }

    #[test]
    fn helvetica_widths() {
        // "Hello" in Helvetica: H 722 + e 556 + l 222 + l 222 + o 556 = 2278 units.
        assert!((width(b"Hello", Face::Regular, 10.0) - 22.78).abs() < 1e-4);
        assert!(width(b"Hello", Face::Bold, 10.0) > width(b"Hello", Face::Regular, 10.0));
    }

    #[test]
    fn wraps_within_the_width_and_keeps_every_word() {
        let text = "The quick brown fox jumps over the lazy dog and keeps running across the field";
        let lines = wrap(text, Face::Regular, 12.0, 120.0);
        assert!(lines.len() > 2);
        for line in &lines {
            assert!(width(line, Face::Regular, 12.0) <= 120.0);
        }
        let joined: Vec<u8> = lines.join(&b' ');
        assert_eq!(joined, text.as_bytes());
    }

    #[test]
    fn breaks_words_longer_than_a_line() {
        let lines = wrap(&"x".repeat(200), Face::Bold, 12.0, 100.0);
        assert!(lines.len() > 1 && lines.iter().all(|l| width(l, Face::Bold, 12.0) <= 100.0));
        assert_eq!(lines.concat().len(), 200);
    }
}
