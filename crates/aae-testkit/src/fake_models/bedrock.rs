//! The fake Bedrock runtime (REST JSON protocol, as `aws-sdk-bedrockruntime` speaks it):
//! `POST /model/{modelId}/converse` (JSON), `POST /model/{modelId}/converse-stream` (AWS event
//! stream frames, `application/vnd.amazon.eventstream`) and `POST /model/{modelId}/invoke`
//! (Titan text embeddings v2). Model ids arrive percent-encoded (`:` as `%3A`); requests are
//! recorded with the decoded path, so [`RecordedRequest::bedrock_model_id`] reads the id back.
//!
//! Replies follow the script: text becomes a text block, tool calls `toolUse` blocks (streamed as
//! `contentBlockStart` plus `toolUse.input` fragments of 6 characters). A request that forces a
//! tool (`toolConfig.toolChoice.tool`, how structured output is done on Converse) gets the
//! scripted text back as that tool's input: the JSON object it parses to, else `{"value": …}`.
//! Errors use AWS's shape: an `x-amzn-ErrorType` header and a `{"message"}` body. Signatures
//! are not checked; [`FakeModelServer::require_api_key`] checks a Bedrock API key (bearer).

use std::collections::VecDeque;

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

use super::{FakeModelServer, FakeReply, FakeToolCall, RecordedRequest, Shared, json_response, tokens};

/// Bedrock-only faults.
#[derive(Debug, Default)]
pub(crate) struct BedrockState {
    /// For each coming ConverseStream reply: how many event frames precede a
    /// `modelStreamErrorException` frame that ends the stream.
    stream_exceptions: VecDeque<usize>,
}

impl FakeModelServer {
    /// The next ConverseStream reply sends `events` event frames, then a
    /// `modelStreamErrorException` frame (`:message-type: exception`) and ends.
    pub fn bedrock_stream_exception_after(&self, events: usize) {
        self.shared.lock().bedrock.stream_exceptions.push_back(events);
    }
}

impl RecordedRequest {
    /// The decoded model id of a Bedrock runtime request (`/model/{modelId}/…`).
    pub fn bedrock_model_id(&self) -> Option<&str> {
        self.path.strip_prefix("/model/").and_then(|rest| rest.rsplit_once('/')).map(|(id, _)| id)
    }
}

pub(super) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/model/{model_id}/converse", post(converse))
        .route("/model/{model_id}/converse-stream", post(converse_stream))
        .route("/model/{model_id}/invoke", post(invoke))
        .with_state(shared)
}

/// An AWS JSON error: `x-amzn-ErrorType: {Code}:http://internal.amazon.com/coral/com.amazon.bedrock/`
/// and `{"message"}`, with `Retry-After` when given.
fn aws_error(status: u16, message: Option<&str>, retry_after: Option<u64>) -> Response {
    let (code, default_message) = match status {
        403 => ("AccessDeniedException", "You don't have access to the model with the specified model ID."),
        404 => ("ResourceNotFoundException", "The requested resource could not be found."),
        408 => ("ModelTimeoutException", "Model has timed out in processing the request."),
        424 => ("ModelErrorException", "The model returned an error while processing the request."),
        429 => ("ThrottlingException", "Too many requests, please wait before trying again."),
        503 => ("ServiceUnavailableException", "Bedrock is unable to process your request."),
        500..=599 => ("InternalServerException", "The server encountered an internal error."),
        _ => ("ValidationException", "Malformed input request, please reformat your input and try again."),
    };
    let code_status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(code_status, &json!({ "message": message.unwrap_or(default_message) }));
    let headers = response.headers_mut();
    let error_type = format!("{code}:http://internal.amazon.com/coral/com.amazon.bedrock/");
    if let Ok(value) = header::HeaderValue::from_str(&error_type) {
        headers.insert("x-amzn-errortype", value);
    }
    headers.insert("x-amzn-requestid", header::HeaderValue::from_static("00000000-0000-4000-8000-000000000000"));
    if let Some(value) = retry_after.and_then(|s| header::HeaderValue::from_str(&s.to_string()).ok()) {
        headers.insert(header::RETRY_AFTER, value);
    }
    response
}

