//! The Bedrock provider (official AWS SDK) against the fake Bedrock runtime: Converse,
//! ConverseStream event frames, Titan embeddings, errors, model ids, and the router from config.

use aae_models::{
    BedrockOptions, BedrockProvider, CallContext, ChatRequest, EmbeddingRequest, JsonSchemaFormat, Message,
    ModelErrorKind, ModelProvider, ModelRouter, StopReason, StreamEvent, ToolCall, ToolChoice, collect_stream,
};
use aae_testkit::{ACCESS_KEY, FakeModelServer, FakeReply, FakeToolCall, SECRET_KEY};
use aae_types::UserModelPreference;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::support::{config, drain, weather_tool};

const CLAUDE: &str = "anthropic.claude-sonnet-4-20250514-v1:0";
const TITAN: &str = "amazon.titan-embed-text-v2:0";

/// `options` pointed at `fake` with static SigV4 test credentials in us-east-1.
async fn provider_with(fake: &FakeModelServer, options: BedrockOptions) -> BedrockProvider {
    BedrockProvider::connect(&BedrockOptions {
        region: Some("us-east-1".into()),
        endpoint_url: Some(fake.base_url()),
        static_credentials: Some((ACCESS_KEY.into(), SecretString::from(SECRET_KEY))),
        ..options
    })
    .await
}

async fn provider(fake: &FakeModelServer) -> BedrockProvider {
    provider_with(fake, BedrockOptions::default()).await
}

fn text_of(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn converse_sends_system_messages_and_inference_config() {
    let fake = FakeModelServer::bedrock().await.unwrap();
    fake.push([FakeReply::text("Short answer.")]);
    let request = ChatRequest {
        messages: vec![
            Message::system("be brief"),
            Message::user("hi"),
            Message::assistant("hello"),
            Message::user("?"),
        ],
        temperature: Some(0.25),
        max_tokens: Some(300),
        stop: vec!["END".into()],
        ..ChatRequest::default()
    };
    let response = provider(&fake).await.chat(CLAUDE, &request).await.unwrap();
    assert_eq!((response.content.as_str(), &response.stop_reason), ("Short answer.", &StopReason::EndTurn));
    assert!(response.tool_calls.is_empty());
    assert!(response.usage.input_tokens > 0 && response.usage.output_tokens > 0, "{:?}", response.usage);

    let sent = &fake.requests()[0];
    assert_eq!(sent.path, format!("/model/{CLAUDE}/converse"));
    assert_eq!(sent.bedrock_model_id(), Some(CLAUDE));
    let auth = &sent.headers["authorization"];
    assert!(auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")), "{auth}");
    assert!(auth.contains("/us-east-1/bedrock/aws4_request"), "{auth}");
    assert!(!auth.contains(SECRET_KEY));
    let body = &sent.body;
    assert_eq!(body["system"], json!([{"text": "be brief"}]));
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [{"text": "hi"}]},
            {"role": "assistant", "content": [{"text": "hello"}]},
            {"role": "user", "content": [{"text": "?"}]},
        ])
    );
    let inference = &body["inferenceConfig"];
    assert_eq!((inference["maxTokens"].as_u64(), &inference["stopSequences"]), (Some(300), &json!(["END"])));
    assert!((inference["temperature"].as_f64().unwrap() - 0.25).abs() < 1e-6, "{inference}");
    assert!(body.get("toolConfig").is_none());
}

