//! File metadata (seed 002 `file_metadata`): where each stored object is and whose it is. The bytes
//! live in object storage (`aae-storage`); this store records the bucket, key, size, type and
//! version of each. A presigned upload is recorded `pending` before the client sends the bytes
//! and [`FileStore::confirm`]ed once the object exists (`0004_auth`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::jobs::string_enum;
use crate::row::SqlRow;

string_enum! {
    /// Whether the object is known to exist.
    FileStatus, "file" {
        /// Recorded before its bytes arrive (a presigned upload); [`FileStore::confirm`] ends it.
        Pending = "pending",
        /// The object exists (the default).
        Confirmed = "confirmed",
    }
}

/// A file metadata record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Id.
    pub id: Uuid,
    /// Owner.
    pub user_id: Option<Uuid>,
    /// The job that produced or uses it.
    pub job_id: Option<Uuid>,
    /// `video`, `code`, `thumbnail`, `upload`, …
    pub file_type: String,
    /// The name the user gave it.
    pub original_filename: Option<String>,
    /// Physical bucket name.
    pub s3_bucket: String,
    /// Object key.
    pub s3_key: String,
    /// Size in bytes.
    pub file_size: Option<i64>,
    /// MIME type.
    pub content_type: Option<String>,
    /// Object version, when the bucket is versioned.
    pub version_id: Option<String>,
    /// Free-form metadata (`null` when unset).
    pub metadata: Value,
    /// Recorded.
    pub created_at: DateTime<Utc>,
    /// Pending (a presigned upload not confirmed yet) or confirmed.
    pub status: FileStatus,
}

/// A file to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFile {
    /// Owner.
    pub user_id: Option<Uuid>,
    /// Job.
    pub job_id: Option<Uuid>,
    /// Type; must not be empty.
    pub file_type: String,
    /// Original name.
    pub original_filename: Option<String>,
    /// Bucket; must not be empty.
    pub s3_bucket: String,
    /// Key; must not be empty.
    pub s3_key: String,
    /// Size.
    pub file_size: Option<i64>,
    /// MIME type.
    pub content_type: Option<String>,
    /// Version.
    pub version_id: Option<String>,
    /// Metadata.
    pub metadata: Value,
    /// `Pending` for a presigned upload whose bytes have not arrived; `Confirmed` otherwise.
    pub status: FileStatus,
}

impl NewFile {
    /// A confirmed file with only its type and location.
    pub fn new(file_type: impl Into<String>, bucket: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            user_id: None,
            job_id: None,
            file_type: file_type.into(),
            original_filename: None,
            s3_bucket: bucket.into(),
            s3_key: key.into(),
            file_size: None,
            content_type: None,
            version_id: None,
            metadata: Value::Null,
            status: FileStatus::Confirmed,
        }
    }

    pub(crate) fn check(&self) -> StoreResult<()> {
        if self.file_type.is_empty() || self.s3_bucket.is_empty() || self.s3_key.is_empty() {
            return Err(StoreError::invalid("file", "file_type, s3_bucket and s3_key must not be empty"));
        }
        check_size(self.file_size)
    }
}

/// File metadata records.
#[async_trait]
pub trait FileStore: Send + Sync {
    /// Records a file with a new id. `Invalid` for empty type, bucket or key; `Conflict` when the
    /// user or job does not exist.
    async fn create(&self, file: NewFile) -> StoreResult<FileRecord>;

    /// The record; `NotFound` otherwise.
    async fn get(&self, id: Uuid) -> StoreResult<FileRecord>;

    /// Marks the file `confirmed` (its upload finished) and sets the size, type and version
    /// the object store reported; a `None` keeps the recorded value. Confirming a confirmed file
    /// only updates those fields. `NotFound` when missing; `Invalid` for a negative size.
    async fn confirm(
        &self,
        id: Uuid,
        file_size: Option<i64>,
        content_type: Option<&str>,
        version_id: Option<&str>,
    ) -> StoreResult<FileRecord>;

    /// The newest record of the object at `bucket`/`key`, if any.
    async fn find_by_key(&self, bucket: &str, key: &str) -> StoreResult<Option<FileRecord>>;

    /// The user's files, newest first.
    async fn list_by_user(&self, user_id: Uuid, limit: u32, offset: u64) -> StoreResult<Vec<FileRecord>>;

    /// The job's files, oldest first.
    async fn list_by_job(&self, job_id: Uuid) -> StoreResult<Vec<FileRecord>>;

    /// Deletes the record (not the object); `NotFound` when missing.
    async fn delete(&self, id: Uuid) -> StoreResult<()>;
}

pub(crate) const FILE_COLUMNS: &str = "id, user_id, job_id, file_type, original_filename, s3_bucket, s3_key, \
     file_size, content_type, version_id, metadata, created_at, status";

/// Confirms file `$1`, setting size `$2`, type `$3` and version `$4` where not NULL.
pub(crate) fn confirm_sql() -> String {
    format!(
        "UPDATE file_metadata SET status = 'confirmed', file_size = COALESCE($2, file_size), \
         content_type = COALESCE($3, content_type), version_id = COALESCE($4, version_id) \
         WHERE id = $1 RETURNING {FILE_COLUMNS}"
    )
}

pub(crate) fn check_size(file_size: Option<i64>) -> StoreResult<()> {
    if file_size.is_some_and(|size| size < 0) {
        return Err(StoreError::invalid("file", "file_size must not be negative"));
    }
    Ok(())
}

pub(crate) fn file_from_row(row: &impl SqlRow) -> StoreResult<FileRecord> {
    Ok(FileRecord {
        id: row.uuid("id")?,
        user_id: row.opt_uuid("user_id")?,
        job_id: row.opt_uuid("job_id")?,
        file_type: row.text("file_type")?,
        original_filename: row.opt_text("original_filename")?,
        s3_bucket: row.text("s3_bucket")?,
        s3_key: row.text("s3_key")?,
        file_size: row.opt_int("file_size")?,
        content_type: row.opt_text("content_type")?,
        version_id: row.opt_text("version_id")?,
        metadata: row.json("metadata")?,
        created_at: row.opt_time("created_at")?.unwrap_or_default(),
        status: row.text("status")?.parse().map_err(|e: StoreError| StoreError::corrupt("file", e.message))?,
    })
}
