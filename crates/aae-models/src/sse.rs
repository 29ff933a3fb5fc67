//! Server-sent events: a decoder for `data:` payloads and the glue that turns a provider's SSE
//! body into the unified [`ChatStream`] through a provider-specific [`StreamAssembler`].

use std::collections::VecDeque;

use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::error::{ModelError, ModelResult};
use crate::http::transport_error;
use crate::types::{ChatStream, StreamEvent};

/// Splits a byte stream into SSE events and returns the `data` of each (multi-line data joined
/// with `\n`). Comments and other fields are ignored; `\n`, `\r\n` and `\r` line ends are accepted.
#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    line: Vec<u8>,
    data: Option<String>,
    last_was_cr: bool,
}

impl SseDecoder {
    /// Feeds bytes; returns the data of every event they complete.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut events = Vec::new();
        for &byte in bytes {
            if byte == b'\n' && self.last_was_cr {
                self.last_was_cr = false;
                continue;
            }
            self.last_was_cr = byte == b'\r';
            if byte == b'\n' || byte == b'\r' {
                let line = std::mem::take(&mut self.line);
                if line.is_empty() {
                    if let Some(data) = self.data.take() {
                        events.push(data);
                    }
                } else {
                    self.field(&line);
                }
            } else {
                self.line.push(byte);
            }
        }
        events
    }

    /// The last event when the body ends without a blank line.
    pub(crate) fn finish(&mut self) -> Option<String> {
        let line = std::mem::take(&mut self.line);
        if !line.is_empty() {
            self.field(&line);
        }
        self.data.take()
    }

    fn field(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let Some(value) = text.strip_prefix("data:") else { return };
        let value = value.strip_prefix(' ').unwrap_or(value);
        match &mut self.data {
            Some(data) => {
                data.push('\n');
                data.push_str(value);
            }
            None => self.data = Some(value.to_owned()),
        }
    }
}

/// Turns one provider's SSE payloads into unified events.
pub(crate) trait StreamAssembler: Send + 'static {
    /// Handles the data of one event.
    fn on_data(&mut self, data: &str) -> ModelResult<Vec<StreamEvent>>;
    /// The body ended: emit what is still buffered and the final `Stop`.
    fn finish(&mut self) -> ModelResult<Vec<StreamEvent>>;
}

struct State<S, A> {
    body: S,
    decoder: SseDecoder,
    assembler: A,
    pending: VecDeque<StreamEvent>,
    done: bool,
    provider: String,
    model: String,
}

/// The unified stream over an SSE body.
pub(crate) fn event_stream<S, A>(body: S, assembler: A, provider: &str, model: &str) -> ChatStream
where
    S: Stream<Item = reqwest::Result<Bytes>> + Send + Unpin + 'static,
    A: StreamAssembler,
{
    let state = State {
        body,
        decoder: SseDecoder::default(),
        assembler,
        pending: VecDeque::new(),
        done: false,
        provider: provider.to_owned(),
        model: model.to_owned(),
    };
    Box::pin(futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(event) = state.pending.pop_front() {
                return Some((Ok(event), state));
            }
            if state.done {
                return None;
            }
            let result = match state.body.next().await {
                Some(Ok(bytes)) => {
                    let payloads = state.decoder.push(&bytes);
                    handle(&mut state.assembler, &payloads)
                }
                Some(Err(error)) => Err(transport_error(&state.provider, &state.model, &error)),
                None => {
                    state.done = true;
                    let last: Vec<String> = state.decoder.finish().into_iter().collect();
                    handle(&mut state.assembler, &last).and_then(|mut events| {
                        events.extend(state.assembler.finish()?);
                        Ok(events)
                    })
                }
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

fn handle<A: StreamAssembler>(assembler: &mut A, payloads: &[String]) -> Result<Vec<StreamEvent>, ModelError> {
    let mut events = Vec::new();
    for payload in payloads {
        events.extend(assembler.on_data(payload)?);
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_are_reassembled() {
        let body = b"data: {\"a\":1}\n\n: comment\r\ndata: line1\r\ndata: line2\r\n\r\nevent: x\ndata: [DONE]\n\n";
        for split in 0..body.len() {
            let mut decoder = SseDecoder::default();
            let mut events = decoder.push(&body[..split]);
            events.extend(decoder.push(&body[split..]));
            assert_eq!(events, ["{\"a\":1}", "line1\nline2", "[DONE]"], "split at {split}");
        }
        let mut decoder = SseDecoder::default();
        assert!(decoder.push(b"data: tail").is_empty());
        assert_eq!(decoder.finish().as_deref(), Some("tail"));
    }
}
