//! Router behaviour: fallback order, the breaker, rate limits, and accounting on SQLite.

use std::sync::Arc;
use std::time::Duration;

use aae_models::router::CircuitBreakers;
use aae_models::testing::ScriptedProvider;
use aae_models::{
    Accounting, CallContext, ChatRequest, CreditHold, ModelError, ModelErrorKind, ModelRouter, StreamEvent,
};
use aae_store::{NewUser, Records};
use aae_testkit::{Engine, FakeModelServer, FakeReply, TestDatabase};
use aae_types::{Provider, UserModelPreference};

use crate::support::{config, drain, router_with};

const CLAUDE_ID: &str = "anthropic.claude-sonnet-4-20250514-v1:0";
const QWEN_ID: &str = "qwen.qwen3-235b-a22b-2507-v1:0";

fn claude() -> CallContext {
    CallContext { preference: Some(UserModelPreference::new("bedrock", "claude-4.5-sonnet")), ..CallContext::default() }
}

fn unavailable(model: &str) -> ModelError {
    ModelError::new(ModelErrorKind::Unavailable, "bedrock", model, "service unavailable").with_status(503)
}

async fn bedrock_router(overrides: &[(&str, &str)]) -> (ModelRouter, Arc<ScriptedProvider>) {
    bedrock_router_with(overrides, true).await
}

async fn bedrock_router_with(overrides: &[(&str, &str)], fallbacks: bool) -> (ModelRouter, Arc<ScriptedProvider>) {
    let bedrock = Arc::new(ScriptedProvider::new("bedrock"));
    let mut all = vec![("router.retry.max_retries", "1")];
    all.extend_from_slice(overrides);
    let mut config = config(&all);
    if !fallbacks {
        config.router.fallbacks.clear();
    }
    (router_with(&config, &[(Provider::Bedrock, bedrock.clone())]).await, bedrock)
}

