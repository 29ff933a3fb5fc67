//! SageMaker runtime and S3 failures mapped to [`ModelError`] kinds:
//! - throttling (`ThrottlingException`, HTTP 429) → throttled, with `Retry-After` when sent;
//! - `ServiceUnavailable`, `InternalFailure`, `InternalDependencyException`,
//!   `ModelNotReadyException`, other 5xx, connection failures → unavailable; timeouts → timeout;
//! - `ValidationError` → invalid request, except "endpoint … not found" (and HTTP 404) → model
//!   not found; `ModelError` (the container answered an error) → invalid request for a 4xx from
//!   the container, throttled for its 429, unavailable for its 5xx;
//! - access denied, bad signatures, unknown or expired keys (401/403) → unauthorized.
//!
//! Messages carry the AWS error code and message, never a credential or a signature.

use std::time::Duration;

use aae_storage::{StorageError, StorageErrorKind};
use aws_sdk_sagemakerruntime::config::http::HttpResponse;
use aws_sdk_sagemakerruntime::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sagemakerruntime::operation::invoke_endpoint::InvokeEndpointError;
use aws_sdk_sagemakerruntime::operation::invoke_endpoint_async::InvokeEndpointAsyncError;

use super::NAME;
use crate::error::{ModelError, ModelErrorKind};

/// An `InvokeEndpoint` failure.
pub(super) fn invoke_error(model: &str, error: SdkError<InvokeEndpointError, HttpResponse>) -> ModelError {
    sdk_error(model, error, |e| match e {
        InvokeEndpointError::ModelError(inner) => inner.original_status_code(),
        _ => None,
    })
}

/// An `InvokeEndpointAsync` failure.
pub(super) fn async_error(model: &str, error: SdkError<InvokeEndpointAsyncError, HttpResponse>) -> ModelError {
    sdk_error(model, error, |_| None)
}

fn sdk_error<E>(
    model: &str,
    error: SdkError<E, HttpResponse>,
    original_status: impl Fn(&E) -> Option<i32>,
) -> ModelError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let context = DisplayErrorContext(&error).to_string();
    match &error {
        SdkError::ServiceError(service) => {
            let raw = service.raw();
            let status = raw.status().as_u16();
            let code = service.err().code().unwrap_or("");
            let message = service.err().message().unwrap_or("");
            let retry_after = raw
                .headers()
                .get("retry-after")
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|s| Duration::from_secs_f64(s.max(0.0)));
            let kind = classify(code, status, message, original_status(service.err()));
            let text = match (code.is_empty(), message.is_empty()) {
                (true, true) => format!("sagemaker answered http {status}"),
                (false, true) => code.to_owned(),
                (true, false) => message.to_owned(),
                (false, false) => format!("{code}: {message}"),
            };
            ModelError::new(kind, NAME, model, truncate(&text, 400)).with_status(status).with_retry_after(retry_after)
        }
        SdkError::TimeoutError(_) => {
            ModelError::new(ModelErrorKind::Timeout, NAME, model, "no answer from sagemaker in time")
        }
        SdkError::DispatchFailure(failure) => {
            let kind = if failure.is_timeout() { ModelErrorKind::Timeout } else { ModelErrorKind::Unavailable };
            ModelError::new(kind, NAME, model, format!("cannot reach sagemaker: {}", truncate(&context, 400)))
        }
        SdkError::ResponseError(_) => ModelError::new(
            ModelErrorKind::Unavailable,
            NAME,
            model,
            format!("sagemaker reply could not be read: {}", truncate(&context, 400)),
        ),
        SdkError::ConstructionFailure(_) => ModelError::new(
            ModelErrorKind::InvalidRequest,
            NAME,
            model,
            format!("the request could not be built: {}", truncate(&context, 400)),
        ),
        _ => ModelError::new(ModelErrorKind::Unavailable, NAME, model, truncate(&context, 400)),
    }
}

/// The kind of a service error from its AWS code, HTTP status, message and, for `ModelError`,
/// the status the container answered.
pub(super) fn classify(code: &str, status: u16, message: &str, original_status: Option<i32>) -> ModelErrorKind {
    let lower = message.to_ascii_lowercase();
    match code {
        "ThrottlingException" | "ThrottledException" | "TooManyRequestsException" => ModelErrorKind::Throttled,
        "ModelNotReadyException" | "ServiceUnavailable" | "InternalFailure" | "InternalDependencyException" => {
            ModelErrorKind::Unavailable
        }
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "ExpiredTokenException" => ModelErrorKind::Unauthorized,
        "ValidationError" if lower.contains("endpoint") && lower.contains("not found") => ModelErrorKind::ModelNotFound,
        "ModelError" => match original_status {
            Some(429) => ModelErrorKind::Throttled,
            Some(s) if s >= 500 => ModelErrorKind::Unavailable,
            _ => ModelErrorKind::InvalidRequest,
        },
        _ => match status {
            429 => ModelErrorKind::Throttled,
            401 | 403 => ModelErrorKind::Unauthorized,
            404 => ModelErrorKind::ModelNotFound,
            408 | 504 => ModelErrorKind::Timeout,
            s if s >= 500 => ModelErrorKind::Unavailable,
            _ => ModelErrorKind::InvalidRequest,
        },
    }
}

/// An S3 failure while reading or writing `location` (`s3://bucket/key`).
pub(super) fn storage_error(model: &str, what: &str, location: &str, error: &StorageError) -> ModelError {
    let kind = match error.kind {
        StorageErrorKind::AccessDenied => ModelErrorKind::Unauthorized,
        StorageErrorKind::NoSuchBucket | StorageErrorKind::InvalidKey | StorageErrorKind::InvalidInput => {
            ModelErrorKind::InvalidRequest
        }
        _ => ModelErrorKind::Unavailable,
    };
    ModelError::new(kind, NAME, model, format!("{what} {location}: {error}"))
}

/// At most `max` bytes of `text` (on a character boundary), with `…` when cut.
pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_codes_map_to_kinds() {
        use ModelErrorKind as K;
        let cases = [
            ("ThrottlingException", 400, "rate exceeded", None, K::Throttled),
            ("", 429, "", None, K::Throttled),
            ("ModelNotReadyException", 429, "loading", None, K::Unavailable),
            ("ServiceUnavailable", 503, "", None, K::Unavailable),
            ("InternalFailure", 500, "", None, K::Unavailable),
            ("ValidationError", 400, "Endpoint x of account 1 not found.", None, K::ModelNotFound),
            ("ValidationError", 400, "1 validation error detected", None, K::InvalidRequest),
            ("ModelError", 424, "bad input", Some(400), K::InvalidRequest),
            ("ModelError", 424, "oom", Some(500), K::Unavailable),
            ("AccessDeniedException", 403, "", None, K::Unauthorized),
            ("InvalidSignatureException", 403, "", None, K::Unauthorized),
            ("", 404, "", None, K::ModelNotFound),
            ("", 504, "", None, K::Timeout),
        ];
        for (code, status, message, original, want) in cases {
            assert_eq!(classify(code, status, message, original), want, "{code} {status}");
        }
        assert_eq!(truncate("ééé", 3), "é…");
    }
}
