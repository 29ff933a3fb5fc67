//! [`PreferenceStore`] on PostgreSQL.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::{PgStore, id, now};
use crate::error::{SqlxResultExt, StoreResult};
use crate::preferences::{ModelPreference, PreferenceStore, check, preference_from_row};

const COLUMNS: &str = "user_id, conversational_provider, conversational_model, updated_at";

#[async_trait]
impl PreferenceStore for PgStore {
    async fn get(&self, user_id: Uuid) -> StoreResult<Option<ModelPreference>> {
        let sql = format!("SELECT {COLUMNS} FROM user_model_preferences WHERE user_id = $1");
        let row: Option<PgRow> =
            sqlx::query(&sql).bind(id(user_id)).fetch_optional(&self.pool).await.on("model preference")?;
        row.map(|r| preference_from_row(&r)).transpose()
    }

    async fn set(&self, user_id: Uuid, provider: &str, model: &str) -> StoreResult<ModelPreference> {
        check(provider, model)?;
        let sql = format!(
            "INSERT INTO user_model_preferences ({COLUMNS}) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id) DO UPDATE SET conversational_provider = excluded.conversational_provider, \
             conversational_model = excluded.conversational_model, updated_at = excluded.updated_at \
             RETURNING {COLUMNS}"
        );
        let row: PgRow = sqlx::query(&sql)
            .bind(id(user_id))
            .bind(provider)
            .bind(model)
            .bind(now())
            .fetch_one(&self.pool)
            .await
            .on("model preference")?;
        preference_from_row(&row)
    }

    async fn clear(&self, user_id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM user_model_preferences WHERE user_id = $1")
            .bind(id(user_id))
            .execute(&self.pool)
            .await
            .on("model preference")?;
        Ok(done.rows_affected() > 0)
    }
}
