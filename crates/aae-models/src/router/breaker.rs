//! A circuit breaker per provider and model. `failure_threshold` failed calls in a row (each
//! after its retries, and only failures a retry could have fixed: throttling, 5xx, timeouts,
//! resets) open it; while open, calls fail at once as [`ModelErrorKind::CircuitOpen`] (so
//! fallback moves on without waiting). After `cooldown` one trial call is let through: success
//! closes the breaker, failure opens it for another cooldown.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aae_config::BreakerConfig;

use crate::error::{ModelError, ModelErrorKind};

#[derive(Debug, Clone, Copy)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// Breakers keyed by `provider/model`.
#[derive(Debug)]
pub struct CircuitBreakers {
    threshold: u32,
    cooldown: Duration,
    states: Mutex<HashMap<String, State>>,
}

impl CircuitBreakers {
    /// Breakers from `router.breaker`.
    pub fn from_config(config: &BreakerConfig) -> Self {
        Self {
            threshold: config.failure_threshold,
            cooldown: Duration::from_secs(config.cooldown_secs),
            states: Mutex::new(HashMap::new()),
        }
    }

    /// Breakers with an explicit cooldown (tests use milliseconds).
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self { threshold, cooldown, states: Mutex::new(HashMap::new()) }
    }

    /// Whether a call to `key` may go ahead; an open breaker answers `CircuitOpen` with the time
    /// left. The first call after the cooldown is the trial; others wait for its outcome.
    pub fn check(&self, key: &str) -> Result<(), ModelError> {
        if self.threshold == 0 {
            return Ok(());
        }
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        let state = states.entry(key.to_owned()).or_insert(State::Closed { failures: 0 });
        let now = Instant::now();
        match *state {
            State::Closed { .. } => Ok(()),
            State::Open { until } if now >= until => {
                *state = State::HalfOpen;
                Ok(())
            }
            State::Open { until } => Err(open_error(key, until - now)),
            State::HalfOpen => Err(open_error(key, Duration::ZERO)),
        }
    }

    /// Records the outcome of a call that [`check`](Self::check) let through.
    pub fn record(&self, key: &str, outcome: Result<(), &ModelError>) {
        if self.threshold == 0 {
            return;
        }
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        let state = states.entry(key.to_owned()).or_insert(State::Closed { failures: 0 });
        *state = match outcome {
            Ok(()) => State::Closed { failures: 0 },
            // A caller error says nothing about the model's health; a trial that ends in one
            // lets the next call try again.
            Err(error) if !error.is_retryable() => match *state {
                State::HalfOpen => State::Closed { failures: 0 },
                other => other,
            },
            Err(_) => match *state {
                State::Closed { failures } if failures + 1 < self.threshold => State::Closed { failures: failures + 1 },
                _ => {
                    tracing::warn!(model = key, cooldown_secs = self.cooldown.as_secs(), "circuit breaker opened");
                    State::Open { until: Instant::now() + self.cooldown }
                }
            },
        };
    }
}

fn open_error(key: &str, left: Duration) -> ModelError {
    let (provider, model) = key.split_once('/').unwrap_or((key, ""));
    let message = if left.is_zero() {
        "a trial request is in flight after repeated failures".to_owned()
    } else {
        format!("repeated failures; next attempt allowed in {} ms", left.as_millis())
    };
    ModelError::new(ModelErrorKind::CircuitOpen, provider, model, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_recovers_after_the_cooldown() {
        let breakers = CircuitBreakers::new(2, Duration::from_millis(30));
        let failure = ModelError::new(ModelErrorKind::Unavailable, "bedrock", "qwen3", "503");
        let key = "bedrock/qwen3";
        breakers.check(key).unwrap();
        breakers.record(key, Err(&failure));
        breakers.check(key).unwrap();
        breakers.record(key, Err(&failure));
        let error = breakers.check(key).unwrap_err();
        assert_eq!(error.kind, ModelErrorKind::CircuitOpen);
        assert!(error.to_string().contains("bedrock/qwen3"), "{error}");
        let invalid = ModelError::new(ModelErrorKind::InvalidRequest, "bedrock", "claude", "400");
        breakers.record("bedrock/claude", Err(&invalid));
        breakers.record("bedrock/claude", Err(&invalid));
        breakers.check("bedrock/claude").expect("caller errors do not open the breaker");
        std::thread::sleep(Duration::from_millis(40));
        breakers.check(key).expect("trial after the cooldown");
        assert!(breakers.check(key).is_err(), "one trial at a time");
        breakers.record(key, Ok(()));
        breakers.check(key).expect("closed again");
    }
}
