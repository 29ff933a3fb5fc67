//! The OpenAI-compatible provider against the fake chat-completions server.

use aae_models::{
    ChatRequest, EmbeddingRequest, JsonSchemaFormat, Message, ModelErrorKind, ModelProvider, OpenAiCompatibleProvider,
    StopReason, StreamEvent, ToolCall, ToolChoice, collect_stream,
};
use aae_testkit::{FakeModelServer, FakeReply, FakeToolCall};
use secrecy::SecretString;
use serde_json::json;

use crate::support::{drain, weather_tool};

fn provider(fake: &FakeModelServer) -> OpenAiCompatibleProvider {
    OpenAiCompatibleProvider::new(&fake.base_url(), Some(SecretString::from("sk-test-key")))
}

#[tokio::test]
async fn streamed_tool_calls_split_across_chunks_are_reassembled() {
    let fake = FakeModelServer::openai().await.unwrap();
    fake.require_api_key("sk-test-key");
    fake.set_chunk_bytes(17); // SSE events split mid-line across body writes
    let calls = vec![
        FakeToolCall::new("call_1", "get_weather", json!({"city": "Paris", "unit": "c"})),
        FakeToolCall::new("call_2", "get_weather", json!({"city": "Zürich — \"old town\"", "unit": "f"})),
    ];
    fake.push([FakeReply::Message { text: "Let me check both.".into(), tool_calls: calls.clone() }]);
    let request = ChatRequest { tools: vec![weather_tool()], ..ChatRequest::user("weather in Paris and Zürich?") };
    let stream = provider(&fake).chat_stream("qwen2.5:7b", &request).await.unwrap();
    let events: Vec<StreamEvent> = drain(stream).await.into_iter().map(Result::unwrap).collect();
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "Let me check both.");
    let got: Vec<&ToolCall> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCall { call } => Some(call),
            _ => None,
        })
        .collect();
    assert_eq!(got.len(), 2, "each call once: {events:?}");
    for (got, want) in got.iter().zip(&calls) {
        assert_eq!(
            (got.id.as_str(), got.name.as_str(), &got.arguments),
            (want.id.as_str(), want.name.as_str(), &want.arguments)
        );
    }
    assert!(matches!(events.last(), Some(StreamEvent::Stop { reason: StopReason::ToolUse })), "{events:?}");
    assert!(events.iter().any(|e| matches!(e, StreamEvent::Usage { usage } if usage.input_tokens > 0)));
    let sent = &fake.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.headers["authorization"], "Bearer sk-test-key");
    assert_eq!(sent.body["model"], "qwen2.5:7b");
    assert_eq!(sent.body["stream"], true);
    assert_eq!(sent.body["stream_options"]["include_usage"], true);
    assert_eq!(sent.body["tools"][0]["type"], "function");
    assert_eq!(sent.body["tools"][0]["function"]["parameters"]["required"], json!(["city"]));
}

