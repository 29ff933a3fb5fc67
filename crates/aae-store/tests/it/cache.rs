//! The shared cache on a private `redis-server`: conversation messages served from Redis and
//! invalidated by appends, counters shared between instances, and outages (Redis killed, Redis
//! paused) during which every request still succeeds from the records, then recovery.

use std::time::Duration;

use aae_config::RedisConfig;
use aae_store::{CacheStatus, MessageRole, NewMessage, NewUser, Records, SharedCache};
use aae_testkit::RedisServer;
use secrecy::SecretString;
use uuid::Uuid;

use crate::support::{Engine, TestDb};

fn cache_for(server: &RedisServer, prefix: &str) -> SharedCache {
    let config = RedisConfig {
        url: SecretString::from(server.url()),
        key_prefix: prefix.to_owned(),
        timeout_ms: 200,
        retry_secs: 1,
        ..RedisConfig::default()
    };
    SharedCache::from_config(&config).unwrap()
}

async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url()).unwrap().get_multiplexed_async_connection().await.unwrap()
}

async fn conversation(records: &Records, messages: usize) -> Uuid {
    let user = records.users.create(NewUser::new(Uuid::new_v4().to_string(), "cache@example.com")).await.unwrap();
    let conversation = records.conversations.create(user.id, Some("cached"), serde_json::Value::Null).await.unwrap();
    let batch = (0..messages).map(|i| NewMessage::text(MessageRole::User, format!("message {i}"))).collect();
    records.conversations.append(conversation.id, batch).await.unwrap();
    conversation.id
}

