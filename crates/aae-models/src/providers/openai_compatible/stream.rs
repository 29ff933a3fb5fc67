//! Reassembles a chat-completions SSE stream: text deltas pass through, tool-call fragments are
//! joined by their `index` (id and name arrive first, arguments in pieces) and each call is
//! emitted once, complete, when the choice finishes.

use std::collections::BTreeMap;

use crate::error::{ModelError, ModelErrorKind, ModelResult};
use crate::sse::StreamAssembler;
use crate::types::{StopReason, StreamEvent, Usage};

use super::wire::{Completion, stop_reason, tool_call};

#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

pub(crate) struct OpenAiAssembler {
    provider: String,
    model: String,
    calls: BTreeMap<usize, PartialCall>,
    stop: Option<StopReason>,
    usage: Option<Usage>,
    finished: bool,
}

impl OpenAiAssembler {
    pub(crate) fn new(provider: &str, model: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            calls: BTreeMap::new(),
            stop: None,
            usage: None,
            finished: false,
        }
    }

    fn flush_calls(&mut self) -> ModelResult<Vec<StreamEvent>> {
        let mut events = Vec::new();
        for (index, call) in std::mem::take(&mut self.calls) {
            let id = if call.id.is_empty() { format!("call_{index}") } else { call.id };
            if call.name.is_empty() {
                return Err(self.invalid(format!("tool call {index} has no name")));
            }
            let call = tool_call(&self.provider, &self.model, id, call.name, &call.arguments)?;
            events.push(StreamEvent::ToolCall { call });
        }
        Ok(events)
    }

    fn invalid(&self, message: String) -> ModelError {
        ModelError::new(ModelErrorKind::InvalidResponse, &self.provider, &self.model, message)
    }

    fn end(&mut self) -> ModelResult<Vec<StreamEvent>> {
        self.finished = true;
        let mut events = self.flush_calls()?;
        if let Some(usage) = self.usage.take() {
            events.push(StreamEvent::Usage { usage });
        }
        let reason = self.stop.take().unwrap_or(StopReason::EndTurn);
        events.push(StreamEvent::Stop { reason });
        Ok(events)
    }
}

impl StreamAssembler for OpenAiAssembler {
    fn on_data(&mut self, data: &str) -> ModelResult<Vec<StreamEvent>> {
        if self.finished {
            return Ok(Vec::new());
        }
        if data.trim() == "[DONE]" {
            return self.end();
        }
        let chunk: Completion =
            serde_json::from_str(data).map_err(|e| self.invalid(format!("stream chunk is not a completion: {e}")))?;
        let mut events = Vec::new();
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into());
        }
        for choice in chunk.choices {
            if let Some(delta) = choice.delta {
                if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                    events.push(StreamEvent::TextDelta { text });
                }
                for fragment in delta.tool_calls {
                    let index = fragment.index.unwrap_or(0);
                    let call = self.calls.entry(index).or_default();
                    if let Some(id) = fragment.id.filter(|id| !id.is_empty()) {
                        call.id = id;
                    }
                    if let Some(function) = fragment.function {
                        if let Some(name) = function.name {
                            call.name.push_str(&name);
                        }
                        if let Some(arguments) = function.arguments {
                            call.arguments.push_str(&arguments);
                        }
                    }
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.stop = Some(stop_reason(Some(&reason)));
                events.extend(self.flush_calls()?);
            }
        }
        Ok(events)
    }

    fn finish(&mut self) -> ModelResult<Vec<StreamEvent>> {
        if self.finished {
            return Ok(Vec::new());
        }
        if self.stop.is_none() {
            return Err(ModelError::new(
                ModelErrorKind::Unavailable,
                &self.provider,
                &self.model,
                "stream ended before the model finished",
            ));
        }
        self.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fragments_are_joined_by_index() {
        let mut assembler = OpenAiAssembler::new("openai_compatible", "m");
        let chunks = [
            json!({"choices":[{"index":0,"delta":{"content":"Hi"}}]}),
            json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}),
            json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","function":{"name":"search","arguments":"{\"q\":"}}]}}]}),
            json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":\"Pa"}}]}}]}),
            json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ris\"}"}},{"index":1,"function":{"arguments":"\"x\"}"}}]}}]}),
            json!({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}),
            json!({"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7}}),
        ];
        let mut events = Vec::new();
        for chunk in chunks {
            events.extend(assembler.on_data(&chunk.to_string()).unwrap());
        }
        events.extend(assembler.on_data("[DONE]").unwrap());
        events.extend(assembler.finish().unwrap());
        let calls: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::ToolCall { call } => Some((call.id.as_str(), call.name.as_str(), call.arguments.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            calls,
            [("call_a", "get_weather", json!({"city": "Paris"})), ("call_b", "search", json!({"q": "x"}))]
        );
        assert_eq!(events[0], StreamEvent::TextDelta { text: "Hi".into() });
        assert_eq!(events.last(), Some(&StreamEvent::Stop { reason: StopReason::ToolUse }));
        assert!(events.contains(&StreamEvent::Usage { usage: Usage { input_tokens: 5, output_tokens: 7 } }));
    }
}
