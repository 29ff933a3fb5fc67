//! Retries and the circuit breaker, in one place.
//!
//! Data-path retries run inside `object_store` with the policy built by
//! [`crate::BackendOptions`]'s `retry_config` (exponential backoff with jitter; 5xx, 429,
//! timeouts and connection errors only; capped in count and total time). Bucket administration
//! requests, which we send ourselves, retry here with the same policy. Every operation of the
//! storage service passes through its backend's [`CircuitBreaker`].

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aae_config::{CircuitBreakerConfig, RetryConfig};
use rand::Rng;

use crate::error::{StorageError, StorageErrorKind};

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow.
    Closed,
    /// Requests fail fast until the cooldown ends.
    Open,
    /// One trial request is in flight; its outcome closes or re-opens the breaker.
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    consecutive_failures: u32,
    opened_at: Option<Instant>,
}

/// A consecutive-failure circuit breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    name: String,
    threshold: u32,
    cooldown: Duration,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// A closed breaker for the backend called `name`.
    pub fn new(name: impl Into<String>, config: &CircuitBreakerConfig) -> Self {
        Self {
            name: name.into(),
            threshold: config.failure_threshold,
            cooldown: Duration::from_secs(config.cooldown_secs),
            inner: Mutex::new(Inner { state: BreakerState::Closed, consecutive_failures: 0, opened_at: None }),
        }
    }

    /// The current state (an open breaker whose cooldown has passed reports `HalfOpen`).
    pub fn state(&self) -> BreakerState {
        let Ok(inner) = self.inner.lock() else { return BreakerState::Closed };
        match (inner.state, inner.opened_at) {
            (BreakerState::Open, Some(at)) if at.elapsed() >= self.cooldown => BreakerState::HalfOpen,
            (state, _) => state,
        }
    }

    /// Asks to send a request: `Err` while open.
    pub fn acquire(&self) -> Result<(), StorageError> {
        if self.threshold == 0 {
            return Ok(());
        }
        let Ok(mut inner) = self.inner.lock() else { return Ok(()) };
        match inner.state {
            BreakerState::Closed => Ok(()),
            BreakerState::HalfOpen => Err(self.open_error(Duration::ZERO)),
            BreakerState::Open => {
                let elapsed = inner.opened_at.map_or(self.cooldown, |at| at.elapsed());
                if elapsed >= self.cooldown {
                    inner.state = BreakerState::HalfOpen;
                    tracing::info!(backend = %self.name, "circuit breaker half-open, sending a trial request");
                    Ok(())
                } else {
                    Err(self.open_error(self.cooldown - elapsed))
                }
            }
        }
    }

    fn open_error(&self, remaining: Duration) -> StorageError {
        StorageError::new(
            StorageErrorKind::Unavailable,
            format!(
                "circuit breaker for `{}` is open after repeated failures; retry in {} s",
                self.name,
                remaining.as_secs().max(1)
            ),
        )
    }

    /// Records the outcome of a request allowed by [`acquire`](Self::acquire). Only
    /// `Unavailable` errors count as failures: a missing object says nothing about health.
    pub fn record<T>(&self, result: &Result<T, StorageError>) {
        if self.threshold == 0 {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else { return };
        let failed = matches!(result, Err(e) if e.kind == StorageErrorKind::Unavailable);
        if failed {
            inner.consecutive_failures += 1;
            if inner.state == BreakerState::HalfOpen || inner.consecutive_failures >= self.threshold {
                if inner.state != BreakerState::Open {
                    tracing::warn!(backend = %self.name, failures = inner.consecutive_failures, "circuit breaker opened");
                }
                inner.state = BreakerState::Open;
                inner.opened_at = Some(Instant::now());
            }
        } else {
            if inner.state != BreakerState::Closed {
                tracing::info!(backend = %self.name, "circuit breaker closed");
            }
            inner.state = BreakerState::Closed;
            inner.consecutive_failures = 0;
            inner.opened_at = None;
        }
    }

    /// Runs `op` through the breaker.
    pub async fn call<T, F>(&self, op: F) -> Result<T, StorageError>
    where
        F: Future<Output = Result<T, StorageError>>,
    {
        self.acquire()?;
        let result = op.await;
        self.record(&result);
        result
    }
}

/// Backoff before retry `attempt` (1-based): full jitter over an exponentially growing cap.
pub(crate) fn backoff(policy: &RetryConfig, attempt: u32) -> Duration {
    let cap =
        policy.initial_backoff_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(20)).min(policy.max_backoff_ms);
    Duration::from_millis(rand::thread_rng().gen_range(cap / 2..=cap.max(1)))
}

/// Sends an HTTP request built by `send`, retrying transport errors, 5xx and 429 with backoff,
/// within the policy's count and time caps. Returns the final status and body.
pub(crate) async fn retry_request<F, Fut>(policy: &RetryConfig, mut send: F) -> Result<(u16, String), StorageError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(u16, String), reqwest::Error>>,
{
    let started = Instant::now();
    let deadline = Duration::from_secs(policy.retry_timeout_secs);
    let mut attempt = 0;
    loop {
        let outcome = send().await;
        let retryable = match &outcome {
            Ok((status, _)) => *status >= 500 || *status == 429,
            Err(e) => e.is_timeout() || e.is_connect() || e.is_request(),
        };
        if !retryable || attempt >= policy.max_retries || started.elapsed() >= deadline {
            return outcome.map_err(|e| {
                StorageError::new(
                    StorageErrorKind::Unavailable,
                    format!("request failed after {} attempts: {}", attempt + 1, e.without_url()),
                )
            });
        }
        attempt += 1;
        let wait = backoff(policy, attempt);
        tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, "retrying storage request");
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unavailable() -> Result<(), StorageError> {
        Err(StorageError::new(StorageErrorKind::Unavailable, "down"))
    }

    #[tokio::test]
    async fn opens_after_threshold_fails_fast_and_half_opens_after_cooldown() {
        let breaker = CircuitBreaker::new("test", &CircuitBreakerConfig { failure_threshold: 2, cooldown_secs: 1 });
        for _ in 0..2 {
            assert!(breaker.acquire().is_ok());
            breaker.record(&unavailable());
        }
        assert_eq!(breaker.state(), BreakerState::Open);
        let err = breaker.acquire().expect_err("open");
        assert!(err.to_string().contains("circuit breaker for `test` is open"), "{err}");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(breaker.acquire().is_ok(), "one trial request");
        assert!(breaker.acquire().is_err(), "only one trial at a time");
        breaker.record(&unavailable());
        assert_eq!(breaker.state(), BreakerState::Open, "failed trial re-opens");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert!(breaker.acquire().is_ok());
        breaker.record(&Ok::<(), StorageError>(()));
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn not_found_does_not_trip_the_breaker() {
        let breaker = CircuitBreaker::new("test", &CircuitBreakerConfig { failure_threshold: 1, cooldown_secs: 60 });
        breaker.record(&Err::<(), _>(StorageError::new(StorageErrorKind::NotFound, "")));
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryConfig { initial_backoff_ms: 100, max_backoff_ms: 1000, ..RetryConfig::default() };
        for _ in 0..50 {
            let first = backoff(&policy, 1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            assert!(backoff(&policy, 10) <= Duration::from_millis(1000));
        }
    }
}
