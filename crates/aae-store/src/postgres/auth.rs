//! [`AuthStore`] on PostgreSQL, mirroring `sqlite/auth.rs`. Rotation revokes the old token with
//! `UPDATE … WHERE revoked_at IS NULL … RETURNING`: concurrent rotations of one token wait on its
//! row lock, and once the first commits the others find it revoked, so exactly one succeeds.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::{PgStore, id, now, ts};
use crate::auth::{
    AuthStore, REVOKE_ACTIVE_SQL, REVOKE_ALL_SQL, RefreshToken, check_password_hash, check_token_hash,
    insert_token_sql, token_from_row, token_not_found,
};
use crate::error::{SqlxResultExt, StoreResult};
use crate::row::SqlRow;

const CREDENTIAL: &str = "local credential";
const TOKEN: &str = "refresh token";

#[async_trait]
impl AuthStore for PgStore {
    async fn set_password(&self, user_id: Uuid, password_hash: &str) -> StoreResult<()> {
        check_password_hash(password_hash)?;
        sqlx::query(
            "INSERT INTO local_credentials (user_id, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, \
             updated_at = excluded.updated_at",
        )
        .bind(id(user_id))
        .bind(password_hash)
        .bind(now())
        .execute(&self.pool)
        .await
        .on(CREDENTIAL)?;
        Ok(())
    }

    async fn password_hash(&self, user_id: Uuid) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT password_hash FROM local_credentials WHERE user_id = $1")
            .bind(id(user_id))
            .fetch_optional(&self.pool)
            .await
            .on(CREDENTIAL)
    }

    async fn issue_refresh(
        &self,
        user_id: Uuid,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<RefreshToken> {
        check_token_hash(token_hash)?;
        let row: PgRow = sqlx::query(&insert_token_sql())
            .bind(id(Uuid::new_v4()))
            .bind(id(user_id))
            .bind(token_hash)
            .bind(ts(expires_at))
            .bind(now())
            .fetch_one(&self.pool)
            .await
            .on(TOKEN)?;
        token_from_row(&row)
    }

    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        new_expires_at: DateTime<Utc>,
    ) -> StoreResult<RefreshToken> {
        check_token_hash(old_hash)?;
        check_token_hash(new_hash)?;
        let now = now();
        let mut tx = self.write_tx(TOKEN).await?;
        let revoked: Option<PgRow> =
            sqlx::query(REVOKE_ACTIVE_SQL).bind(old_hash).bind(now).fetch_optional(&mut *tx).await.on(TOKEN)?;
        let Some(revoked) = revoked else {
            // Unknown, expired, or already revoked: the last is a replay, which ends every session.
            let replayed: Option<PgRow> =
                sqlx::query("SELECT user_id FROM refresh_tokens WHERE token_hash = $1 AND revoked_at IS NOT NULL")
                    .bind(old_hash)
                    .fetch_optional(&mut *tx)
                    .await
                    .on(TOKEN)?;
            if let Some(row) = replayed {
                let user_id = row.uuid("user_id")?;
                let done = sqlx::query(REVOKE_ALL_SQL).bind(id(user_id)).bind(now).execute(&mut *tx).await.on(TOKEN)?;
                tx.commit().await.on(TOKEN)?;
                tracing::warn!(
                    %user_id,
                    revoked = done.rows_affected(),
                    "revoked refresh token presented again; every token of the user revoked"
                );
            }
            return Err(token_not_found());
        };
        let row: PgRow = sqlx::query(&insert_token_sql())
            .bind(id(Uuid::new_v4()))
            .bind(id(revoked.uuid("user_id")?))
            .bind(new_hash)
            .bind(ts(new_expires_at))
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .on(TOKEN)?;
        let token = token_from_row(&row)?;
        tx.commit().await.on(TOKEN)?;
        Ok(token)
    }

    async fn revoke_refresh(&self, token_hash: &str) -> StoreResult<bool> {
        check_token_hash(token_hash)?;
        let now = crate::row::now();
        let revoked: Option<PgRow> = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL \
             RETURNING expires_at",
        )
        .bind(token_hash)
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await
        .on(TOKEN)?;
        Ok(revoked.map(|row| row.time("expires_at")).transpose()?.is_some_and(|expires| expires > now))
    }

    async fn revoke_all(&self, user_id: Uuid) -> StoreResult<u64> {
        let done = sqlx::query(REVOKE_ALL_SQL).bind(id(user_id)).bind(now()).execute(&self.pool).await.on(TOKEN)?;
        Ok(done.rows_affected())
    }
}
