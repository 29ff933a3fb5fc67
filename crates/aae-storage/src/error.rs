//! The storage error: a closed kind plus the bucket and key it concerns.

use std::fmt;

use aae_types::ErrorCode;

/// What went wrong, reduced to the kinds callers act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageErrorKind {
    /// The object does not exist.
    NotFound,
    /// The bucket does not exist.
    NoSuchBucket,
    /// Credentials are missing, wrong, or lack permission.
    AccessDenied,
    /// The key is not acceptable (checked before any request).
    InvalidKey,
    /// Another argument is not acceptable (expiry, content type, metadata).
    InvalidInput,
    /// A precondition failed or the object already exists.
    Conflict,
    /// The backend cannot be reached, answered 5xx, timed out, or its circuit breaker is open.
    Unavailable,
    /// The backend does not support the operation (e.g. GCS signing without a service account).
    NotSupported,
    /// Anything else.
    Internal,
}

impl StorageErrorKind {
    /// The API error code for this kind.
    pub fn code(self) -> ErrorCode {
        match self {
            Self::NotFound | Self::NoSuchBucket => ErrorCode::NotFound,
            Self::AccessDenied => ErrorCode::AccessDenied,
            Self::InvalidKey | Self::InvalidInput => ErrorCode::InvalidInput,
            Self::Conflict => ErrorCode::Conflict,
            Self::Unavailable => ErrorCode::Unavailable,
            Self::NotSupported => ErrorCode::NotSupported,
            Self::Internal => ErrorCode::Internal,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::NotFound => "object not found",
            Self::NoSuchBucket => "bucket does not exist",
            Self::AccessDenied => "access denied",
            Self::InvalidKey => "invalid key",
            Self::InvalidInput => "invalid input",
            Self::Conflict => "conflict",
            Self::Unavailable => "storage unavailable",
            Self::NotSupported => "not supported",
            Self::Internal => "storage error",
        }
    }
}

/// A storage failure naming its bucket and key.
#[derive(Debug, thiserror::Error)]
pub struct StorageError {
    /// The kind.
    pub kind: StorageErrorKind,
    /// Physical bucket name, when known.
    pub bucket: Option<String>,
    /// Object key, when known.
    pub key: Option<String>,
    /// Detail: what happened and, where possible, how to fix it. Never contains secrets.
    pub message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.describe())?;
        match (&self.bucket, &self.key) {
            (Some(b), Some(k)) => write!(f, " (bucket `{b}`, key `{k}`)")?,
            (Some(b), None) => write!(f, " (bucket `{b}`)")?,
            (None, Some(k)) => write!(f, " (key `{k}`)")?,
            (None, None) => {}
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl StorageError {
    /// A new error of `kind` with a message.
    pub fn new(kind: StorageErrorKind, message: impl Into<String>) -> Self {
        Self { kind, bucket: None, key: None, message: message.into(), source: None }
    }

    /// Sets the bucket.
    pub fn with_bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = Some(bucket.into());
        self
    }

    /// Sets the key.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Attaches the underlying error (kept for logs, not shown in the message).
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The API error code.
    pub fn code(&self) -> ErrorCode {
        self.kind.code()
    }

    /// Whether the failure may succeed if tried again.
    pub fn is_retryable(&self) -> bool {
        self.kind == StorageErrorKind::Unavailable
    }

    /// Maps an `object_store` error.
    pub fn from_object_store(error: object_store::Error) -> Self {
        use object_store::Error as E;
        let kind = match &error {
            E::NotFound { .. } => {
                if chain_text(&error).contains("NoSuchBucket") {
                    StorageErrorKind::NoSuchBucket
                } else {
                    StorageErrorKind::NotFound
                }
            }
            E::PermissionDenied { .. } | E::Unauthenticated { .. } => StorageErrorKind::AccessDenied,
            E::AlreadyExists { .. } | E::Precondition { .. } | E::NotModified { .. } => StorageErrorKind::Conflict,
            E::NotImplemented | E::NotSupported { .. } => StorageErrorKind::NotSupported,
            E::InvalidPath { .. } => StorageErrorKind::InvalidKey,
            _ => classify_text(&chain_text(&error)),
        };
        let message = match kind {
            StorageErrorKind::NotFound => String::new(),
            StorageErrorKind::Conflict if chain_text(&error).to_ascii_lowercase().contains("directory") => {
                "on the local backend a key cannot also be the folder of another key (like `a` and `a/b`); rename one of them".to_owned()
            }
            StorageErrorKind::NoSuchBucket => {
                "create it, or set AAE__STORAGE__CREATE_BUCKETS=true to create buckets automatically".to_owned()
            }
            _ => summarize(&chain_text(&error)),
        };
        Self { kind, bucket: None, key: None, message, source: Some(Box::new(error)) }
    }
}

