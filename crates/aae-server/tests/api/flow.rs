//! The whole journey: register → login → set preference → chat (SSE and JSON, scripted model
//! with a tool call) → credits → create a campaign → follow its events → fetch every artifact
//! through its URL → list and stats → delete (objects and record both gone).

use std::time::Duration;

use aae_testkit::{Engine, FakeReply, FakeToolCall};
use aae_types::BucketPurpose;
use serde_json::{Value, json};

use crate::helpers::{App, User, brief, error_code, json_of, spawn_app, sse_events};

async fn journey(engine: Engine) {
    let app = spawn_app(engine).await;
    let ana = app.user("ana").await;

    // Profile.
    let profile = json_of(app.get(&ana, "/api/v1/auth/profile").await, 200).await;
    assert_eq!(profile["email"], ana.email.as_str());
    assert_eq!(profile["role"], "user");

    // Models and the preference: unknown choices answer 422 listing the allowed ones.
    let models = json_of(app.get(&ana, "/api/v1/models").await, 200).await;
    let fake_model =
        models["models"].as_array().expect("models").iter().find(|m| m["model"] == "m").cloned().expect("m");
    assert_eq!(fake_model["provider"], "openai_compatible");
    assert_eq!(fake_model["kind"], "conversational");
    assert_eq!(fake_model["available"], true);
    let body = json_of(
        app.put(
            &ana,
            "/api/v1/users/me/model-preference",
            json!({"conversational_provider": "bedrock", "conversational_model": "claude-3"}),
        )
        .await,
        422,
    )
    .await;
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("claude-4.5-sonnet, qwen3, nova-2-lite"), "{message}");
    let preference = json_of(
        app.put(
            &ana,
            "/api/v1/users/me/model-preference",
            json!({"conversational_provider": "openai_compatible", "conversational_model": "m"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(preference["source"], "user");
    let preference = json_of(app.get(&ana, "/api/v1/users/me/model-preference").await, 200).await;
    assert_eq!(preference["conversational_model"], "m");

    chat(&app, &ana).await;
    campaign(&app, &ana).await;
}

async fn chat(app: &App, ana: &User) {
    let conversation = json_of(app.post(ana, "/api/v1/conversations", json!({"title": "Taglines"})).await, 201).await;
    let id = conversation["id"].as_str().expect("id");
    // The assistant looks up the user's campaigns, then answers.
    app.fake.push([
        FakeReply::tools(vec![FakeToolCall::new("call_1", "list_campaigns", json!({"limit": 5}))]),
        FakeReply::text("You have no campaigns yet. Try: Wake up to better coffee."),
    ]);
    let response = app
        .http
        .post(app.url(&format!("/api/v1/conversations/{id}/messages")))
        .bearer_auth(&ana.token)
        .header("accept", "text/event-stream")
        .json(&json!({"content": "Write a tagline for our coffee subscription"}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().expect("type").starts_with("text/event-stream"));
    let events = sse_events(&response.text().await.expect("body"));
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    for expected in ["agent_started", "tool_call", "tool_result", "text_delta", "usage", "agent_finished", "done"] {
        assert!(names.contains(&expected), "missing {expected} in {names:?}");
    }
    let (_, tool_call) = events.iter().find(|(n, _)| n == "tool_call").expect("tool call");
    assert_eq!(tool_call["call"]["name"], "list_campaigns");
    let (_, done) = events.last().expect("last");
    assert_eq!(done["answer"], "You have no campaigns yet. Try: Wake up to better coffee.");
    assert_eq!(done["model"], "openai_compatible/m");
    let text: String =
        events.iter().filter(|(n, _)| n == "text_delta").filter_map(|(_, e)| e["text"].as_str()).collect();
    assert!(text.contains("Wake up to better coffee"), "{text}");

    // The JSON form, on the same conversation: the history goes to the model.
    app.fake.push([FakeReply::text("Second answer.")]);
    let reply = json_of(
        app.post(ana, &format!("/api/v1/conversations/{id}/messages"), json!({"content": "Another one"})).await,
        200,
    )
    .await;
    assert_eq!(reply["answer"], "Second answer.");
    assert!(reply["input_tokens"].as_u64().expect("tokens") > 0);
    let last = app.fake.requests().last().cloned().expect("request");
    let sent = serde_json::to_string(&last.body).expect("body");
    assert!(sent.contains("Write a tagline for our coffee subscription"), "history was not sent: {sent}");

    // Everything was persisted: 2 user messages, the tool call and its result, 2 answers.
    let detail = json_of(app.get(ana, &format!("/api/v1/conversations/{id}")).await, 200).await;
    let roles: Vec<&str> =
        detail["messages"].as_array().expect("messages").iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles, ["user", "assistant", "tool", "assistant", "user", "assistant"]);
    let list = json_of(app.get(ana, "/api/v1/conversations").await, 200).await;
    assert_eq!(list["conversations"].as_array().expect("list").len(), 1);
    // Bad input: an empty message.
    assert_eq!(
        error_code(app.post(ana, &format!("/api/v1/conversations/{id}/messages"), json!({"content": " "})).await, 400)
            .await,
        "invalid_input"
    );
}

async fn campaign(app: &App, ana: &User) {
    // A campaign holds credits: without them the job fails before any model call.
    let admin = app.admin("root").await;
    let grant = json_of(
        app.post(&admin, &format!("/api/v1/admin/users/{}/credits", ana.id), json!({"amount": 5.0, "reason": "trial"}))
            .await,
        201,
    )
    .await;
    assert_eq!(grant["balance"]["available"], 5.0);
    assert_eq!(
        error_code(
            app.post(ana, &format!("/api/v1/admin/users/{}/credits", ana.id), json!({"amount": 5.0})).await,
            403
        )
        .await,
        "access_denied"
    );

    let accepted = json_of(app.post(ana, "/api/v1/campaigns", brief()).await, 202).await;
    let id = accepted["campaign_id"].as_str().expect("campaign id").to_owned();
    assert!(id.starts_with("campaign_"), "{id}");

    // Follow the events to the end.
    let response = app
        .http
        .get(app.url(&format!("/api/v1/campaigns/{id}/events")))
        .bearer_auth(&ana.token)
        .timeout(Duration::from_secs(240))
        .send()
        .await
        .expect("events");
    assert_eq!(response.status(), 200);
    let events = sse_events(&response.text().await.expect("events body"));
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"snapshot"), "{names:?}");
    assert!(names.iter().filter(|n| **n == "progress").count() >= 4, "{names:?}");
    let (last, done) = events.last().expect("done");
    assert_eq!(last, "done");
    assert_eq!(done["status"], "completed", "{events:?}");

    // The record with progress, and every artifact through its URL.
    let detail = json_of(app.get(ana, &format!("/api/v1/campaigns/{id}")).await, 200).await;
    assert_eq!(detail["progress"], 100.0);
    assert_eq!(detail["creatives"].as_array().expect("creatives").len(), 7);
    for (artifact, content_type) in [
        ("website", "text/html"),
        ("pdf", "application/pdf"),
        ("artifacts", "application/json"),
        ("metadata", "application/json"),
    ] {
        let url = detail["urls"][artifact].as_str().unwrap_or_else(|| panic!("no {artifact} url: {detail}"));
        let response = reqwest::get(url).await.expect("artifact");
        assert_eq!(response.status(), 200, "{artifact}");
        assert!(response.headers()["content-type"].to_str().expect("type").starts_with(content_type), "{artifact}");
        assert!(!response.bytes().await.expect("bytes").is_empty());
    }

    // Seed 003's shapes.
    let info = json_of(app.get(ana, &format!("/api/v1/campaigns/{id}/aws")).await, 200).await;
    assert_eq!(info["campaign_id"], id.as_str());
    let s3 = &info["aws_services"]["s3"];
    assert!(
        s3["bucket_name"].as_str().expect("bucket").ends_with("aae-campaign_outputs") || s3["bucket_name"].is_string()
    );
    assert!(s3["region"].is_string());
    for key in ["website", "pdf", "artifacts", "metadata"] {
        assert!(s3["files"][key].is_string(), "{key}");
    }
    assert_eq!(info["aws_services"]["dynamodb"]["table_name"], "campaigns");
    assert_eq!(info["aws_services"]["dynamodb"]["data"]["campaign_id"], id.as_str());
    let list = json_of(app.get(ana, "/api/v1/campaigns/aws/list").await, 200).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["user_id"], ana.id.as_str());
    assert_eq!(list["campaigns"][0]["campaign_id"], id.as_str());
    assert!(list["campaigns"][0]["s3_urls"]["website"].is_string());
    let page = json_of(app.get(ana, "/api/v1/campaigns?limit=10").await, 200).await;
    assert_eq!(page["campaigns"][0]["status"], "completed");
    assert_eq!(error_code(app.get(ana, "/api/v1/campaigns/aws/stats").await, 403).await, "access_denied");
    let stats = json_of(app.get(&admin, "/api/v1/campaigns/aws/stats").await, 200).await;
    assert_eq!(stats["aws_stats"]["total_campaigns"], 1);
    assert_eq!(stats["aws_stats"]["status_counts"]["completed"], 1);
    assert!(stats["aws_stats"]["average_execution_time"].as_f64().expect("avg") > 0.0);

    // The credits: the hold was captured at cost and the rest released.
    let credits = json_of(app.get(ana, "/api/v1/credits").await, 200).await;
    let kinds: Vec<&str> =
        credits["ledger"].as_array().expect("ledger").iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(kinds.contains(&"hold") && kinds.contains(&"grant"), "{kinds:?}");
    assert_eq!(credits["balance"]["held"], 0.0);

    // Resume of a completed campaign is a conflict.
    assert_eq!(
        error_code(app.post(ana, &format!("/api/v1/campaigns/{id}/resume"), json!({})).await, 409).await,
        "conflict"
    );

    // Delete: objects and record both gone.
    let deleted = json_of(app.delete(ana, &format!("/api/v1/campaigns/{id}/aws")).await, 200).await;
    assert_eq!(deleted["deletion_results"]["s3"]["success"], true);
    assert_eq!(deleted["deletion_results"]["dynamodb"]["success"], true);
    assert_eq!(deleted["message"], "Campaign deletion completed");
    assert_eq!(error_code(app.get(ana, &format!("/api/v1/campaigns/{id}")).await, 404).await, "not_found");
    let left = app.storage.list(BucketPurpose::CampaignOutputs, &format!("campaigns/{id}/"), 10).await.expect("list");
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn the_whole_journey_on_sqlite() {
    journey(Engine::Sqlite).await;
}

#[tokio::test]
async fn the_whole_journey_on_postgres() {
    journey(Engine::Postgres).await;
}

#[tokio::test]
async fn presigned_uploads_are_confirmed_when_the_object_exists() {
    let app = spawn_app(Engine::Sqlite).await;
    let ana = app.user("ana").await;
    let presigned = json_of(
        app.post(
            &ana,
            "/api/v1/files/presign-upload",
            json!({"filename": "brand guide.pdf", "content_type": "application/pdf", "size": 11}),
        )
        .await,
        201,
    )
    .await;
    let file_id = presigned["file_id"].as_str().expect("file id");
    assert!(presigned["key"].as_str().expect("key").starts_with(&format!("users/{}/uploads/", ana.id)));
    // Not uploaded yet: 409 with what to do.
    let code = error_code(app.get(&ana, &format!("/api/v1/files/{file_id}/download-url")).await, 409).await;
    assert_eq!(code, "conflict");
    let listed = json_of(app.get(&ana, "/api/v1/files").await, 200).await;
    assert_eq!(listed["files"][0]["status"], "pending");
    // Upload straight to the URL with the headers it names.
    let mut put = app.http.put(presigned["upload_url"].as_str().expect("url")).body("hello world");
    for (name, value) in presigned["headers"].as_object().expect("headers") {
        put = put.header(name, value.as_str().expect("value"));
    }
    let uploaded = put.send().await.expect("upload");
    assert!(uploaded.status().is_success(), "{}", uploaded.text().await.unwrap_or_default());
    let download = json_of(app.get(&ana, &format!("/api/v1/files/{file_id}/download-url")).await, 200).await;
    let bytes = reqwest::get(download["url"].as_str().expect("url")).await.expect("get").bytes().await.expect("bytes");
    assert_eq!(&bytes[..], b"hello world");
    let listed = json_of(app.get(&ana, "/api/v1/files").await, 200).await;
    assert_eq!(listed["files"][0]["status"], "confirmed");
    assert_eq!(listed["files"][0]["file_size"], 11);
    // Bad input.
    let code = error_code(
        app.post(&ana, "/api/v1/files/presign-upload", json!({"filename": "", "content_type": "text/plain"})).await,
        400,
    )
    .await;
    assert_eq!(code, "invalid_input");
    let code = error_code(
        app.post(
            &ana,
            "/api/v1/files/presign-upload",
            json!({"filename": "a", "content_type": "text/plain", "extra": 1}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(code, "invalid_input");
}

#[tokio::test]
async fn health_metrics_and_the_api_description_are_served() {
    let app = spawn_app(Engine::Sqlite).await;
    let health = app.http.get(app.url("/api/v1/health")).send().await.expect("health");
    assert!(health.headers().contains_key("x-request-id"));
    let health = json_of(health, 200).await;
    let services: Vec<&str> =
        health["services"].as_array().expect("services").iter().filter_map(|s| s["service"].as_str()).collect();
    for expected in ["storage", "database", "campaigns", "model.openai_compatible", "model.local"] {
        assert!(services.contains(&expected), "{expected} missing from {services:?}");
    }
    let ana = app.user("ana").await;
    let _ = app.get(&ana, "/api/v1/campaigns").await;
    let metrics = app.http.get(app.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(
        metrics.contains("aae_http_requests_total{method=\"GET\",route=\"/api/v1/campaigns\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("aae_http_request_duration_seconds_bucket"), "{metrics}");
    assert!(metrics.contains("aae_jobs{status=\"queued\"}"), "{metrics}");
    let doc: Value = json_of(app.http.get(app.url("/api/v1/openapi.json")).send().await.expect("doc"), 200).await;
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
    for path in [
        "/api/v1/campaigns/{campaign_id}/aws",
        "/api/v1/campaigns/aws/list",
        "/api/v1/campaigns/aws/stats",
        "/api/v1/auth/login",
        "/api/v1/users/me/model-preference",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    let docs = app.http.get(app.url("/docs")).send().await.expect("docs").text().await.expect("html");
    assert!(docs.contains("/api/v1/openapi.json"));
    // Unknown routes answer the error shape too.
    assert_eq!(error_code(app.http.get(app.url("/api/v1/nope")).send().await.expect("404"), 404).await, "not_found");
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_and_ends_event_streams() {
    let app = spawn_app(Engine::Sqlite).await;
    let ana = app.user("ana").await;
    let conversation = json_of(app.post(&ana, "/api/v1/conversations", json!({})).await, 201).await;
    let id = conversation["id"].as_str().expect("id").to_owned();
    // A campaign whose model calls are slow: still running when the server shuts down.
    let user = uuid::Uuid::parse_str(&ana.id).expect("uuid");
    app.records.credits.grant(user, 5_000_000, "test", None).await.expect("grant");
    app.fake.set_latency(Duration::from_millis(800));
    let campaign = json_of(app.post(&ana, "/api/v1/campaigns", brief()).await, 202).await;
    let campaign = campaign["campaign_id"].as_str().expect("id").to_owned();
    let slow = {
        let request = app
            .http
            .post(app.url(&format!("/api/v1/conversations/{id}/messages")))
            .bearer_auth(&ana.token)
            .json(&json!({"content": "slow question"}));
        tokio::spawn(async move { request.send().await })
    };
    let events = {
        let request = app.http.get(app.url(&format!("/api/v1/campaigns/{campaign}/events"))).bearer_auth(&ana.token);
        tokio::spawn(async move { request.send().await.expect("events").text().await.expect("body") })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.shutdown();
    let reply = slow.await.expect("join").expect("the in-flight request completes");
    assert_eq!(reply.status(), 200);
    let body = tokio::time::timeout(Duration::from_secs(10), events).await.expect("the stream ends").expect("join");
    let names: Vec<String> = sse_events(&body).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.first().map(String::as_str), Some("snapshot"), "{names:?}");
    assert_eq!(names.last().map(String::as_str), Some("shutdown"), "{names:?}");
    // New connections are refused once the server has stopped.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.http.get(app.url("/api/v1/health")).send().await.is_err());
}

#[tokio::test]
async fn cors_preflights_answer_configured_origins_and_bodies_have_limits() {
    let app = crate::helpers::spawn_app_with(
        Engine::Sqlite,
        vec![("cors.origins", "https://app.example.com".to_owned()), ("server.json_body_limit_kib", "4".to_owned())],
    )
    .await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/campaigns"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.expect("preflight");
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://app.example.com");
    let denied = preflight("https://evil.example.com").await.expect("preflight");
    assert!(!denied.headers().contains_key("access-control-allow-origin"));
    // A JSON body over server.json_body_limit_kib answers 413 in the error shape.
    let ana = app.user("ana").await;
    let big = json!({"title": "x".repeat(8 * 1024)});
    let response = app.post(&ana, "/api/v1/conversations", big).await;
    assert_eq!(error_code(response, 413).await, "payload_too_large");
}