async fn texts(records: &Records, id: Uuid) -> Vec<String> {
    records.conversations.messages(id, 0, 1_000).await.unwrap().into_iter().map(|m| m.content).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_served_from_redis_and_appends_invalidate_them() {
    let server = RedisServer::start().unwrap();
    let db = TestDb::new(Engine::Sqlite).await;
    let records = db.records.clone().with_cache(cache_for(&server, "t1:"));
    let id = conversation(&records, 3).await;
    assert_eq!(texts(&records, id).await, ["message 0", "message 1", "message 2"]);
    let key = format!("t1:conv:{id}:messages");
    let cached: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut raw(&server).await).await.unwrap();
    assert!(cached.as_deref().is_some_and(|c| c.contains("message 2")), "{cached:?}");

    // Served from Redis: a page of the cached list, without the records.
    let page = records.conversations.messages(id, 1, 1).await.unwrap();
    assert_eq!(page.iter().map(|m| (m.sequence, m.content.as_str())).collect::<Vec<_>>(), [(1, "message 1")]);

    // An append through another instance (its own cache handle) is seen at once.
    let other = db.records.clone().with_cache(cache_for(&server, "t1:"));
    other.conversations.append(id, vec![NewMessage::text(MessageRole::Assistant, "reply")]).await.unwrap();
    assert_eq!(texts(&records, id).await.last().map(String::as_str), Some("reply"));
    assert_eq!(records.cache.status(), CacheStatus { enabled: true, available: true, outages: 0 });
    assert!(records.cache.health().await.is_some_and(|h| h.healthy));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_counters_are_shared_through_redis_and_local_without_it() {
    let mut server = RedisServer::start().unwrap();
    let (a, b) = (cache_for(&server, "t2:"), cache_for(&server, "t2:"));
    let window = Duration::from_secs(60);
    assert_eq!(a.hit("user-1", window).await, 1);
    assert_eq!(b.hit("user-1", window).await, 2, "the second instance sees the first one's hit");
    assert_eq!(b.hit("user-2", window).await, 1);
    let ttl: i64 = redis::cmd("PTTL").arg("t2:rate:user-1").query_async(&mut raw(&server).await).await.unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "the window expires: {ttl}");
    server.kill();
    assert_eq!(a.hit("user-1", window).await, 1, "counted in process while redis is down");
    assert_eq!(a.hit("user-1", window).await, 2);
    assert!(!a.status().available);
    assert_eq!(SharedCache::disabled().hit("x", window).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_keep_succeeding_through_an_outage_and_redis_is_used_again_after() {
    let mut server = RedisServer::start().unwrap();
    let db = TestDb::new(Engine::Sqlite).await;
    let records = db.records.clone().with_cache(cache_for(&server, "t3:"));
    let id = conversation(&records, 2).await;
    assert_eq!(texts(&records, id).await.len(), 2);

    server.kill();
    for i in 0..20 {
        records
            .conversations
            .append(id, vec![NewMessage::text(MessageRole::User, format!("during {i}"))])
            .await
            .unwrap();
        assert_eq!(texts(&records, id).await.len(), 3 + i, "reads come from the records while redis is down");
    }
    let status = records.cache.status();
    assert_eq!((status.available, status.outages), (false, 1), "one outage, reported once");
    let health = records.cache.health().await.unwrap();
    assert!(!health.healthy && health.detail.contains("working from the database"), "{health:?}");

    server.resume().unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(texts(&records, id).await.len(), 22);
    assert!(records.cache.status().available, "used again once it answers");
    let key = format!("t3:conv:{id}:messages");
    let cached: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut raw(&server).await).await.unwrap();
    assert!(cached.is_some_and(|c| c.contains("during 19")));
}

/// Redis keeps its data but stops answering this instance (CLIENT PAUSE): appends made meanwhile
/// cannot invalidate the cached messages, so the instance bumps the epoch before using Redis
/// again and nobody is served the stale entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_cached_before_an_outage_are_not_served_after_it() {
    let server = RedisServer::start().unwrap();
    let db = TestDb::new(Engine::Sqlite).await;
    let records = db.records.clone().with_cache(cache_for(&server, "t4:"));
    let reader = db.records.clone().with_cache(cache_for(&server, "t4:"));
    let id = conversation(&records, 2).await;
    assert_eq!(texts(&reader, id).await.len(), 2, "cached by the reader");

    let _: () =
        redis::cmd("CLIENT").arg("PAUSE").arg(1_000).arg("ALL").query_async(&mut raw(&server).await).await.unwrap();
    records.conversations.append(id, vec![NewMessage::text(MessageRole::User, "while paused")]).await.unwrap();
    assert!(!records.cache.status().available, "the version bump timed out");
    tokio::time::sleep(Duration::from_millis(1_300)).await;

    // The writer's next use of Redis bumps the epoch; the reader's entry is then a miss.
    assert_eq!(texts(&records, id).await.len(), 3);
    assert!(records.cache.status().available);
    assert_eq!(texts(&reader, id).await.last().map(String::as_str), Some("while paused"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_buckets_are_shared_through_redis_and_absent_without_it() {
    let mut server = RedisServer::start().unwrap();
    let (a, b) = (cache_for(&server, "t5:"), cache_for(&server, "t5:"));
    // Capacity 3, one token a second: three requests pass, from either instance, the fourth waits.
    let mut remaining = Vec::new();
    for cache in [&a, &b, &a] {
        let decision = cache.take_token("user-1", 3, 1.0).await.unwrap();
        assert!(decision.allowed && decision.retry_after.is_zero(), "{decision:?}");
        remaining.push(decision.remaining);
    }
    assert_eq!(remaining, [2, 1, 0]);
    let denied = b.take_token("user-1", 3, 1.0).await.unwrap();
    assert!(!denied.allowed && denied.remaining == 0, "{denied:?}");
    assert!(
        denied.retry_after > Duration::ZERO && denied.retry_after <= Duration::from_secs(1),
        "at most one refill interval: {denied:?}"
    );
    assert!(a.take_token("user-2", 3, 1.0).await.unwrap().allowed, "one bucket per key");
    assert!(cache_for(&server, "other:").take_token("user-1", 3, 1.0).await.unwrap().allowed, "and per prefix");

    let mut redis = raw(&server).await;
    let ttl: i64 = redis::cmd("PTTL").arg("t5:bucket:user-1").query_async(&mut redis).await.unwrap();
    assert!(ttl > 0 && ttl <= 3_000, "the bucket expires once it would be full again: {ttl}");

    tokio::time::sleep(denied.retry_after).await;
    let again = a.take_token("user-1", 3, 1.0).await.unwrap();
    assert!(again.allowed, "a token is back after retry_after: {again:?}");

    // Redis forgot the script (restart, SCRIPT FLUSH): EVALSHA fails with NOSCRIPT, EVAL runs it.
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut redis).await.unwrap();
    let after_flush = b.take_token("user-1", 3, 1.0).await.unwrap();
    assert!(!after_flush.allowed, "the bucket state survived: {after_flush:?}");
    let stats: String = redis::cmd("INFO").arg("commandstats").query_async(&mut redis).await.unwrap();
    let eval_calls = stats.lines().find_map(|l| l.strip_prefix("cmdstat_eval:calls=")).map(|l| l.split(',').next());
    assert_eq!(eval_calls, Some(Some("2")), "the full script is sent only when redis lacks it: {stats}");

    server.kill();
    let started = std::time::Instant::now();
    assert_eq!(a.take_token("user-1", 3, 1.0).await, None, "the caller falls back to its own bucket");
    assert_eq!(a.take_token("user-1", 3, 1.0).await, None);
    assert!(started.elapsed() < Duration::from_secs(1), "no waiting on a dead redis: {:?}", started.elapsed());
    assert!(!a.status().available);
    assert_eq!(SharedCache::disabled().take_token("user-1", 3, 1.0).await, None);
}
