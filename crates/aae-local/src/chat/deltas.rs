//! `Deltas`: turns the byte pieces of generated tokens into text deltas that never split a UTF-8
//! character and never show any part of a stop sequence.
//!
//! A token's piece may end inside a multi-byte character; those bytes wait for the next piece.
//! The longest suffix of the text that could still grow into a stop sequence is held back
//! until it either completes one (the text is cut where that stop sequence starts and
//! generation ends) or stops matching (it is released). So the deltas always concatenate to the
//! final text, and a stop sequence is never streamed, even partly.

/// What one pushed piece produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Keep generating; `delta` is the text released by this piece (may be empty).
    Continue {
        /// Newly released text.
        delta: String,
    },
    /// A stop sequence appeared: `delta` is the last text to release, generation ends.
    Stop {
        /// Newly released text (up to where the stop sequence starts).
        delta: String,
        /// The stop sequence that matched.
        sequence: String,
    },
}

#[derive(Debug, Default)]
pub(crate) struct Deltas {
    stops: Vec<String>,
    /// Bytes of an incomplete UTF-8 character at the end of the pieces so far.
    pending: Vec<u8>,
    /// All decoded text so far (cut at a stop sequence once one matched).
    text: String,
    /// How much of `text` was released as deltas.
    released: usize,
}

impl Deltas {
    /// `stops` may be empty; empty strings in it are ignored.
    pub(crate) fn new(stops: &[String]) -> Self {
        Self { stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(), ..Self::default() }
    }

    /// The text so far; after a `Stop`, the final text.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Adds one token's bytes.
    pub(crate) fn push(&mut self, piece: &[u8]) -> Pushed {
        self.pending.extend_from_slice(piece);
        self.decode_pending(false);
        self.release(false)
    }

    /// Ends the text (end of turn or token limit): an incomplete character becomes U+FFFD and
    /// the held-back text is released. A stop sequence completed by that may still match.
    pub(crate) fn finish(&mut self) -> Pushed {
        self.decode_pending(true);
        self.release(true)
    }