#[tokio::test]
async fn fallback_order_is_honoured_and_every_failure_is_reported() {
    let (router, bedrock) = bedrock_router(&[]).await;
    bedrock.push([Err(unavailable(CLAUDE_ID)), Err(unavailable(CLAUDE_ID)), ScriptedProvider::text("qwen here")]);
    let routed = router.chat(&claude(), &ChatRequest::user("hi")).await.unwrap();
    assert_eq!(routed.model.name, "qwen3");
    assert_eq!(routed.value.content, "qwen here");
    assert_eq!(routed.failures.len(), 1);
    assert_eq!(routed.failures[0].model, "claude-4.5-sonnet", "errors use the catalog name");
    let ids: Vec<String> = bedrock.calls().into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, [CLAUDE_ID, CLAUDE_ID, QWEN_ID], "claude with its retry, then qwen3");

    // Every model fails: one error listing each attempt in order.
    bedrock.push((0..4).map(|_| Err(unavailable("x"))));
    let error = router.chat(&claude(), &ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(error.kind, ModelErrorKind::AllFailed);
    let text = error.to_string();
    let first = text.find("attempt 1: provider unavailable bedrock/claude-4.5-sonnet (http 503)").expect(&text);
    let second = text.find("attempt 2: provider unavailable bedrock/qwen3 (http 503)").expect(&text);
    assert!(first < second, "{text}");

    // An error another model would repeat is not a reason to fall back.
    bedrock.push([Err(
        ModelError::new(ModelErrorKind::InvalidRequest, "bedrock", CLAUDE_ID, "bad schema").with_status(400)
    )]);
    let before = bedrock.calls().len();
    let error = router.chat(&claude(), &ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(error.kind, ModelErrorKind::InvalidRequest);
    assert_eq!(bedrock.calls().len() - before, 1);

    // Models without a configured provider fail clearly.
    let gemini = CallContext {
        preference: Some(UserModelPreference::new("gemini", "gemini-2.5-pro")),
        ..CallContext::default()
    };
    let error = router.chat(&gemini, &ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(error.kind, ModelErrorKind::NotConfigured);
    assert!(error.to_string().contains("provider gemini is not configured"), "{error}");
}

#[tokio::test]
async fn an_open_breaker_skips_the_model_until_its_cooldown() {
    let (router, bedrock) = bedrock_router_with(&[("router.retry.max_retries", "0")], false).await;
    let router = router.with_breakers(CircuitBreakers::new(2, Duration::from_millis(200)));
    bedrock.push([Err(unavailable(CLAUDE_ID)), Err(unavailable(CLAUDE_ID))]);
    for _ in 0..2 {
        router.chat(&claude(), &ChatRequest::user("hi")).await.unwrap_err();
    }
    let before = bedrock.calls().len();
    let error = router.chat(&claude(), &ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(error.kind, ModelErrorKind::CircuitOpen, "{error}");
    assert_eq!(bedrock.calls().len(), before, "the provider is not called while open");
    tokio::time::sleep(Duration::from_millis(250)).await;
    router.chat(&claude(), &ChatRequest::user("hi")).await.expect("trial call after the cooldown closes it");
}

#[tokio::test]
async fn the_token_bucket_fails_clearly_when_it_cannot_wait() {
    let limits = [("router.limits.requests_per_minute", "1"), ("router.limits.max_wait_ms", "50")];
    let (router, _bedrock) = bedrock_router_with(&limits, false).await;
    router.chat(&claude(), &ChatRequest::user("hi")).await.unwrap();
    let error = router.chat(&claude(), &ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(error.kind, ModelErrorKind::RateLimited, "{error}");
    let text = error.to_string();
    assert!(
        text.contains("rate limited bedrock/claude-4.5-sonnet") && text.contains("limit of 1 requests per minute"),
        "{text}"
    );
    // With the default fallback, claude's empty bucket sends the call to qwen3, which has its own.
    let (router, _bedrock) = bedrock_router_with(&limits, true).await;
    router.chat(&claude(), &ChatRequest::user("hi")).await.unwrap();
    let routed = router.chat(&claude(), &ChatRequest::user("hi")).await.unwrap();
    assert_eq!(routed.model.name, "qwen3");
    assert_eq!(routed.failures[0].kind, ModelErrorKind::RateLimited);
}

async fn records() -> (TestDatabase, Records) {
    let db = TestDatabase::new(Engine::Sqlite).await.unwrap();
    let records = aae_store::open(&db.config, db.data_dir()).await.unwrap();
    (db, records)
}

#[tokio::test]
async fn usage_is_recorded_and_holds_are_captured_or_released_on_sqlite() {
    let (_db, records) = records().await;
    let user = records.users.create(NewUser::new("alice", "alice@example.com")).await.unwrap();
    records.credits.grant(user.id, 1_000_000, "test", None).await.unwrap();
    let accounting = Accounting { usage: records.usage.clone(), credits: records.credits.clone() };
    let (router, bedrock) = bedrock_router(&[]).await;
    let router = router.with_accounting(accounting);

    let hold = records.credits.hold(user.id, 100_000, "chat", None).await.unwrap();
    let ctx = CallContext {
        user_id: Some(user.id),
        hold: Some(CreditHold { id: hold.id, amount: hold.amount }),
        request_id: Some("req-1".into()),
        ..claude()
    };
    // 10 input tokens, 4 output tokens at 3 and 15 credits per million → 30 + 60 micro-credits.
    bedrock.push([ScriptedProvider::text("sixteen chars ok")]);
    let routed = router.chat(&ctx, &ChatRequest::user("hi")).await.unwrap();
    assert_eq!(routed.cost_micros, 90);
    let rows = records.usage.list(user.id, None, None, 10).await.unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!((row.provider.as_str(), row.model.as_str()), ("bedrock", "claude-4.5-sonnet"));
    assert_eq!((row.input_tokens, row.output_tokens, row.cost_micros), (10, 4, 90));
    assert_eq!(row.request_id.as_deref(), Some("req-1"));
    assert!(row.latency_ms >= 0);
    let balance = records.credits.balance(user.id).await.unwrap();
    assert_eq!((balance.spent, balance.held, balance.available), (90, 0, 1_000_000 - 90));

    // A failed call releases its hold and records nothing.
    let hold = records.credits.hold(user.id, 50_000, "chat", None).await.unwrap();
    let ctx = CallContext { hold: Some(CreditHold { id: hold.id, amount: hold.amount }), ..ctx };
    bedrock.push((0..4).map(|_| Err(unavailable("x"))));
    router.chat(&ctx, &ChatRequest::user("hi")).await.unwrap_err();
    let balance = records.credits.balance(user.id).await.unwrap();
    assert_eq!((balance.spent, balance.held, balance.available), (90, 0, 1_000_000 - 90));
    assert_eq!(records.usage.list(user.id, None, None, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn streamed_calls_are_accounted_when_the_stream_ends() {
    let (_db, records) = records().await;
    let user = records.users.create(NewUser::new("bob", "bob@example.com")).await.unwrap();
    records.credits.grant(user.id, 1_000_000, "test", None).await.unwrap();
    let fake = FakeModelServer::openai().await.unwrap();
    let url = fake.base_url();
    let mut config =
        config(&[("providers.openai_compatible.base_url", &url), ("providers.openai_compatible.models", "m")]);
    config.prices.insert(
        "openai_compatible/m".into(),
        aae_config::ModelPrice { input_per_million: 1000.0, output_per_million: 2000.0, ..Default::default() },
    );
    let router = ModelRouter::from_config(&config)
        .await
        .unwrap()
        .with_accounting(Accounting { usage: records.usage.clone(), credits: records.credits.clone() });
    let hold = records.credits.hold(user.id, 500_000, "stream", None).await.unwrap();
    let ctx = CallContext {
        user_id: Some(user.id),
        preference: Some(UserModelPreference::new("openai_compatible", "m")),
        hold: Some(CreditHold { id: hold.id, amount: hold.amount }),
        request_id: None,
        defer_accounting: false,
    };
    fake.push([FakeReply::text("a streamed answer of some length")]);
    let routed = router.chat_stream(&ctx, &ChatRequest::user("tell me")).await.unwrap();
    let events = drain(routed.stream).await;
    let usage = events
        .iter()
        .find_map(|e| match e {
            Ok(StreamEvent::Usage { usage }) => Some(*usage),
            _ => None,
        })
        .unwrap();
    let expected = (usage.input_tokens * 1000 + usage.output_tokens * 2000) as i64;
    let rows = records.usage.list(user.id, None, None, 10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].input_tokens as u64, rows[0].output_tokens as u64), (usage.input_tokens, usage.output_tokens));
    assert_eq!(rows[0].cost_micros, expected);
    let balance = records.credits.balance(user.id).await.unwrap();
    assert_eq!((balance.spent, balance.held), (expected, 0));

    // A stream dropped before its end gives the hold back.
    let hold = records.credits.hold(user.id, 10_000, "stream", None).await.unwrap();
    let ctx = CallContext { hold: Some(CreditHold { id: hold.id, amount: hold.amount }), ..ctx };
    fake.push([FakeReply::HangAfter { text: "never finishes".into() }]);
    let routed = router.chat_stream(&ctx, &ChatRequest::user("tell me")).await.unwrap();
    drop(routed);
    for _ in 0..50 {
        if records.credits.balance(user.id).await.unwrap().held == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(records.credits.balance(user.id).await.unwrap().held, 0);
}

/// Polls until `check` holds (deferred accounting lands a moment after the reply).
async fn eventually<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not met within 2 s");
}

#[tokio::test]
async fn deferred_accounting_settles_after_the_reply_for_plain_and_streamed_calls() {
    let (_db, records) = records().await;
    let user = records.users.create(NewUser::new("dora", "dora@example.com")).await.unwrap();
    records.credits.grant(user.id, 1_000_000, "test", None).await.unwrap();
    let (router, bedrock) = bedrock_router(&[]).await;
    let router = router.with_accounting(Accounting { usage: records.usage.clone(), credits: records.credits.clone() });

    let hold = records.credits.hold(user.id, 100_000, "chat", None).await.unwrap();
    let ctx = CallContext {
        user_id: Some(user.id),
        hold: Some(CreditHold { id: hold.id, amount: hold.amount }),
        defer_accounting: true,
        ..claude()
    };
    bedrock.push([ScriptedProvider::text("sixteen chars ok")]);
    let routed = router.chat(&ctx, &ChatRequest::user("hi")).await.unwrap();
    assert_eq!(routed.cost_micros, 90);
    eventually(|| async { records.credits.balance(user.id).await.unwrap().spent == 90 }).await;
    assert_eq!(records.usage.list(user.id, None, None, 10).await.unwrap().len(), 1);

    // A streamed call settles the same way once its `Stop` has been read.
    let hold = records.credits.hold(user.id, 100_000, "chat", None).await.unwrap();
    let ctx = CallContext { hold: Some(CreditHold { id: hold.id, amount: hold.amount }), ..ctx };
    bedrock.push([ScriptedProvider::text("sixteen chars ok")]);
    let routed = router.chat_stream(&ctx, &ChatRequest::user("hi")).await.unwrap();
    drain(routed.stream).await;
    eventually(|| async { records.credits.balance(user.id).await.unwrap().spent == 180 }).await;
    assert_eq!(records.credits.balance(user.id).await.unwrap().held, 0);

    // A failure releases the hold, also deferred.
    let hold = records.credits.hold(user.id, 50_000, "chat", None).await.unwrap();
    let ctx = CallContext { hold: Some(CreditHold { id: hold.id, amount: hold.amount }), ..ctx };
    bedrock.push((0..4).map(|_| Err(unavailable("x"))));
    router.chat(&ctx, &ChatRequest::user("hi")).await.unwrap_err();
    eventually(|| async { records.credits.balance(user.id).await.unwrap().held == 0 }).await;
    assert_eq!(records.usage.list(user.id, None, None, 10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn deferred_usage_rows_are_written_in_batches() {
    let (_db, records) = records().await;
    let user = records.users.create(NewUser::new("eve", "eve@example.com")).await.unwrap();
    let (router, bedrock) = bedrock_router(&[]).await;
    let batch = aae_models::UsageBatch::new(records.usage.clone(), Duration::from_secs(3600));
    let router = router
        .with_accounting(Accounting { usage: records.usage.clone(), credits: records.credits.clone() })
        .with_usage_batch(batch);
    let ctx = CallContext { user_id: Some(user.id), defer_accounting: true, ..claude() };
    for _ in 0..3 {
        bedrock.push([ScriptedProvider::text("sixteen chars ok")]);
        router.chat(&ctx, &ChatRequest::user("hi")).await.unwrap();
    }
    bedrock.push([ScriptedProvider::text("sixteen chars ok")]);
    drain(router.chat_stream(&ctx, &ChatRequest::user("hi")).await.unwrap().stream).await;
    // Queued, not written, until the batch is flushed (here: an hour's interval).
    assert!(records.usage.list(user.id, None, None, 10).await.unwrap().is_empty());
    router.flush_usage().await;
    let rows = records.usage.list(user.id, None, None, 10).await.unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r.cost_micros == 90 && r.model == "claude-4.5-sonnet"));
    // Calls that do not defer still write at once.
    bedrock.push([ScriptedProvider::text("sixteen chars ok")]);
    router.chat(&CallContext { defer_accounting: false, ..ctx }, &ChatRequest::user("hi")).await.unwrap();
    assert_eq!(records.usage.list(user.id, None, None, 10).await.unwrap().len(), 5);
}
