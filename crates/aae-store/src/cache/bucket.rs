//! Token buckets shared through Redis, for rate limits that hold across server instances.
//!
//! One Lua script does the whole step atomically on the server: it reads `{tokens, ts}` from the
//! hash at `{prefix}bucket:{key}`, refills by the time elapsed on Redis' own clock (`TIME`, so
//! instances with skewed clocks agree), takes a token if one is there, writes the state back and
//! lets the hash expire once the bucket would be full again (a missing bucket is a full one). The
//! script is sent by its SHA1 (`EVALSHA`) and in full (`EVAL`) only when Redis does not have it
//! cached (`NOSCRIPT`, e.g. after a restart).

use std::sync::LazyLock;
use std::time::Duration;

use redis::{ErrorKind, ServerErrorKind};
use sha1::{Digest, Sha1};

use super::SharedCache;

/// What [`SharedCache::take_token`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketDecision {
    /// Whether a token was taken: the request may go ahead.
    pub allowed: bool,
    /// Whole tokens left in the bucket after this call.
    pub remaining: u32,
    /// When denied, how long until a token is back (the `Retry-After`); zero when allowed.
    pub retry_after: Duration,
}

/// The slowest refill accepted (one token per 1,000 s); slower rates are raised to it.
const MIN_REFILL_PER_SEC: f64 = 1e-3;
/// The fastest refill accepted; faster rates are lowered to it.
const MAX_REFILL_PER_SEC: f64 = 1e6;

/// KEYS[1]: the bucket hash. ARGV[1]: capacity (whole tokens). ARGV[2]: tokens added per second.
/// Returns `{allowed (0|1), whole tokens remaining, retry-after in ms}`. Times are microseconds.
const TAKE_TOKEN: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = tokens + (now - ts) * rate / 1000000
  ts = now
end
if tokens > capacity then tokens = capacity end
local allowed = 0
local retry_ms = 0
if tokens >= 1 - 1e-9 then
  tokens = math.max(tokens - 1, 0)
  allowed = 1
else
  retry_ms = math.ceil((1 - tokens) * 1000 / rate)
end
local full_ms = math.max(1, math.ceil((capacity - tokens) * 1000 / rate))
redis.call('HSET', KEYS[1], 'tokens', string.format('%.9f', tokens), 'ts', string.format('%d', ts))
redis.call('PEXPIRE', KEYS[1], string.format('%d', full_ms))
return {allowed, math.floor(tokens + 1e-9), retry_ms}
";

/// The script's SHA1 in hex, as `EVALSHA` wants it.
static TAKE_TOKEN_SHA: LazyLock<String> =
    LazyLock::new(|| Sha1::digest(TAKE_TOKEN.as_bytes()).iter().map(|b| format!("{b:02x}")).collect());

impl SharedCache {
    /// Takes one token from the bucket `key` (`capacity` tokens, refilled at `refill_per_sec`
    /// tokens a second, full when first used), shared by every instance through Redis.
    ///
    /// `None` when Redis is absent or down (the same time limit and outage handling as every
    /// other operation): the caller then limits with a bucket of its own process. A `capacity`
    /// of 0 counts as 1; `refill_per_sec` is kept between 0.001 and 1,000,000.
    pub async fn take_token(&self, key: &str, capacity: u32, refill_per_sec: f64) -> Option<BucketDecision> {
        let redis = self.redis.as_ref()?;
        let bucket = redis.key(&format!("bucket:{key}"));
        let capacity = capacity.max(1);
        let refill = if refill_per_sec.is_nan() {
            MIN_REFILL_PER_SEC
        } else {
            refill_per_sec.clamp(MIN_REFILL_PER_SEC, MAX_REFILL_PER_SEC)
        };
        let (allowed, remaining, retry_ms): (i64, i64, i64) = redis
            .run(|mut c| async move {
                let script = |command: &str, body: &str| {
                    let mut cmd = redis::cmd(command);
                    cmd.arg(body).arg(1).arg(&bucket).arg(capacity).arg(refill);
                    cmd
                };
                match script("EVALSHA", TAKE_TOKEN_SHA.as_str()).query_async(&mut c).await {
                    Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                        script("EVAL", TAKE_TOKEN).query_async(&mut c).await
                    }
                    answer => answer,
                }
            })
            .await?;
        Some(BucketDecision {
            allowed: allowed == 1,
            remaining: u32::try_from(remaining.max(0)).unwrap_or(u32::MAX),
            retry_after: Duration::from_millis(u64::try_from(retry_ms).unwrap_or(0)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_digest_is_sha1_hex() {
        assert_eq!(TAKE_TOKEN_SHA.len(), 40);
        assert!(TAKE_TOKEN_SHA.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[tokio::test]
    async fn without_redis_the_caller_limits_locally() {
        assert_eq!(SharedCache::disabled().take_token("user-1", 3, 1.0).await, None);
    }
}
