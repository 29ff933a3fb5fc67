//! The shared cache: Redis (`redis.url`) holding conversation state and the counters and token
//! buckets (`cache/bucket.rs`) behind rate limits, shared by every server instance (seed 000
//! "Implement Redis failover and local state backup").
//!
//! Redis is never the source of truth. Every operation has a bounded time (`redis.timeout_ms`);
//! a failure marks Redis down, logs it once, and from then on callers get a miss (`None`) at
//! once, so they work from the database (and counters from process memory) without waiting.
//! Every `redis.retry_secs` one operation tries Redis again; when it answers, it is used again
//! and the outage ends with one log line.
//!
//! Cache entries carry an *epoch*: an instance that lost Redis may have written records it could
//! not invalidate, so before using Redis again it bumps the shared epoch, which turns every entry
//! cached before into a miss. A lost or stale cache is always rebuilt from the stored records.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aae_config::RedisConfig;
use aae_types::ServiceHealth;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ErrorKind, RedisError};
use secrecy::ExposeSecret;

use crate::error::{StoreError, StoreResult};

mod bucket;
mod conversations;
pub use bucket::BucketDecision;
pub use conversations::CachedConversations;

/// The shared cache; cheap to clone. [`SharedCache::disabled`] when no Redis is configured.
#[derive(Clone)]
pub struct SharedCache {
    redis: Option<Arc<Redis>>,
    local: Arc<LocalCounters>,
}

impl std::fmt::Debug for SharedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedCache").field("redis", &self.redis.as_ref().map(|r| &r.description)).finish()
    }
}

/// What [`SharedCache::status`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStatus {
    /// Whether a Redis URL is configured.
    pub enabled: bool,
    /// Whether Redis answered the last operation (false while an outage lasts).
    pub available: bool,
    /// Outages seen since start-up.
    pub outages: u64,
}

struct Redis {
    client: Client,
    /// `host:port/db`, without credentials.
    description: String,
    prefix: String,
    timeout: Duration,
    retry: Duration,
    ttl: Duration,
    connection: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    state: Mutex<Availability>,
    outages: AtomicU64,
}

#[derive(Debug)]
struct Availability {
    down: bool,
    /// Whether the shared epoch must be bumped before Redis is used again.
    bump_epoch: bool,
    retry_at: Instant,
}

/// Fixed-window counters of this process, used while Redis is down or absent.
#[derive(Debug, Default)]
struct LocalCounters {
    windows: Mutex<HashMap<String, (Instant, u64)>>,
}

impl SharedCache {
    /// No Redis: every read misses, counters are per process.
    pub fn disabled() -> Self {
        Self { redis: None, local: Arc::default() }
    }

    /// The cache `config` describes; [`disabled`](Self::disabled) when `redis.url` is empty.
    /// Does not connect: the first operation does. `Invalid` for a malformed URL (the URL itself
    /// is never in the error).
    pub fn from_config(config: &RedisConfig) -> StoreResult<Self> {
        if !config.enabled() {
            return Ok(Self::disabled());
        }
        let url = config.url.expose_secret().trim();
        let client = Client::open(url).map_err(|_| {
            StoreError::invalid(
                "redis",
                "redis.url is not a valid redis url; expected redis://[:password@]host:6379[/db] or rediss://…",
            )
        })?;
        let info = client.get_connection_info();
        let description = format!("{}/{}", info.addr(), info.redis_settings().db());
        let redis = Redis {
            client,
            description,
            prefix: config.key_prefix.clone(),
            timeout: Duration::from_millis(config.timeout_ms),
            retry: Duration::from_secs(config.retry_secs),
            ttl: Duration::from_secs(config.ttl_secs),
            connection: tokio::sync::Mutex::new(None),
            state: Mutex::new(Availability { down: false, bump_epoch: false, retry_at: Instant::now() }),
            outages: AtomicU64::new(0),
        };
        Ok(Self { redis: Some(Arc::new(redis)), local: Arc::default() })
    }

    /// Whether Redis is configured and up, and how many outages there were.
    pub fn status(&self) -> CacheStatus {
        match &self.redis {
            None => CacheStatus { enabled: false, available: false, outages: 0 },
            Some(redis) => CacheStatus {
                enabled: true,
                available: !redis.lock_state().down,
                outages: redis.outages.load(Ordering::Relaxed),
            },
        }
    }

    /// How long cached entries live untouched.
    pub fn ttl(&self) -> Duration {
        self.redis.as_ref().map_or(Duration::ZERO, |r| r.ttl)
    }

