//! The crate's one error type.

use aae_types::ErrorCode;

/// Why an artifact could not be rendered. Every message names the offending input field
/// (`brand_colors[0]`, `call_to_action.url`, …) and says what a valid value looks like.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CreativeError {
    /// A colour is not written as `#rrggbb`.
    #[error("{field} is {value:?}, expected a hex colour in the form #rrggbb (for example \"#1a73e8\")")]
    InvalidColor {
        /// The field path, e.g. `brand_colors[0]`.
        field: String,
        /// The value as given.
        value: String,
    },
    /// A list has too few or too many entries.
    #[error("{field} has {actual} entries, expected between {min} and {max}")]
    WrongCount {
        /// The field path.
        field: String,
        /// Smallest accepted count.
        min: usize,
        /// Largest accepted count.
        max: usize,
        /// Count given.
        actual: usize,
    },
    /// A required text is empty or whitespace only.
    #[error("{field} is empty, give it some visible text")]
    EmptyField {
        /// The field path.
        field: String,
    },
    /// A text is longer than the artifact can show.
    #[error("{field} has {actual} characters, shorten it to at most {max}")]
    TooLong {
        /// The field path.
        field: String,
        /// Largest accepted length in characters.
        max: usize,
        /// Length given.
        actual: usize,
    },
    /// Image bytes could not be decoded.
    #[error("{field} could not be decoded as a PNG, JPEG or WebP image ({reason}); pass the raw file bytes")]
    InvalidImage {
        /// The field path.
        field: String,
        /// What the decoder said.
        reason: String,
    },
    /// A link or image source uses a form this crate does not emit.
    #[error("{field} is {value:?}: {reason}")]
    InvalidUrl {
        /// The field path.
        field: String,
        /// The value as given.
        value: String,
        /// What is accepted instead.
        reason: String,
    },
    /// Any other value outside its accepted range.
    #[error("{field} is {value:?}, expected {expected}")]
    InvalidValue {
        /// The field path.
        field: String,
        /// The value as given.
        value: String,
        /// What is accepted instead.
        expected: String,
    },
    /// Encoding the output failed; this is a bug in this crate, not in the input.
    #[error("could not encode the {artifact}: {reason}")]
    Encode {
        /// Which artifact (`png`, `pdf`, …).
        artifact: String,
        /// The underlying error.
        reason: String,
    },
}

impl CreativeError {
    /// The closed code this error reduces to: every variant but [`CreativeError::Encode`] is the
    /// caller's input, so `InvalidInput`; `Encode` is `Internal`.
    pub fn code(&self) -> ErrorCode {
        match self {
            CreativeError::InvalidColor { .. }
            | CreativeError::WrongCount { .. }
            | CreativeError::EmptyField { .. }
            | CreativeError::TooLong { .. }
            | CreativeError::InvalidImage { .. }
            | CreativeError::InvalidUrl { .. }
            | CreativeError::InvalidValue { .. } => ErrorCode::InvalidInput,
            CreativeError::Encode { .. } => ErrorCode::Internal,
        }
    }
}
