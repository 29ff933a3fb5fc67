//! Rate limits: per user and route group, 429 with `Retry-After` past the burst.

use aae_testkit::Engine;

use crate::helpers::{error_code, spawn_app_with};

#[tokio::test]
async fn requests_past_the_burst_answer_429_with_retry_after() {
    let app = spawn_app_with(
        Engine::Sqlite,
        vec![("rate_limits.requests_per_minute", "6".to_owned()), ("rate_limits.burst", "3".to_owned())],
    )
    .await;
    let ana = app.user("ana").await;
    let bob = app.user("bob").await;
    for _ in 0..3 {
        assert_eq!(app.get(&ana, "/api/v1/campaigns").await.status(), 200);
    }
    let limited = app.get(&ana, "/api/v1/campaigns").await;
    let retry_after: u64 = limited.headers()["retry-after"].to_str().expect("header").parse().expect("seconds");
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    assert_eq!(error_code(limited, 429).await, "rate_limited");
    // Another user has a bucket of their own.
    assert_eq!(app.get(&bob, "/api/v1/campaigns").await.status(), 200);
    // Sign-in is limited per client address (auth group: 10 at once by default).
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let response = app
            .http
            .post(app.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"email": "x@example.com", "password": "wrong password"}))
            .send()
            .await
            .expect("login");
        statuses.push(response.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn with_redis_the_buckets_live_in_redis() {
    let prefix = format!("aae-test-{}:", uuid::Uuid::new_v4().simple());
    let app = spawn_app_with(
        Engine::Sqlite,
        vec![
            ("redis.url", "redis://127.0.0.1:6379".to_owned()),
            ("redis.key_prefix", prefix.clone()),
            ("rate_limits.requests_per_minute", "6".to_owned()),
            ("rate_limits.burst", "2".to_owned()),
        ],
    )
    .await;
    let ana = app.user("ana").await;
    for _ in 0..2 {
        assert_eq!(app.get(&ana, "/api/v1/credits").await.status(), 200);
    }
    assert_eq!(error_code(app.get(&ana, "/api/v1/credits").await, 429).await, "rate_limited");
    // The bucket is a Redis hash under the configured prefix: another server instance shares it.
    let client = redis::Client::open("redis://127.0.0.1:6379").expect("client");
    let mut connection = client.get_multiplexed_async_connection().await.expect("redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*default:{}*", ana.id))
        .query_async(&mut connection)
        .await
        .expect("keys");
    assert_eq!(keys.len(), 1, "{keys:?}");
    let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut connection).await.expect("del");
    // With the bucket gone (a fresh instance would see the same), requests pass again.
    assert_eq!(app.get(&ana, "/api/v1/credits").await.status(), 200);
}