#[tokio::test]
async fn chat_sends_the_whole_conversation_in_openai_shape() {
    let fake = FakeModelServer::openai().await.unwrap();
    let call = ToolCall { id: "call_9".into(), name: "get_weather".into(), arguments: json!({"city": "Oslo"}) };
    let request = ChatRequest {
        messages: vec![
            Message::system("be brief"),
            Message::user("weather in Oslo?"),
            Message::Assistant { content: String::new(), tool_calls: vec![call.clone()] },
            Message::tool_result(&call, r#"{"celsius": -3}"#),
        ],
        tools: vec![weather_tool()],
        temperature: Some(0.2),
        max_tokens: Some(64),
        stop: vec!["END".into()],
        response_format: Some(JsonSchemaFormat { name: "answer".into(), schema: json!({"type": "object"}) }),
        ..ChatRequest::default()
    };
    fake.push([FakeReply::text("{\"answer\": \"cold\"}")]);
    let response = provider(&fake).chat("llama3.2", &request).await.unwrap();
    assert_eq!(response.content, "{\"answer\": \"cold\"}");
    assert_eq!(response.stop_reason, StopReason::EndTurn);
    assert!(response.usage.input_tokens > 0 && response.usage.output_tokens > 0);
    let body = &fake.requests()[0].body;
    let roles: Vec<&str> = body["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool"]);
    assert_eq!(body["messages"][2]["content"], serde_json::Value::Null);
    assert_eq!(body["messages"][2]["tool_calls"][0]["function"]["arguments"], "{\"city\":\"Oslo\"}");
    assert_eq!(body["messages"][3]["tool_call_id"], "call_9");
    assert_eq!(body["stop"], json!(["END"]));
    assert_eq!(body["max_tokens"], 64);
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["name"], "answer");
    assert!((body["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6);

    // A non-streamed reply with tool calls parses them too.
    fake.push([FakeReply::tools(vec![FakeToolCall::new("c1", "get_weather", json!({"city": "Rome"}))])]);
    let response = provider(&fake).chat("llama3.2", &ChatRequest::user("hi")).await.unwrap();
    assert_eq!(response.stop_reason, StopReason::ToolUse);
    assert_eq!(response.tool_calls[0].arguments, json!({"city": "Rome"}));
    // The same answer through the stream collects to the same response.
    fake.push([FakeReply::tools(vec![FakeToolCall::new("c1", "get_weather", json!({"city": "Rome"}))])]);
    let streamed = collect_stream(provider(&fake).chat_stream("llama3.2", &ChatRequest::user("hi")).await.unwrap());
    assert_eq!(streamed.await.unwrap().tool_calls, response.tool_calls);
}

#[tokio::test]
async fn tool_choice_reaches_the_server_and_an_unknown_tool_is_refused_before_sending() {
    let fake = FakeModelServer::openai().await.unwrap();
    let provider = provider(&fake);
    fake.push([FakeReply::tools(vec![FakeToolCall::new("c1", "get_weather", json!({"city": "Oslo"}))])]);
    let request = ChatRequest {
        tools: vec![weather_tool()],
        tool_choice: ToolChoice::Tool("get_weather".into()),
        ..ChatRequest::user("weather in Oslo?")
    };
    let response = provider.chat("m", &request).await.unwrap();
    assert_eq!((response.tool_calls[0].name.as_str(), response.stop_reason), ("get_weather", StopReason::ToolUse));
    let required = ChatRequest { tool_choice: ToolChoice::Required, ..request.clone() };
    collect_stream(provider.chat_stream("m", &required).await.unwrap()).await.unwrap();
    let sent = fake.requests();
    assert_eq!(sent[0].body["tool_choice"], json!({"type": "function", "function": {"name": "get_weather"}}));
    assert_eq!((sent[1].body["tool_choice"].clone(), sent[1].body["stream"].clone()), (json!("required"), json!(true)));

    let unknown = ChatRequest { tool_choice: ToolChoice::Tool("get_time".into()), ..request };
    let error = provider.chat("m", &unknown).await.unwrap_err();
    assert_eq!(error.kind, ModelErrorKind::InvalidRequest, "{error}");
    assert!(error.to_string().contains("get_time"), "{error}");
    let Err(error) = provider.chat_stream("m", &unknown).await else { panic!("unknown tool streamed") };
    assert_eq!(error.kind, ModelErrorKind::InvalidRequest);
    assert_eq!(fake.request_count(), 2, "nothing sent for an unknown tool");
}

#[tokio::test]
async fn errors_map_to_kinds_and_never_show_the_key() {
    let fake = FakeModelServer::openai().await.unwrap();
    fake.require_api_key("right-key");
    let wrong = OpenAiCompatibleProvider::new(&fake.base_url(), Some(SecretString::from("wrong-secret-key")));
    let error = wrong.chat("m", &ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(error.kind, ModelErrorKind::Unauthorized);
    assert!(!error.to_string().contains("wrong-secret-key"), "{error}");
    assert!(!format!("{wrong:?}").contains("wrong-secret-key"));
    let fake = FakeModelServer::openai().await.unwrap();
    let provider = provider(&fake);
    fake.push([FakeReply::throttled(7), FakeReply::status(503), FakeReply::status(400)]);
    let throttled = provider.chat("m", &ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!((throttled.kind, throttled.status), (ModelErrorKind::Throttled, Some(429)));
    assert_eq!(throttled.retry_after, Some(std::time::Duration::from_secs(7)));
    assert!(throttled.to_string().contains("openai_compatible/m"), "{throttled}");
    assert!(provider.chat("m", &ChatRequest::user("hi")).await.unwrap_err().is_retryable());
    let invalid = provider.chat("m", &ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(invalid.kind, ModelErrorKind::InvalidRequest);
    assert!(!invalid.is_retryable());
    let closed = OpenAiCompatibleProvider::new("http://127.0.0.1:9/v1", None);
    let unreachable = closed.chat("m", &ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(unreachable.kind, ModelErrorKind::Unavailable, "{unreachable}");
}

#[tokio::test]
async fn embeddings_come_back_in_input_order() {
    let fake = FakeModelServer::openai().await.unwrap();
    let inputs: Vec<String> = ["alpha", "beta", "gamma"].map(String::from).to_vec();
    let response =
        provider(&fake).embed("nomic-embed-text", &EmbeddingRequest { inputs: inputs.clone() }).await.unwrap();
    assert_eq!(response.vectors.len(), 3);
    let one =
        provider(&fake).embed("nomic-embed-text", &EmbeddingRequest { inputs: vec!["gamma".into()] }).await.unwrap();
    assert_eq!(response.vectors[2], one.vectors[0], "sorted by index although the fake answers in reverse");
    assert_eq!(fake.requests()[0].path, "/v1/embeddings");
    assert_eq!(fake.requests()[0].body["input"], json!(inputs));
}
