//! Rate limits: one token bucket per caller and route group (`rate_limits`), shared by every
//! server instance through Redis when `redis.url` is set (an atomic script on Redis' clock),
//! and kept in this process otherwise or while Redis is down. A caller over the limit gets 429
//! with `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aae_config::RateLimitsConfig;
use aae_store::SharedCache;
use aae_types::ErrorCode;

use crate::error::ApiError;

/// Buckets kept in this process at most; older idle ones are dropped first.
const MAX_LOCAL_BUCKETS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The limiter.
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitsConfig,
    cache: SharedCache,
    local: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// A limiter with `config`'s limits over `cache`.
    pub fn new(config: RateLimitsConfig, cache: SharedCache) -> Self {
        Self { config, cache, local: Mutex::new(HashMap::new()) }
    }

    /// Takes one token from `who`'s bucket of `group`; 429 with `Retry-After` when it is empty.
    pub async fn check(&self, group: &str, who: &str) -> Result<(), ApiError> {
        if !self.config.enabled {
            return Ok(());
        }
        let limit = self.config.limit(group);
        let capacity = limit.burst;
        let refill = f64::from(limit.requests_per_minute) / 60.0;
        let key = format!("{group}:{who}");
        if self.cache.status().enabled
            && let Some(decision) = self.cache.take_token(&key, capacity, refill).await
        {
            return if decision.allowed { Ok(()) } else { Err(limited(group, decision.retry_after)) };
        }
        self.take_local(&key, capacity, refill).map_err(|wait| limited(group, wait))
    }

    fn take_local(&self, key: &str, capacity: u32, refill: f64) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.local.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_LOCAL_BUCKETS && !buckets.contains_key(key) {
            // Full buckets carry no information: drop them.
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * refill < f64::from(capacity));
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket { tokens: f64::from(capacity), at: now });
        let tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * refill).min(f64::from(capacity));
        bucket.at = now;
        if tokens >= 1.0 {
            bucket.tokens = tokens - 1.0;
            Ok(())
        } else {
            bucket.tokens = tokens;
            Err(Duration::from_secs_f64((1.0 - tokens) / refill))
        }
    }
}

fn limited(group: &str, wait: Duration) -> ApiError {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut error = ApiError::new(
        ErrorCode::RateLimited,
        format!("too many requests for `{group}` routes; retry after {seconds} s"),
    );
    error.retry_after = Some(seconds);
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_bucket_allows_its_burst_then_says_when_to_retry() {
        let config = RateLimitsConfig { requests_per_minute: 60, burst: 3, ..RateLimitsConfig::default() };
        let limiter = RateLimiter::new(config, SharedCache::disabled());
        for _ in 0..3 {
            limiter.check("default", "u1").await.expect("within the burst");
        }
        let error = limiter.check("default", "u1").await.expect_err("over the limit");
        assert_eq!(error.code, ErrorCode::RateLimited);
        assert_eq!(error.retry_after, Some(1));
        // Another caller and another group have their own buckets.
        limiter.check("default", "u2").await.expect("own bucket");
        limiter.check("chat", "u1").await.expect("own group");
    }
}
