//! Google Gemini over its REST API: `models/{model}:generateContent`,
//! `models/{model}:streamGenerateContent?alt=sse`, `:embedContent` and `:batchEmbedContents`,
//! with function calling (`functionDeclarations`, `functionCall` / `functionResponse` parts).
//!
//! Two modes (`providers.gemini.mode`): `api_key` sends `providers.gemini.api_key` in the
//! `x-goog-api-key` header to the Gemini API; `vertex` sends `providers.gemini.access_token` as
//! a bearer token to a Vertex AI `base_url`
//! (`https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}/publishers/google`).
//! Credentials travel only in headers, so URLs in errors never reveal them.

mod stream;
mod wire;

use aae_config::{GeminiConfig, GeminiMode};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::error::{ModelError, ModelErrorKind, ModelResult};
use crate::http::{client, status_error, transport_error};
use crate::provider::ModelProvider;
use crate::sse::event_stream;
use crate::types::{ChatRequest, ChatResponse, ChatStream, EmbeddingRequest, EmbeddingResponse, StopReason, Usage};

const NAME: &str = "gemini";

/// How requests are authenticated.
#[derive(Clone)]
pub enum GeminiAuth {
    /// `x-goog-api-key: {key}` (the Gemini API).
    ApiKey(SecretString),
    /// `Authorization: Bearer {token}` (Vertex AI).
    Bearer(SecretString),
}

/// The Gemini provider.
pub struct GeminiProvider {
    base_url: String,
    auth: GeminiAuth,
    client: reqwest::Client,
}

impl std::fmt::Debug for GeminiProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.auth {
            GeminiAuth::ApiKey(_) => "api_key",
            GeminiAuth::Bearer(_) => "vertex",
        };
        f.debug_struct("GeminiProvider").field("base_url", &self.base_url).field("mode", &mode).finish()
    }
}

impl GeminiProvider {
    /// A provider for `base_url` (up to the `models` segment) with `auth`.
    pub fn new(base_url: &str, auth: GeminiAuth) -> Self {
        Self { base_url: base_url.trim_end_matches('/').to_owned(), auth, client: client() }
    }

    /// The provider the configuration describes, or `None` when its credential is not set.
    pub fn from_config(config: &GeminiConfig) -> Option<Self> {
        if !config.configured() {
            return None;
        }
        let auth = match config.mode {
            GeminiMode::ApiKey => GeminiAuth::ApiKey(config.api_key.clone()),
            GeminiMode::Vertex => GeminiAuth::Bearer(config.access_token.clone()),
        };
        Some(Self::new(&config.base_url, auth))
    }

    async fn post(&self, model: &str, method: &str, query: &str, body: &Value) -> ModelResult<reqwest::Response> {
        let url = format!("{}/models/{model}:{method}{query}", self.base_url);
        let request = self.client.post(url).json(body);
        let request = match &self.auth {
            GeminiAuth::ApiKey(key) => request.header("x-goog-api-key", key.expose_secret()),
            GeminiAuth::Bearer(token) => request.bearer_auth(token.expose_secret()),
        };
        let response = request.send().await.map_err(|e| transport_error(NAME, model, &e))?;
        if response.status().is_success() { Ok(response) } else { Err(status_error(NAME, model, response).await) }
    }

    fn invalid(model: &str, message: String) -> ModelError {
        ModelError::new(ModelErrorKind::InvalidResponse, NAME, model, message)
    }

    /// Vertex AI serves embedding models through `:predict`: `{"instances": [{"content"}]}` in,
    /// `{"predictions": [{"embeddings": {"values", "statistics": {"token_count"}}}]}` out, at
    /// most 250 instances a request (sent in batches, in order).
    async fn embed_vertex(&self, model_id: &str, request: &EmbeddingRequest) -> ModelResult<EmbeddingResponse> {
        const BATCH: usize = 250;
        let mut vectors = Vec::with_capacity(request.inputs.len());
        let mut input_tokens = 0u64;
        for batch in request.inputs.chunks(BATCH) {
            let instances: Vec<Value> = batch.iter().map(|text| json!({ "content": text })).collect();
            let reply = self.post(model_id, "predict", "", &json!({ "instances": instances })).await?;
            let reply: wire::PredictResponse =
                reply.json().await.map_err(|e| Self::invalid(model_id, format!("reply is not predictions: {e}")))?;
            if reply.predictions.len() != batch.len() {
                return Err(Self::invalid(
                    model_id,
                    format!("{} predictions for {} inputs", reply.predictions.len(), batch.len()),
                ));
            }
            for prediction in reply.predictions {
                input_tokens += prediction.embeddings.statistics.map_or(0, |s| s.token_count);
                vectors.push(prediction.embeddings.values);
            }
        }
        Ok(EmbeddingResponse { vectors, usage: Usage { input_tokens, output_tokens: 0 } })
    }
}

