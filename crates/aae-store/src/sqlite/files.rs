//! [`FileStore`] on SQLite.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use super::{SqliteStore, id, json, now, opt_id};
use crate::error::{SqlxResultExt, StoreError, StoreResult};
use crate::files::{FILE_COLUMNS, FileRecord, FileStore, NewFile, check_size, confirm_sql, file_from_row};

const ENTITY: &str = "file";

#[async_trait]
impl FileStore for SqliteStore {
    async fn create(&self, file: NewFile) -> StoreResult<FileRecord> {
        file.check()?;
        let sql = format!(
            "INSERT INTO file_metadata ({FILE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             RETURNING {FILE_COLUMNS}"
        );
        let row: SqliteRow = sqlx::query(&sql)
            .bind(id(Uuid::new_v4()))
            .bind(opt_id(file.user_id))
            .bind(opt_id(file.job_id))
            .bind(&file.file_type)
            .bind(&file.original_filename)
            .bind(&file.s3_bucket)
            .bind(&file.s3_key)
            .bind(file.file_size)
            .bind(&file.content_type)
            .bind(&file.version_id)
            .bind(json(&file.metadata))
            .bind(now())
            .bind(file.status.as_str())
            .fetch_one(&self.pool)
            .await
            .on(ENTITY)?;
        file_from_row(&row)
    }

    async fn get(&self, file_id: Uuid) -> StoreResult<FileRecord> {
        let sql = format!("SELECT {FILE_COLUMNS} FROM file_metadata WHERE id = $1");
        let row: Option<SqliteRow> = sqlx::query(&sql).bind(id(file_id)).fetch_optional(&self.pool).await.on(ENTITY)?;
        row.map(|r| file_from_row(&r)).transpose()?.ok_or_else(|| StoreError::not_found(ENTITY, file_id))
    }

    async fn confirm(
        &self,
        file_id: Uuid,
        file_size: Option<i64>,
        content_type: Option<&str>,
        version_id: Option<&str>,
    ) -> StoreResult<FileRecord> {
        check_size(file_size)?;
        let row: Option<SqliteRow> = sqlx::query(&confirm_sql())
            .bind(id(file_id))
            .bind(file_size)
            .bind(content_type)
            .bind(version_id)
            .fetch_optional(&self.pool)
            .await
            .on(ENTITY)?;
        row.map(|r| file_from_row(&r)).transpose()?.ok_or_else(|| StoreError::not_found(ENTITY, file_id))
    }

    async fn find_by_key(&self, bucket: &str, key: &str) -> StoreResult<Option<FileRecord>> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM file_metadata WHERE s3_bucket = $1 AND s3_key = $2 \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        );
        let row: Option<SqliteRow> =
            sqlx::query(&sql).bind(bucket).bind(key).fetch_optional(&self.pool).await.on(ENTITY)?;
        row.map(|r| file_from_row(&r)).transpose()
    }

    async fn list_by_user(&self, user_id: Uuid, limit: u32, offset: u64) -> StoreResult<Vec<FileRecord>> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM file_metadata WHERE user_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        );
        let rows: Vec<SqliteRow> = sqlx::query(&sql)
            .bind(id(user_id))
            .bind(i64::from(limit))
            .bind(offset as i64)
            .fetch_all(&self.pool)
            .await
            .on(ENTITY)?;
        rows.iter().map(file_from_row).collect()
    }

    async fn list_by_job(&self, job_id: Uuid) -> StoreResult<Vec<FileRecord>> {
        let sql = format!("SELECT {FILE_COLUMNS} FROM file_metadata WHERE job_id = $1 ORDER BY created_at, id");
        let rows: Vec<SqliteRow> = sqlx::query(&sql).bind(id(job_id)).fetch_all(&self.pool).await.on(ENTITY)?;
        rows.iter().map(file_from_row).collect()
    }

    async fn delete(&self, file_id: Uuid) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM file_metadata WHERE id = $1")
            .bind(id(file_id))
            .execute(&self.pool)
            .await
            .on(ENTITY)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(ENTITY, file_id));
        }
        Ok(())
    }
}
