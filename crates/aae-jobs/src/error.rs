//! [`JobError`]: how a handler says its run failed, and whether another attempt can help.

use serde_json::{Value, json};

/// A failed run of a job handler.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JobError {
    /// Another attempt may succeed (a timeout, a provider outage): the job is queued again after
    /// the configured backoff, until it runs out of attempts.
    #[error("{message}")]
    Retryable {
        /// What went wrong, lowercase.
        message: String,
        /// Structured details stored in `error_info.details`.
        details: Option<Value>,
    },
    /// No attempt can succeed (invalid configuration, a missing input): the job fails now.
    #[error("{message}")]
    Permanent {
        /// What went wrong, lowercase.
        message: String,
        /// Structured details stored in `error_info.details`.
        details: Option<Value>,
    },
    /// The handler stopped because its cancellation token fired (job cancelled, lease lost, or
    /// the worker shutting down). The worker records nothing for it.
    #[error("job run cancelled")]
    Cancelled,
}

impl JobError {
    /// A retryable error.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self::Retryable { message: message.into(), details: None }
    }

    /// A permanent error.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent { message: message.into(), details: None }
    }

    /// The same error with structured details.
    pub fn with_details(self, value: Value) -> Self {
        match self {
            Self::Retryable { message, .. } => Self::Retryable { message, details: Some(value) },
            Self::Permanent { message, .. } => Self::Permanent { message, details: Some(value) },
            Self::Cancelled => Self::Cancelled,
        }
    }

    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }

    /// The `error_info` stored on the job for this error.
    pub(crate) fn error_info(&self, worker_id: &str, attempt: i32) -> Value {
        let (kind, message, details) = match self {
            Self::Retryable { message, details } => ("retryable", message.as_str(), details),
            Self::Permanent { message, details } => ("permanent", message.as_str(), details),
            Self::Cancelled => ("cancelled", "job run cancelled", &None),
        };
        let mut info = json!({"error": message, "kind": kind, "attempt": attempt, "worker": worker_id});
        if let (Some(details), Some(map)) = (details, info.as_object_mut()) {
            map.insert("details".into(), details.clone());
        }
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_info_names_the_kind_attempt_and_worker() {
        let error = JobError::permanent("topic is empty").with_details(json!({"field": "topic"}));
        assert!(!error.is_retryable());
        assert_eq!(
            error.error_info("h:1:0", 2),
            json!({"error": "topic is empty", "kind": "permanent", "attempt": 2, "worker": "h:1:0",
                   "details": {"field": "topic"}})
        );
        assert!(JobError::retryable("timeout").is_retryable());
        assert_eq!(JobError::retryable("timeout").error_info("w", 1)["kind"], "retryable");
    }
}
