//! Test doubles (feature `test-utils`, HOUSE_STYLE rule 13): [`ScriptedProvider`], a
//! [`ModelProvider`] that answers from a script and records every call with the model id it got.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::{ModelError, ModelResult};
use crate::provider::ModelProvider;
use crate::types::{
    ChatRequest, ChatResponse, ChatStream, EmbeddingRequest, EmbeddingResponse, StopReason, StreamEvent, Usage,
};

/// One scripted answer.
pub type Scripted = ModelResult<ChatResponse>;

/// A provider answering from a script; once the script is empty it answers
/// `"{name} {model_id}: {last user message}"`.
#[derive(Debug)]
pub struct ScriptedProvider {
    name: String,
    script: Mutex<VecDeque<Scripted>>,
    calls: Mutex<Vec<(String, ChatRequest)>>,
    delay: Duration,
}

impl ScriptedProvider {
    /// A provider called `name` (the catalog spelling, e.g. `bedrock`).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            script: Mutex::new(VecDeque::new()),
            calls: Mutex::new(Vec::new()),
            delay: Duration::ZERO,
        }
    }

    /// Waits `delay` before every answer.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Queues answers (errors included), used in order.
    pub fn push(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.script.lock().unwrap_or_else(|e| e.into_inner()).extend(answers);
    }

    /// Every call so far: (model id, request).
    pub fn calls(&self) -> Vec<(String, ChatRequest)> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A text answer with token counts.
    pub fn text(content: &str) -> Scripted {
        Ok(ChatResponse {
            content: content.to_owned(),
            tool_calls: Vec::new(),
            usage: Usage { input_tokens: 10, output_tokens: (content.len() as u64).div_ceil(4) },
            stop_reason: StopReason::EndTurn,
        })
    }

    async fn answer(&self, model_id: &str, request: &ChatRequest) -> Scripted {
        request.validate_tool_choice(&self.name, model_id)?;
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).push((model_id.to_owned(), request.clone()));
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let next = self.script.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
        next.unwrap_or_else(|| {
            let last = request
                .messages
                .iter()
                .rev()
                .find_map(|m| match m {
                    crate::types::Message::User { content } => Some(content.as_str()),
                    _ => None,
                })
                .unwrap_or("");
            Self::text(&format!("{} {model_id}: {last}", self.name))
        })
    }
}

#[async_trait]
impl ModelProvider for ScriptedProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn chat(&self, model_id: &str, request: &ChatRequest) -> ModelResult<ChatResponse> {
        self.answer(model_id, request).await
    }

    async fn chat_stream(&self, model_id: &str, request: &ChatRequest) -> ModelResult<ChatStream> {
        let response = self.answer(model_id, request).await?;
        let mut events: Vec<Result<StreamEvent, ModelError>> = Vec::new();
        let chars: Vec<char> = response.content.chars().collect();
        for piece in chars.chunks(4) {
            events.push(Ok(StreamEvent::TextDelta { text: piece.iter().collect() }));
        }
        events.extend(response.tool_calls.into_iter().map(|call| Ok(StreamEvent::ToolCall { call })));
        events.push(Ok(StreamEvent::Usage { usage: response.usage }));
        events.push(Ok(StreamEvent::Stop { reason: response.stop_reason }));
        Ok(Box::pin(futures::stream::iter(events)))
    }

    async fn embed(&self, model_id: &str, request: &EmbeddingRequest) -> ModelResult<EmbeddingResponse> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).push((model_id.to_owned(), ChatRequest::default()));
        Ok(EmbeddingResponse {
            vectors: request.inputs.iter().map(|t| vec![t.len() as f32, 1.0]).collect(),
            usage: Usage::default(),
        })
    }
}
