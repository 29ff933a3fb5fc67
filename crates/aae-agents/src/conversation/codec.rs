//! The lossless mapping between the model layer's [`Message`] and the record store's messages.
//!
//! An assistant's tool calls are stored as the JSON array `[{"id", "name", "arguments"}]`; a tool
//! result keeps its call id in `tool_call_id`. The store has no column for a result's tool name,
//! so it is taken back from the call the result answers (the nearest earlier assistant turn with
//! that call id), which is where the agent loop took it from.

use aae_models::{Message, ToolCall};
use aae_store::{MessageRole, NewMessage, StoreError};
use serde_json::{Value, json};

/// The record to append for `message`.
pub fn to_record(message: &Message) -> NewMessage {
    match message {
        Message::System { content } => NewMessage::text(MessageRole::System, content.clone()),
        Message::User { content } => NewMessage::text(MessageRole::User, content.clone()),
        Message::Assistant { content, tool_calls } => NewMessage {
            role: MessageRole::Assistant,
            content: content.clone(),
            tool_calls: (!tool_calls.is_empty()).then(|| {
                Value::Array(
                    tool_calls
                        .iter()
                        .map(|c| json!({ "id": c.id, "name": c.name, "arguments": c.arguments }))
                        .collect(),
                )
            }),
            tool_call_id: None,
        },
        Message::Tool { tool_call_id, content, .. } => NewMessage::tool_result(tool_call_id.clone(), content.clone()),
    }
}

/// The messages `records` hold, oldest first. `Internal` (corrupt) when an assistant's stored
/// tool calls do not decode.
pub fn from_records(records: &[aae_store::Message]) -> Result<Vec<Message>, StoreError> {
    let mut messages: Vec<Message> = Vec::with_capacity(records.len());
    for record in records {
        let message = match record.role {
            MessageRole::System => Message::system(record.content.clone()),
            MessageRole::User => Message::user(record.content.clone()),
            MessageRole::Assistant => {
                let tool_calls = match &record.tool_calls {
                    None | Some(Value::Null) => Vec::new(),
                    Some(calls) => serde_json::from_value::<Vec<ToolCall>>(calls.clone()).map_err(|e| {
                        StoreError::corrupt(
                            "message",
                            format!("message {} has tool calls that do not decode: {e}", record.sequence),
                        )
                    })?,
                };
                Message::Assistant { content: record.content.clone(), tool_calls }
            }
            MessageRole::Tool => {
                let tool_call_id = record.tool_call_id.clone().unwrap_or_default();
                let name = tool_name(&messages, &tool_call_id).unwrap_or_else(|| {
                    tracing::warn!(
                        conversation = %record.conversation_id,
                        sequence = record.sequence,
                        tool_call_id = %tool_call_id,
                        "stored tool result answers no earlier tool call"
                    );
                    String::new()
                });
                Message::Tool { tool_call_id, name, content: record.content.clone() }
            }
        };
        messages.push(message);
    }
    Ok(messages)
}

/// The name of the tool called as `id` by the nearest earlier assistant turn.
fn tool_name(earlier: &[Message], id: &str) -> Option<String> {
    earlier.iter().rev().find_map(|m| match m {
        Message::Assistant { tool_calls, .. } => tool_calls.iter().find(|c| c.id == id).map(|c| c.name.clone()),
        _ => None,
    })
}