/// Records the request under its decoded path and returns the scripted reply (or the response
/// to send instead: a key failure).
async fn next(
    shared: &Shared,
    model_id: &str,
    operation: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<FakeReply, Response> {
    shared.next(format!("/model/{model_id}/{operation}"), headers, body).await
}

/// What the model answers: text, tool calls, and whether the stream hangs after the text.
struct Answer {
    text: String,
    calls: Vec<FakeToolCall>,
    hang: bool,
}

impl Answer {
    /// The scripted reply, with a forced tool's input taken from the text; a scripted error
    /// status (with its `Retry-After`) is the `Err`.
    fn new(reply: FakeReply, request: &Value) -> Result<Self, (u16, Option<u64>)> {
        let (text, mut calls, hang) = match reply {
            FakeReply::Status { status, retry_after } => return Err((status, retry_after)),
            FakeReply::Message { text, tool_calls } => (text, tool_calls, false),
            FakeReply::HangAfter { text } => (text, Vec::new(), true),
            FakeReply::Hang => (String::new(), Vec::new(), true),
        };
        for (index, call) in calls.iter_mut().enumerate() {
            if call.id.is_empty() {
                call.id = format!("tooluse_fake{index:04}");
            }
        }
        if let Some(forced) = request["toolConfig"]["toolChoice"]["tool"]["name"].as_str() {
            let input = match serde_json::from_str::<Value>(&text) {
                Ok(object @ Value::Object(_)) => object,
                Ok(other) => json!({ "value": other }),
                Err(_) => json!({ "value": text }),
            };
            return Ok(Self {
                text: String::new(),
                calls: vec![FakeToolCall::new("tooluse_forced", forced, input)],
                hang,
            });
        }
        Ok(Self { text, calls, hang })
    }

    fn stop_reason(&self) -> &'static str {
        if self.calls.is_empty() { "end_turn" } else { "tool_use" }
    }

    fn usage(&self, request: &Value) -> Value {
        let input = tokens(&request["messages"].to_string()) + tokens(&request["system"].to_string());
        let output = tokens(&self.text) + self.calls.iter().map(|c| tokens(&c.arguments.to_string())).sum::<u64>();
        json!({ "inputTokens": input, "outputTokens": output, "totalTokens": input + output })
    }
}

