//! `aae models list` and `aae chat` against the fake OpenAI-compatible server.

use aae_testkit::{FakeModelServer, FakeReply};

use crate::{aae, stderr, stdout};

#[test]
fn models_list_shows_catalog_availability_and_prices() {
    let dir = tempfile::tempdir().unwrap();
    let out = aae(dir.path(), &["models", "list"], &[("AAE__PROVIDERS__GEMINI__API_KEY", "never-printed-key")]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("claude-4.5-sonnet"), "{text}");
    assert!(text.contains("set AAE__PROVIDERS__BEDROCK__ENABLED=true"), "{text}");
    assert!(text.contains("3/15 per 1M tokens in/out"), "{text}");
    assert!(text.contains("gemini-2.5-flash (default)"), "gemini is configured: {text}");
    assert!(!text.contains("never-printed-key"));
    let json = aae(dir.path(), &["models", "list", "--json"], &[]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&json.stdout).unwrap();
    let local = rows.iter().find(|r| r["model"] == "smollm2-135m-instruct").unwrap();
    assert_eq!((local["provider"].as_str(), local["available"].as_bool()), (Some("local"), Some(true)));
    let image = rows.iter().find(|r| r["model"] == "qwen-image").unwrap();
    assert_eq!(image["model_id"], "sagemaker-endpoint-qwen-image");
    assert_eq!(image["price"]["per_image"], 0.04);
}

#[test]
fn chat_streams_the_reply_through_the_router() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fake = runtime.block_on(FakeModelServer::openai()).unwrap();
    fake.require_api_key("sk-cli");
    fake.push([FakeReply::text("Wake up to bold flavour.")]);
    let dir = tempfile::tempdir().unwrap();
    let base_url = fake.base_url();
    let env = [
        ("AAE__PROVIDERS__OPENAI_COMPATIBLE__BASE_URL", base_url.as_str()),
        ("AAE__PROVIDERS__OPENAI_COMPATIBLE__MODELS", "qwen2.5:7b"),
        ("AAE__PROVIDERS__OPENAI_COMPATIBLE__API_KEY", "sk-cli"),
    ];
    let out = aae(dir.path(), &["chat", "Write a tagline for a coffee brand"], &env);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out).trim(), "Wake up to bold flavour.");
    let sent = &fake.requests()[0];
    assert_eq!(sent.body["model"], "qwen2.5:7b", "the default is the configured server's first model");
    assert_eq!(sent.body["stream"], true);
    assert_eq!(sent.body["messages"][0]["content"], "Write a tagline for a coffee brand");

    let out = aae(dir.path(), &["chat", "--provider", "bedrock", "--model", "gpt-5", "hi"], &env);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("allowed models: claude-4.5-sonnet, qwen3, nova-2-lite"), "{}", stderr(&out));
    let out = aae(dir.path(), &["chat", "--provider", "gemini", "hi"], &env);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("provider gemini is not configured"), "{}", stderr(&out));
}
