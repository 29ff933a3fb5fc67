//! Conversation state (issue 5, seed 000 Properties 10-12 and "Automatic context reconstruction
//! from message history"): [`ConversationSession`] keeps an agent's conversation in the record
//! store, and [`ConversationManager`]s fit a long conversation into what the model is shown.
//!
//! The record store is the source of truth. The session works on any
//! `Arc<dyn ConversationStore>`; the one `aae_store::Records` hands out is already
//! `aae_store::CachedConversations` when `redis.url` is set, which keeps each conversation's
//! messages in Redis under its id with the cache's TTL, invalidates them on every append, and
//! rebuilds a lost, stale or corrupt entry from the records. So the session has no Redis client
//! of its own: a resumed session (a restart, another instance) reads the history from Redis, or
//! from the records when Redis lost it.

mod codec;
mod manager;

use std::sync::Arc;

use aae_models::Message;
use aae_store::ConversationStore;
use uuid::Uuid;

pub use codec::{from_records, to_record};
pub use manager::{
    ConversationManager, DEFAULT_SUMMARY_PROMPT, SUMMARY_PREFIX, SlidingWindow, Summarizing, WindowBudget,
    estimated_tokens, window_start,
};

use crate::agent::{Agent, AgentOutput, RunContext};
use crate::error::{AgentError, AgentResult};

/// Messages read per store call when loading a history.
const PAGE: u32 = 500;

/// One stored conversation and an agent's turns in it.
pub struct ConversationSession {
    store: Arc<dyn ConversationStore>,
    id: Uuid,
    history: Vec<Message>,
}

impl std::fmt::Debug for ConversationSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationSession")
            .field("id", &self.id)
            .field("messages", &self.history.len())
            .finish_non_exhaustive()
    }
}

impl ConversationSession {
    /// Opens conversation `id` (created beforehand with `ConversationStore::create`) and loads
    /// its history. `NotFound` (as [`AgentError::Conversation`]) when it does not exist.
    pub async fn open(store: Arc<dyn ConversationStore>, id: Uuid) -> AgentResult<Self> {
        store.get(id).await.map_err(|source| AgentError::Conversation { conversation: id, source })?;
        let mut session = Self { store, id, history: Vec::new() };
        session.reload().await?;
        Ok(session)
    }

    /// The conversation's id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The history as last loaded or appended, oldest first.
    pub fn history(&self) -> &[Message] {
        &self.history
    }

    /// Loads the history again (from the cache when it holds the current one, else from the
    /// records), picking up messages other sessions appended.
    pub async fn reload(&mut self) -> AgentResult<()> {
        let id = self.id;
        let error = |source| AgentError::Conversation { conversation: id, source };
        let mut records = Vec::new();
        loop {
            let page = self.store.messages(self.id, records.len() as i64, PAGE).await.map_err(error)?;
            let full = page.len() == PAGE as usize;
            records.extend(page);
            if !full {
                break;
            }
        }
        self.history = from_records(&records).map_err(error)?;
        Ok(())
    }

    /// Persists `messages` after the history, atomically, and adds them to it.
    pub async fn append(&mut self, messages: Vec<Message>) -> AgentResult<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let records = messages.iter().map(to_record).collect();
        self.store
            .append(self.id, records)
            .await
            .map_err(|source| AgentError::Conversation { conversation: self.id, source })?;
        self.history.extend(messages);
        Ok(())
    }

    /// Runs `agent` on the history plus the user's `prompt` and persists the new messages: the
    /// prompt before the run (so a failed run leaves the question in the history), then every
    /// assistant turn, tool call and tool result of the run, and the answer.
    pub async fn run(&mut self, agent: &Agent, context: &RunContext, prompt: &str) -> AgentResult<AgentOutput> {
        self.reload().await?;
        self.append(vec![Message::user(prompt)]).await?;
        let output = agent.run(context, self.history.clone()).await?;
        let new = output.messages.get(self.history.len()..).unwrap_or_default().to_vec();
        self.append(new).await?;
        Ok(output)
    }
}
