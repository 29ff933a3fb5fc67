//! The embedded local provider end to end: the real SmolLM2 and MiniLM weights (fetched once per
//! machine into the shared models directory), routed on a configuration with no provider set up.

use std::path::PathBuf;
use std::sync::OnceLock;

use aae_models::{
    CallContext, ChatRequest, EmbeddingRequest, JsonSchemaFormat, Message, ModelRouter, StopReason, StreamEvent,
    ToolDefinition, collect_stream,
};
use serde_json::{Value, json};

use crate::support::{config, drain};

/// The shared models directory with every pinned file (`$AAE_TEST_MODELS_DIR`, else the tools
/// cache); a concurrent fetch by another test process waits on the directory's lock.
fn models_dir() -> String {
    static DIR: OnceLock<String> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var_os("AAE_TEST_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| {
            let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
            home.join(".cache/aae-tools/models")
        });
        aae_local::fetch(&dir, &mut |_| {}).expect("fetch the pinned weights");
        dir.to_string_lossy().into_owned()
    })
    .clone()
}

async fn router() -> ModelRouter {
    let dir = models_dir();
    let config = config(&[("models.dir", dir.as_str())]);
    assert_eq!(config.default_model_preference().conversational_provider, "local", "nothing else is configured");
    ModelRouter::from_config(&config).await.expect("router")
}

#[tokio::test]
async fn the_default_model_answers_and_streams_a_chat_prompt() {
    let router = router().await;
    let request = ChatRequest {
        messages: vec![
            Message::system("You write short ad copy."),
            Message::user("Write a tagline for a coffee brand."),
        ],
        temperature: Some(0.0),
        max_tokens: Some(32),
        ..ChatRequest::default()
    };
    let routed = router.chat(&CallContext::default(), &request).await.expect("chat");
    assert_eq!(routed.model.key(), "local/smollm2-135m-instruct");
    assert!(routed.value.content.trim().len() > 3, "{:?}", routed.value.content);
    assert!(routed.value.usage.input_tokens > 10 && routed.value.usage.output_tokens > 0, "{:?}", routed.value.usage);

    let streamed = router.chat_stream(&CallContext::default(), &request).await.expect("stream");
    let events: Vec<StreamEvent> = drain(streamed.stream).await.into_iter().map(|e| e.expect("event")).collect();
    let deltas = events.iter().filter(|e| matches!(e, StreamEvent::TextDelta { .. })).count();
    assert!(deltas > 1, "text arrives in pieces: {events:?}");
    assert!(matches!(events.last(), Some(StreamEvent::Stop { .. })), "{events:?}");
    let text: String = events
        .iter()
        .filter_map(|e| if let StreamEvent::TextDelta { text } = e { Some(text.as_str()) } else { None })
        .collect();
    assert_eq!(text, routed.value.content, "greedy decoding gives the same text streamed or not");
}

#[tokio::test]
async fn tool_calls_and_structured_output_always_parse() {
    let router = router().await;
    let tool = ToolDefinition {
        name: "render_ad_creatives".into(),
        description: "Render ad images with a headline.".into(),
        parameters: json!({
            "type": "object",
            "properties": {"headline": {"type": "string"}, "sizes": {"type": "integer"}},
            "required": ["headline", "sizes"]
        }),
    };
    let request = ChatRequest {
        messages: vec![Message::user("Make ad images for a coffee brand with the headline 'Wake up'.")],
        tools: vec![tool],
        temperature: Some(0.0),
        max_tokens: Some(96),
        ..ChatRequest::default()
    };
    let routed = router.chat_stream(&CallContext::default(), &request).await.expect("stream");
    let response = collect_stream(routed.stream).await.expect("a reply that parses");
    if let Some(call) = response.tool_calls.first() {
        assert_eq!(response.stop_reason, StopReason::ToolUse);
        assert_eq!(call.name, "render_ad_creatives");
        assert!(call.arguments["headline"].is_string() && call.arguments["sizes"].is_i64(), "{call:?}");
    } else {
        assert!(!response.content.is_empty(), "an answer instead of a call: {response:?}");
    }

    let schema = json!({
        "type": "object",
        "properties": {"headline": {"type": "string"}, "tone": {"enum": ["bold", "calm"]}},
        "required": ["headline", "tone"],
        "additionalProperties": false
    });
    let request = ChatRequest {
        messages: vec![Message::user("Give a headline and a tone for a coffee ad.")],
        response_format: Some(JsonSchemaFormat { name: "ad".into(), schema }),
        temperature: Some(0.0),
        max_tokens: Some(64),
        ..ChatRequest::default()
    };
    let response = router.chat(&CallContext::default(), &request).await.expect("json").value;
    let value: Value = serde_json::from_str(&response.content).expect("valid JSON");
    assert!(value["headline"].is_string(), "{value}");
    assert!(["bold", "calm"].contains(&value["tone"].as_str().unwrap_or("")), "{value}");
}

#[tokio::test]
async fn local_embeddings_rank_related_sentences_closer() {
    let router = router().await;
    let inputs = vec![
        "Fresh roasted coffee delivered to your door.".to_owned(),
        "Get specialty coffee beans shipped weekly.".to_owned(),
        "The quarterly tax filing deadline is approaching.".to_owned(),
    ];
    let routed = router
        .embed(&CallContext::default(), Some("local/all-minilm-l6-v2"), &EmbeddingRequest { inputs })
        .await
        .expect("embed");
    let vectors = &routed.value.vectors;
    assert_eq!(vectors.len(), 3);
    assert!(vectors.iter().all(|v| v.len() == 384));
    let related = aae_local::cosine(&vectors[0], &vectors[1]);
    let unrelated = aae_local::cosine(&vectors[0], &vectors[2]);
    assert!(related > unrelated + 0.2, "related {related} vs unrelated {unrelated}");
}
