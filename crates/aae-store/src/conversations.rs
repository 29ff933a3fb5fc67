//! Conversations and their messages, including tool calls and tool results, so an agent's context
//! can be rebuilt from history (seed 000 "Automatic context reconstruction from message history").

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::jobs::string_enum;
use crate::row::SqlRow;

string_enum! {
    /// Who wrote a message.
    MessageRole, "message" {
        /// Instructions.
        System = "system",
        /// The user.
        User = "user",
        /// The model; may carry `tool_calls`.
        Assistant = "assistant",
        /// A tool result answering `tool_call_id`.
        Tool = "tool",
    }
}

/// A conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// Id.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Title.
    pub title: Option<String>,
    /// Free-form metadata (`null` when unset).
    pub metadata: Value,
    /// Messages so far (the next message gets this sequence number).
    pub message_count: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last message or change.
    pub updated_at: DateTime<Utc>,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Id.
    pub id: Uuid,
    /// Conversation.
    pub conversation_id: Uuid,
    /// Position in the conversation, from 0, without gaps.
    pub sequence: i64,
    /// Role.
    pub role: MessageRole,
    /// Text (the tool result's text for `tool`).
    pub content: String,
    /// The assistant's tool calls (provider-neutral JSON array).
    pub tool_calls: Option<Value>,
    /// For `tool` messages: the call this result answers.
    pub tool_call_id: Option<String>,
    /// Written.
    pub created_at: DateTime<Utc>,
}

/// A message to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    /// Role.
    pub role: MessageRole,
    /// Text.
    pub content: String,
    /// Tool calls (assistant only).
    pub tool_calls: Option<Value>,
    /// The answered call (tool only, required there).
    pub tool_call_id: Option<String>,
}

impl NewMessage {
    /// A message with only a role and text.
    pub fn text(role: MessageRole, content: impl Into<String>) -> Self {
        Self { role, content: content.into(), tool_calls: None, tool_call_id: None }
    }

    /// A tool result answering `tool_call_id`.
    pub fn tool_result(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: MessageRole::Tool,
            content: content.into(),
            tool_calls: None,
            tool_call_id: Some(tool_call_id.into()),
        }
    }

    pub(crate) fn check(&self) -> StoreResult<()> {
        if self.role == MessageRole::Tool && self.tool_call_id.as_deref().is_none_or(str::is_empty) {
            return Err(StoreError::invalid("message", "a tool message needs tool_call_id"));
        }
        if self.role != MessageRole::Tool && self.tool_call_id.is_some() {
            return Err(StoreError::invalid("message", "only tool messages carry tool_call_id"));
        }
        if self.tool_calls.is_some() && self.role != MessageRole::Assistant {
            return Err(StoreError::invalid("message", "only assistant messages carry tool_calls"));
        }
        Ok(())
    }
}

/// Conversation records.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// Creates an empty conversation. `Conflict` when the user does not exist.
    async fn create(&self, user_id: Uuid, title: Option<&str>, metadata: Value) -> StoreResult<Conversation>;

    /// The conversation; `NotFound` otherwise.
    async fn get(&self, id: Uuid) -> StoreResult<Conversation>;

    /// The user's conversations, most recently active first.
    async fn list_by_user(&self, user_id: Uuid, limit: u32, offset: u64) -> StoreResult<Vec<Conversation>>;

    /// Appends `messages` in order, atomically, with consecutive sequence numbers after the last
    /// message (concurrent appends never share or skip a number). `Invalid` when a message breaks
    /// the role rules; `NotFound` when the conversation is missing.
    async fn append(&self, id: Uuid, messages: Vec<NewMessage>) -> StoreResult<Vec<Message>>;

    /// Messages with sequence ≥ `from_sequence`, in order, at most `limit`.
    async fn messages(&self, id: Uuid, from_sequence: i64, limit: u32) -> StoreResult<Vec<Message>>;

    /// Deletes the conversation and its messages; `NotFound` when missing.
    async fn delete(&self, id: Uuid) -> StoreResult<()>;
}

pub(crate) const CONVERSATION_COLUMNS: &str = "id, user_id, title, metadata, next_sequence, created_at, updated_at";

pub(crate) const MESSAGE_COLUMNS: &str =
    "id, conversation_id, sequence, role, content, tool_calls, tool_call_id, created_at";

pub(crate) fn conversation_from_row(row: &impl SqlRow) -> StoreResult<Conversation> {
    Ok(Conversation {
        id: row.uuid("id")?,
        user_id: row.uuid("user_id")?,
        title: row.opt_text("title")?,
        metadata: row.json("metadata")?,
        message_count: row.int("next_sequence")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(crate) fn message_from_row(row: &impl SqlRow) -> StoreResult<Message> {
    Ok(Message {
        id: row.uuid("id")?,
        conversation_id: row.uuid("conversation_id")?,
        sequence: row.int("sequence")?,
        role: row.text("role")?.parse().map_err(|e: StoreError| StoreError::corrupt("message", e.message))?,
        content: row.text("content")?,
        tool_calls: row.opt_json("tool_calls")?,
        tool_call_id: row.opt_text("tool_call_id")?,
        created_at: row.time("created_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_rules_are_checked() {
        assert!(NewMessage::tool_result("call_1", "42").check().is_ok());
        assert!(NewMessage::text(MessageRole::Tool, "42").check().is_err());
        let mut message = NewMessage::text(MessageRole::User, "hi");
        message.tool_calls = Some(serde_json::json!([]));
        assert!(message.check().is_err());
        message.role = MessageRole::Assistant;
        assert!(message.check().is_ok());
    }
}
