//! The one error type of the HTTP layer and its one mapping to status codes.

use aae_types::ErrorCode;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// An API error: a closed code and a message safe to show the caller.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The kind.
    pub code: ErrorCode,
    /// What went wrong, for the caller; never internals.
    pub message: String,
    /// Seconds after which a retry may succeed (`Retry-After`).
    pub retry_after: Option<u64>,
    /// A status other than the code's own (422 for a valid request naming an unknown choice).
    pub status: Option<StatusCode>,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// One of `invalid_input`, `unauthenticated`, `access_denied`, `not_found`, `conflict`,
    /// `payload_too_large`, `rate_limited`, `unavailable`, `not_supported`, `internal`.
    pub code: String,
    /// What went wrong and how to fix it.
    pub message: String,
}

impl ApiError {
    /// A new error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after: None, status: None }
    }

    /// `invalid_input` (400).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    /// A valid request naming something that cannot be chosen (422).
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self { status: Some(StatusCode::UNPROCESSABLE_ENTITY), ..Self::new(ErrorCode::InvalidInput, message) }
    }

    /// `unauthenticated` (401).
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    /// `not_found` (404).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// `access_denied` (403).
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::AccessDenied, message)
    }

    /// `internal` (500); the message is logged, never returned.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or_else(|| status_of(self.code))
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
        let status = self.status();
        let message = if self.code == ErrorCode::Internal {
            tracing::error!(error = %self.message, "internal error");
            "internal error; see the server log for details".to_owned()
        } else {
            self.message
        };
        crate::metrics::count_error(self.code);
        let body = json!({ "error": { "code": self.code.as_str(), "message": message } });
        let mut response = (status, Json(body)).into_response();
        if self.code == ErrorCode::Unauthenticated {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
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

impl From<aae_store::StoreError> for ApiError {
    fn from(error: aae_store::StoreError) -> Self {
        match error.code() {
            ErrorCode::Internal => Self::internal(error.to_string()),
            // The database's own words stay in the log.
            ErrorCode::Unavailable => {
                tracing::warn!(%error, "records unavailable");
                Self::new(ErrorCode::Unavailable, "the database is unavailable; retry shortly")
            }
            code => Self::new(code, error.to_string()),
        }
    }
}

impl From<aae_jobs::campaigns::CampaignOpError> for ApiError {
    fn from(error: aae_jobs::campaigns::CampaignOpError) -> Self {
        use aae_jobs::campaigns::CampaignOpError;
        match error {
            CampaignOpError::Store(e) => e.into(),
            CampaignOpError::Storage(e) => e.into(),
            other => Self::new(other.code(), other.to_string()),
        }
    }
}

impl From<aae_models::ModelError> for ApiError {
    fn from(error: aae_models::ModelError) -> Self {
        // An internal error's message is logged, not returned, by `into_response`.
        Self::new(error.code(), error.to_string())
    }
}

/// A JSON body that failed to parse, answered as `invalid_input` with serde's precise message.
impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        use axum::extract::rejection::JsonRejection;
        match rejection {
            JsonRejection::MissingJsonContentType(_) => {
                Self::invalid("send the body as JSON with the header content-type: application/json")
            }
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(ErrorCode::PayloadTooLarge, "the request body is larger than this route accepts")
            }
            other => Self::invalid(format!("invalid JSON body: {}", other.body_text())),
        }
    }
}
