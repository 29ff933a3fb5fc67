//! The only retry layer for model calls (HOUSE_STYLE rule 10). Only errors that say
//! [`ModelError::is_retryable`] (throttling, 5xx, timeouts, connection resets) are retried, with
//! exponential backoff and jitter; a provider's `Retry-After` replaces the computed backoff; no
//! retry starts once the total deadline would be passed. Each attempt is bounded by the
//! per-request timeout (Property 9).

use std::future::Future;
use std::time::{Duration, Instant};

use aae_config::ModelRetryConfig;
use rand::Rng;

use crate::error::{ModelError, ModelErrorKind};

/// When and how often to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff; doubled each retry.
    pub initial_backoff: Duration,
    /// Cap on one computed backoff.
    pub max_backoff: Duration,
    /// Cap on the whole call, retries and waits included.
    pub deadline: Duration,
    /// Timeout of one attempt.
    pub request_timeout: Duration,
}

impl RetryPolicy {
    /// The policy from `router.retry` and `router.request_timeout_secs`.
    pub fn from_config(config: &ModelRetryConfig, request_timeout: Duration) -> Self {
        Self {
            max_retries: config.max_retries,
            initial_backoff: Duration::from_millis(config.initial_backoff_ms),
            max_backoff: Duration::from_millis(config.max_backoff_ms),
            deadline: Duration::from_secs(config.deadline_secs),
            request_timeout,
        }
    }

    /// The wait before retry number `retry` (0-based): `initial × 2^retry` capped at
    /// `max_backoff`, then a random point in its upper half ("equal jitter"), unless the provider
    /// said how long to wait.
    pub fn backoff(&self, retry: u32, error: &ModelError) -> Duration {
        if let Some(wait) = error.retry_after {
            return wait;
        }
        let exp = self.initial_backoff.saturating_mul(2u32.saturating_pow(retry.min(20)));
        let capped = exp.min(self.max_backoff);
        let half = capped / 2;
        let jitter_ms = rand::thread_rng().gen_range(0..=half.as_millis().max(1) as u64);
        half + Duration::from_millis(jitter_ms)
    }

    /// Runs `attempt` until it succeeds, fails with a non-retryable error, runs out of retries or
    /// would pass the deadline. Each attempt is cut at the per-request timeout (or what is left of
    /// the deadline, when less) and then fails as [`ModelErrorKind::Timeout`]. The final error
    /// says how many attempts were made.
    pub async fn run<T, F, Fut>(&self, provider: &str, model: &str, mut attempt: F) -> Result<T, ModelError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, ModelError>>,
    {
        let start = Instant::now();
        let mut number = 0u32;
        loop {
            let left = self.deadline.saturating_sub(start.elapsed());
            let limit = self.request_timeout.min(left);
            let result = match tokio::time::timeout(limit, attempt(number)).await {
                Ok(result) => result,
                Err(_) => Err(ModelError::new(
                    ModelErrorKind::Timeout,
                    provider,
                    model,
                    format!("no complete answer within {} ms", limit.as_millis()),
                )),
            };
            let error = match result {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let made = number + 1;
            if !error.is_retryable() {
                return Err(error);
            }
            if number >= self.max_retries {
                return Err(gave_up(error, made, "retries exhausted"));
            }
            let wait = self.backoff(number, &error);
            if start.elapsed() + wait >= self.deadline {
                return Err(gave_up(error, made, "retry deadline reached"));
            }
            tracing::warn!(
                provider,
                model,
                attempt = made,
                wait_ms = wait.as_millis() as u64,
                error = %error,
                "model request failed, retrying"
            );
            tokio::time::sleep(wait).await;
            number += 1;
        }
    }
}

fn gave_up(mut error: ModelError, attempts: u32, why: &str) -> ModelError {
    let suffix = format!("{why} after {attempts} attempt{}", if attempts == 1 { "" } else { "s" });
    error.message = if error.message.is_empty() { suffix } else { format!("{}; {suffix}", error.message) };
    error
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
            deadline: Duration::from_secs(5),
            request_timeout: Duration::from_millis(50),
        }
    }

    #[tokio::test]
    async fn retryable_errors_are_retried_and_others_are_not() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = policy()
            .run("p", "m", |_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(ModelError::new(ModelErrorKind::Unavailable, "p", "m", "boom").with_status(503))
            })
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert!(result.unwrap_err().message.contains("retries exhausted after 4 attempts"));
        calls.store(0, Ordering::SeqCst);
        let result: Result<(), _> = policy()
            .run("p", "m", |_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(ModelError::new(ModelErrorKind::InvalidRequest, "p", "m", "bad").with_status(400))
            })
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(result.unwrap_err().kind, ModelErrorKind::InvalidRequest);
    }

    #[tokio::test]
    async fn a_hanging_attempt_times_out() {
        let started = Instant::now();
        let result: Result<(), _> = policy().run("p", "m", |_| std::future::pending()).await;
        let error = result.unwrap_err();
        assert_eq!(error.kind, ModelErrorKind::Timeout);
        assert!(started.elapsed() < Duration::from_millis(1_000), "{:?}", started.elapsed());
    }

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let policy = policy();
        let error = ModelError::new(ModelErrorKind::Unavailable, "p", "m", "");
        for retry in 0..10 {
            let wait = policy.backoff(retry, &error);
            assert!(wait <= policy.max_backoff, "{wait:?}");
        }
        let throttled = error.with_retry_after(Some(Duration::from_secs(2)));
        assert_eq!(policy.backoff(0, &throttled), Duration::from_secs(2));
    }
}
