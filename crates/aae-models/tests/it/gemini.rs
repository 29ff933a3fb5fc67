//! The Gemini provider against the fake Gemini REST API.

use aae_models::{
    ChatRequest, EmbeddingRequest, GeminiAuth, GeminiProvider, JsonSchemaFormat, Message, ModelErrorKind,
    ModelProvider, StopReason, StreamEvent, ToolCall, ToolChoice, collect_stream,
};
use aae_testkit::{FakeModelServer, FakeReply, FakeToolCall};
use secrecy::SecretString;
use serde_json::json;

use crate::support::{drain, weather_tool};

fn provider(fake: &FakeModelServer) -> GeminiProvider {
    GeminiProvider::new(&fake.base_url(), GeminiAuth::ApiKey(SecretString::from("g-test-key")))
}

#[tokio::test]
async fn streamed_function_calls_across_chunks_are_reassembled() {
    let fake = FakeModelServer::gemini().await.unwrap();
    fake.require_api_key("g-test-key");
    fake.set_chunk_bytes(13);
    let calls = vec![
        FakeToolCall::new("", "get_weather", json!({"city": "Lyon"})),
        FakeToolCall::new("", "search", json!({"q": "events in Lyon", "limit": 3})),
    ];
    fake.push([FakeReply::Message { text: "Checking the weather and events.".into(), tool_calls: calls.clone() }]);
    let request = ChatRequest { tools: vec![weather_tool()], ..ChatRequest::user("plan my day in Lyon") };
    let stream = provider(&fake).chat_stream("gemini-2.5-flash", &request).await.unwrap();
    let events: Vec<StreamEvent> = drain(stream).await.into_iter().map(Result::unwrap).collect();
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "Checking the weather and events.");
    let got: Vec<(String, serde_json::Value)> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCall { call } => Some((call.name.clone(), call.arguments.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(got, calls.iter().map(|c| (c.name.clone(), c.arguments.clone())).collect::<Vec<_>>());
    assert!(matches!(events.last(), Some(StreamEvent::Stop { reason: StopReason::ToolUse })), "{events:?}");
    assert!(events.iter().any(|e| matches!(e, StreamEvent::Usage { usage } if usage.input_tokens > 0)));
    let sent = &fake.requests()[0];
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
    assert_eq!(sent.headers["x-goog-api-key"], "g-test-key");
    let declaration = &sent.body["tools"][0]["functionDeclarations"][0];
    assert_eq!(declaration["name"], "get_weather");
    assert_eq!(declaration["parametersJsonSchema"]["required"], json!(["city"]));
}

#[tokio::test]
async fn conversation_with_function_results_uses_gemini_turns() {
    let fake = FakeModelServer::gemini().await.unwrap();
    let first = ToolCall { id: "call_0".into(), name: "get_weather".into(), arguments: json!({"city": "Oslo"}) };
    let second = ToolCall { id: "call_1".into(), name: "get_time".into(), arguments: json!({}) };
    let request = ChatRequest {
        messages: vec![
            Message::system("be brief"),
            Message::user("weather and time in Oslo?"),
            Message::Assistant { content: String::new(), tool_calls: vec![first.clone(), second.clone()] },
            Message::tool_result(&first, r#"{"celsius": -3}"#),
            Message::tool_result(&second, "12:00"),
        ],
        temperature: Some(0.5),
        max_tokens: Some(100),
        stop: vec!["END".into()],
        response_format: Some(JsonSchemaFormat { name: "a".into(), schema: json!({"type": "object"}) }),
        ..ChatRequest::default()
    };
    fake.push([FakeReply::text("{\"summary\": \"cold at noon\"}")]);
    let response = provider(&fake).chat("gemini-2.5-pro", &request).await.unwrap();
    assert_eq!(response.content, "{\"summary\": \"cold at noon\"}");
    assert_eq!(response.stop_reason, StopReason::EndTurn);
    let sent = &fake.requests()[0];
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-pro:generateContent");
    let body = &sent.body;
    assert_eq!(body["systemInstruction"]["parts"][0]["text"], "be brief");
    let roles: Vec<&str> = body["contents"].as_array().unwrap().iter().map(|c| c["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "model", "user"], "both function responses share one user turn");
    assert_eq!(
        body["contents"][1]["parts"][0]["functionCall"],
        json!({"name": "get_weather", "args": {"city": "Oslo"}})
    );
    assert_eq!(
        body["contents"][2]["parts"][0]["functionResponse"],
        json!({"name": "get_weather", "response": {"celsius": -3}})
    );
    assert_eq!(body["contents"][2]["parts"][1]["functionResponse"]["response"], json!({"result": "12:00"}));
    let config = &body["generationConfig"];
    assert_eq!((config["maxOutputTokens"].as_u64(), config["stopSequences"].clone()), (Some(100), json!(["END"])));
    assert_eq!(config["responseMimeType"], "application/json");
    assert_eq!(config["responseJsonSchema"], json!({"type": "object"}));
}

#[tokio::test]
async fn tool_choice_becomes_the_function_calling_mode() {
    let fake = FakeModelServer::gemini().await.unwrap();
    let provider = provider(&fake);
    fake.push([
        FakeReply::tools(vec![FakeToolCall::new("", "get_weather", json!({"city": "Oslo"}))]),
        FakeReply::tools(vec![FakeToolCall::new("", "get_weather", json!({"city": "Rome"}))]),
    ]);
    let request = ChatRequest {
        tools: vec![weather_tool()],
        tool_choice: ToolChoice::Required,
        ..ChatRequest::user("weather in Oslo?")
    };
    let response = provider.chat("gemini-2.5-flash", &request).await.unwrap();
    assert_eq!((response.tool_calls[0].name.as_str(), response.stop_reason), ("get_weather", StopReason::ToolUse));
    let named = ChatRequest { tool_choice: ToolChoice::Tool("get_weather".into()), ..request.clone() };
    let streamed = collect_stream(provider.chat_stream("gemini-2.5-flash", &named).await.unwrap()).await.unwrap();
    assert_eq!(streamed.tool_calls[0].arguments, json!({"city": "Rome"}));
    let sent = fake.requests();
    assert_eq!(sent[0].body["toolConfig"], json!({"functionCallingConfig": {"mode": "ANY"}}));
    assert_eq!(
        sent[1].body["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}})
    );

    let unknown = ChatRequest { tool_choice: ToolChoice::Tool("get_time".into()), ..request };
    let error = provider.chat("gemini-2.5-flash", &unknown).await.unwrap_err();
    assert_eq!(error.kind, ModelErrorKind::InvalidRequest, "{error}");
    assert_eq!(fake.request_count(), 2, "nothing sent for an unknown tool");
}

async fn fake_open() -> FakeModelServer {
    FakeModelServer::gemini().await.unwrap()
}

#[tokio::test]
async fn vertex_mode_sends_a_bearer_token_and_errors_are_classified() {
    let fake = FakeModelServer::gemini().await.unwrap();
    fake.require_api_key("ya29.token");
    let base = fake.base_url().replace("/v1beta", "/v1/projects/p/locations/us-central1/publishers/google");
    let vertex = GeminiProvider::new(&base, GeminiAuth::Bearer(SecretString::from("ya29.token")));
    fake.push([FakeReply::tools(vec![FakeToolCall::new("", "get_weather", json!({"city": "Nice"}))])]);
    let response = vertex.chat("gemini-2.5-flash", &ChatRequest::user("hi")).await.unwrap();
    assert_eq!(response.stop_reason, StopReason::ToolUse);
    assert_eq!(response.tool_calls[0].arguments, json!({"city": "Nice"}));
    let sent = &fake.requests()[0];
    assert!(sent.path.starts_with("/v1/projects/p/locations/us-central1/publishers/google/models/"), "{}", sent.path);
    assert_eq!(sent.headers["authorization"], "Bearer ya29.token");
    assert!(!sent.headers.contains_key("x-goog-api-key"));
    // Vertex AI serves embeddings through :predict, in input order, with token counts.
    let inputs = vec!["hello".to_owned(), "x".to_owned()];
    let embedded = vertex.embed("gemini-embedding-001", &EmbeddingRequest { inputs: inputs.clone() }).await.unwrap();
    assert_eq!(embedded.vectors.len(), 2);
    assert_eq!(embedded.usage.input_tokens, 3, "token_count of each instance, summed");
    let open_fake = fake_open().await;
    let api = provider(&open_fake);
    let direct = api.embed("gemini-embedding-001", &EmbeddingRequest { inputs }).await.unwrap();
    assert_eq!(embedded.vectors, direct.vectors, "the same model gives the same vectors on both APIs");
    let sent = fake.requests().pop().unwrap();
    assert!(sent.path.ends_with("/models/gemini-embedding-001:predict"), "{}", sent.path);
    assert_eq!(sent.body["instances"][1]["content"], "x");

    let wrong = GeminiProvider::new(&fake.base_url(), GeminiAuth::ApiKey(SecretString::from("leaked-key-123")));
    let error = wrong.chat("gemini-2.5-flash", &ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(error.kind, ModelErrorKind::Unauthorized);
    assert!(!error.to_string().contains("leaked-key-123") && !format!("{wrong:?}").contains("leaked-key-123"));
    let open = FakeModelServer::gemini().await.unwrap();
    open.push([FakeReply::throttled(2), FakeReply::status(500)]);
    let error = provider(&open).chat("gemini-2.5-flash", &ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!((error.kind, error.retry_after), (ModelErrorKind::Throttled, Some(std::time::Duration::from_secs(2))));
    let error = provider(&open).chat_stream("gemini-2.5-flash", &ChatRequest::user("hi")).await.err().unwrap();
    assert_eq!(error.kind, ModelErrorKind::Unavailable);
}

#[tokio::test]
async fn embeddings_use_embed_content_and_batch() {
    let fake = FakeModelServer::gemini().await.unwrap();
    let one = provider(&fake).embed("gemini-embedding-001", &EmbeddingRequest { inputs: vec!["hello".into()] }).await;
    let many = provider(&fake)
        .embed("gemini-embedding-001", &EmbeddingRequest { inputs: vec!["x".into(), "hello".into()] })
        .await
        .unwrap();
    assert_eq!(many.vectors.len(), 2);
    assert_eq!(many.vectors[1], one.unwrap().vectors[0]);
    let paths: Vec<String> = fake.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/v1beta/models/gemini-embedding-001:embedContent", "/v1beta/models/gemini-embedding-001:batchEmbedContents"]
    );
    assert_eq!(fake.requests()[1].body["requests"][0]["model"], "models/gemini-embedding-001");
}
