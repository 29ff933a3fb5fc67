//! `stream: true`: the router's events as `chat.completion.chunk` Server-Sent Events, the way
//! OpenAI sends them. A first chunk carries the role; text arrives as `content` deltas; each tool
//! call is one `tool_calls` delta with its `index`, id, name and complete arguments; the last
//! choice chunk carries `finish_reason`; with `stream_options.include_usage` every chunk has
//! `"usage": null` and a final chunk with no choices carries the usage; then `data: [DONE]`.
//! An error after the stream opened is sent as `data: {"error": {…}}` and ends the stream.

use std::sync::Arc;

use aae_models::{ChatStream, Metered, PriceTable, StopReason, StreamEvent, Usage};
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use serde::Serialize;

use super::error::GatewayError;
use super::wire::{WireCalledFunction, WireUsage, finish_reason};
use crate::reserve::{CreditReserve, Ticket};

/// What the chunks share, and the credits to settle when the stream ends.
pub(super) struct ChunkStream {
    pub id: String,
    pub created: i64,
    pub model: String,
    pub include_usage: bool,
    pub reserve: Option<(Arc<CreditReserve>, Ticket)>,
    pub prices: PriceTable,
    /// `provider/name` of the model that answers, for its price.
    pub answered: String,
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    system_fingerprint: Option<&'static str>,
    choices: &'a [ChunkChoice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<WireUsage>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    finish_reason: Option<&'static str>,
    logprobs: Option<()>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<DeltaToolCall<'a>>,
}

#[derive(Serialize)]
struct DeltaToolCall<'a> {
    index: u32,
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireCalledFunction,
}

struct State {
    meta: ChunkStream,
    inner: ChatStream,
    usage: Usage,
    tool_calls: u32,
    stop: Option<StopReason>,
    done: bool,
}

impl State {
    fn chunk(&self, choices: &[ChunkChoice<'_>], usage: Option<WireUsage>) -> Bytes {
        let chunk = Chunk {
            id: &self.meta.id,
            object: "chat.completion.chunk",
            created: self.meta.created,
            model: &self.meta.model,
            system_fingerprint: None,
            choices,
            usage: self.meta.include_usage.then_some(usage),
        };
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"data: ");
        // Serialising these plain structs cannot fail.
        serde_json::to_writer(&mut out, &chunk).unwrap_or_default();
        out.extend_from_slice(b"\n\n");
        Bytes::from(out)
    }

    fn delta(&self, delta: Delta<'_>) -> Bytes {
        self.chunk(&[ChunkChoice { index: 0, delta, finish_reason: None, logprobs: None }], None)
    }

    /// The closing chunks: `finish_reason`, the usage when asked for, `[DONE]`.
    fn close(&mut self) -> Bytes {
        let reason = finish_reason(self.stop.as_ref().unwrap_or(&StopReason::EndTurn), self.tool_calls > 0);
        let mut out = self
            .chunk(
                &[ChunkChoice { index: 0, delta: Delta::default(), finish_reason: Some(reason), logprobs: None }],
                None,
            )
            .to_vec();
        if self.meta.include_usage {
            out.extend_from_slice(&self.chunk(&[], Some(self.usage.into())));
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
        Bytes::from(out)
    }

    /// Gives the credit ticket back with the stream's cost (nothing for a failed stream).
    fn settle(&mut self, success: bool) {
        if let Some((reserve, ticket)) = self.meta.reserve.take() {
            let cost = if success {
                let metered = Metered { usage: self.usage, ..Metered::default() };
                self.meta.prices.cost_micros(&self.meta.answered, &metered)
            } else {
                0
            };
            tokio::spawn(async move { reserve.finish(ticket, cost).await });
        }
    }

    /// Appends what one event of the router's stream (or its end) becomes to `out`.
    fn handle(&mut self, event: Option<Result<StreamEvent, aae_models::ModelError>>, out: &mut Vec<u8>) {
        match event {
            Some(Ok(StreamEvent::TextDelta { text })) => {
                if !text.is_empty() {
                    out.extend_from_slice(&self.delta(Delta { content: Some(&text), ..Delta::default() }));
                }
            }
            Some(Ok(StreamEvent::ToolCall { call })) => {
                let index = self.tool_calls;
                self.tool_calls += 1;
                let function = WireCalledFunction { name: call.name.clone(), arguments: call.arguments.to_string() };
                let delta = Delta {
                    tool_calls: vec![DeltaToolCall { index, id: &call.id, kind: "function", function }],
                    ..Delta::default()
                };
                out.extend_from_slice(&self.delta(delta));
            }
            Some(Ok(StreamEvent::Usage { usage })) => self.usage = usage,
            Some(Ok(StreamEvent::Stop { reason })) => self.stop = Some(reason),
            None => {
                self.done = true;
                self.settle(true);
                out.extend_from_slice(&self.close());
            }
            Some(Err(error)) => {
                self.done = true;
                self.settle(false);
                let error = GatewayError::from(error);
                out.extend_from_slice(b"data: ");
                serde_json::to_writer(&mut *out, &error.body()).unwrap_or_default();
                out.extend_from_slice(b"\n\n");
            }
        }
    }
}

/// Events already waiting are written together, up to this many bytes: fewer, larger writes.
const COALESCE_BYTES: usize = 16 * 1024;

impl ChunkStream {
    /// The streamed response over the router's events.
    pub(super) fn into_response(self, inner: ChatStream) -> Response {
        let state = State { meta: self, inner, usage: Usage::default(), tool_calls: 0, stop: None, done: false };
        let first = state.delta(Delta { role: Some("assistant"), content: Some(""), ..Delta::default() });
        let rest = futures::stream::unfold(state, |mut state| async move {
            loop {
                if state.done {
                    return None;
                }
                let mut out = Vec::new();
                let event = state.inner.next().await;
                state.handle(event, &mut out);
                // Whatever else is ready joins the same write.
                while !state.done && out.len() < COALESCE_BYTES {
                    match state.inner.next().now_or_never() {
                        Some(event) => state.handle(event, &mut out),
                        None => break,
                    }
                }
                if !out.is_empty() {
                    return Some((Ok::<_, std::convert::Infallible>(Bytes::from(out)), state));
                }
            }
        });
        let body = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(first) }).chain(rest);
        let mut response = Response::new(Body::from_stream(body));
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        response
    }
}
