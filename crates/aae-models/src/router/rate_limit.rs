//! Token buckets per provider and model (seed 000 "token bucket algorithm"): one for requests
//! per minute, one for tokens per minute. A request takes one request and its estimated tokens;
//! when a bucket is short it waits for the refill up to `max_wait`, then fails as
//! [`ModelErrorKind::RateLimited`] naming the limit. Real token counts settle the estimate
//! afterwards (a bucket may go into debt, which delays the next requests).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aae_config::{LimitsConfig, ModelLimits};

use crate::error::{ModelError, ModelErrorKind};

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    tokens: f64,
    per_second: f64,
    last: Instant,
}

impl Bucket {
    fn per_minute(limit: u64) -> Option<Self> {
        (limit > 0).then(|| Self {
            capacity: limit as f64,
            tokens: limit as f64,
            per_second: limit as f64 / 60.0,
            last: Instant::now(),
        })
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = now;
    }

    /// How long until `amount` is available (zero when it is).
    fn wait_for(&self, amount: f64) -> Duration {
        let missing = amount.min(self.capacity) - self.tokens;
        if missing <= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(missing / self.per_second) }
    }
}

#[derive(Debug)]
struct Buckets {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    limits: ModelLimits,
}

/// The token buckets of every model.
#[derive(Debug)]
pub struct RateLimiter {
    default: ModelLimits,
    overrides: BTreeMap<String, ModelLimits>,
    max_wait: Duration,
    buckets: Mutex<HashMap<String, Buckets>>,
}

impl RateLimiter {
    /// Limits from `router.limits`.
    pub fn from_config(config: &LimitsConfig) -> Self {
        Self {
            default: ModelLimits {
                requests_per_minute: config.requests_per_minute,
                tokens_per_minute: config.tokens_per_minute,
            },
            overrides: config.models.clone(),
            max_wait: Duration::from_millis(config.max_wait_ms),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request and `tokens` estimated tokens from the buckets of `key`
    /// (`provider/model`), waiting up to `max_wait` for them.
    pub async fn acquire(&self, key: &str, tokens: u64) -> Result<(), ModelError> {
        let started = Instant::now();
        loop {
            let (wait, which, limit) = {
                let mut all = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
                let buckets = all.entry(key.to_owned()).or_insert_with(|| {
                    let limits = self.overrides.get(key).copied().unwrap_or(self.default);
                    Buckets {
                        requests: Bucket::per_minute(u64::from(limits.requests_per_minute)),
                        tokens: Bucket::per_minute(limits.tokens_per_minute),
                        limits,
                    }
                });
                let now = Instant::now();
                let mut wait = Duration::ZERO;
                let mut which = "";
                let mut limit = 0;
                if let Some(bucket) = &mut buckets.requests {
                    bucket.refill(now);
                    wait = bucket.wait_for(1.0);
                    which = "requests per minute";
                    limit = u64::from(buckets.limits.requests_per_minute);
                }
                if let Some(bucket) = &mut buckets.tokens {
                    bucket.refill(now);
                    let token_wait = bucket.wait_for(tokens as f64);
                    if token_wait > wait {
                        wait = token_wait;
                        which = "tokens per minute";
                        limit = buckets.limits.tokens_per_minute;
                    }
                }
                if wait.is_zero() {
                    if let Some(bucket) = &mut buckets.requests {
                        bucket.tokens -= 1.0;
                    }
                    if let Some(bucket) = &mut buckets.tokens {
                        bucket.tokens -= (tokens as f64).min(bucket.capacity);
                    }
                    return Ok(());
                }
                (wait, which, limit)
            };
            if started.elapsed() + wait > self.max_wait {
                let (provider, model) = key.split_once('/').unwrap_or((key, ""));
                return Err(ModelError::new(
                    ModelErrorKind::RateLimited,
                    provider,
                    model,
                    format!(
                        "limit of {limit} {which} reached; waited {} ms, next capacity in {} ms",
                        started.elapsed().as_millis(),
                        wait.as_millis()
                    ),
                )
                .with_retry_after(Some(wait)));
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Corrects the token bucket of `key` once the real count is known.
    pub fn settle(&self, key: &str, estimated: u64, actual: u64) {
        let mut all = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bucket) = all.get_mut(key).and_then(|b| b.tokens.as_mut()) {
            bucket.tokens = (bucket.tokens + estimated as f64 - actual as f64).clamp(-bucket.capacity, bucket.capacity);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rpm: u32, tpm: u64, max_wait_ms: u64) -> RateLimiter {
        RateLimiter::from_config(&LimitsConfig {
            requests_per_minute: rpm,
            tokens_per_minute: tpm,
            max_wait_ms,
            models: BTreeMap::new(),
        })
    }

    #[tokio::test]
    async fn requests_beyond_the_bucket_fail_with_a_clear_error() {
        let limiter = limiter(2, 0, 10);
        limiter.acquire("gemini/gemini-2.5-flash", 10).await.unwrap();
        limiter.acquire("gemini/gemini-2.5-flash", 10).await.unwrap();
        let error = limiter.acquire("gemini/gemini-2.5-flash", 10).await.unwrap_err();
        assert_eq!(error.kind, ModelErrorKind::RateLimited);
        assert!(error.to_string().contains("limit of 2 requests per minute"), "{error}");
        limiter.acquire("gemini/gemini-2.5-pro", 10).await.expect("other models have their own bucket");
    }

    #[tokio::test]
    async fn a_short_wait_is_absorbed() {
        // 6000 per minute = one every 10 ms.
        let limiter = limiter(6_000, 0, 500);
        for _ in 0..6_000 {
            limiter.acquire("local/m", 1).await.unwrap();
        }
        let started = Instant::now();
        limiter.acquire("local/m", 1).await.expect("waits for the refill");
        assert!(started.elapsed() >= Duration::from_millis(5));
        let tokens = self::limiter(0, 1_000, 0);
        tokens.acquire("local/m", 800).await.unwrap();
        let error = tokens.acquire("local/m", 300).await.unwrap_err();
        assert!(error.to_string().contains("tokens per minute"), "{error}");
    }
}
