//! Wire-faithful local fakes of model provider APIs, for tests: [`FakeModelServer::openai`]
//! speaks OpenAI chat completions (JSON and SSE, tool-call fragments split across chunks) and
//! embeddings; [`FakeModelServer::gemini`] speaks Gemini's `generateContent`,
//! `streamGenerateContent?alt=sse` (with `functionCall` parts) and `embedContent` /
//! `batchEmbedContents`, under `/v1beta/models/…` or a Vertex AI path;
//! [`FakeModelServer::bedrock`] speaks the Bedrock runtime's `Converse`, `ConverseStream` (AWS
//! event-stream frames, `toolUse` input in fragments) and `InvokeModel` for Titan embeddings;
//! [`FakeModelServer::sagemaker`] speaks the SageMaker runtime's `InvokeEndpoint` (real PNGs)
//! and `InvokeEndpointAsync` (input and output through S3, real MP4s).
//!
//! Each fake binds 127.0.0.1 on port 0, answers from a script ([`FakeReply`]s, then a default),
//! can add latency or inject faults (a status with `Retry-After`, a hang, a stream that stops
//! mid-way), and records every request it received ([`RecordedRequest`]) so tests can assert on
//! the wire format.

mod bedrock;
mod gemini;
mod openai;
mod sagemaker;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;

/// One tool call the fake model makes.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeToolCall {
    /// Call id (OpenAI); Gemini calls carry none on the wire.
    pub id: String,
    /// Tool name.
    pub name: String,
    /// Arguments.
    pub arguments: Value,
}

impl FakeToolCall {
    /// A call of `name` with `arguments`.
    pub fn new(id: &str, name: &str, arguments: Value) -> Self {
        Self { id: id.to_owned(), name: name.to_owned(), arguments }
    }
}

