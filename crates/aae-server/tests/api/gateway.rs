//! The OpenAI-compatible gateway (`/v1/*`) through the official `openai` Python client (PyPI,
//! installed by `scripts/test-servers.sh` into its own venv with the `litellm` SDK) and through
//! plain HTTP: chat completions plain, streamed, with tools and structured output, on the fake
//! OpenAI-compatible, Bedrock and Gemini upstreams; models and embeddings; API keys; the 401,
//! 402, 403, 404 and 429 answers; credits charged as the usage records say; LiteLLM as a client.

use std::process::Command;
use std::time::Duration;

use aae_store::NewApiKey;
use aae_testkit::{Engine, FakeModelServer, FakeReply, FakeToolCall};
use serde_json::{Value, json};

use crate::helpers::{App, User, json_of, spawn_app_with};

fn python() -> std::path::PathBuf {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".to_owned());
    let tools = std::env::var("AAE_TOOLS_DIR").unwrap_or_else(|_| format!("{home}/.cache/aae-tools"));
    std::path::Path::new(&tools).join("openai-venv/bin/python")
}

/// Runs one scenario of `openai_client.py` and returns what it observed.
async fn client(app: &App, key: &str, model: &str, scenario: &str, extra: &[&str]) -> Value {
    let python = python();
    assert!(python.exists(), "{} is missing; run scripts/test-servers.sh", python.display());
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/openai_client.py");
    let mut args: Vec<String> = vec![
        script.display().to_string(),
        "--base-url".into(),
        app.url("/v1"),
        "--api-key".into(),
        key.into(),
        "--model".into(),
        model.into(),
        "--scenario".into(),
        scenario.into(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let output = tokio::task::spawn_blocking(move || Command::new(python).args(&args).output())
        .await
        .expect("join")
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "scenario {scenario} on {model} failed:\n{stderr}\n{stdout}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("scenario {scenario}: not JSON ({e}): {stdout}"))
}

/// A new API key of `user`, made through the API.
async fn key_for(app: &App, user: &User, body: Value) -> (String, String) {
    let created = json_of(app.post(user, "/api/v1/keys", body).await, 201).await;
    (created["key"].as_str().expect("key").to_owned(), created["id"].as_str().expect("id").to_owned())
}

async fn grant(app: &App, user: &User, credits: f64) {
    let id = uuid::Uuid::parse_str(&user.id).expect("uuid");
    app.records.credits.grant(id, (credits * 1e6) as i64, "test", None).await.expect("grant");
}

fn weather(id: &str, city: &str) -> FakeReply {
    FakeReply::tools(vec![FakeToolCall::new(id, "get_weather", json!({"city": city}))])
}

/// The three upstreams of these tests, configured on one server.
async fn gateway_app(settings: Vec<(&'static str, String)>) -> (App, FakeModelServer, FakeModelServer) {
    let bedrock = FakeModelServer::bedrock().await.expect("bedrock fake");
    let gemini = FakeModelServer::gemini().await.expect("gemini fake");
    let mut all = vec![
        ("providers.bedrock.enabled", "true".to_owned()),
        ("providers.bedrock.region", "us-east-1".to_owned()),
        ("providers.bedrock.endpoint_url", bedrock.base_url()),
        ("providers.bedrock.api_key", "bedrock-test-key".to_owned()),
        ("providers.gemini.api_key", "gemini-test-key".to_owned()),
        ("providers.gemini.base_url", gemini.base_url()),
        ("prices.openai_compatible/m.input_per_million", "1000".to_owned()),
        ("prices.openai_compatible/m.output_per_million", "2000".to_owned()),
        ("gateway.settle_idle_secs", "1".to_owned()),
    ];
    all.extend(settings);
    let app = spawn_app_with(Engine::Sqlite, all).await;
    (app, bedrock, gemini)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_openai_client_works_on_every_upstream() {
    let (app, bedrock, gemini) = gateway_app(Vec::new()).await;
    let user = app.user("sdk").await;
    grant(&app, &user, 100.0).await;
    let (key, _) = key_for(&app, &user, json!({"name": "sdk"})).await;

    // The OpenAI-compatible upstream: every scenario.
    app.fake.push([FakeReply::text("Fresh coffee, every morning.")]);
    let plain = client(&app, &key, "m", "plain", &[]).await;
    assert_eq!(plain["content"], "Fresh coffee, every morning.");
    assert_eq!((plain["object"].as_str(), plain["model"].as_str()), (Some("chat.completion"), Some("m")));
    assert!(plain["usage"]["total_tokens"].as_u64().expect("tokens") > 0);
    // What reached the upstream: the parameters, translated.
    let sent = app.fake.requests().last().expect("request").body.clone();
    assert_eq!((sent["max_tokens"].as_u64(), sent["stop"].clone()), (Some(50), json!(["END"])));
    assert!((sent["temperature"].as_f64().expect("temperature") - 0.2).abs() < 1e-6, "{sent}");

    app.fake.push([FakeReply::text("Streamed coffee, every morning.")]);
    let stream = client(&app, &key, "m", "stream", &[]).await;
    assert_eq!(stream["content"], "Streamed coffee, every morning.");
    assert!(stream["chunks"].as_u64().expect("chunks") >= 3, "{stream}");
    assert!(stream["usage"]["completion_tokens"].as_u64().expect("usage") > 0);

    app.fake.push([weather("call_1", "Oslo"), FakeReply::text("It is -3 °C in Oslo.")]);
    let tools = client(&app, &key, "m", "tools", &[]).await;
    assert_eq!(tools["tool_calls"][0]["name"], "get_weather");
    assert_eq!(tools["tool_calls"][0]["arguments"], json!({"city": "Oslo"}));
    assert_eq!(tools["final_content"], "It is -3 °C in Oslo.");
    // The second request carried the call and its result back upstream.
    let sent = app.fake.requests().last().expect("request").body.clone();
    let roles: Vec<&str> =
        sent["messages"].as_array().expect("messages").iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles.last(), Some(&"tool"), "{sent}");

    app.fake.push([FakeReply::tools(vec![
        FakeToolCall::new("call_a", "get_weather", json!({"city": "Paris"})),
        FakeToolCall::new("call_b", "get_weather", json!({"city": "Zürich"})),
    ])]);
    let streamed_tools = client(&app, &key, "m", "stream_tools", &[]).await;
    let calls = streamed_tools["tool_calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[0]["id"].as_str(), calls[1]["arguments"]["city"].as_str()), (Some("call_a"), Some("Zürich")));

    app.fake.push([weather("call_r", "Lyon")]);
    let required = client(&app, &key, "m", "tool_choice_required", &[]).await;
    assert_eq!(required["tool_calls"][0]["arguments"]["city"], "Lyon");
    let sent = app.fake.requests().last().expect("request").body.clone();
    assert_eq!(sent["tool_choice"], json!({"type": "function", "function": {"name": "get_weather"}}));

    app.fake.push([FakeReply::text(r#"{"headline": "Wake up to better coffee", "cta": "Order now"}"#)]);
    let structured = client(&app, &key, "m", "json_schema", &[]).await;
    assert_eq!(structured["parsed"]["cta"], "Order now");
    let sent = app.fake.requests().last().expect("request").body.clone();
    assert_eq!(sent["response_format"]["type"], "json_schema", "{sent}");
    assert_eq!(sent["response_format"]["json_schema"]["name"], "ad");

    app.fake.push([FakeReply::text(r#"{"answer": "yes"}"#)]);
    let object = client(&app, &key, "m", "json_object", &[]).await;
    assert_eq!(object["parsed"]["answer"], "yes");

    let models = client(&app, &key, "m", "models", &[]).await;
    let ids: Vec<&str> = models["ids"].as_array().expect("ids").iter().filter_map(Value::as_str).collect();
    for expected in ["m", "claude-4.5-sonnet", "gemini-2.5-flash"] {
        assert!(ids.contains(&expected), "{expected} missing from {ids:?}");
    }

    let embeddings = client(&app, &key, "m", "embeddings", &["--embedding-model", "m"]).await;
    assert_eq!((embeddings["count"].as_u64(), embeddings["single_count"].as_u64()), (Some(2), Some(1)));

    let errors = client(&app, &key, "m", "errors", &[]).await;
    assert_eq!(errors["unauthorized"]["code"], "invalid_api_key");
    assert_eq!(errors["not_found"]["code"], "model_not_found");
    assert!(errors["not_found"]["message"].as_str().expect("message").contains("claude-4.5-sonnet"));

    // Bedrock (Converse over the AWS SDK) and Gemini, through the same client.
    for (model, fake) in [("claude-4.5-sonnet", &bedrock), ("gemini-2.5-flash", &gemini)] {
        fake.push([FakeReply::text(&format!("Hello from {model}."))]);
        let plain = client(&app, &key, model, "plain", &[]).await;
        assert_eq!(plain["content"], format!("Hello from {model}."), "{model}");
        assert_eq!(plain["model"], model);
        fake.push([FakeReply::text(&format!("Streamed from {model}."))]);
        let stream = client(&app, &key, model, "stream", &[]).await;
        assert_eq!(stream["content"], format!("Streamed from {model}."), "{model}");
        fake.push([weather("call_x", "Oslo"), FakeReply::text("Cold.")]);
        let tools = client(&app, &key, model, "tools", &[]).await;
        assert_eq!(tools["tool_calls"][0]["arguments"]["city"], "Oslo", "{model}");
        assert_eq!(tools["final_content"], "Cold.", "{model}");
        fake.push([weather("call_y", "Lyon")]);
        let streamed = client(&app, &key, model, "stream_tools", &[]).await;
        assert_eq!(streamed["tool_calls"][0]["arguments"]["city"], "Lyon", "{model}");
        fake.push([FakeReply::text(r#"{"headline": "h", "cta": "c"}"#)]);
        let structured = client(&app, &key, model, "json_schema", &[]).await;
        assert_eq!(structured["parsed"]["headline"], "h", "{model}");
    }

    // Every call was recorded as usage and charged: once the idle block settles, the ledger's
    // spending equals the usage records' cost.
    let id = uuid::Uuid::parse_str(&user.id).expect("uuid");
    let mut settled = None;
    for _ in 0..100 {
        let balance = app.records.credits.balance(id).await.expect("balance");
        if balance.held == 0 && balance.spent > 0 {
            settled = Some(balance);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let balance = settled.expect("the credit block settles after gateway.settle_idle_secs");
    let usage = app.records.usage.list(id, None, None, 500).await.expect("usage");
    let cost: i64 = usage.iter().map(|u| u.cost_micros).sum();
    assert_eq!(balance.spent, cost, "charged = the usage records' cost");
    assert!(usage.iter().any(|u| u.provider == "bedrock") && usage.iter().any(|u| u.provider == "gemini"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn litellm_uses_aae_as_its_upstream() {
    let (app, _bedrock, _gemini) = gateway_app(Vec::new()).await;
    let user = app.user("litellm").await;
    grant(&app, &user, 10.0).await;
    let (key, _) = key_for(&app, &user, json!({"name": "litellm"})).await;
    app.fake.push([FakeReply::text("Via LiteLLM."), FakeReply::text("Via LiteLLM, streamed.")]);
    let result = client(&app, &key, "m", "litellm", &[]).await;
    assert_eq!(result["content"], "Via LiteLLM.");
    assert_eq!(result["stream_content"], "Via LiteLLM, streamed.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_shown_once_listed_without_secrets_limited_and_revoked_at_once() {
    let (app, _bedrock, _gemini) = gateway_app(Vec::new()).await;
    let user = app.user("keys").await;
    let other = app.user("other").await;
    grant(&app, &user, 10.0).await;
    let (key, id) = key_for(&app, &user, json!({"name": "laptop", "expires_in_days": 30})).await;
    assert!(key.starts_with("aae-sk-") && key.len() > 40, "{key}");
    let list = json_of(app.get(&user, "/api/v1/keys").await, 200).await;
    let listed = &list["keys"][0];
    assert_eq!((listed["id"].as_str(), listed["name"].as_str()), (Some(id.as_str()), Some("laptop")));
    assert!(listed.get("key").is_none() && !list.to_string().contains(&key[10..]), "the secret is never listed");
    assert!(key.starts_with(listed["prefix"].as_str().expect("prefix")));
    assert!(listed["expires_at"].is_string());

    let models = |key: &str| app.http.get(app.url("/v1/models")).bearer_auth(key).send();
    assert_eq!(models(&key).await.expect("request").status(), 200);
    // Session tokens work on /v1 too; keys do not work on /api/v1.
    assert_eq!(models(&user.token).await.expect("request").status(), 200);
    let response = app.http.get(app.url("/api/v1/credits")).bearer_auth(&key).send().await.expect("request");
    assert_eq!(response.status(), 401);

    // Bad requests for keys.
    for body in [
        json!({"name": ""}),
        json!({"name": "x", "expires_in_days": 0}),
        json!({"name": "x", "allowed_models": ["no-such-model"]}),
        json!({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}),
    ] {
        let response = app.post(&user, "/api/v1/keys", body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
    }

    // A key limited to one model.
    let (limited, _) =
        key_for(&app, &user, json!({"name": "only claude", "allowed_models": ["claude-4.5-sonnet"]})).await;
    let response = app
        .http
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&limited)
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("request");
    let body = json_of(response, 403).await;
    assert_eq!(body["error"]["type"], "permission_error");
    assert!(body["error"]["message"].as_str().expect("message").contains("claude-4.5-sonnet"));
    let listed = json_of(app.http.get(app.url("/v1/models")).bearer_auth(&limited).send().await.expect("r"), 200).await;
    assert_eq!(listed["data"].as_array().expect("data").len(), 1, "{listed}");

    // Another user cannot revoke it; its owner can, and it stops working at once.
    assert_eq!(app.delete(&other, &format!("/api/v1/keys/{id}")).await.status(), 404);
    assert_eq!(app.delete(&user, &format!("/api/v1/keys/{id}")).await.status(), 204);
    let response = models(&key).await.expect("request");
    let body = json_of(response, 401).await;
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert!(body["error"]["message"].as_str().expect("message").contains("revoked"));
    assert_eq!(app.delete(&user, &format!("/api/v1/keys/{id}")).await.status(), 404);
    let list = json_of(app.get(&user, "/api/v1/keys").await, 200).await;
    assert_eq!(list["keys"].as_array().expect("keys").len(), 1, "the revoked key is not listed");

    // An expired key answers 401 at once, even when it was cached as good.
    let secret = "aae-sk-expiring-key-for-the-test-0123456789abcdef";
    let expiring = app
        .records
        .api_keys
        .create(NewApiKey {
            user_id: uuid::Uuid::parse_str(&user.id).expect("uuid"),
            name: "short".into(),
            prefix: secret[..13].into(),
            key_hash: aae_server::auth::keys::key_hash(secret),
            allowed_models: Vec::new(),
            expires_at: Some(chrono::Utc::now() + chrono::Duration::milliseconds(700)),
        })
        .await
        .expect("key");
    assert_eq!(models(secret).await.expect("request").status(), 200);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let body = json_of(models(secret).await.expect("request"), 401).await;
    assert!(body["error"]["message"].as_str().expect("message").contains("expired"), "{body}");
    assert!(expiring.expires_at.is_some());
    // No key, a malformed header, an unknown key.
    let response = app.http.get(app.url("/v1/models")).send().await.expect("request");
    assert_eq!(json_of(response, 401).await["error"]["type"], "invalid_request_error");
    assert_eq!(models("aae-sk-not-a-real-key").await.expect("request").status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_limits_and_bad_requests_answer_in_openai_shape() {
    let (app, _bedrock, _gemini) = gateway_app(vec![
        ("rate_limits.routes.gateway.requests_per_minute", "1".to_owned()),
        ("rate_limits.routes.gateway.burst", "6".to_owned()),
    ])
    .await;
    let user = app.user("broke").await;
    let (key, _) = key_for(&app, &user, json!({"name": "k"})).await;
    // No credits: 402 before any upstream call, through the official client.
    let before = app.fake.request_count();
    let paid = client(&app, &key, "m", "expect_status", &["--expect-status", "402"]).await;
    assert_eq!(
        (paid["type"].as_str(), paid["code"].as_str()),
        (Some("insufficient_quota"), Some("insufficient_quota"))
    );
    assert!(paid["message"].as_str().expect("message").contains("credits"));
    assert_eq!(app.fake.request_count(), before, "no model call without credits");

    // Bad requests name the parameter.
    let post = |body: Value| app.http.post(app.url("/v1/chat/completions")).bearer_auth(&key).json(&body).send();
    let body = json_of(post(json!({"model": "m", "messages": [], "n": 1})).await.expect("request"), 400).await;
    assert_eq!(
        (body["error"]["param"].as_str(), body["error"]["type"].as_str()),
        (Some("messages"), Some("invalid_request_error"))
    );
    let body = json_of(post(json!({"model": "m"})).await.expect("request"), 400).await;
    assert!(body["error"]["message"].as_str().expect("message").contains("messages"), "{body}");

    // The gateway's rate limit: a burst of 6 a minute, then 429 with Retry-After.
    grant(&app, &user, 10.0).await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let response =
            post(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})).await.expect("request");
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");
    let limited = client(&app, &key, "m", "expect_status", &["--expect-status", "429"]).await;
    assert_eq!(limited["type"], "rate_limit_error");
    assert!(limited["retry_after"].as_str().is_some_and(|s| s.parse::<u64>().is_ok()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_follow_openai_framing_and_default_uses_the_preference() {
    let (app, bedrock, _gemini) = gateway_app(Vec::new()).await;
    let user = app.user("raw").await;
    grant(&app, &user, 10.0).await;
    let (key, _) = key_for(&app, &user, json!({"name": "raw"})).await;
    app.fake.push([FakeReply::text("one two three")]);
    let response = app
        .http
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "openai_compatible/m", "stream": true,
            "messages": [{"role": "user", "content": "count"}]}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["x-aae-model"], "openai_compatible/m");
    let text = response.text().await.expect("body");
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert!(events.iter().all(|e| e.starts_with("data: ")), "{text}");
    assert_eq!(events.last(), Some(&"data: [DONE]"));
    let chunks: Vec<Value> =
        events[..events.len() - 1].iter().map(|e| serde_json::from_str(&e[6..]).expect("chunk json")).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(chunks.iter().all(|c| c.get("usage").is_none()), "no usage field unless asked for");
    let finish = &chunks[chunks.len() - 1]["choices"][0];
    assert_eq!((finish["finish_reason"].as_str(), finish["delta"].clone()), (Some("stop"), json!({})));
    let content: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "one two three");
    assert_eq!(chunks[0]["model"], "openai_compatible/m");

    // `default` follows the caller's preference.
    json_of(
        app.put(
            &user,
            "/api/v1/users/me/model-preference",
            json!({"conversational_provider": "bedrock", "conversational_model": "claude-4.5-sonnet"}),
        )
        .await,
        200,
    )
    .await;
    bedrock.push([FakeReply::text("Claude here.")]);
    let response = app
        .http
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "default", "messages": [{"role": "user", "content": "who?"}]}))
        .send()
        .await
        .expect("request");
    let body = json_of(response, 200).await;
    assert_eq!(
        (body["model"].as_str(), body["choices"][0]["message"]["content"].as_str()),
        (Some("claude-4.5-sonnet"), Some("Claude here."))
    );

    // An upstream failure after retries answers in OpenAI's shape too.
    app.fake.push([FakeReply::status(500)]);
    let response = app
        .http
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "fail"}]}))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let body = json_of(response, status).await;
    assert!(status >= 500, "{status} {body}");
    assert!(body["error"]["type"].is_string() && body["error"]["message"].is_string(), "{body}");
}