    fn decode_pending(&mut self, at_end: bool) {
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(valid) => {
                    self.text.push_str(valid);
                    self.pending.clear();
                    return;
                }
                Err(err) => {
                    let valid_up_to = err.valid_up_to();
                    // The prefix was just checked to be UTF-8.
                    self.text.push_str(&String::from_utf8_lossy(&self.pending[..valid_up_to]));
                    match err.error_len() {
                        Some(bad) => {
                            self.text.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid_up_to + bad);
                        }
                        None if at_end => {
                            self.text.push(char::REPLACEMENT_CHARACTER);
                            self.pending.clear();
                            return;
                        }
                        None => {
                            self.pending.drain(..valid_up_to);
                            return;
                        }
                    }
                }
            }
        }
    }

    fn release(&mut self, at_end: bool) -> Pushed {
        let unreleased = &self.text[self.released..];
        // The stop sequence that starts first; the longest one among those starting there.
        let found = self
            .stops
            .iter()
            .filter_map(|stop| unreleased.find(stop.as_str()).map(|at| (at, std::cmp::Reverse(stop.len()), stop)))
            .min();
        if let Some((at, _, stop)) = found {
            let cut = self.released + at;
            let delta = self.text[self.released..cut].to_owned();
            let sequence = stop.clone();
            self.text.truncate(cut);
            self.released = cut;
            return Pushed::Stop { delta, sequence };
        }
        let hold = if at_end { 0 } else { self.held_back() };
        let until = self.text.len() - hold;
        let delta = self.text[self.released..until].to_owned();
        self.released = until;
        Pushed::Continue { delta }
    }

    /// Length of the longest suffix of the unreleased text that is a proper prefix of a stop
    /// sequence.
    fn held_back(&self) -> usize {
        let unreleased = &self.text[self.released..];
        let longest = self.stops.iter().map(|s| s.len().saturating_sub(1)).max().unwrap_or(0);
        (1..=longest.min(unreleased.len()))
            .rev()
            .find(|&k| {
                let start = unreleased.len() - k;
                unreleased.is_char_boundary(start) && self.stops.iter().any(|s| s.starts_with(&unreleased[start..]))
            })
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes `pieces` until a stop; returns (concatenated deltas, final text, matched stop).
    fn run(stops: &[String], pieces: &[Vec<u8>]) -> (String, String, Option<String>) {
        let mut deltas = Deltas::new(stops);
        let mut streamed = String::new();
        for piece in pieces {
            match deltas.push(piece) {
                Pushed::Continue { delta } => streamed.push_str(&delta),
                Pushed::Stop { delta, sequence } => {
                    streamed.push_str(&delta);
                    return (streamed, deltas.text().to_owned(), Some(sequence));
                }
            }
        }
        match deltas.finish() {
            Pushed::Continue { delta } => {
                streamed.push_str(&delta);
                (streamed, deltas.text().to_owned(), None)
            }
            Pushed::Stop { delta, sequence } => {
                streamed.push_str(&delta);
                (streamed, deltas.text().to_owned(), Some(sequence))
            }
        }
    }

    fn pieces(text: &str, sizes: &[usize]) -> Vec<Vec<u8>> {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut at = 0;
        for &size in sizes.iter().cycle() {
            if at >= bytes.len() {
                break;
            }
            let end = (at + size.max(1)).min(bytes.len());
            out.push(bytes[at..end].to_vec());
            at = end;
        }
        out
    }

    #[test]
    fn a_stop_sequence_split_across_pieces_is_never_streamed() {
        let stops = vec!["\nUser:".to_owned()];
        let (streamed, text, stop) = run(&stops, &[b"Paris".to_vec(), b".\nUs".to_vec(), b"er: hi".to_vec()]);
        assert_eq!(text, "Paris.");
        assert_eq!(streamed, "Paris.");
        assert_eq!(stop.as_deref(), Some("\nUser:"));
    }

    #[test]
    fn a_held_prefix_is_released_when_it_stops_matching() {
        let stops = vec!["END".to_owned()];
        let mut deltas = Deltas::new(&stops);
        assert_eq!(deltas.push(b"the EN"), Pushed::Continue { delta: "the ".to_owned() });
        assert_eq!(deltas.push(b"D"), Pushed::Stop { delta: String::new(), sequence: "END".to_owned() });
        let mut deltas = Deltas::new(&stops);
        assert_eq!(deltas.push(b"the EN"), Pushed::Continue { delta: "the ".to_owned() });
        assert_eq!(deltas.push(b"ough"), Pushed::Continue { delta: "ENough".to_owned() });
    }

    #[test]
    fn multibyte_characters_split_across_pieces_are_joined() {
        let euro = "€".as_bytes();
        let mut deltas = Deltas::new(&[]);
        assert_eq!(deltas.push(&euro[..1]), Pushed::Continue { delta: String::new() });
        assert_eq!(deltas.push(&euro[1..]), Pushed::Continue { delta: "€".to_owned() });
        assert_eq!(deltas.push(&[0xff, b'a']), Pushed::Continue { delta: "\u{fffd}a".to_owned() });
        assert_eq!(deltas.push(&euro[..2]), Pushed::Continue { delta: String::new() });
        assert_eq!(deltas.finish(), Pushed::Continue { delta: "\u{fffd}".to_owned() });
    }

    /// Every text of up to 6 characters over a small alphabet (with a 3-byte character), split
    /// into pieces of 1, 2 or 3 bytes, against several stop sets.
    #[test]
    fn deltas_concatenate_to_the_text_and_no_stop_leaks() {
        let alphabet = ['a', 'b', '€', '\n'];
        let stop_sets: Vec<Vec<String>> =
            [vec![], vec!["ab"], vec!["b", "€a"], vec!["\n\n", "a€b"], vec!["", "aa", "a"]]
                .iter()
                .map(|set| set.iter().map(|s| (*s).to_owned()).collect())
                .collect();
        let mut texts = vec![String::new()];
        let mut frontier = texts.clone();
        for _ in 0..6 {
            frontier = frontier.iter().flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}"))).collect();
            texts.extend(frontier.iter().cloned());
        }
        for text in &texts {
            for stops in &stop_sets {
                for size in 1..=3 {
                    let (streamed, final_text, stop) = run(stops, &pieces(text, &[size]));
                    assert_eq!(streamed, final_text, "{text:?} {stops:?} {size}");
                    assert!(text.starts_with(&final_text));
                    for s in stops.iter().filter(|s| !s.is_empty()) {
                        assert!(!final_text.contains(s.as_str()), "stop {s:?} in {final_text:?}");
                    }
                    match stop {
                        Some(sequence) => assert!(text[final_text.len()..].starts_with(&sequence)),
                        None => assert_eq!(&final_text, text),
                    }
                }
            }
        }
    }
}
