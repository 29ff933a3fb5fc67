//! [`UserStore`] on PostgreSQL.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::{PgStore, id, json, now};
use crate::error::{SqlxResultExt, StoreError, StoreResult};
use crate::users::{NewUser, USER_COLUMNS, User, UserStore, UserUpdate, user_from_row};

#[async_trait]
impl UserStore for PgStore {
    async fn create(&self, user: NewUser) -> StoreResult<User> {
        user.check()?;
        let now = now();
        let sql = format!(
            "INSERT INTO users (id, clerk_user_id, email, role, name, metadata, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {USER_COLUMNS}"
        );
        let row: PgRow = sqlx::query(&sql)
            .bind(id(Uuid::new_v4()))
            .bind(&user.subject)
            .bind(&user.email)
            .bind(user.role.as_str())
            .bind(&user.name)
            .bind(json(&user.metadata))
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .on("user")?;
        user_from_row(&row)
    }

    async fn upsert_by_subject(&self, user: NewUser) -> StoreResult<User> {
        user.check()?;
        let now = now();
        let sql = format!(
            "INSERT INTO users (id, clerk_user_id, email, role, name, metadata, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (clerk_user_id) DO UPDATE SET email = excluded.email, \
             name = COALESCE(excluded.name, users.name), updated_at = excluded.updated_at \
             RETURNING {USER_COLUMNS}"
        );
        let row: PgRow = sqlx::query(&sql)
            .bind(id(Uuid::new_v4()))
            .bind(&user.subject)
            .bind(&user.email)
            .bind(user.role.as_str())
            .bind(&user.name)
            .bind(json(&user.metadata))
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .on("user")?;
        user_from_row(&row)
    }

    async fn get(&self, user_id: Uuid) -> StoreResult<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row: Option<PgRow> = sqlx::query(&sql).bind(id(user_id)).fetch_optional(&self.pool).await.on("user")?;
        row.map(|r| user_from_row(&r)).transpose()?.ok_or_else(|| StoreError::not_found("user", user_id))
    }

    async fn get_by_subject(&self, subject: &str) -> StoreResult<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE clerk_user_id = $1");
        let row: Option<PgRow> = sqlx::query(&sql).bind(subject).fetch_optional(&self.pool).await.on("user")?;
        row.map(|r| user_from_row(&r)).transpose()?.ok_or_else(|| StoreError::not_found("user", subject))
    }

    async fn find_by_email(&self, email: &str) -> StoreResult<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1) ORDER BY created_at, id");
        let rows: Vec<PgRow> = sqlx::query(&sql).bind(email).fetch_all(&self.pool).await.on("user")?;
        rows.iter().map(user_from_row).collect()
    }

    async fn update(&self, user_id: Uuid, update: UserUpdate) -> StoreResult<User> {
        if update.email.as_deref().is_some_and(|e| e.trim().is_empty()) {
            return Err(StoreError::invalid("user", "email must not be empty"));
        }
        let sql = format!(
            "UPDATE users SET email = COALESCE($2, email), \
             name = CASE WHEN $3 THEN $4 ELSE name END, role = COALESCE($5, role), \
             metadata = CASE WHEN $6 THEN $7 ELSE metadata END, updated_at = $8 \
             WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        let row: Option<PgRow> = sqlx::query(&sql)
            .bind(id(user_id))
            .bind(&update.email)
            .bind(update.name.is_some())
            .bind(update.name.clone().flatten())
            .bind(update.role.map(|r| r.as_str()))
            .bind(update.metadata.is_some())
            .bind(update.metadata.as_ref().and_then(json))
            .bind(now())
            .fetch_optional(&self.pool)
            .await
            .on("user")?;
        row.map(|r| user_from_row(&r)).transpose()?.ok_or_else(|| StoreError::not_found("user", user_id))
    }

    async fn list(&self, limit: u32, offset: u64) -> StoreResult<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id LIMIT $1 OFFSET $2");
        let rows: Vec<PgRow> =
            sqlx::query(&sql).bind(i64::from(limit)).bind(offset as i64).fetch_all(&self.pool).await.on("user")?;
        rows.iter().map(user_from_row).collect()
    }

    async fn delete(&self, user_id: Uuid) -> StoreResult<()> {
        let done =
            sqlx::query("DELETE FROM users WHERE id = $1").bind(id(user_id)).execute(&self.pool).await.on("user")?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("user", user_id));
        }
        Ok(())
    }
}