async fn converse(
    State(shared): State<Shared>,
    Path(model_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = match next(&shared, &model_id, "converse", &headers, &body).await {
        Ok(reply) => reply,
        Err(response) => return response,
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return aws_error(400, Some("Malformed input request: body is not JSON"), None);
    };
    let answer = match Answer::new(reply, &request) {
        Ok(answer) => answer,
        Err((status, retry_after)) => return aws_error(status, None, retry_after),
    };
    if answer.hang {
        std::future::pending::<()>().await;
    }
    let mut content = Vec::new();
    if !answer.text.is_empty() {
        content.push(json!({ "text": answer.text }));
    }
    for call in &answer.calls {
        content.push(json!({ "toolUse": { "toolUseId": call.id, "name": call.name, "input": call.arguments } }));
    }
    json_response(
        StatusCode::OK,
        &json!({
            "output": { "message": { "role": "assistant", "content": content } },
            "stopReason": answer.stop_reason(),
            "usage": answer.usage(&request),
            "metrics": { "latencyMs": 42 },
        }),
    )
}

/// One event-stream frame. Payloads carry the `p` padding field the real service adds.
fn frame(headers: &[(&'static str, &str)], mut payload: Value) -> Bytes {
    if let Value::Object(map) = &mut payload {
        map.insert("p".into(), json!("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"));
    }
    let mut message = Message::new(Bytes::from(payload.to_string()));
    for (name, value) in headers {
        message = message.add_header(Header::new(*name, HeaderValue::String((*value).to_owned().into())));
    }
    let mut buffer = Vec::new();
    if let Err(error) = write_message_to(&message, &mut buffer) {
        tracing::error!(%error, "fake bedrock could not encode an event frame");
    }
    Bytes::from(buffer)
}

fn event(kind: &'static str, payload: Value) -> Bytes {
    frame(&[(":event-type", kind), (":content-type", "application/json"), (":message-type", "event")], payload)
}

fn split(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

async fn converse_stream(
    State(shared): State<Shared>,
    Path(model_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = match next(&shared, &model_id, "converse-stream", &headers, &body).await {
        Ok(reply) => reply,
        Err(response) => return response,
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return aws_error(400, Some("Malformed input request: body is not JSON"), None);
    };
    let answer = match Answer::new(reply, &request) {
        Ok(answer) => answer,
        Err((status, retry_after)) => return aws_error(status, None, retry_after),
    };
    let mut frames = vec![event("messageStart", json!({ "role": "assistant" }))];
    let mut index = 0;
    if !answer.text.is_empty() {
        for piece in split(&answer.text, 7) {
            frames.push(event("contentBlockDelta", json!({ "contentBlockIndex": 0, "delta": { "text": piece } })));
        }
        if !answer.hang {
            frames.push(event("contentBlockStop", json!({ "contentBlockIndex": 0 })));
        }
        index = 1;
    }
    if !answer.hang {
        for call in &answer.calls {
            let start = json!({ "toolUse": { "toolUseId": call.id, "name": call.name } });
            frames.push(event("contentBlockStart", json!({ "contentBlockIndex": index, "start": start })));
            for piece in split(&call.arguments.to_string(), 6) {
                let delta = json!({ "contentBlockIndex": index, "delta": { "toolUse": { "input": piece } } });
                frames.push(event("contentBlockDelta", delta));
            }
            frames.push(event("contentBlockStop", json!({ "contentBlockIndex": index })));
            index += 1;
        }
        frames.push(event("messageStop", json!({ "stopReason": answer.stop_reason() })));
        let metadata = json!({ "usage": answer.usage(&request), "metrics": { "latencyMs": 42 } });
        frames.push(event("metadata", metadata));
    }
    if let Some(after) = shared.lock().bedrock.stream_exceptions.pop_front() {
        frames.truncate(after);
        let payload = json!({
            "message": "The model stream was interrupted by an error.",
            "originalStatusCode": 500,
            "originalMessage": "internal model failure",
        });
        let headers = [
            (":exception-type", "modelStreamErrorException"),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ];
        frames.push(frame(&headers, payload));
    }
    event_stream_response(frames.concat().into(), shared.chunk_bytes(), answer.hang)
}

/// An event-stream body written in pieces of `chunk` bytes (frames split anywhere); with `hang`
/// it stays open after the last piece.
fn event_stream_response(bytes: Bytes, chunk: usize, hang: bool) -> Response {
    let pieces: Vec<Result<Bytes, std::convert::Infallible>> =
        (0..bytes.len()).step_by(chunk).map(|start| Ok(bytes.slice(start..(start + chunk).min(bytes.len())))).collect();
    let stream = futures::stream::iter(pieces);
    let body = if hang {
        Body::from_stream(futures::StreamExt::chain(stream, futures::stream::pending()))
    } else {
        Body::from_stream(stream)
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/vnd.amazon.eventstream"));
    headers.insert("x-amzn-requestid", header::HeaderValue::from_static("00000000-0000-4000-8000-000000000001"));
    response
}

/// Titan text embeddings v2: `{"inputText", "dimensions"?, "normalize"?}` →
/// `{"embedding", "embeddingsByType": {"float"}, "inputTextTokenCount"}`.
async fn invoke(
    State(shared): State<Shared>,
    Path(model_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = match next(&shared, &model_id, "invoke", &headers, &body).await {
        Ok(reply) => reply,
        Err(response) => return response,
    };
    match reply {
        FakeReply::Status { status, retry_after } => return aws_error(status, None, retry_after),
        FakeReply::HangAfter { .. } | FakeReply::Hang => std::future::pending::<()>().await,
        FakeReply::Message { .. } => {}
    }
    if !model_id.starts_with("amazon.titan-embed-text") {
        return aws_error(400, Some("The provided model identifier is invalid."), None);
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return aws_error(400, Some("Malformed input request: body is not JSON"), None);
    };
    let text = request["inputText"].as_str().unwrap_or("");
    if text.is_empty() {
        return aws_error(400, Some("Malformed input request: #/inputText: expected minLength: 1"), None);
    }
    let dimensions = request["dimensions"].as_u64().unwrap_or(1024);
    if ![256, 512, 1024].contains(&dimensions) {
        return aws_error(400, Some("Malformed input request: #/dimensions: must be 256, 512 or 1024"), None);
    }
    let normalize = request["normalize"].as_bool().unwrap_or(true);
    let embedding = titan_vector(text, dimensions as usize, normalize);
    json_response(
        StatusCode::OK,
        &json!({
            "embedding": embedding,
            "embeddingsByType": { "float": embedding },
            "inputTextTokenCount": tokens(text),
        }),
    )
}

/// A deterministic vector for `text` (FNV-1a seed, xorshift values in [-1, 1]).
fn titan_vector(text: &str, dimensions: usize, normalize: bool) -> Vec<f32> {
    let mut state = text
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
    let values: Vec<f32> = (0..dimensions)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 23) as f32) - 1.0
        })
        .collect();
    if !normalize {
        return values;
    }
    let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt().max(f32::EPSILON);
    values.into_iter().map(|v| v / norm).collect()
}
