//! Bedrock's errors → [`ModelError`] kinds (the table is in the parent module's docs). The
//! AWS error code comes from the `x-amzn-ErrorType` header or the body's `__type`, through
//! [`ProvideErrorMetadata`]; the HTTP status from the raw response. Messages carry the code and
//! Bedrock's message, never credentials.

use std::time::Duration;

use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};

use super::NAME;
use crate::error::{ModelError, ModelErrorKind};

/// Maps an SDK error of one operation (see the module docs).
pub(super) fn sdk_error<E>(model_id: &str, wire_id: &str, error: &SdkError<E>) -> ModelError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut mapped = match error {
        SdkError::ServiceError(context) => {
            let raw = context.raw();
            let retry_after = raw
                .headers()
                .get("retry-after")
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|s| Duration::from_secs_f64(s.max(0.0)));
            let code = error.code().unwrap_or("");
            let message = error.message().unwrap_or("");
            service_error(model_id, code, message, Some(raw.status().as_u16())).with_retry_after(retry_after)
        }
        other => transport_error(model_id, other),
    };
    if wire_id != model_id {
        mapped.message = format!("{} (sent as bedrock model id `{wire_id}`)", mapped.message);
    }
    mapped
}

/// An error Bedrock answered with its code, message and (outside streams) HTTP status.
pub(super) fn service_error(model_id: &str, code: &str, message: &str, status: Option<u16>) -> ModelError {
    let by_code = match code {
        "ThrottlingException" | "ServiceQuotaExceededException" | "TooManyRequestsException" => {
            Some(ModelErrorKind::Throttled)
        }
        "ServiceUnavailableException"
        | "InternalServerException"
        | "ModelNotReadyException"
        | "ModelErrorException" => Some(ModelErrorKind::Unavailable),
        "ModelTimeoutException" => Some(ModelErrorKind::Timeout),
        "ResourceNotFoundException" => Some(ModelErrorKind::ModelNotFound),
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "MissingAuthenticationTokenException" => Some(ModelErrorKind::Unauthorized),
        "ValidationException" if message.to_lowercase().contains("model identifier is invalid") => {
            Some(ModelErrorKind::ModelNotFound)
        }
        "ValidationException" => Some(ModelErrorKind::InvalidRequest),
        _ => None,
    };
    let kind = by_code.unwrap_or(match status {
        Some(429) => ModelErrorKind::Throttled,
        Some(408 | 504) => ModelErrorKind::Timeout,
        Some(401 | 403) => ModelErrorKind::Unauthorized,
        Some(404) => ModelErrorKind::ModelNotFound,
        Some(s) if s >= 500 => ModelErrorKind::Unavailable,
        _ => ModelErrorKind::InvalidRequest,
    });
    let code = if code.is_empty() { "error" } else { code };
    let text = if message.is_empty() { code.to_owned() } else { format!("{code}: {message}") };
    let error = ModelError::new(kind, NAME, model_id, text);
    match status {
        Some(status) => error.with_status(status),
        None => error,
    }
}

/// An error without an answer from Bedrock: no connection, a timeout, a broken reply, or no
/// usable credentials.
pub(super) fn transport_error<E, R>(model_id: &str, error: &SdkError<E, R>) -> ModelError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let details = aae_types::error_chain(error);
    let (kind, what) = match error {
        SdkError::TimeoutError(_) => (ModelErrorKind::Timeout, "no answer in time"),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => (ModelErrorKind::Timeout, "no answer in time"),
        _ if details.contains("credential") || details.contains("identity") => {
            (ModelErrorKind::Unauthorized, "no usable aws credentials for bedrock")
        }
        SdkError::DispatchFailure(_) => (ModelErrorKind::Unavailable, "cannot reach bedrock"),
        SdkError::ResponseError(_) => (ModelErrorKind::Unavailable, "connection failed while reading the reply"),
        SdkError::ConstructionFailure(_) => (ModelErrorKind::InvalidRequest, "could not build the request"),
        _ => (ModelErrorKind::Unavailable, "request failed"),
    };
    ModelError::new(kind, NAME, model_id, format!("{what}: {details}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_error_codes_map_to_kinds() {
        let kind = |code: &str, status| service_error("m", code, "", status).kind;
        assert_eq!(kind("ThrottlingException", Some(429)), ModelErrorKind::Throttled);
        assert_eq!(kind("ServiceQuotaExceededException", Some(400)), ModelErrorKind::Throttled);
        assert_eq!(kind("ModelNotReadyException", Some(429)), ModelErrorKind::Unavailable);
        assert_eq!(kind("", Some(429)), ModelErrorKind::Throttled);
        assert_eq!(kind("ServiceUnavailableException", Some(503)), ModelErrorKind::Unavailable);
        assert_eq!(kind("", Some(502)), ModelErrorKind::Unavailable);
        assert_eq!(kind("ModelTimeoutException", Some(408)), ModelErrorKind::Timeout);
        assert_eq!(kind("ValidationException", Some(400)), ModelErrorKind::InvalidRequest);
        assert_eq!(kind("AccessDeniedException", Some(403)), ModelErrorKind::Unauthorized);
        assert_eq!(kind("ResourceNotFoundException", Some(404)), ModelErrorKind::ModelNotFound);
        let unknown = service_error("m", "ValidationException", "The provided model identifier is invalid.", Some(400));
        assert_eq!(unknown.kind, ModelErrorKind::ModelNotFound);
        assert_eq!(
            unknown.to_string(),
            "model not found bedrock/m (http 400): ValidationException: The provided model identifier is invalid."
        );
    }
}
