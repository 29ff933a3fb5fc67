//! Errors of the `/v1/*` routes in OpenAI's shape: `{"error": {"message", "type", "param",
//! "code"}}`, which OpenAI SDKs turn into their typed exceptions. Every other route keeps
//! [`ApiError`]'s shape; this type is built from it so the status codes stay decided in one place
//! (`status_of`), with 402 added for exhausted credits.

use aae_types::ErrorCode;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;

/// An error of the OpenAI-compatible routes.
#[derive(Debug)]
pub struct GatewayError {
    /// HTTP status.
    pub status: StatusCode,
    /// OpenAI's `type`.
    pub kind: &'static str,
    /// OpenAI's `code`.
    pub code: Option<&'static str>,
    /// The request parameter at fault.
    pub param: Option<String>,
    /// What went wrong and how to fix it.
    pub message: String,
    /// Seconds after which a retry may succeed.
    pub retry_after: Option<u64>,
}

impl GatewayError {
    /// 400 about `param`.
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            code: Some("invalid_value"),
            param: Some(param.to_owned()),
            message: message.into(),
            retry_after: None,
        }
    }

    /// 404 for a model that does not exist or cannot be used here.
    pub fn model_not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            kind: "invalid_request_error",
            code: Some("model_not_found"),
            param: Some("model".to_owned()),
            message: message.into(),
            retry_after: None,
        }
    }

    /// 403 for a model the API key may not use.
    pub fn model_not_allowed(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            kind: "permission_error",
            code: Some("model_not_allowed"),
            param: Some("model".to_owned()),
            message: message.into(),
            retry_after: None,
        }
    }

    /// 402 when the caller's credits cannot cover the request.
    pub fn insufficient_credits(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::PAYMENT_REQUIRED,
            kind: "insufficient_quota",
            code: Some("insufficient_quota"),
            param: None,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}})
    }
}

impl From<ApiError> for GatewayError {
    fn from(error: ApiError) -> Self {
        let status = error.status();
        let (kind, code) = match error.code {
            ErrorCode::InvalidInput => ("invalid_request_error", None),
            ErrorCode::Unauthenticated => ("invalid_request_error", Some("invalid_api_key")),
            ErrorCode::AccessDenied => ("permission_error", None),
            ErrorCode::NotFound => ("invalid_request_error", Some("not_found")),
            ErrorCode::Conflict => ("invalid_request_error", Some("conflict")),
            ErrorCode::PayloadTooLarge => ("invalid_request_error", Some("payload_too_large")),
            ErrorCode::RateLimited => ("rate_limit_error", Some("rate_limit_exceeded")),
            ErrorCode::Unavailable => ("server_error", Some("unavailable")),
            ErrorCode::NotSupported => ("invalid_request_error", Some("not_supported")),
            ErrorCode::Internal => ("server_error", None),
        };
        let message = if error.code == ErrorCode::Internal {
            tracing::error!(error = %error.message, "internal error");
            "internal error; see the server log for details".to_owned()
        } else {
            error.message
        };
        Self { status, kind, code, param: None, message, retry_after: error.retry_after }
    }
}

impl From<aae_models::ModelError> for GatewayError {
    fn from(error: aae_models::ModelError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<aae_store::StoreError> for GatewayError {
    fn from(error: aae_store::StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        crate::metrics::count_error(match self.status {
            StatusCode::PAYMENT_REQUIRED | StatusCode::FORBIDDEN => ErrorCode::AccessDenied,
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
            StatusCode::UNAUTHORIZED => ErrorCode::Unauthenticated,
            StatusCode::INTERNAL_SERVER_ERROR => ErrorCode::Internal,
            s if s.is_server_error() => ErrorCode::Unavailable,
            _ => ErrorCode::InvalidInput,
        });
        let mut response = (self.status, Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}