    /// The value at `key`, if Redis is up and has it.
    pub async fn get(&self, key: &str) -> Option<String> {
        let redis = self.redis.as_ref()?;
        let key = redis.key(key);
        redis.run(|mut c| async move { redis::cmd("GET").arg(&key).query_async(&mut c).await }).await.flatten()
    }

    /// Several values in one round trip; `None` when Redis is down or absent.
    pub async fn get_many(&self, keys: &[&str]) -> Option<Vec<Option<String>>> {
        let redis = self.redis.as_ref()?;
        let keys: Vec<String> = keys.iter().map(|k| redis.key(k)).collect();
        redis.run(|mut c| async move { redis::cmd("MGET").arg(&keys).query_async(&mut c).await }).await
    }

    /// Stores `value` at `key` for `ttl`; whether Redis took it.
    pub async fn set(&self, key: &str, value: &str, ttl: Duration) -> bool {
        let Some(redis) = self.redis.as_ref() else { return false };
        let key = redis.key(key);
        let ms = ttl.as_millis().max(1) as u64;
        let done: Option<()> =
            redis
                .run(|mut c| async move {
                    redis::cmd("SET").arg(&key).arg(value).arg("PX").arg(ms).query_async(&mut c).await
                })
                .await;
        done.is_some()
    }

    /// Increments the integer at `key` (used as a version counter); the new value, or `None`.
    pub async fn incr(&self, key: &str) -> Option<u64> {
        let redis = self.redis.as_ref()?;
        let key = redis.key(key);
        redis.run(|mut c| async move { redis::cmd("INCR").arg(&key).query_async(&mut c).await }).await
    }

    /// Deletes `key`; whether Redis took it.
    pub async fn delete(&self, key: &str) -> bool {
        let Some(redis) = self.redis.as_ref() else { return false };
        let key = redis.key(key);
        let done: Option<u64> =
            redis.run(|mut c| async move { redis::cmd("DEL").arg(&key).query_async(&mut c).await }).await;
        done.is_some()
    }

    /// Counts one hit on `key` in the current fixed window of `window`, and returns the hits in
    /// that window so far. Shared by every instance through Redis (`INCR` + `PEXPIRE … NX`);
    /// while Redis is down or absent, counted in this process only.
    pub async fn hit(&self, key: &str, window: Duration) -> u64 {
        if let Some(redis) = self.redis.as_ref() {
            let full = redis.key(&format!("rate:{key}"));
            let ms = window.as_millis().max(1) as u64;
            let counted: Option<(u64, i64)> = redis
                .run(|mut c| async move {
                    redis::pipe()
                        .cmd("INCR")
                        .arg(&full)
                        .cmd("PEXPIRE")
                        .arg(&full)
                        .arg(ms)
                        .arg("NX")
                        .query_async(&mut c)
                        .await
                })
                .await;
            if let Some((count, _)) = counted {
                return count;
            }
        }
        self.local.hit(key, window)
    }

