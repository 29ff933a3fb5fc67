//! [`CachedConversations`]: a [`ConversationStore`] that keeps each conversation's messages in
//! the shared cache, in front of the record store (which stays the source of truth).
//!
//! Consistency: every append bumps a per-conversation version in Redis *after* the records
//! commit; an entry is written tagged with the epoch and version read *before* the records were
//! read, and is used only while both still match. A reader that raced with an append therefore
//! stores an entry that is already stale and never served. Appends made while Redis was down
//! cannot bump versions, which is why an instance coming back from an outage bumps the epoch
//! (see [`super`]).

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{EPOCH_KEY, SharedCache};
use crate::conversations::{Conversation, ConversationStore, Message, NewMessage};
use crate::error::StoreResult;

/// Conversations longer than this are not cached (they are read from the records in pages).
const MAX_CACHED_MESSAGES: u32 = 2_000;

/// A conversation store with a shared cache of messages.
pub struct CachedConversations {
    records: Arc<dyn ConversationStore>,
    cache: SharedCache,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    epoch: u64,
    version: u64,
    messages: Vec<Message>,
}

impl CachedConversations {
    /// Caches `records` in `cache`.
    pub fn new(records: Arc<dyn ConversationStore>, cache: SharedCache) -> Self {
        Self { records, cache }
    }

    fn messages_key(id: Uuid) -> String {
        format!("conv:{id}:messages")
    }

    fn version_key(id: Uuid) -> String {
        format!("conv:{id}:version")
    }

    /// The cached messages, when an entry exists and is current; plus the epoch and version to
    /// tag a fresh entry with (when Redis answered).
    async fn cached(&self, id: Uuid) -> (Option<Vec<Message>>, Option<(u64, u64)>) {
        let (messages_key, version_key) = (Self::messages_key(id), Self::version_key(id));
        let Some(values) = self.cache.get_many(&[EPOCH_KEY, &version_key, &messages_key]).await else {
            return (None, None);
        };
        let number = |v: Option<&Option<String>>| v.and_then(|v| v.as_deref()).and_then(|v| v.parse().ok());
        let (epoch, version) = (number(values.first()).unwrap_or(0), number(values.get(1)).unwrap_or(0));
        let entry = values.get(2).and_then(|v| v.as_deref()).and_then(|v| serde_json::from_str::<Entry>(v).ok());
        match entry {
            Some(entry) if entry.epoch == epoch && entry.version == version => (Some(entry.messages), None),
            _ => (None, Some((epoch, version))),
        }
    }

    async fn invalidate(&self, id: Uuid) {
        // After the records changed: readers that loaded before this see a version mismatch.
        if self.cache.incr(&Self::version_key(id)).await.is_none() {
            // Redis is down: the epoch bump on its return invalidates this entry.
            tracing::debug!(conversation = %id, "conversation cache not invalidated, redis unavailable");
        }
    }
}

fn page(messages: &[Message], from_sequence: i64, limit: u32) -> Vec<Message> {
    messages.iter().filter(|m| m.sequence >= from_sequence).take(limit as usize).cloned().collect()
}

#[async_trait]
impl ConversationStore for CachedConversations {
    async fn create(&self, user_id: Uuid, title: Option<&str>, metadata: Value) -> StoreResult<Conversation> {
        self.records.create(user_id, title, metadata).await
    }

    async fn get(&self, id: Uuid) -> StoreResult<Conversation> {
        self.records.get(id).await
    }

    async fn list_by_user(&self, user_id: Uuid, limit: u32, offset: u64) -> StoreResult<Vec<Conversation>> {
        self.records.list_by_user(user_id, limit, offset).await
    }

    async fn append(&self, id: Uuid, messages: Vec<NewMessage>) -> StoreResult<Vec<Message>> {
        let appended = self.records.append(id, messages).await?;
        self.invalidate(id).await;
        Ok(appended)
    }

    async fn messages(&self, id: Uuid, from_sequence: i64, limit: u32) -> StoreResult<Vec<Message>> {
        let (cached, tag) = self.cached(id).await;
        if let Some(messages) = cached {
            return Ok(page(&messages, from_sequence, limit));
        }
        let Some((epoch, version)) = tag else {
            return self.records.messages(id, from_sequence, limit).await;
        };
        // Load the whole conversation once (when it is small enough) and serve pages from it.
        let all = self.records.messages(id, 0, MAX_CACHED_MESSAGES + 1).await?;
        if all.len() > MAX_CACHED_MESSAGES as usize {
            return self.records.messages(id, from_sequence, limit).await;
        }
        let result = page(&all, from_sequence, limit);
        let entry = Entry { epoch, version, messages: all };
        if let Ok(json) = serde_json::to_string(&entry) {
            self.cache.set(&Self::messages_key(id), &json, self.cache.ttl()).await;
        }
        Ok(result)
    }

    async fn delete(&self, id: Uuid) -> StoreResult<()> {
        self.records.delete(id).await?;
        self.invalidate(id).await;
        self.cache.delete(&Self::messages_key(id)).await;
        Ok(())
    }
}