/// The error and its sources, joined.
pub(crate) fn chain_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Classifies an error from its text, for errors object_store reports as `Generic`.
fn classify_text(text: &str) -> StorageErrorKind {
    let lower = text.to_ascii_lowercase();
    if text.contains("NoSuchBucket") {
        return StorageErrorKind::NoSuchBucket;
    }
    if text.contains("AccessDenied")
        || text.contains("SignatureDoesNotMatch")
        || text.contains("InvalidAccessKeyId")
        || lower.contains("status code: 403")
        || lower.contains("status code: 401")
        || lower.contains("no credentials")
        || lower.contains("credential")
    {
        return StorageErrorKind::AccessDenied;
    }
    if lower.contains("not a directory") || lower.contains("is a directory") {
        return StorageErrorKind::Conflict;
    }
    if let Some(status) = status_in(text)
        && (status >= 500 || status == 429)
    {
        return StorageErrorKind::Unavailable;
    }
    if lower.contains("timed out")
        || lower.contains("timeout")
        || lower.contains("connection")
        || lower.contains("connect")
        || lower.contains("reset")
        || lower.contains("broken pipe")
        || lower.contains("slowdown")
        || lower.contains("error sending request")
        || lower.contains("http error")
    {
        return StorageErrorKind::Unavailable;
    }
    StorageErrorKind::Internal
}

fn status_in(text: &str) -> Option<u16> {
    let idx = text.find("status code: ")?;
    text[idx + 13..].get(..3)?.parse().ok()
}

/// Keeps error text short and free of request URLs (which may carry signatures).
fn summarize(text: &str) -> String {
    let cleaned: Vec<&str> = text
        .split_whitespace()
        .filter(|w| !w.contains("X-Amz-") && !w.contains("Signature=") && !w.starts_with("http"))
        .collect();
    let mut out = cleaned.join(" ");
    if out.len() > 400 {
        let mut cut = 400;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_generic_errors() {
        assert_eq!(
            classify_text("Server returned non-2xx status code: 503 Service Unavailable"),
            StorageErrorKind::Unavailable
        );
        assert_eq!(classify_text("<Code>SignatureDoesNotMatch</Code>"), StorageErrorKind::AccessDenied);
        assert_eq!(classify_text("error sending request: connection refused"), StorageErrorKind::Unavailable);
        assert_eq!(classify_text("<Code>NoSuchBucket</Code>"), StorageErrorKind::NoSuchBucket);
        assert_eq!(classify_text("Server returned non-2xx status code: 400 Bad Request"), StorageErrorKind::Internal);
    }

    #[test]
    fn display_names_bucket_and_key_and_hides_urls() {
        let e = StorageError::new(StorageErrorKind::NotFound, "").with_bucket("b").with_key("k/1");
        assert_eq!(e.to_string(), "object not found (bucket `b`, key `k/1`)");
        let s = summarize("Error performing GET http://x/b/k?X-Amz-Signature=abc in 1s - boom");
        assert!(!s.contains("Signature"), "{s}");
    }
}
