//! HTTP plumbing shared by the REST providers: one client per provider, errors mapped to
//! [`ModelError`] kinds (429 → throttled with `Retry-After`, 5xx and connection failures →
//! unavailable, timeouts → timeout), and the provider's error text extracted without echoing
//! the request (which may carry a key).

use std::time::Duration;

use reqwest::{Response, StatusCode};

use crate::error::{ModelError, ModelErrorKind};

/// A client without its own retries or overall timeout (the router applies per-request
/// timeouts and is the only retry layer); connecting is capped at 10 s.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Maps a transport error.
pub(crate) fn transport_error(provider: &str, model: &str, error: &reqwest::Error) -> ModelError {
    let kind = if error.is_timeout() { ModelErrorKind::Timeout } else { ModelErrorKind::Unavailable };
    let what = if error.is_connect() {
        "cannot connect"
    } else if error.is_timeout() {
        "no answer in time"
    } else if error.is_decode() || error.is_body() {
        "connection failed while reading the reply"
    } else {
        "request failed"
    };
    // reqwest's Display includes the URL, which never carries a key here (keys go in headers).
    ModelError::new(kind, provider, model, format!("{what}: {}", error_chain(error)))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Turns a non-success response into an error carrying status, `Retry-After` and the
/// provider's own message.
pub(crate) async fn status_error(provider: &str, model: &str, response: Response) -> ModelError {
    let status = response.status();
    let retry_after = retry_after(&response);
    let body = response.text().await.unwrap_or_default();
    let message =
        provider_message(&body).unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_lowercase());
    let kind = match status {
        StatusCode::TOO_MANY_REQUESTS => ModelErrorKind::Throttled,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ModelErrorKind::Unauthorized,
        StatusCode::NOT_FOUND => ModelErrorKind::ModelNotFound,
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => ModelErrorKind::Timeout,
        s if s.is_server_error() => ModelErrorKind::Unavailable,
        _ => ModelErrorKind::InvalidRequest,
    };
    ModelError::new(kind, provider, model, message).with_status(status.as_u16()).with_retry_after(retry_after)
}

/// `Retry-After` as seconds (HTTP dates are ignored), or OpenAI's `retry-after-ms`.
pub(crate) fn retry_after(response: &Response) -> Option<Duration> {
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Some(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    header("retry-after").and_then(|v| v.parse::<f64>().ok()).map(|s| Duration::from_secs_f64(s.max(0.0)))
}

/// `{"error": {"message": …}}` (OpenAI and Gemini both use it), else a short prefix of the body.
fn provider_message(body: &str) -> Option<String> {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return None;
    }
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(trimmed) {
        let error = value.get("error").unwrap_or(&value);
        if let Some(message) = error.get("message").and_then(|m| m.as_str()).or_else(|| error.as_str()) {
            return Some(truncate(message));
        }
    }
    Some(truncate(trimmed))
}

fn truncate(text: &str) -> String {
    const MAX: usize = 300;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
