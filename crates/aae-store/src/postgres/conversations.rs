//! [`ConversationStore`] on PostgreSQL.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::{PgStore, id, json, now, opt_json};
use crate::conversations::{
    CONVERSATION_COLUMNS, Conversation, ConversationStore, MESSAGE_COLUMNS, Message, NewMessage, conversation_from_row,
    message_from_row,
};
use crate::error::{SqlxResultExt, StoreError, StoreResult};

const ENTITY: &str = "conversation";

#[async_trait]
impl ConversationStore for PgStore {
    async fn create(&self, user_id: Uuid, title: Option<&str>, metadata: Value) -> StoreResult<Conversation> {
        let sql = format!(
            "INSERT INTO conversations ({CONVERSATION_COLUMNS}) VALUES ($1, $2, $3, $4, 0, $5, $5) \
             RETURNING {CONVERSATION_COLUMNS}"
        );
        let row: PgRow = sqlx::query(&sql)
            .bind(id(Uuid::new_v4()))
            .bind(id(user_id))
            .bind(title)
            .bind(json(&metadata))
            .bind(now())
            .fetch_one(&self.pool)
            .await
            .on(ENTITY)?;
        conversation_from_row(&row)
    }

    async fn get(&self, conversation_id: Uuid) -> StoreResult<Conversation> {
        let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1");
        let row: Option<PgRow> =
            sqlx::query(&sql).bind(id(conversation_id)).fetch_optional(&self.pool).await.on(ENTITY)?;
        row.map(|r| conversation_from_row(&r))
            .transpose()?
            .ok_or_else(|| StoreError::not_found(ENTITY, conversation_id))
    }

    async fn list_by_user(&self, user_id: Uuid, limit: u32, offset: u64) -> StoreResult<Vec<Conversation>> {
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE user_id = $1 \
             ORDER BY updated_at DESC, id DESC LIMIT $2 OFFSET $3"
        );
        let rows: Vec<PgRow> = sqlx::query(&sql)
            .bind(id(user_id))
            .bind(i64::from(limit))
            .bind(offset as i64)
            .fetch_all(&self.pool)
            .await
            .on(ENTITY)?;
        rows.iter().map(conversation_from_row).collect()
    }

    async fn append(&self, conversation_id: Uuid, messages: Vec<NewMessage>) -> StoreResult<Vec<Message>> {
        for message in &messages {
            message.check()?;
        }
        let now = now();
        let mut tx = self.write_tx(ENTITY).await?;
        let first: Option<i64> = sqlx::query_scalar(
            "UPDATE conversations SET next_sequence = next_sequence + $2, updated_at = $3 WHERE id = $1 \
             RETURNING next_sequence - $2",
        )
        .bind(id(conversation_id))
        .bind(messages.len() as i64)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .on(ENTITY)?;
        let first = first.ok_or_else(|| StoreError::not_found(ENTITY, conversation_id))?;
        let sql = format!(
            "INSERT INTO conversation_messages ({MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             RETURNING {MESSAGE_COLUMNS}"
        );
        let mut stored = Vec::with_capacity(messages.len());
        for (offset, message) in messages.iter().enumerate() {
            let row: PgRow = sqlx::query(&sql)
                .bind(id(Uuid::new_v4()))
                .bind(id(conversation_id))
                .bind(first + offset as i64)
                .bind(message.role.as_str())
                .bind(&message.content)
                .bind(opt_json(message.tool_calls.as_ref()))
                .bind(&message.tool_call_id)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .on("message")?;
            stored.push(message_from_row(&row)?);
        }
        tx.commit().await.on(ENTITY)?;
        Ok(stored)
    }

    async fn messages(&self, conversation_id: Uuid, from_sequence: i64, limit: u32) -> StoreResult<Vec<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM conversation_messages WHERE conversation_id = $1 AND sequence >= $2 \
             ORDER BY sequence LIMIT $3"
        );
        let rows: Vec<PgRow> = sqlx::query(&sql)
            .bind(id(conversation_id))
            .bind(from_sequence)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .on("message")?;
        rows.iter().map(message_from_row).collect()
    }

    async fn delete(&self, conversation_id: Uuid) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM conversations WHERE id = $1")
            .bind(id(conversation_id))
            .execute(&self.pool)
            .await
            .on(ENTITY)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(ENTITY, conversation_id));
        }
        Ok(())
    }
}
