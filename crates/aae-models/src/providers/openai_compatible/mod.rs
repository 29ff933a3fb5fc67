//! Any OpenAI-compatible chat-completions server: vLLM, llama.cpp's `llama-server`, Ollama
//! (`/v1`), LiteLLM. `POST {base}/chat/completions` (JSON or SSE with `stream: true`) and
//! `POST {base}/embeddings`. Configured by `providers.openai_compatible.{base_url, api_key,
//! models}`; the key is sent as `Authorization: Bearer` and never logged.

mod stream;
mod wire;

use aae_config::OpenAiCompatibleConfig;
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::error::{ModelError, ModelErrorKind, ModelResult};
use crate::http::{client, status_error, transport_error};
use crate::provider::ModelProvider;
use crate::sse::event_stream;
use crate::types::{ChatRequest, ChatResponse, ChatStream, EmbeddingRequest, EmbeddingResponse, Usage};

const NAME: &str = "openai_compatible";

/// The OpenAI-compatible provider.
pub struct OpenAiCompatibleProvider {
    base_url: String,
    api_key: Option<SecretString>,
    client: reqwest::Client,
}

impl std::fmt::Debug for OpenAiCompatibleProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiCompatibleProvider")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl OpenAiCompatibleProvider {
    /// A provider for the server at `base_url` (up to and including `/v1`).
    pub fn new(base_url: &str, api_key: Option<SecretString>) -> Self {
        let api_key = api_key.filter(|k| !k.expose_secret().trim().is_empty());
        Self { base_url: base_url.trim_end_matches('/').to_owned(), api_key, client: client() }
    }

    /// The provider the configuration describes, or `None` without a base URL.
    pub fn from_config(config: &OpenAiCompatibleConfig) -> Option<Self> {
        config.base_url.as_deref().map(|url| Self::new(url, config.api_key.clone()))
    }

    async fn post(&self, path: &str, model: &str, body: &Value) -> ModelResult<reqwest::Response> {
        let mut request = self.client.post(format!("{}/{path}", self.base_url)).json(body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let response = request.send().await.map_err(|e| transport_error(NAME, model, &e))?;
        if response.status().is_success() { Ok(response) } else { Err(status_error(NAME, model, response).await) }
    }

    fn invalid(model: &str, message: String) -> ModelError {
        ModelError::new(ModelErrorKind::InvalidResponse, NAME, model, message)
    }
}

#[async_trait]
impl ModelProvider for OpenAiCompatibleProvider {
    fn name(&self) -> &str {
        NAME
    }

    async fn chat(&self, model_id: &str, request: &ChatRequest) -> ModelResult<ChatResponse> {
        request.validate_tool_choice(NAME, model_id)?;
        let response = self.post("chat/completions", model_id, &wire::chat_body(model_id, request, false)).await?;
        let completion: wire::Completion = response
            .json()
            .await
            .map_err(|e| Self::invalid(model_id, format!("reply is not a chat completion: {e}")))?;
        let usage = completion.usage.map(Usage::from).unwrap_or_default();
        let choice = completion
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| Self::invalid(model_id, "reply has no choices".to_owned()))?;
        let message = choice.message.ok_or_else(|| Self::invalid(model_id, "choice has no message".to_owned()))?;
        let mut tool_calls = Vec::new();
        for (index, call) in message.tool_calls.into_iter().enumerate() {
            let function = call.function.ok_or_else(|| Self::invalid(model_id, "tool call without function".into()))?;
            let name = function.name.unwrap_or_default();
            let id = call.id.unwrap_or_else(|| format!("call_{index}"));
            tool_calls.push(wire::tool_call(NAME, model_id, id, name, function.arguments.as_deref().unwrap_or(""))?);
        }
        Ok(ChatResponse {
            content: message.content.unwrap_or_default(),
            tool_calls,
            usage,
            stop_reason: wire::stop_reason(choice.finish_reason.as_deref()),
        })
    }

    async fn chat_stream(&self, model_id: &str, request: &ChatRequest) -> ModelResult<ChatStream> {
        request.validate_tool_choice(NAME, model_id)?;
        let response = self.post("chat/completions", model_id, &wire::chat_body(model_id, request, true)).await?;
        let assembler = stream::OpenAiAssembler::new(NAME, model_id);
        Ok(event_stream(Box::pin(response.bytes_stream()), assembler, NAME, model_id))
    }

    async fn embed(&self, model_id: &str, request: &EmbeddingRequest) -> ModelResult<EmbeddingResponse> {
        let body = serde_json::json!({ "model": model_id, "input": request.inputs });
        let response = self.post("embeddings", model_id, &body).await?;
        let mut reply: wire::Embeddings =
            response.json().await.map_err(|e| Self::invalid(model_id, format!("reply is not embeddings: {e}")))?;
        if reply.data.len() != request.inputs.len() {
            return Err(Self::invalid(
                model_id,
                format!("{} vectors for {} inputs", reply.data.len(), request.inputs.len()),
            ));
        }
        reply.data.sort_by_key(|item| item.index);
        Ok(EmbeddingResponse {
            vectors: reply.data.into_iter().map(|item| item.embedding).collect(),
            usage: reply.usage.map(Usage::from).unwrap_or_default(),
        })
    }
}
