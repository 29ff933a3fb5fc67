//! [`DocumentStore`] on PostgreSQL.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::{PgStore, id, json, now};
use crate::documents::{
    CHUNK_COLUMNS, Chunk, DOCUMENT_COLUMNS, Document, DocumentStatus, DocumentStore, NewDocument, chunk_from_row,
    document_from_row,
};
use crate::error::{SqlxResultExt, StoreError, StoreResult};

const ENTITY: &str = "document";

#[async_trait]
impl DocumentStore for PgStore {
    async fn create(&self, document: NewDocument) -> StoreResult<Document> {
        document.check()?;
        let sql = format!(
            "INSERT INTO documents ({DOCUMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, 'uploaded', NULL, $7, $8, $8) \
             RETURNING {DOCUMENT_COLUMNS}"
        );
        let row: PgRow = sqlx::query(&sql)
            .bind(id(Uuid::new_v4()))
            .bind(id(document.owner_id))
            .bind(&document.title)
            .bind(&document.content_type)
            .bind(&document.storage_key)
            .bind(document.size_bytes)
            .bind(json(&document.metadata))
            .bind(now())
            .fetch_one(&self.pool)
            .await
            .on(ENTITY)?;
        document_from_row(&row)
    }

    async fn get(&self, document_id: Uuid) -> StoreResult<Document> {
        let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = $1");
        let row: Option<PgRow> = sqlx::query(&sql).bind(id(document_id)).fetch_optional(&self.pool).await.on(ENTITY)?;
        row.map(|r| document_from_row(&r)).transpose()?.ok_or_else(|| StoreError::not_found(ENTITY, document_id))
    }

    async fn list_by_owner(&self, owner_id: Uuid, limit: u32, offset: u64) -> StoreResult<Vec<Document>> {
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE owner_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        );
        let rows: Vec<PgRow> = sqlx::query(&sql)
            .bind(id(owner_id))
            .bind(i64::from(limit))
            .bind(offset as i64)
            .fetch_all(&self.pool)
            .await
            .on(ENTITY)?;
        rows.iter().map(document_from_row).collect()
    }

    async fn set_status(
        &self,
        document_id: Uuid,
        status: DocumentStatus,
        error: Option<&str>,
    ) -> StoreResult<Document> {
        let sql = format!(
            "UPDATE documents SET status = $2, error = $3, updated_at = $4 WHERE id = $1 RETURNING {DOCUMENT_COLUMNS}"
        );
        let row: Option<PgRow> = sqlx::query(&sql)
            .bind(id(document_id))
            .bind(status.as_str())
            .bind(error)
            .bind(now())
            .fetch_optional(&self.pool)
            .await
            .on(ENTITY)?;
        row.map(|r| document_from_row(&r)).transpose()?.ok_or_else(|| StoreError::not_found(ENTITY, document_id))
    }

    async fn replace_chunks(&self, document_id: Uuid, chunks: &[Chunk]) -> StoreResult<()> {
        Chunk::check(chunks)?;
        let now = now();
        let mut tx = self.write_tx(ENTITY).await?;
        let touched = sqlx::query("UPDATE documents SET updated_at = $2 WHERE id = $1")
            .bind(id(document_id))
            .bind(now)
            .execute(&mut *tx)
            .await
            .on(ENTITY)?;
        if touched.rows_affected() == 0 {
            return Err(StoreError::not_found(ENTITY, document_id));
        }
        sqlx::query("DELETE FROM document_chunks WHERE document_id = $1")
            .bind(id(document_id))
            .execute(&mut *tx)
            .await
            .on(ENTITY)?;
        for chunk in chunks {
            sqlx::query(&format!(
                "INSERT INTO document_chunks (document_id, {CHUNK_COLUMNS}, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ))
            .bind(id(document_id))
            .bind(chunk.chunk_index)
            .bind(chunk.start_offset)
            .bind(chunk.end_offset)
            .bind(chunk.token_count)
            .bind(&chunk.embedding_ref)
            .bind(now)
            .execute(&mut *tx)
            .await
            .on("document chunk")?;
        }
        tx.commit().await.on(ENTITY)
    }

    async fn chunks(&self, document_id: Uuid) -> StoreResult<Vec<Chunk>> {
        let sql = format!("SELECT {CHUNK_COLUMNS} FROM document_chunks WHERE document_id = $1 ORDER BY chunk_index");
        let rows: Vec<PgRow> =
            sqlx::query(&sql).bind(id(document_id)).fetch_all(&self.pool).await.on("document chunk")?;
        rows.iter().map(chunk_from_row).collect()
    }

    async fn delete(&self, document_id: Uuid) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM documents WHERE id = $1")
            .bind(id(document_id))
            .execute(&self.pool)
            .await
            .on(ENTITY)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(ENTITY, document_id));
        }
        Ok(())
    }
}