/// What the fake does with the next request.
#[derive(Debug, Clone, PartialEq)]
pub enum FakeReply {
    /// Answer with text and/or tool calls.
    Message {
        /// Text.
        text: String,
        /// Tool calls.
        tool_calls: Vec<FakeToolCall>,
    },
    /// Answer with an error status in the provider's error body, optionally with `Retry-After`.
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` in seconds.
        retry_after: Option<u64>,
    },
    /// Never answer (the client's timeout must fire).
    Hang,
    /// Stream the text, then hang without finishing (a non-streaming request just hangs).
    HangAfter {
        /// What is sent before the hang.
        text: String,
    },
}

impl FakeReply {
    /// A text reply.
    pub fn text(text: &str) -> Self {
        Self::Message { text: text.to_owned(), tool_calls: Vec::new() }
    }

    /// A reply calling tools.
    pub fn tools(calls: Vec<FakeToolCall>) -> Self {
        Self::Message { text: String::new(), tool_calls: calls }
    }

    /// An error status.
    pub fn status(status: u16) -> Self {
        Self::Status { status, retry_after: None }
    }

    /// HTTP 429 with `Retry-After: seconds`.
    pub fn throttled(seconds: u64) -> Self {
        Self::Status { status: 429, retry_after: Some(seconds) }
    }
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Path with query, e.g. `/v1/chat/completions`.
    pub path: String,
    /// Headers, lowercase names.
    pub headers: BTreeMap<String, String>,
    /// The JSON body (`Null` when not JSON).
    pub body: Value,
}

#[derive(Debug)]
struct Inner {
    script: VecDeque<FakeReply>,
    default: FakeReply,
    latency: Duration,
    chunk_bytes: usize,
    api_key: Option<String>,
    recording: bool,
    requests: Vec<RecordedRequest>,
    sagemaker: sagemaker::SageMakerState,
    bedrock: bedrock::BedrockState,
}

#[derive(Debug, Clone)]
pub(crate) struct Shared(Arc<Mutex<Inner>>);

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the request, checks the key, waits the latency and returns the next reply.
    pub(crate) async fn next(&self, path: String, headers: &HeaderMap, body: &Bytes) -> Result<FakeReply, Response> {
        let recorded = RecordedRequest {
            path,
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
            body: serde_json::from_slice(body).unwrap_or(Value::Null),
        };
        let key_ok = {
            let inner = self.lock();
            inner.api_key.as_deref().is_none_or(|key| {
                let bearer = format!("Bearer {key}");
                recorded.headers.get("authorization") == Some(&bearer)
                    || recorded.headers.get("x-goog-api-key").map(String::as_str) == Some(key)
            })
        };
        let (reply, latency) = {
            let mut inner = self.lock();
            if inner.recording {
                inner.requests.push(recorded);
            }
            let reply = inner.script.pop_front().unwrap_or_else(|| inner.default.clone());
            (reply, inner.latency)
        };
        if !key_ok {
            return Err(json_response(
                StatusCode::UNAUTHORIZED,
                &serde_json::json!({
                "error": {"code": 401, "message": "invalid api key", "status": "UNAUTHENTICATED"}}),
            ));
        }
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if matches!(reply, FakeReply::Hang) {
            std::future::pending::<()>().await;
        }
        Ok(reply)
    }

    pub(crate) fn chunk_bytes(&self) -> usize {
        self.lock().chunk_bytes.max(1)
    }
}

/// A running fake provider; stops when dropped.
#[derive(Debug)]
pub struct FakeModelServer {
    addr: SocketAddr,
    prefix: &'static str,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeModelServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeModelServer {
    /// A fake OpenAI-compatible server; its base URL ends in `/v1`.
    pub async fn openai() -> anyhow::Result<Self> {
        Self::start("/v1", openai::router).await
    }

    /// A fake Gemini API; its base URL ends in `/v1beta` (Vertex-style paths ending in
    /// `/models/{model}:{method}` are answered too).
    pub async fn gemini() -> anyhow::Result<Self> {
        Self::start("/v1beta", gemini::router).await
    }

    /// A fake OpenAI-compatible server on `port` of 127.0.0.1 (0: any free port), for
    /// benchmarks that run it as a process of its own.
    pub async fn openai_on(port: u16) -> anyhow::Result<Self> {
        Self::start_on(port, "/v1", openai::router).await
    }

    /// A fake Bedrock runtime API (Converse, ConverseStream, Titan embeddings); its base URL is
    /// the runtime endpoint URL (SDK `endpoint_url`). See `bedrock_stream_exception_after` for
    /// its own fault.
    pub async fn bedrock() -> anyhow::Result<Self> {
        Self::start("", bedrock::router).await
    }

    /// A fake SageMaker runtime API; its base URL is the runtime endpoint URL (SDK
    /// `endpoint_url`). Asynchronous jobs read their input from and write their results to the
    /// S3 server at `s3_endpoint` (s3s-fs or moto; path-style, signed with [`crate::ACCESS_KEY`]).
    /// Its `sagemaker_*` methods script it.
    pub async fn sagemaker(s3_endpoint: &str) -> anyhow::Result<Self> {
        let server = Self::start("", sagemaker::router).await?;
        server.shared.lock().sagemaker.s3_endpoint = Some(s3_endpoint.trim_end_matches('/').to_owned());
        Ok(server)
    }

    async fn start(prefix: &'static str, router: impl FnOnce(Shared) -> Router) -> anyhow::Result<Self> {
        Self::start_on(0, prefix, router).await
    }

    async fn start_on(port: u16, prefix: &'static str, router: impl FnOnce(Shared) -> Router) -> anyhow::Result<Self> {
        let shared = Shared(Arc::new(Mutex::new(Inner {
            script: VecDeque::new(),
            default: FakeReply::text("Hello from the fake model."),
            latency: Duration::ZERO,
            chunk_bytes: 23,
            api_key: None,
            recording: true,
            requests: Vec::new(),
            sagemaker: sagemaker::SageMakerState::default(),
            bedrock: bedrock::BedrockState::default(),
        })));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let app = router(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "fake model server stopped");
            }
        });
        Ok(Self { addr, prefix, shared, task })
    }

    /// The base URL providers are configured with, e.g. `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, self.prefix)
    }

    /// Queues replies, answered in order before the default.
    pub fn push(&self, replies: impl IntoIterator<Item = FakeReply>) {
        self.shared.lock().script.extend(replies);
    }

    /// Drops the replies still queued.
    pub fn clear_script(&self) {
        self.shared.lock().script.clear();
    }

    /// The reply once the script is empty (initially a short text).
    pub fn set_default(&self, reply: FakeReply) {
        self.shared.lock().default = reply;
    }

    /// Whether requests are recorded for [`requests`](Self::requests) (on by default; a
    /// benchmark serving millions of requests turns it off).
    pub fn set_recording(&self, recording: bool) {
        self.shared.lock().recording = recording;
    }

    /// Delay before each answer (time to first byte).
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().latency = latency;
    }

    /// Size of the body writes of streamed replies, so SSE events split at arbitrary bytes.
    pub fn set_chunk_bytes(&self, bytes: usize) {
        self.shared.lock().chunk_bytes = bytes;
    }

    /// Requires this key (`Authorization: Bearer` or `x-goog-api-key`); others get 401.
    pub fn require_api_key(&self, key: &str) {
        self.shared.lock().api_key = Some(key.to_owned());
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// How many requests were received.
    pub fn request_count(&self) -> usize {
        self.shared.lock().requests.len()
    }
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    response
}

/// An error reply in the body shape both APIs use, with `Retry-After` when given.
pub(crate) fn status_response(status: u16, retry_after: Option<u64>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = match status {
        429 => "rate limit exceeded, slow down",
        500..=599 => "the server had an error while processing your request",
        _ => "the request was rejected",
    };
    let mut response = json_response(code, &serde_json::json!({"error": {"code": status, "message": message}}));
    if let Some(seconds) = retry_after
        && let Ok(value) = header::HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// An SSE body: `events` joined, written in pieces of `chunk` bytes; with `hang`, the body stays
/// open after the last piece.
pub(crate) fn sse_response(text: String, chunk: usize, hang: bool) -> Response {
    let bytes = Bytes::from(text);
    let pieces: Vec<Result<Bytes, std::convert::Infallible>> =
        (0..bytes.len()).step_by(chunk).map(|start| Ok(bytes.slice(start..(start + chunk).min(bytes.len())))).collect();
    let stream = futures::stream::iter(pieces);
    let body = if hang {
        Body::from_stream(futures::StreamExt::chain(stream, futures::stream::pending()))
    } else {
        Body::from_stream(stream)
    };
    let mut response = Response::new(body);
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/event-stream"));
    response
}

/// A deterministic 8-dimensional unit vector for `text`.
pub(crate) fn fake_embedding(text: &str) -> Vec<f32> {
    let mut values = [0f32; 8];
    for (i, byte) in text.bytes().enumerate() {
        values[i % 8] += f32::from(byte) / 255.0;
    }
    let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt().max(f32::EPSILON);
    values.iter().map(|v| v / norm).collect()
}

/// Rough token count (4 characters a token, at least 1).
pub(crate) fn tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4).max(1)
}
