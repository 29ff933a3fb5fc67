//! The fake OpenAI chat-completions API.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{FakeReply, FakeToolCall, Shared, fake_embedding, json_response, sse_response, status_response, tokens};

pub(super) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .with_state(shared)
}

async fn models() -> Response {
    json_response(
        StatusCode::OK,
        &json!({"object": "list", "data": [{"id": "fake", "object": "model", "owned_by": "aae"}]}),
    )
}

async fn chat(State(shared): State<Shared>, uri: OriginalUri, headers: HeaderMap, body: Bytes) -> Response {
    let reply = match shared.next(uri.0.to_string(), &headers, &body).await {
        Ok(reply) => reply,
        Err(response) => return response,
    };
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = request["model"].as_str().unwrap_or("unknown").to_owned();
    let prompt_tokens = tokens(&request["messages"].to_string());
    let stream = request["stream"].as_bool().unwrap_or(false);
    let include_usage = request["stream_options"]["include_usage"].as_bool().unwrap_or(false);
    let (text, calls, hang) = match reply {
        FakeReply::Status { status, retry_after } => return status_response(status, retry_after),
        FakeReply::Message { text, tool_calls } => (text, tool_calls, false),
        FakeReply::HangAfter { text } if stream => (text, Vec::new(), true),
        FakeReply::HangAfter { .. } | FakeReply::Hang => {
            std::future::pending::<()>().await;
            return status_response(500, None);
        }
    };
    let finish = if calls.is_empty() { "stop" } else { "tool_calls" };
    let usage = json!({"prompt_tokens": prompt_tokens, "completion_tokens": tokens(&text),
        "total_tokens": prompt_tokens + tokens(&text)});
    if !stream {
        let tool_calls: Vec<Value> = calls
            .iter()
            .map(|c| {
                json!({"id": c.id, "type": "function",
                "function": {"name": c.name, "arguments": c.arguments.to_string()}})
            })
            .collect();
        let mut message =
            json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
        if !tool_calls.is_empty() {
            message["tool_calls"] = Value::Array(tool_calls);
        }
        return json_response(
            StatusCode::OK,
            &json!({
                "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": model,
                "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
                "usage": usage,
            }),
        );
    }
    let chunk = |delta: Value, finish: Option<&str>| {
        let event = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": model, "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]});
        format!("data: {event}\n\n")
    };
    let mut body = chunk(json!({"role": "assistant", "content": ""}), None);
    for piece in split(&text, 5) {
        body.push_str(&chunk(json!({"content": piece}), None));
    }
    body.push_str(&tool_call_chunks(&calls, &chunk));
    if hang {
        return sse_response(body, shared.chunk_bytes(), true);
    }
    body.push_str(&chunk(json!({}), Some(finish)));
    if include_usage {
        let event = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": model, "choices": [], "usage": usage});
        body.push_str(&format!("data: {event}\n\n"));
    }
    body.push_str("data: [DONE]\n\n");
    sse_response(body, shared.chunk_bytes(), false)
}

/// Tool calls as the API streams them: a first fragment with id, type and name, then the
/// arguments in pieces of 6 characters, the calls interleaved round-robin by `index`.
fn tool_call_chunks(calls: &[FakeToolCall], chunk: &dyn Fn(Value, Option<&str>) -> String) -> String {
    let mut body = String::new();
    let arguments: Vec<Vec<String>> = calls.iter().map(|c| split(&c.arguments.to_string(), 6)).collect();
    for (index, call) in calls.iter().enumerate() {
        body.push_str(&chunk(
            json!({"tool_calls": [{"index": index, "id": call.id, "type": "function",
                "function": {"name": call.name, "arguments": ""}}]}),
            None,
        ));
    }
    let rounds = arguments.iter().map(Vec::len).max().unwrap_or(0);
    for round in 0..rounds {
        for (index, pieces) in arguments.iter().enumerate() {
            if let Some(piece) = pieces.get(round) {
                body.push_str(&chunk(
                    json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}),
                    None,
                ));
            }
        }
    }
    body
}

fn split(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

async fn embeddings(State(shared): State<Shared>, uri: OriginalUri, headers: HeaderMap, body: Bytes) -> Response {
    let reply = match shared.next(uri.0.to_string(), &headers, &body).await {
        Ok(reply) => reply,
        Err(response) => return response,
    };
    if let FakeReply::Status { status, retry_after } = reply {
        return status_response(status, retry_after);
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let inputs: Vec<String> = match &request["input"] {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many.iter().map(|v| v.as_str().unwrap_or("").to_owned()).collect(),
        _ => Vec::new(),
    };
    let total: u64 = inputs.iter().map(|t| tokens(t)).sum();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .rev() // out of order on purpose: clients must sort by index
        .map(|(index, text)| json!({"object": "embedding", "index": index, "embedding": fake_embedding(text)}))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"object": "list", "data": data, "model": request["model"],
        "usage": {"prompt_tokens": total, "total_tokens": total}}),
    )
}