#[async_trait]
impl ModelProvider for GeminiProvider {
    fn name(&self) -> &str {
        NAME
    }

    async fn chat(&self, model_id: &str, request: &ChatRequest) -> ModelResult<ChatResponse> {
        request.validate_tool_choice(NAME, model_id)?;
        let response = self.post(model_id, "generateContent", "", &wire::generate_body(request)).await?;
        let reply: wire::GenerateResponse = response
            .json()
            .await
            .map_err(|e| Self::invalid(model_id, format!("reply is not a GenerateContentResponse: {e}")))?;
        let usage = reply.usage_metadata.map(Usage::from).unwrap_or_default();
        let Some(candidate) = reply.candidates.into_iter().next() else {
            if reply.prompt_feedback.is_some() {
                return Ok(ChatResponse {
                    content: String::new(),
                    tool_calls: Vec::new(),
                    usage,
                    stop_reason: StopReason::ContentFilter,
                });
            }
            return Err(Self::invalid(model_id, "reply has no candidates".to_owned()));
        };
        let mut content = String::new();
        let mut tool_calls = Vec::new();
        for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
            if let Some(call) = part.function_call {
                let position = tool_calls.len();
                tool_calls.push(call.into_call(position));
            } else if let Some(text) = part.text.filter(|_| !part.thought) {
                content.push_str(&text);
            }
        }
        let finish = candidate.finish_reason.unwrap_or_else(|| "STOP".to_owned());
        let stop_reason = wire::stop_reason(&finish, !tool_calls.is_empty());
        Ok(ChatResponse { content, tool_calls, usage, stop_reason })
    }

    async fn chat_stream(&self, model_id: &str, request: &ChatRequest) -> ModelResult<ChatStream> {
        request.validate_tool_choice(NAME, model_id)?;
        let body = wire::generate_body(request);
        let response = self.post(model_id, "streamGenerateContent", "?alt=sse", &body).await?;
        let assembler = stream::GeminiAssembler::new(NAME, model_id);
        Ok(event_stream(Box::pin(response.bytes_stream()), assembler, NAME, model_id))
    }

    async fn embed(&self, model_id: &str, request: &EmbeddingRequest) -> ModelResult<EmbeddingResponse> {
        if matches!(self.auth, GeminiAuth::Bearer(_)) {
            return self.embed_vertex(model_id, request).await;
        }
        let content = |text: &String| json!({ "parts": [{ "text": text }] });
        let reply = if let [single] = request.inputs.as_slice() {
            self.post(model_id, "embedContent", "", &json!({ "content": content(single) })).await?
        } else {
            let requests: Vec<Value> = request
                .inputs
                .iter()
                .map(|text| json!({ "model": format!("models/{model_id}"), "content": content(text) }))
                .collect();
            self.post(model_id, "batchEmbedContents", "", &json!({ "requests": requests })).await?
        };
        let reply: wire::EmbedResponse =
            reply.json().await.map_err(|e| Self::invalid(model_id, format!("reply is not embeddings: {e}")))?;
        let vectors: Vec<Vec<f32>> = match reply.embedding {
            Some(one) => vec![one.values],
            None => reply.embeddings.into_iter().map(|e| e.values).collect(),
        };
        if vectors.len() != request.inputs.len() {
            return Err(Self::invalid(
                model_id,
                format!("{} vectors for {} inputs", vectors.len(), request.inputs.len()),
            ));
        }
        let input_tokens = request.inputs.iter().map(|t| t.len() as u64).sum::<u64>().div_ceil(4);
        Ok(EmbeddingResponse { vectors, usage: Usage { input_tokens, output_tokens: 0 } })
    }
}
