//! The one error type of the HTTP layer and its one mapping to status codes.

use aae_types::ErrorCode;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An API error: a closed code and a message safe to show the caller.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The kind.
    pub code: ErrorCode,
    /// What went wrong, for the caller; never internals.
    pub message: String,
}

impl ApiError {
    /// A new error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// The HTTP status of each error code. This is the only place that decides it.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::AccessDenied => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::NotSupported => StatusCode::NOT_IMPLEMENTED,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = if self.code == ErrorCode::Internal {
            tracing::error!(error = %self.message, "internal error");
            "internal error; see the server log for details".to_owned()
        } else {
            self.message
        };
        let body = json!({ "error": { "code": self.code.as_str(), "message": message } });
        (status_of(self.code), Json(body)).into_response()
    }
}

impl From<aae_storage::StorageError> for ApiError {
    fn from(error: aae_storage::StorageError) -> Self {
        if error.code() == ErrorCode::Internal {
            tracing::error!(%error, "storage error");
        }
        Self::new(error.code(), error.to_string())
    }
}
