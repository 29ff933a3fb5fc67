//! ConverseStream's event stream → the unified [`ChatStream`].
//!
//! Bedrock sends `messageStart`, then per content block `contentBlockStart` (with
//! `toolUse{toolUseId, name}` for a tool call), `contentBlockDelta`s (`text`, or `toolUse.input`
//! fragments of the call's JSON arguments), `contentBlockStop`, then `messageStop{stopReason}`
//! and `metadata{usage}`. Text deltas go out as they arrive; a tool call goes out once, complete,
//! when its block stops (the concatenated fragments parsed; no input is `{}`); the forced tool of
//! structured output goes out as one text delta with its JSON. Usage goes out with `metadata`,
//! and the one `Stop` (with `messageStop`'s reason) when the stream ends. An exception frame
//! (e.g. `modelStreamErrorException`) ends the stream with that error.

use std::collections::{BTreeMap, VecDeque};

use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::primitives::event_stream::EventReceiver;
use aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError;
use aws_sdk_bedrockruntime::types::{
    ContentBlockDelta, ContentBlockStart, ConverseStreamOutput, StopReason as WireStopReason,
};
use aws_smithy_types::event_stream::RawMessage;
use serde_json::{Value, json};

use super::NAME;
use super::error::{service_error, transport_error};
use super::wire::{Structured, stop_reason, usage};
use crate::error::{ModelError, ModelErrorKind, ModelResult};
use crate::types::{ChatStream, StreamEvent, ToolCall};

/// The SDK's receiver of ConverseStream events.
pub(crate) type Receiver = EventReceiver<ConverseStreamOutput, ConverseStreamOutputError>;

/// A tool call whose block has started and not stopped yet.
#[derive(Debug)]
struct PendingTool {
    id: String,
    name: String,
    input: String,
}

/// Turns ConverseStream events into unified events (see the module docs).
#[derive(Debug)]
pub(crate) struct Assembler {
    model: String,
    structured: Option<Structured>,
    tools: BTreeMap<i32, PendingTool>,
    stop: Option<WireStopReason>,
    answered: bool,
    called: bool,
    finished: bool,
}

impl Assembler {
    pub(crate) fn new(model: &str, structured: Option<Structured>) -> Self {
        Self {
            model: model.to_owned(),
            structured,
            tools: BTreeMap::new(),
            stop: None,
            answered: false,
            called: false,
            finished: false,
        }
    }

    fn invalid(&self, message: String) -> ModelError {
        ModelError::new(ModelErrorKind::InvalidResponse, NAME, &self.model, message)
    }

    /// Handles one event.
    pub(crate) fn on_event(&mut self, event: ConverseStreamOutput) -> ModelResult<Vec<StreamEvent>> {
        let mut events = Vec::new();
        match event {
            ConverseStreamOutput::ContentBlockStart(start) => {
                if let Some(ContentBlockStart::ToolUse(tool)) = start.start() {
                    let pending = PendingTool {
                        id: tool.tool_use_id().to_owned(),
                        name: tool.name().to_owned(),
                        input: String::new(),
                    };
                    self.tools.insert(start.content_block_index(), pending);
                }
            }
            ConverseStreamOutput::ContentBlockDelta(delta) => match delta.delta() {
                Some(ContentBlockDelta::Text(text)) if !text.is_empty() => {
                    events.push(StreamEvent::TextDelta { text: text.clone() });
                }
                Some(ContentBlockDelta::ToolUse(fragment)) => {
                    let index = delta.content_block_index();
                    let Some(tool) = self.tools.get_mut(&index) else {
                        return Err(self.invalid(format!("tool input for block {index}, which never started")));
                    };
                    tool.input.push_str(fragment.input());
                }
                _ => {}
            },
            ConverseStreamOutput::ContentBlockStop(stop) => {
                if let Some(tool) = self.tools.remove(&stop.content_block_index()) {
                    events.push(self.complete(tool)?);
                }
            }
            ConverseStreamOutput::MessageStop(stop) => self.stop = Some(stop.stop_reason().clone()),
            ConverseStreamOutput::Metadata(metadata) => {
                if let Some(counts) = metadata.usage() {
                    events.push(StreamEvent::Usage { usage: usage(counts) });
                }
            }
            _ => {}
        }
        Ok(events)
    }

    fn complete(&mut self, tool: PendingTool) -> ModelResult<StreamEvent> {
        let arguments: Value = if tool.input.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&tool.input)
                .map_err(|e| self.invalid(format!("arguments of tool call `{}` are not JSON: {e}", tool.name)))?
        };
        if let Some(forced) = self.structured.as_ref().filter(|forced| forced.tool == tool.name) {
            self.answered = true;
            return Ok(StreamEvent::TextDelta { text: forced.answer(arguments) });
        }
        self.called = true;
        Ok(StreamEvent::ToolCall { call: ToolCall { id: tool.id, name: tool.name, arguments } })
    }

    /// The stream ended: tool calls whose block never stopped, then the `Stop`.
    pub(crate) fn finish(&mut self) -> ModelResult<Vec<StreamEvent>> {
        if self.finished {
            return Ok(Vec::new());
        }
        self.finished = true;
        let mut events = Vec::new();
        for tool in std::mem::take(&mut self.tools).into_values() {
            events.push(self.complete(tool)?);
        }
        let Some(stop) = self.stop.take() else {
            return Err(ModelError::new(
                ModelErrorKind::Unavailable,
                NAME,
                &self.model,
                "stream ended before the model finished",
            ));
        };
        events.push(StreamEvent::Stop { reason: stop_reason(&stop, self.answered && !self.called) });
        Ok(events)
    }
}

struct State {
    receiver: Receiver,
    assembler: Assembler,
    pending: VecDeque<StreamEvent>,
    done: bool,
}

