//! [`ApiKeyStore`] on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use super::{SqliteStore, id, json, now, opt_ts, ts};
use crate::api_keys::{
    ApiKey, ApiKeyStore, ENTITY, NewApiKey, TOUCH_SQL, find_by_hash_sql, insert_error, insert_sql, key_from_row,
    key_not_found, list_by_user_sql, revoke_sql,
};
use crate::error::{SqlxResultExt, StoreError, StoreResult};

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn create(&self, key: NewApiKey) -> StoreResult<ApiKey> {
        key.check()?;
        let row: SqliteRow = sqlx::query(&insert_sql())
            .bind(id(Uuid::new_v4()))
            .bind(id(key.user_id))
            .bind(&key.name)
            .bind(&key.prefix)
            .bind(&key.key_hash)
            .bind(json(&key.allowed_models_json()))
            .bind(opt_ts(key.expires_at))
            .bind(now())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| insert_error(key.user_id, e))?;
        key_from_row(&row)
    }

    async fn find_by_hash(&self, key_hash: &str) -> StoreResult<ApiKey> {
        let row: Option<SqliteRow> =
            sqlx::query(&find_by_hash_sql()).bind(key_hash).fetch_optional(&self.pool).await.on(ENTITY)?;
        row.map(|r| key_from_row(&r)).transpose()?.ok_or_else(key_not_found)
    }

    async fn list_by_user(&self, user_id: Uuid) -> StoreResult<Vec<ApiKey>> {
        let rows: Vec<SqliteRow> =
            sqlx::query(&list_by_user_sql()).bind(id(user_id)).fetch_all(&self.pool).await.on(ENTITY)?;
        rows.iter().map(key_from_row).collect()
    }

    async fn revoke(&self, user_id: Uuid, key_id: Uuid) -> StoreResult<ApiKey> {
        let row: Option<SqliteRow> = sqlx::query(&revoke_sql())
            .bind(id(key_id))
            .bind(id(user_id))
            .bind(now())
            .fetch_optional(&self.pool)
            .await
            .on(ENTITY)?;
        row.map(|r| key_from_row(&r)).transpose()?.ok_or_else(|| StoreError::not_found(ENTITY, key_id))
    }

    async fn touch(&self, key_id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(TOUCH_SQL).bind(id(key_id)).bind(ts(at)).execute(&self.pool).await.on(ENTITY)?;
        Ok(())
    }
}
