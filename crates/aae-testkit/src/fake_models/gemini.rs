//! The fake Gemini REST API.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{FakeReply, Shared, fake_embedding, json_response, sse_response, status_response, tokens};

pub(super) fn router(shared: Shared) -> Router {
    Router::new().fallback(dispatch).with_state(shared)
}

/// `…/models/{model}:{method}` for any prefix (Gemini API or Vertex AI).
async fn dispatch(State(shared): State<Shared>, uri: OriginalUri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.0.path().to_owned();
    let Some((model, method)) = path.rsplit_once("/models/").and_then(|(_, rest)| rest.split_once(':')) else {
        return status_response(404, None);
    };
    let (model, method) = (model.to_owned(), method.to_owned());
    let reply = match shared.next(uri.0.to_string(), &headers, &body).await {
        Ok(reply) => reply,
        Err(response) => return response,
    };
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match method.as_str() {
        "generateContent" | "streamGenerateContent" => {
            let stream = method == "streamGenerateContent";
            if stream && uri.0.query() != Some("alt=sse") {
                return status_response(400, None);
            }
            generate(&shared, reply, &request, &model, stream)
        }
        "embedContent" | "batchEmbedContents" => embed(reply, &request, &method),
        "predict" => predict(reply, &request),
        _ => status_response(404, None),
    }
}

fn generate(shared: &Shared, reply: FakeReply, request: &Value, model: &str, stream: bool) -> Response {
    let (text, calls, hang) = match reply {
        FakeReply::Status { status, retry_after } => return status_response(status, retry_after),
        FakeReply::Message { text, tool_calls } => (text, tool_calls, false),
        FakeReply::HangAfter { text } => (text, Vec::new(), true),
        FakeReply::Hang => (String::new(), Vec::new(), true),
    };
    let prompt_tokens = tokens(&request["contents"].to_string());
    let usage = json!({"promptTokenCount": prompt_tokens, "candidatesTokenCount": tokens(&text),
        "totalTokenCount": prompt_tokens + tokens(&text)});
    let call_part = |c: &super::FakeToolCall| json!({"functionCall": {"name": c.name, "args": c.arguments}});
    if !stream {
        if hang {
            return sse_response(String::new(), 1, true);
        }
        let mut parts = Vec::new();
        if !text.is_empty() {
            parts.push(json!({"text": text}));
        }
        parts.extend(calls.iter().map(call_part));
        return json_response(
            StatusCode::OK,
            &json!({
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage, "modelVersion": model}),
        );
    }
    let event = |parts: Vec<Value>, finish: bool| {
        let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        let mut chunk = json!({"candidates": [candidate.clone()], "modelVersion": model});
        if finish {
            candidate["finishReason"] = json!("STOP");
            chunk = json!({"candidates": [candidate], "usageMetadata": usage, "modelVersion": model});
        }
        format!("data: {chunk}\r\n\r\n")
    };
    let mut body = String::new();
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(7) {
        body.push_str(&event(vec![json!({"text": piece.iter().collect::<String>()})], false));
    }
    if hang {
        return sse_response(body, shared.chunk_bytes(), true);
    }
    // Each function call in its own chunk, the last one together with the finish reason.
    for (i, call) in calls.iter().enumerate() {
        body.push_str(&event(vec![call_part(call)], i + 1 == calls.len()));
    }
    if calls.is_empty() {
        body.push_str(&event(vec![json!({"text": ""})], true));
    }
    sse_response(body, shared.chunk_bytes(), false)
}

fn embed(reply: FakeReply, request: &Value, method: &str) -> Response {
    if let FakeReply::Status { status, retry_after } = reply {
        return status_response(status, retry_after);
    }
    let text_of = |content: &Value| content["parts"][0]["text"].as_str().unwrap_or("").to_owned();
    if method == "embedContent" {
        let values = fake_embedding(&text_of(&request["content"]));
        return json_response(StatusCode::OK, &json!({"embedding": {"values": values}}));
    }
    let embeddings: Vec<Value> = request["requests"]
        .as_array()
        .map(|all| all.iter().map(|r| json!({"values": fake_embedding(&text_of(&r["content"]))})).collect())
        .unwrap_or_default();
    json_response(StatusCode::OK, &json!({"embeddings": embeddings}))
}

/// Vertex AI's `:predict` for embedding models.
fn predict(reply: FakeReply, request: &Value) -> Response {
    if let FakeReply::Status { status, retry_after } = reply {
        return status_response(status, retry_after);
    }
    let predictions: Vec<Value> = request["instances"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|instance| {
                    let text = instance["content"].as_str().unwrap_or("");
                    json!({"embeddings": {"values": fake_embedding(text),
                        "statistics": {"token_count": tokens(text), "truncated": false}}})
                })
                .collect()
        })
        .unwrap_or_default();
    json_response(StatusCode::OK, &json!({"predictions": predictions, "metadata": {"billableCharacterCount": 0}}))
}