#[tokio::test]
async fn tool_use_round_trip_maps_tool_specs_and_history() {
    let fake = FakeModelServer::bedrock().await.unwrap();
    let bedrock = provider(&fake).await;
    let calls = vec![
        FakeToolCall::new("tooluse_w1", "get_weather", json!({"city": "Oslo", "unit": "c"})),
        FakeToolCall::new("tooluse_t2", "get_time", json!({})),
    ];
    fake.push([FakeReply::Message { text: "Checking.".into(), tool_calls: calls }]);
    let mut request = ChatRequest { tools: vec![weather_tool()], ..ChatRequest::user("weather and time in Oslo?") };
    let response = bedrock.chat(CLAUDE, &request).await.unwrap();
    assert_eq!((response.content.as_str(), &response.stop_reason), ("Checking.", &StopReason::ToolUse));
    let expected = vec![
        ToolCall {
            id: "tooluse_w1".into(),
            name: "get_weather".into(),
            arguments: json!({"city": "Oslo", "unit": "c"}),
        },
        ToolCall { id: "tooluse_t2".into(), name: "get_time".into(), arguments: json!({}) },
    ];
    assert_eq!(response.tool_calls, expected);
    let spec = &fake.requests()[0].body["toolConfig"]["tools"][0]["toolSpec"];
    assert_eq!(spec["name"], "get_weather");
    assert_eq!(spec["description"], "current weather of a city");
    assert_eq!(spec["inputSchema"]["json"], weather_tool().parameters);

    request.messages.push(Message::Assistant { content: response.content, tool_calls: response.tool_calls.clone() });
    request.messages.push(Message::tool_result(&expected[0], r#"{"celsius": -3}"#));
    request.messages.push(Message::tool_result(&expected[1], "12:00"));
    fake.push([FakeReply::text("Cold at noon.")]);
    let answer = bedrock.chat(CLAUDE, &request).await.unwrap();
    assert_eq!((answer.content.as_str(), answer.stop_reason), ("Cold at noon.", StopReason::EndTurn));
    let messages = &fake.requests()[1].body["messages"];
    let roles: Vec<&str> = messages.as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user"], "both tool results share one user turn");
    assert_eq!(
        messages[1]["content"],
        json!([
            {"text": "Checking."},
            {"toolUse": {"toolUseId": "tooluse_w1", "name": "get_weather", "input": {"city": "Oslo", "unit": "c"}}},
            {"toolUse": {"toolUseId": "tooluse_t2", "name": "get_time", "input": {}}},
        ])
    );
    assert_eq!(
        messages[2]["content"],
        json!([
            {"toolResult": {"toolUseId": "tooluse_w1", "content": [{"json": {"celsius": -3}}]}},
            {"toolResult": {"toolUseId": "tooluse_t2", "content": [{"text": "12:00"}]}},
        ])
    );
}

#[tokio::test]
async fn streamed_text_and_fragmented_tool_call_are_reassembled() {
    let fake = FakeModelServer::bedrock().await.unwrap();
    fake.set_chunk_bytes(17); // event frames split at arbitrary bytes
    let arguments = json!({"city": "Lyon", "unit": "c", "days": [1, 2, 3]});
    assert!(arguments.to_string().len() >= 18, "at least 3 input fragments of 6 characters");
    let call = FakeToolCall::new("tooluse_lyon", "get_weather", arguments.clone());
    fake.push([FakeReply::Message { text: "Let me look that up for you.".into(), tool_calls: vec![call] }]);
    let request = ChatRequest { tools: vec![weather_tool()], ..ChatRequest::user("weather in Lyon?") };
    let stream = provider(&fake).await.chat_stream(CLAUDE, &request).await.unwrap();
    let events: Vec<StreamEvent> = drain(stream).await.into_iter().map(Result::unwrap).collect();

    assert_eq!(text_of(&events), "Let me look that up for you.");
    assert!(events.iter().filter(|e| matches!(e, StreamEvent::TextDelta { .. })).count() > 1, "text is streamed");
    let calls: Vec<&ToolCall> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCall { call } => Some(call),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls,
        [&ToolCall { id: "tooluse_lyon".into(), name: "get_weather".into(), arguments }],
        "one complete call"
    );
    assert!(events.iter().any(|e| matches!(e, StreamEvent::Usage { usage } if usage.input_tokens > 0)));
    assert_eq!(events.iter().filter(|e| matches!(e, StreamEvent::Stop { .. })).count(), 1);
    assert_eq!(events.last(), Some(&StreamEvent::Stop { reason: StopReason::ToolUse }));
    let sent = &fake.requests()[0];
    assert_eq!(sent.bedrock_model_id(), Some(CLAUDE));
    assert!(sent.path.ends_with("/converse-stream"), "{}", sent.path);
}

#[tokio::test]
async fn tool_choice_becomes_converse_tool_choice() {
    let fake = FakeModelServer::bedrock().await.unwrap();
    let bedrock = provider(&fake).await;
    fake.push([FakeReply::tools(vec![FakeToolCall::new("tooluse_1", "get_weather", json!({"city": "Oslo"}))])]);
    let request = ChatRequest {
        tools: vec![weather_tool()],
        tool_choice: ToolChoice::Required,
        ..ChatRequest::user("weather in Oslo?")
    };
    let response = bedrock.chat(CLAUDE, &request).await.unwrap();
    assert_eq!((response.tool_calls[0].name.as_str(), response.stop_reason), ("get_weather", StopReason::ToolUse));
    // A named tool is forced: the fake answers with that tool, its input from the scripted text.
    fake.push([FakeReply::text(r#"{"city": "Rome"}"#)]);
    let named = ChatRequest { tool_choice: ToolChoice::Tool("get_weather".into()), ..request.clone() };
    let streamed = collect_stream(bedrock.chat_stream(CLAUDE, &named).await.unwrap()).await.unwrap();
    assert_eq!(streamed.tool_calls[0].name, "get_weather");
    assert_eq!(
        (streamed.tool_calls[0].arguments.clone(), streamed.stop_reason),
        (json!({"city": "Rome"}), StopReason::ToolUse)
    );
    let sent = fake.requests();
    assert_eq!(sent[0].body["toolConfig"]["toolChoice"], json!({"any": {}}));
    assert_eq!(sent[1].body["toolConfig"]["toolChoice"], json!({"tool": {"name": "get_weather"}}));
    assert_eq!(sent[1].body["toolConfig"]["tools"].as_array().map(Vec::len), Some(1));

    let unknown = ChatRequest { tool_choice: ToolChoice::Tool("get_time".into()), ..request };
    let error = bedrock.chat(CLAUDE, &unknown).await.unwrap_err();
    assert_eq!(error.kind, ModelErrorKind::InvalidRequest, "{error}");
    assert_eq!(fake.request_count(), 2, "nothing sent for an unknown tool");
}

#[tokio::test]
async fn structured_output_goes_through_a_forced_tool() {
    let fake = FakeModelServer::bedrock().await.unwrap();
    let bedrock = provider(&fake).await;
    let schema = json!({
        "type": "object",
        "properties": {"summary": {"type": "string"}, "celsius": {"type": "number"}},
        "required": ["summary", "celsius"]
    });
    let request = ChatRequest {
        response_format: Some(JsonSchemaFormat { name: "weather_summary".into(), schema: schema.clone() }),
        ..ChatRequest::user("summarise the weather in Oslo")
    };
    let answer = json!({"summary": "cold", "celsius": -3.5});
    fake.push([FakeReply::text(&answer.to_string())]);
    let response = bedrock.chat(CLAUDE, &request).await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&response.content).unwrap(), answer);
    assert_eq!((response.tool_calls.len(), response.stop_reason), (0, StopReason::EndTurn));
    let tool_config = &fake.requests()[0].body["toolConfig"];
    assert_eq!(tool_config["toolChoice"], json!({"tool": {"name": "weather_summary"}}));
    assert_eq!(tool_config["tools"][0]["toolSpec"]["name"], "weather_summary");
    assert_eq!(tool_config["tools"][0]["toolSpec"]["inputSchema"]["json"], schema);

    fake.push([FakeReply::text(&answer.to_string())]);
    let stream = bedrock.chat_stream(CLAUDE, &request).await.unwrap();
    let events: Vec<StreamEvent> = drain(stream).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(serde_json::from_str::<Value>(&text_of(&events)).unwrap(), answer);
    assert!(!events.iter().any(|e| matches!(e, StreamEvent::ToolCall { .. })));
    assert_eq!(events.last(), Some(&StreamEvent::Stop { reason: StopReason::EndTurn }));
}

#[tokio::test]
async fn errors_map_to_model_error_kinds() {
    let fake = FakeModelServer::bedrock().await.unwrap();
    let bedrock = provider(&fake).await;
    let hi = ChatRequest::user("hi");
    fake.push([FakeReply::throttled(2), FakeReply::status(400), FakeReply::status(404), FakeReply::status(403)]);
    let throttled = bedrock.chat(CLAUDE, &hi).await.unwrap_err();
    assert_eq!((throttled.kind, throttled.status), (ModelErrorKind::Throttled, Some(429)));
    assert!(throttled.is_retryable());
    assert_eq!(throttled.retry_after, Some(std::time::Duration::from_secs(2)));
    assert!(throttled.to_string().contains("ThrottlingException"), "{throttled}");
    let invalid = bedrock.chat(CLAUDE, &hi).await.unwrap_err();
    assert_eq!((invalid.kind, invalid.status), (ModelErrorKind::InvalidRequest, Some(400)));
    assert!(!invalid.is_retryable());
    assert!(
        invalid.to_string().starts_with(&format!("invalid request bedrock/{CLAUDE} (http 400): ValidationException"))
    );
    let missing = bedrock.chat(CLAUDE, &hi).await.unwrap_err();
    assert_eq!(missing.kind, ModelErrorKind::ModelNotFound);
    let denied = bedrock.chat(CLAUDE, &hi).await.unwrap_err();
    assert_eq!(denied.kind, ModelErrorKind::Unauthorized);
    for error in [&throttled, &invalid, &missing, &denied] {
        assert!(!error.to_string().contains(SECRET_KEY) && !format!("{bedrock:?}").contains(SECRET_KEY));
    }
    fake.push([FakeReply::throttled(1)]);
    let early = bedrock.chat_stream(CLAUDE, &hi).await.err().expect("an error before the stream starts");
    assert_eq!(early.kind, ModelErrorKind::Throttled);
}

#[tokio::test]
async fn sdk_retries_are_off() {
    let fake = FakeModelServer::bedrock().await.unwrap();
    let bedrock = provider(&fake).await;
    fake.set_default(FakeReply::status(503));
    let error = bedrock.chat(CLAUDE, &ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!((error.kind, error.status), (ModelErrorKind::Unavailable, Some(503)));
    assert!(error.is_retryable());
    assert_eq!(fake.request_count(), 1, "the SDK must not retry: the router is the only retry layer");
    let error = bedrock.chat_stream(CLAUDE, &ChatRequest::user("hi")).await.err().unwrap();
    assert_eq!(error.kind, ModelErrorKind::Unavailable);
    let error = bedrock.embed(TITAN, &EmbeddingRequest { inputs: vec!["x".into()] }).await.unwrap_err();
    assert_eq!(error.kind, ModelErrorKind::Unavailable);
    assert_eq!(fake.request_count(), 3);
}

#[tokio::test]
async fn mid_stream_exception_ends_the_stream_with_an_error() {
    let fake = FakeModelServer::bedrock().await.unwrap();
    let bedrock = provider(&fake).await;
    fake.push([FakeReply::text("This answer will be cut short by the model.")]);
    fake.bedrock_stream_exception_after(3); // messageStart and two text deltas
    let stream = bedrock.chat_stream(CLAUDE, &ChatRequest::user("hi")).await.unwrap();
    let mut events = drain(stream).await;
    let error = events.pop().unwrap().unwrap_err();
    assert_eq!(error.kind, ModelErrorKind::Unavailable);
    assert!(error.to_string().contains("ModelStreamErrorException"), "{error}");
    let before: Vec<StreamEvent> = events.into_iter().map(Result::unwrap).collect();
    assert_eq!(text_of(&before), "This answer wi");
    assert!(!before.iter().any(|e| matches!(e, StreamEvent::Stop { .. })));

    fake.bedrock_stream_exception_after(0);
    let early = bedrock.chat_stream(CLAUDE, &ChatRequest::user("hi")).await.err().expect("returned directly");
    assert!(early.to_string().contains("ModelStreamErrorException"), "{early}");
}

#[tokio::test]
async fn titan_embeddings_return_one_vector_per_input_in_order() {
    let fake = FakeModelServer::bedrock().await.unwrap();
    let bedrock = provider(&fake).await;
    let inputs: Vec<String> = (0..12).map(|i| format!("chunk number {i} of the brief")).collect();
    let many = bedrock.embed(TITAN, &EmbeddingRequest { inputs: inputs.clone() }).await.unwrap();
    assert_eq!(many.vectors.len(), inputs.len());
    assert!(many.usage.input_tokens > 0);
    for vector in &many.vectors {
        assert_eq!(vector.len(), 1024);
        let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "normalized: {norm}");
    }
    let one = bedrock.embed(TITAN, &EmbeddingRequest { inputs: vec![inputs[7].clone()] }).await.unwrap();
    assert_eq!(one.vectors[0], many.vectors[7], "vectors come back in input order");
    assert_ne!(many.vectors[0], many.vectors[1]);
    let requests = fake.requests();
    assert_eq!(requests.len(), inputs.len() + 1, "one InvokeModel call per input");
    let mut sent: Vec<String> = requests[..inputs.len()]
        .iter()
        .map(|r| {
            assert_eq!(r.bedrock_model_id(), Some(TITAN));
            assert!(r.path.ends_with("/invoke"));
            assert_eq!(r.body["normalize"], json!(true));
            r.body["inputText"].as_str().unwrap().to_owned()
        })
        .collect();
    sent.sort();
    let mut expected = inputs.clone();
    expected.sort();
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn inference_profile_prefix_and_model_id_overrides_apply_on_the_wire() {
    let fake = FakeModelServer::bedrock().await.unwrap();
    let base_url = fake.base_url();
    let config = config(&[
        ("providers.bedrock.endpoint_url", base_url.as_str()),
        ("providers.bedrock.region", "eu-west-1"),
        ("providers.bedrock.inference_profile_prefix", "us"),
        ("providers.bedrock.model_ids.qwen3", "qwen.qwen3-32b-v1:0"),
    ]);
    let options = BedrockOptions {
        static_credentials: Some((ACCESS_KEY.into(), SecretString::from(SECRET_KEY))),
        ..BedrockOptions::from_config(&config)
    };
    let bedrock = BedrockProvider::connect(&options).await;
    let catalog = config.model_catalog();
    let id = |name: &str| catalog.entries().iter().find(|e| e.name == name).unwrap().model_id.clone();
    for name in ["claude-4.5-sonnet", "qwen3", "nova-2-lite"] {
        bedrock.chat(&id(name), &ChatRequest::user("hi")).await.unwrap();
    }
    bedrock.embed(&id("titan-embed-text-v2"), &EmbeddingRequest { inputs: vec!["x".into()] }).await.unwrap();
    let sent: Vec<String> = fake.requests().iter().map(|r| r.bedrock_model_id().unwrap().to_owned()).collect();
    assert_eq!(
        sent,
        [
            "us.anthropic.claude-sonnet-4-20250514-v1:0", // prefixed
            "us.qwen.qwen3-32b-v1:0",                     // overridden by catalog name, then prefixed
            "us.amazon.nova-lite-v1:0",                   // already a profile id: not prefixed twice
            TITAN,                                        // embeddings are never prefixed
        ]
    );
    assert!(fake.requests()[0].headers["authorization"].contains("/eu-west-1/bedrock/aws4_request"));
    fake.push([FakeReply::status(404)]);
    let error = bedrock.chat(CLAUDE, &ChatRequest::user("hi")).await.unwrap_err();
    assert!(error.to_string().contains("us.anthropic.claude-sonnet-4-20250514-v1:0"), "names the id sent: {error}");
}

#[tokio::test]
async fn router_from_config_reaches_bedrock_with_an_api_key() {
    let fake = FakeModelServer::bedrock().await.unwrap();
    fake.require_api_key("bedrock-test-api-key");
    let base_url = fake.base_url();
    let config = config(&[
        ("providers.bedrock.enabled", "true"),
        ("providers.bedrock.api_key", "bedrock-test-api-key"),
        ("aws.endpoint_url", base_url.as_str()),
        ("aws.region", "us-east-1"),
    ]);
    let router = ModelRouter::from_config(&config).await.unwrap();
    let context = CallContext {
        preference: Some(UserModelPreference::new("bedrock", "claude-4.5-sonnet")),
        ..CallContext::default()
    };
    fake.push([FakeReply::text("Hello from Bedrock.")]);
    let routed = router.chat(&context, &ChatRequest::user("hi")).await.unwrap();
    assert_eq!(routed.value.content, "Hello from Bedrock.");
    assert_eq!((routed.model.name.as_str(), routed.failures.len()), ("claude-4.5-sonnet", 0));
    let sent = &fake.requests()[0];
    assert_eq!(sent.bedrock_model_id(), Some(CLAUDE));
    assert_eq!(sent.headers["authorization"], "Bearer bedrock-test-api-key");
    assert!(!config.to_redacted_toml().contains("bedrock-test-api-key"));
}
