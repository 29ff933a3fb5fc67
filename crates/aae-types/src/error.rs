use serde::{Deserialize, Serialize};

/// The closed set of error kinds every AAE error reduces to. The HTTP layer maps each one to a
/// status code in exactly one exhaustive match; the CLI maps them to exit messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request or input is malformed; the message says what to fix.
    InvalidInput,
    /// The caller is not authenticated or a signature is invalid or expired.
    Unauthenticated,
    /// The caller may not do this.
    AccessDenied,
    /// The addressed resource does not exist (or is not visible to the caller).
    NotFound,
    /// The resource exists in a conflicting state.
    Conflict,
    /// The payload is larger than allowed.
    PayloadTooLarge,
    /// Too many requests; retry later.
    RateLimited,
    /// A dependency is unavailable (network, 5xx, open circuit breaker); retry later.
    Unavailable,
    /// The feature is not supported by the configured backend.
    NotSupported,
    /// An unexpected internal failure; details are logged, never returned.
    Internal,
}

/// An error and its sources as one `: `-separated line, skipping a source whose text an
/// earlier part already contains (SDK errors often repeat their cause in their own message).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        let text = current.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = current.source();
    }
    parts.join(": ")
}

impl ErrorCode {
    /// The wire spelling used in `{"error": {"code": …}}` bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::Unauthenticated => "unauthenticated",
            Self::AccessDenied => "access_denied",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::NotSupported => "not_supported",
            Self::Internal => "internal",
        }
    }
}
