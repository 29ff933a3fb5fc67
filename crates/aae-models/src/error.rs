//! [`ModelError`]: the one error type of the model layer. Every error names its provider and
//! model (when there is one), says whether a retry may help ([`ModelError::is_retryable`]) and
//! reduces to an [`ErrorCode`]. Messages never contain credentials: providers build them from
//! status codes and the provider's own error text, never from request headers or URLs with keys.

use std::fmt;
use std::time::Duration;

use aae_types::{ErrorCode, ModelSelectionError};

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelErrorKind {
    /// The provider throttled the request (HTTP 429 or its equivalent). Retryable.
    Throttled,
    /// The provider failed or could not be reached (5xx, connection refused or reset). Retryable.
    Unavailable,
    /// The request took longer than the timeout. Retryable.
    Timeout,
    /// The provider refused the request as malformed (4xx other than 401/403/404/429).
    InvalidRequest,
    /// The credentials were refused (401/403).
    Unauthorized,
    /// The provider does not know the model (404).
    ModelNotFound,
    /// The provider's reply could not be understood.
    InvalidResponse,
    /// The model does not offer this capability.
    Unsupported,
    /// The provider is not configured.
    NotConfigured,
    /// The choice of provider or model is not in the catalog.
    UnknownModel,
    /// AAE's own token bucket for this model is empty and did not refill in time.
    RateLimited,
    /// The circuit breaker for this model is open.
    CircuitOpen,
    /// Every model of the fallback list failed; see `attempts`.
    AllFailed,
    /// Credits could not be held, captured or released, or usage could not be recorded.
    Accounting,
}

impl ModelErrorKind {
    /// The lowercase label used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Throttled => "throttled by provider",
            Self::Unavailable => "provider unavailable",
            Self::Timeout => "timed out",
            Self::InvalidRequest => "invalid request",
            Self::Unauthorized => "unauthorized",
            Self::ModelNotFound => "model not found",
            Self::InvalidResponse => "invalid response",
            Self::Unsupported => "unsupported",
            Self::NotConfigured => "not configured",
            Self::UnknownModel => "unknown model",
            Self::RateLimited => "rate limited",
            Self::CircuitOpen => "circuit open",
            Self::AllFailed => "all models failed",
            Self::Accounting => "accounting failed",
        }
    }
}

/// An error of the model layer. Displayed as `{kind} {provider}/{model} (http {status}):
/// {message}`, followed by each fallback attempt's failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", render(.kind, .provider, .model, .message, .status, .attempts))]
pub struct ModelError {
    /// What went wrong.
    pub kind: ModelErrorKind,
    /// The provider, e.g. `gemini` (empty when none was chosen yet).
    pub provider: String,
    /// The model as the catalog names it or the wire id (empty when none was chosen yet).
    pub model: String,
    /// Details, lowercase, without secrets.
    pub message: String,
    /// The HTTP status, when one was received.
    pub status: Option<u16>,
    /// How long the provider asked us to wait (`Retry-After`), when it said.
    pub retry_after: Option<Duration>,
    /// For [`ModelErrorKind::AllFailed`]: the failure of each model tried, in order.
    pub attempts: Vec<ModelError>,
}

fn render(
    kind: &ModelErrorKind,
    provider: &str,
    model: &str,
    message: &str,
    status: &Option<u16>,
    attempts: &[ModelError],
) -> String {
    use fmt::Write;
    let mut text = kind.as_str().to_owned();
    if !provider.is_empty() {
        let _ = write!(text, " {provider}/{model}");
    }
    if let Some(status) = status {
        let _ = write!(text, " (http {status})");
    }
    if !message.is_empty() {
        let _ = write!(text, ": {message}");
    }
    for (i, attempt) in attempts.iter().enumerate() {
        let _ = write!(text, "; attempt {}: {attempt}", i + 1);
    }
    text
}

impl ModelError {
    /// An error of `kind` for `provider`/`model`.
    pub fn new(kind: ModelErrorKind, provider: &str, model: &str, message: impl Into<String>) -> Self {
        Self {
            kind,
            provider: provider.to_owned(),
            model: model.to_owned(),
            message: message.into(),
            status: None,
            retry_after: None,
            attempts: Vec::new(),
        }
    }

    /// The capability is not offered.
    pub fn unsupported(provider: &str, model: &str, capability: &str) -> Self {
        Self::new(ModelErrorKind::Unsupported, provider, model, format!("{provider} does not support {capability}"))
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the provider's requested wait.
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// Names the model as the catalog does (providers only know wire ids).
    pub fn for_model(mut self, provider: &str, model: &str) -> Self {
        provider.clone_into(&mut self.provider);
        model.clone_into(&mut self.model);
        self
    }

    /// Whether retrying the same request may succeed: throttling, unavailability (5xx, resets)
    /// and timeouts. Everything else fails the same way again.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ModelErrorKind::Throttled | ModelErrorKind::Unavailable | ModelErrorKind::Timeout)
    }

    /// Whether another model might succeed where this one failed (used by fallback): retryable
    /// errors, an open breaker, a local rate limit, or a model the provider does not have.
    pub fn allows_fallback(&self) -> bool {
        self.is_retryable()
            || matches!(
                self.kind,
                ModelErrorKind::CircuitOpen | ModelErrorKind::RateLimited | ModelErrorKind::ModelNotFound
            )
    }

    /// The closed code the HTTP layer maps to a status.
    pub fn code(&self) -> ErrorCode {
        match self.kind {
            ModelErrorKind::Throttled | ModelErrorKind::RateLimited => ErrorCode::RateLimited,
            ModelErrorKind::Unavailable | ModelErrorKind::Timeout | ModelErrorKind::CircuitOpen => {
                ErrorCode::Unavailable
            }
            ModelErrorKind::InvalidRequest | ModelErrorKind::UnknownModel => ErrorCode::InvalidInput,
            ModelErrorKind::Unauthorized => ErrorCode::AccessDenied,
            ModelErrorKind::ModelNotFound => ErrorCode::NotFound,
            ModelErrorKind::Unsupported | ModelErrorKind::NotConfigured => ErrorCode::NotSupported,
            ModelErrorKind::InvalidResponse | ModelErrorKind::Accounting => ErrorCode::Internal,
            ModelErrorKind::AllFailed => self.attempts.last().map(ModelError::code).unwrap_or(ErrorCode::Unavailable),
        }
    }
}

impl From<ModelSelectionError> for ModelError {
    fn from(error: ModelSelectionError) -> Self {
        Self::new(ModelErrorKind::UnknownModel, "", "", error.to_string())
    }
}

/// Result of the model layer.
pub type ModelResult<T> = Result<T, ModelError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_provider_model_and_attempts() {
        let first =
            ModelError::new(ModelErrorKind::Throttled, "bedrock", "claude-4.5-sonnet", "slow down").with_status(429);
        assert_eq!(first.to_string(), "throttled by provider bedrock/claude-4.5-sonnet (http 429): slow down");
        let second = ModelError::new(ModelErrorKind::Timeout, "bedrock", "qwen3", "after 2s");
        let mut all = ModelError::new(ModelErrorKind::AllFailed, "", "", "2 models tried");
        all.attempts = vec![first.clone(), second];
        let text = all.to_string();
        assert!(text.contains("attempt 1: throttled by provider bedrock/claude-4.5-sonnet"), "{text}");
        assert!(text.contains("attempt 2: timed out bedrock/qwen3"), "{text}");
        assert_eq!(all.code(), ErrorCode::Unavailable);
        assert!(first.is_retryable() && !ModelError::unsupported("local", "m", "video").is_retryable());
    }
}
