//! Documents (seed 004) and the metadata of their chunks: where each chunk's text sits in the
//! document, how many tokens it has, and where its embedding is kept. The text and the vectors
//! live elsewhere (object storage, a vector index).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::jobs::string_enum;
use crate::row::SqlRow;

string_enum! {
    /// Where a document is in ingestion.
    DocumentStatus, "document" {
        /// Stored, not processed.
        Uploaded = "uploaded",
        /// Being chunked and embedded.
        Processing = "processing",
        /// Chunks and embeddings recorded.
        Ready = "ready",
        /// Ingestion failed; `error` says why.
        Failed = "failed",
    }
}

/// A document record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Id.
    pub id: Uuid,
    /// Owner.
    pub owner_id: Uuid,
    /// Title.
    pub title: String,
    /// MIME type.
    pub content_type: String,
    /// Object key in the documents bucket.
    pub storage_key: String,
    /// Size in bytes.
    pub size_bytes: Option<i64>,
    /// Status.
    pub status: DocumentStatus,
    /// Why ingestion failed.
    pub error: Option<String>,
    /// Free-form metadata (`null` when unset).
    pub metadata: Value,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A document to record (status `uploaded`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewDocument {
    /// Owner.
    pub owner_id: Uuid,
    /// Title; must not be empty.
    pub title: String,
    /// MIME type; must not be empty.
    pub content_type: String,
    /// Object key; must not be empty.
    pub storage_key: String,
    /// Size.
    pub size_bytes: Option<i64>,
    /// Metadata.
    pub metadata: Value,
}

impl NewDocument {
    pub(crate) fn check(&self) -> StoreResult<()> {
        if self.title.is_empty() || self.content_type.is_empty() || self.storage_key.is_empty() {
            return Err(StoreError::invalid("document", "title, content_type and storage_key must not be empty"));
        }
        Ok(())
    }
}

/// The metadata of one chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// Position of the chunk in the document, from 0.
    pub chunk_index: i32,
    /// First character offset of the chunk's text in the extracted document text.
    pub start_offset: i64,
    /// Offset one past the last character.
    pub end_offset: i64,
    /// Tokens in the chunk.
    pub token_count: i32,
    /// Where the embedding is (vector id, object key), once embedded.
    pub embedding_ref: Option<String>,
}

impl Chunk {
    pub(crate) fn check(chunks: &[Chunk]) -> StoreResult<()> {
        for (i, chunk) in chunks.iter().enumerate() {
            if chunk.chunk_index != i as i32 {
                return Err(StoreError::invalid(
                    "document chunk",
                    format!("chunk {i} has index {}", chunk.chunk_index),
                ));
            }
            if chunk.start_offset < 0 || chunk.end_offset < chunk.start_offset || chunk.token_count < 0 {
                return Err(StoreError::invalid(
                    "document chunk",
                    format!("chunk {i} needs 0 <= start_offset <= end_offset and token_count >= 0"),
                ));
            }
        }
        Ok(())
    }
}

/// Document records and their chunks.
#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// Records a new document with status `uploaded`. `Invalid` for empty fields; `Conflict` when
    /// the owner does not exist.
    async fn create(&self, document: NewDocument) -> StoreResult<Document>;

    /// The document; `NotFound` otherwise.
    async fn get(&self, id: Uuid) -> StoreResult<Document>;

    /// The owner's documents, newest first.
    async fn list_by_owner(&self, owner_id: Uuid, limit: u32, offset: u64) -> StoreResult<Vec<Document>>;

    /// Sets the status and error text (cleared when `None`). `NotFound` when missing.
    async fn set_status(&self, id: Uuid, status: DocumentStatus, error: Option<&str>) -> StoreResult<Document>;

    /// Replaces the document's chunks with `chunks` (indexes 0..n in order) in one transaction.
    /// `Invalid` for out-of-order indexes or bad offsets; `NotFound` when the document is missing.
    async fn replace_chunks(&self, id: Uuid, chunks: &[Chunk]) -> StoreResult<()>;

    /// The document's chunks in index order.
    async fn chunks(&self, id: Uuid) -> StoreResult<Vec<Chunk>>;

    /// Deletes the document and its chunks; `NotFound` when missing.
    async fn delete(&self, id: Uuid) -> StoreResult<()>;
}

pub(crate) const DOCUMENT_COLUMNS: &str =
    "id, owner_id, title, content_type, storage_key, size_bytes, status, error, metadata, created_at, updated_at";

pub(crate) const CHUNK_COLUMNS: &str = "chunk_index, start_offset, end_offset, token_count, embedding_ref";

pub(crate) fn document_from_row(row: &impl SqlRow) -> StoreResult<Document> {
    Ok(Document {
        id: row.uuid("id")?,
        owner_id: row.uuid("owner_id")?,
        title: row.text("title")?,
        content_type: row.text("content_type")?,
        storage_key: row.text("storage_key")?,
        size_bytes: row.opt_int("size_bytes")?,
        status: row.text("status")?.parse().map_err(|e: StoreError| StoreError::corrupt("document", e.message))?,
        error: row.opt_text("error")?,
        metadata: row.json("metadata")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(crate) fn chunk_from_row(row: &impl SqlRow) -> StoreResult<Chunk> {
    Ok(Chunk {
        chunk_index: row.int("chunk_index")? as i32,
        start_offset: row.int("start_offset")?,
        end_offset: row.int("end_offset")?,
        token_count: row.int("token_count")? as i32,
        embedding_ref: row.opt_text("embedding_ref")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_must_be_in_order_with_sane_ranges() {
        let chunk = |i, start, end| Chunk {
            chunk_index: i,
            start_offset: start,
            end_offset: end,
            token_count: 3,
            embedding_ref: None,
        };
        assert!(Chunk::check(&[chunk(0, 0, 10), chunk(1, 10, 20)]).is_ok());
        assert!(Chunk::check(&[chunk(1, 0, 10)]).is_err());
        assert!(Chunk::check(&[chunk(0, 10, 5)]).is_err());
    }
}
