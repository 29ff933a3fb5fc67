//! Reassembles `streamGenerateContent?alt=sse`: each event is a whole `GenerateContentResponse`
//! chunk. Text parts become deltas (thought parts are skipped); `functionCall` parts, which may
//! arrive in any chunk, are collected and emitted once each, complete, when the candidate
//! finishes; the last `usageMetadata` seen becomes the usage event.

use crate::error::{ModelError, ModelErrorKind, ModelResult};
use crate::sse::StreamAssembler;
use crate::types::{StopReason, StreamEvent, ToolCall, Usage};

use super::wire::{GenerateResponse, stop_reason};

pub(crate) struct GeminiAssembler {
    provider: String,
    model: String,
    calls: Vec<ToolCall>,
    finish: Option<String>,
    usage: Option<Usage>,
    finished: bool,
}

impl GeminiAssembler {
    pub(crate) fn new(provider: &str, model: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            calls: Vec::new(),
            finish: None,
            usage: None,
            finished: false,
        }
    }
}

impl StreamAssembler for GeminiAssembler {
    fn on_data(&mut self, data: &str) -> ModelResult<Vec<StreamEvent>> {
        let chunk: GenerateResponse = serde_json::from_str(data).map_err(|e| {
            ModelError::new(
                ModelErrorKind::InvalidResponse,
                &self.provider,
                &self.model,
                format!("stream chunk is not a GenerateContentResponse: {e}"),
            )
        })?;
        if let Some(usage) = chunk.usage_metadata {
            self.usage = Some(usage.into());
        }
        let mut events = Vec::new();
        for candidate in chunk.candidates.into_iter().take(1) {
            for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
                if let Some(call) = part.function_call {
                    let position = self.calls.len();
                    self.calls.push(call.into_call(position));
                } else if let Some(text) = part.text.filter(|t| !t.is_empty() && !part.thought) {
                    events.push(StreamEvent::TextDelta { text });
                }
            }
            if let Some(reason) = candidate.finish_reason {
                self.finish = Some(reason);
            }
        }
        if chunk.prompt_feedback.as_ref().is_some_and(|f| f.get("blockReason").is_some()) {
            self.finish = Some("SAFETY".to_owned());
        }
        Ok(events)
    }

    fn finish(&mut self) -> ModelResult<Vec<StreamEvent>> {
        if self.finished {
            return Ok(Vec::new());
        }
        self.finished = true;
        let Some(finish) = self.finish.take() else {
            return Err(ModelError::new(
                ModelErrorKind::Unavailable,
                &self.provider,
                &self.model,
                "stream ended before the model finished",
            ));
        };
        let mut events: Vec<StreamEvent> = self.calls.drain(..).map(|call| StreamEvent::ToolCall { call }).collect();
        let called_tools = !events.is_empty();
        if let Some(usage) = self.usage.take() {
            events.push(StreamEvent::Usage { usage });
        }
        let reason: StopReason = stop_reason(&finish, called_tools);
        events.push(StreamEvent::Stop { reason });
        Ok(events)
    }
}
