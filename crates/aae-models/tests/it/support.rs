//! Shared helpers.

use std::sync::Arc;
use std::time::Duration;

use aae_config::{Config, ConfigSources};
use aae_models::testing::ScriptedProvider;
use aae_models::{ChatStream, ModelRouter, StreamEvent};
use aae_types::Provider;
use futures::StreamExt;

/// Defaults plus `overrides`, with fast retries and no environment.
pub fn config(overrides: &[(&str, &str)]) -> Config {
    let mut sources = ConfigSources { ignore_env: true, ..Default::default() }
        .set("router.retry.initial_backoff_ms", "5")
        .set("router.retry.max_backoff_ms", "20");
    for (key, value) in overrides {
        sources = sources.set(key, *value);
    }
    Config::load(&sources).expect("test configuration loads")
}

/// A router over the two fakes plus scripted Bedrock and local providers.
pub async fn router_with(config: &Config, scripted: &[(Provider, Arc<ScriptedProvider>)]) -> ModelRouter {
    let mut router = ModelRouter::from_config(config).await.expect("router");
    for (provider, implementation) in scripted {
        router = router.with_provider(*provider, implementation.clone());
    }
    router
}

/// Every event of a stream (an error ends the list as `Err`).
pub async fn drain(mut stream: ChatStream) -> Vec<Result<StreamEvent, aae_models::ModelError>> {
    let mut events = Vec::new();
    while let Some(event) = tokio::time::timeout(Duration::from_secs(30), stream.next()).await.expect("stream stalls") {
        events.push(event);
    }
    events
}

/// A tool definition with a JSON Schema.
pub fn weather_tool() -> aae_models::ToolDefinition {
    aae_models::ToolDefinition {
        name: "get_weather".into(),
        description: "current weather of a city".into(),
        parameters: serde_json::json!({
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"]
        }),
    }
}
