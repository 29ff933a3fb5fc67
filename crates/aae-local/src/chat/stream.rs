//! `ChatStream`: a generation running on a blocking thread, seen as a stream of events.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::mpsc;

use super::{ChatOutput, ChatRequest, Inner, generate};
use crate::error::LocalError;

/// One event of a streamed generation.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// The next piece of text (never part of a stop sequence, never a split character).
    Delta(String),
    /// The end: the whole output, whose text is the concatenation of the deltas.
    Done(ChatOutput),
}

/// The events of one generation, in order; ends after `Done` or an error. Also a
/// `futures::Stream`. Dropping it cancels the generation at its next token.
#[derive(Debug)]
pub struct ChatStream {
    events: mpsc::UnboundedReceiver<Result<ChatEvent, LocalError>>,
}

impl ChatStream {
    /// The next event, or `None` after the last one.
    pub async fn next_event(&mut self) -> Option<Result<ChatEvent, LocalError>> {
        self.events.recv().await
    }
}

impl futures::Stream for ChatStream {
    type Item = Result<ChatEvent, LocalError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_recv(cx)
    }
}

/// Waits (asynchronously) for a slot, then generates on a blocking thread. The channel is
/// unbounded so that a slow reader never stalls the generation that holds the slot.
pub(super) fn start(inner: Arc<Inner>, request: ChatRequest) -> ChatStream {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let Ok(permit) = Arc::clone(&inner.slots).acquire_owned().await else {
            let _ = tx.send(Err(LocalError::Inference("local model is shut down".to_owned())));
            return;
        };
        if tx.is_closed() {
            return;
        }
        let worker_tx = tx.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut on_delta = |delta: &str| worker_tx.send(Ok(ChatEvent::Delta(delta.to_owned()))).is_ok();
            let result = generate::run(&inner, &request, &mut on_delta);
            let _ = worker_tx.send(result.map(ChatEvent::Done));
        })
        .await;
        if let Err(err) = joined {
            let _ = tx.send(Err(LocalError::Inference(format!("generation task failed: {err}"))));
        }
    });
    ChatStream { events: rx }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_stream_yields_what_was_sent_then_ends() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut stream = ChatStream { events: rx };
        tx.send(Ok(ChatEvent::Delta("a".to_owned()))).expect("send");
        drop(tx);
        assert_eq!(stream.next_event().await.map(|e| e.ok()), Some(Some(ChatEvent::Delta("a".to_owned()))));
        assert!(stream.next_event().await.is_none());
    }
}