/// The unified stream over `receiver`, starting with the events `first` already produced.
pub(crate) fn events(receiver: Receiver, assembler: Assembler, first: Vec<StreamEvent>) -> ChatStream {
    let state = State { receiver, assembler, pending: first.into(), done: false };
    Box::pin(futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(event) = state.pending.pop_front() {
                return Some((Ok(event), state));
            }
            if state.done {
                return None;
            }
            let result = match state.receiver.recv().await {
                Ok(Some(event)) => state.assembler.on_event(event),
                Ok(None) => {
                    state.done = true;
                    state.assembler.finish()
                }
                Err(error) => Err(stream_error(&state.assembler.model, &error)),
            };
            match result {
                Ok(events) => state.pending.extend(events),
                Err(error) => {
                    state.done = true;
                    state.pending.clear();
                    return Some((Err(error), state));
                }
            }
        }
    }))
}

/// Maps an error of the event stream: an exception frame, or a broken connection or frame.
pub(crate) fn stream_error(model: &str, error: &SdkError<ConverseStreamOutputError, RawMessage>) -> ModelError {
    let SdkError::ServiceError(context) = error else {
        return transport_error(model, error);
    };
    let exception = context.err();
    let code = match exception {
        ConverseStreamOutputError::ModelStreamErrorException(_) => "ModelStreamErrorException",
        ConverseStreamOutputError::ThrottlingException(_) => "ThrottlingException",
        ConverseStreamOutputError::ServiceUnavailableException(_) => "ServiceUnavailableException",
        ConverseStreamOutputError::InternalServerException(_) => "InternalServerException",
        ConverseStreamOutputError::ValidationException(_) => "ValidationException",
        other => other.code().unwrap_or("UnknownException"),
    };
    let mut message = exception.message().unwrap_or("").to_owned();
    if let ConverseStreamOutputError::ModelStreamErrorException(inner) = exception
        && let Some(original) = inner.original_message()
    {
        let status = inner.original_status_code().map(|s| format!(" {s}")).unwrap_or_default();
        message = format!("{message} (model said{status}: {original})");
    }
    let mut mapped = service_error(model, code, &message, None);
    if code == "ModelStreamErrorException" {
        // The model failed mid-answer; a new attempt may well succeed.
        mapped.kind = ModelErrorKind::Unavailable;
    }
    mapped.message = format!("stream interrupted by {}", mapped.message);
    mapped
}

#[cfg(test)]
mod tests {
    use aws_sdk_bedrockruntime::types::{
        ContentBlockDeltaEvent, ContentBlockStartEvent, ContentBlockStopEvent, MessageStopEvent, ToolUseBlockDelta,
        ToolUseBlockStart,
    };

    use super::*;

    fn start(index: i32, id: &str, name: &str) -> ConverseStreamOutput {
        let tool = ToolUseBlockStart::builder().tool_use_id(id).name(name).build().unwrap();
        let event = ContentBlockStartEvent::builder()
            .content_block_index(index)
            .start(ContentBlockStart::ToolUse(tool))
            .build()
            .unwrap();
        ConverseStreamOutput::ContentBlockStart(event)
    }

    fn delta(index: i32, delta: ContentBlockDelta) -> ConverseStreamOutput {
        let event = ContentBlockDeltaEvent::builder().content_block_index(index).delta(delta).build().unwrap();
        ConverseStreamOutput::ContentBlockDelta(event)
    }

    fn fragment(index: i32, input: &str) -> ConverseStreamOutput {
        delta(index, ContentBlockDelta::ToolUse(ToolUseBlockDelta::builder().input(input).build().unwrap()))
    }

    fn stop(index: i32) -> ConverseStreamOutput {
        ConverseStreamOutput::ContentBlockStop(
            ContentBlockStopEvent::builder().content_block_index(index).build().unwrap(),
        )
    }

    #[test]
    fn fragments_make_one_complete_call_per_block() {
        let mut assembler = Assembler::new("m", None);
        let mut events = Vec::new();
        for event in [
            delta(0, ContentBlockDelta::Text("Let me check.".into())),
            stop(0),
            start(1, "tooluse_a", "get_weather"),
            start(2, "tooluse_b", "get_time"),
            fragment(1, "{\"ci"),
            fragment(1, "ty\": \"Os"),
            fragment(1, "lo\"}"),
            stop(1),
            stop(2),
            ConverseStreamOutput::MessageStop(
                MessageStopEvent::builder().stop_reason("tool_use".into()).build().unwrap(),
            ),
        ] {
            events.extend(assembler.on_event(event).unwrap());
        }
        events.extend(assembler.finish().unwrap());
        let calls: Vec<(String, Value)> = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::ToolCall { call } => Some((call.id.clone(), call.arguments.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(calls, [("tooluse_a".into(), json!({"city": "Oslo"})), ("tooluse_b".into(), json!({}))]);
        assert_eq!(events.last(), Some(&StreamEvent::Stop { reason: crate::types::StopReason::ToolUse }));
        assert!(assembler.finish().unwrap().is_empty());
    }

    #[test]
    fn a_stream_without_message_stop_is_an_error_and_bad_json_is_invalid() {
        let mut assembler = Assembler::new("m", None);
        assert_eq!(assembler.finish().unwrap_err().kind, ModelErrorKind::Unavailable);
        let mut assembler = Assembler::new("m", None);
        assembler.on_event(start(0, "t", "f")).unwrap();
        assembler.on_event(fragment(0, "{\"a\":")).unwrap();
        assert_eq!(assembler.on_event(stop(0)).unwrap_err().kind, ModelErrorKind::InvalidResponse);
        assert!(Assembler::new("m", None).on_event(fragment(3, "{}")).is_err());
    }
}