    /// The `redis` health line: a PING, whatever the outage state; `None` when not configured.
    pub async fn health(&self) -> Option<ServiceHealth> {
        let redis = self.redis.as_ref()?;
        let started = Instant::now();
        let probe = async {
            let mut connection = redis.client.get_multiplexed_async_connection_with_config(&redis.config()).await?;
            redis::cmd("PING").query_async::<String>(&mut connection).await
        };
        let (healthy, detail) = match tokio::time::timeout(redis.timeout * 2, probe).await {
            Ok(Ok(_)) => (true, format!("redis {}: answering", redis.description)),
            Ok(Err(e)) => (false, format!("redis {}: {}; working from the database", redis.description, describe(&e))),
            Err(_) => (false, format!("redis {}: no answer in time; working from the database", redis.description)),
        };
        Some(ServiceHealth {
            service: "redis".into(),
            healthy,
            detail,
            latency_ms: started.elapsed().as_millis() as u64,
            last_check: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
    }
}

impl Redis {
    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn config(&self) -> AsyncConnectionConfig {
        AsyncConnectionConfig::new().set_connection_timeout(Some(self.timeout)).set_response_timeout(Some(self.timeout))
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, Availability> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one operation with the time limit, unless Redis is down and not due for a retry.
    /// `None` on any failure.
    async fn run<T, F, Fut>(&self, op: F) -> Option<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = Result<T, RedisError>>,
    {
        {
            let mut state = self.lock_state();
            if state.down {
                if Instant::now() < state.retry_at {
                    return None;
                }
                // One caller at a time probes; the others keep missing until it succeeds.
                state.retry_at = Instant::now() + self.retry;
            }
        }
        let connection = self.connection().await?;
        if self.lock_state().bump_epoch && !self.bump_epoch(connection.clone()).await {
            return None;
        }
        match tokio::time::timeout(self.timeout, op(connection)).await {
            Ok(Ok(value)) => {
                self.mark_up();
                Some(value)
            }
            Ok(Err(e)) if is_outage(&e) => {
                self.mark_down(&describe(&e)).await;
                None
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %describe(&e), "redis refused a cache operation");
                None
            }
            Err(_) => {
                self.mark_down("no answer in time").await;
                None
            }
        }
    }

    async fn connection(&self) -> Option<MultiplexedConnection> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Some(connection.clone());
        }
        let config = self.config();
        let connect = self.client.get_multiplexed_async_connection_with_config(&config);
        match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(connection)) => {
                *slot = Some(connection.clone());
                Some(connection)
            }
            Ok(Err(e)) => {
                drop(slot);
                self.mark_down(&describe(&e)).await;
                None
            }
            Err(_) => {
                drop(slot);
                self.mark_down("no connection in time").await;
                None
            }
        }
    }

    /// Invalidates every entry cached before an outage this instance saw.
    async fn bump_epoch(&self, mut connection: MultiplexedConnection) -> bool {
        let key = self.key(EPOCH_KEY);
        let bumped = tokio::time::timeout(self.timeout, async {
            redis::cmd("INCR").arg(&key).query_async::<u64>(&mut connection).await
        })
        .await;
        match bumped {
            Ok(Ok(_)) => {
                self.lock_state().bump_epoch = false;
                true
            }
            Ok(Err(e)) => {
                self.mark_down(&describe(&e)).await;
                false
            }
            Err(_) => {
                self.mark_down("no answer in time").await;
                false
            }
        }
    }

    async fn mark_down(&self, why: &str) {
        *self.connection.lock().await = None;
        let mut state = self.lock_state();
        state.bump_epoch = true;
        state.retry_at = Instant::now() + self.retry;
        if !state.down {
            state.down = true;
            self.outages.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                redis = %self.description,
                error = why,
                retry_secs = self.retry.as_secs(),
                "redis unavailable; working from the database until it answers again"
            );
        }
    }

    fn mark_up(&self) {
        let mut state = self.lock_state();
        if state.down {
            state.down = false;
            tracing::info!(redis = %self.description, "redis answers again; using it");
        }
    }
}

/// The key whose value is the cache epoch.
pub(crate) const EPOCH_KEY: &str = "epoch";

impl LocalCounters {
    fn hit(&self, key: &str, window: Duration) -> u64 {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if windows.len() > 100_000 {
            windows.retain(|_, (started, _)| now.duration_since(*started) < window);
        }
        let entry = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1
    }
}

/// Whether an error means Redis (or the way to it) is gone, rather than a refused command.
fn is_outage(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || matches!(error.kind(), ErrorKind::Io | ErrorKind::ClusterConnectionNotFound)
}

/// An error's text without any URL (the client's messages never carry credentials, but keep to
/// the kind and the server's message).
fn describe(error: &RedisError) -> String {
    match error.detail() {
        Some(detail) => format!("{:?}: {detail}", error.kind()).to_lowercase(),
        None => format!("{:?}", error.kind()).to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_counters_count_per_window() {
        let counters = LocalCounters::default();
        assert_eq!(counters.hit("a", Duration::from_secs(60)), 1);
        assert_eq!(counters.hit("a", Duration::from_secs(60)), 2);
        assert_eq!(counters.hit("b", Duration::from_secs(60)), 1);
        assert_eq!(counters.hit("c", Duration::ZERO), 1);
        assert_eq!(counters.hit("c", Duration::ZERO), 1, "an elapsed window starts again");
    }

    #[test]
    fn bad_urls_are_invalid_without_echoing_them() {
        let config =
            RedisConfig { url: secrecy::SecretString::from("redis://:hunter2@[bad"), ..RedisConfig::default() };
        let err = SharedCache::from_config(&config).expect_err("malformed").to_string();
        assert!(err.contains("redis.url") && !err.contains("hunter2"), "{err}");
        assert!(!SharedCache::from_config(&RedisConfig::default()).map(|c| c.status().enabled).unwrap_or(true));
    }
}
