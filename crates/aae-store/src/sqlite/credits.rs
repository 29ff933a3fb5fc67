//! [`CreditLedger`] on SQLite: every write runs in a `BEGIN IMMEDIATE` transaction, which holds
//! the database's single write lock, so a hold's balance check and insert cannot interleave with
//! another writer's.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Sqlite, Transaction};
use uuid::Uuid;

use super::{SqliteStore, id, now};
use crate::credits::{
    BALANCE_SQL, Balance, CreditLedger, ENTRY_COLUMNS, EntryKind, LedgerEntry, Settlement, already_settled,
    balance_from_row, check_amount, check_replay, entry_from_row, insufficient, like_prefix, open_holds_sql,
    split_settlement,
};
use crate::error::{SqlxResultExt, StoreError, StoreResult};

const ENTITY: &str = "credit entry";

async fn insert_entry(
    tx: &mut Transaction<'static, Sqlite>,
    user_id: Uuid,
    kind: EntryKind,
    amount: i64,
    hold_id: Option<Uuid>,
    reason: &str,
    key: Option<&str>,
) -> StoreResult<LedgerEntry> {
    let sql = format!(
        "INSERT INTO credit_entries ({ENTRY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {ENTRY_COLUMNS}"
    );
    let row: SqliteRow = sqlx::query(&sql)
        .bind(id(Uuid::new_v4()))
        .bind(id(user_id))
        .bind(kind.as_str())
        .bind(amount)
        .bind(hold_id.map(id))
        .bind(key)
        .bind(reason)
        .bind(now())
        .fetch_one(&mut **tx)
        .await
        .on(ENTITY)?;
    entry_from_row(&row)
}

async fn balance_in(tx: &mut Transaction<'static, Sqlite>, user_id: Uuid) -> StoreResult<Balance> {
    let row: SqliteRow = sqlx::query(BALANCE_SQL).bind(id(user_id)).fetch_one(&mut **tx).await.on(ENTITY)?;
    balance_from_row(&row)
}

impl SqliteStore {
    async fn append(
        &self,
        user_id: Uuid,
        kind: EntryKind,
        amount: i64,
        reason: &str,
        key: Option<&str>,
    ) -> StoreResult<LedgerEntry> {
        check_amount(amount)?;
        let mut tx = self.write_tx(ENTITY).await?;
        sqlx::query(
            "INSERT INTO credit_accounts (user_id, created_at) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(id(user_id))
        .bind(now())
        .execute(&mut *tx)
        .await
        .on(ENTITY)?;
        if let Some(key) = key {
            let sql = format!("SELECT {ENTRY_COLUMNS} FROM credit_entries WHERE user_id = $1 AND idempotency_key = $2");
            let existing: Option<SqliteRow> =
                sqlx::query(&sql).bind(id(user_id)).bind(key).fetch_optional(&mut *tx).await.on(ENTITY)?;
            if let Some(row) = existing {
                return check_replay(entry_from_row(&row)?, kind, amount);
            }
        }
        if kind == EntryKind::Hold {
            let balance = balance_in(&mut tx, user_id).await?;
            if balance.available < amount {
                return Err(insufficient(user_id, balance.available, amount));
            }
        }
        let entry = insert_entry(&mut tx, user_id, kind, amount, None, reason, key).await?;
        tx.commit().await.on(ENTITY)?;
        Ok(entry)
    }

    /// Locks the ledger, reads hold `hold_id` and checks it is not settled yet.
    async fn open_hold(&self, hold_id: Uuid) -> StoreResult<(Transaction<'static, Sqlite>, LedgerEntry)> {
        let mut tx = self.write_tx(ENTITY).await?;
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM credit_entries WHERE id = $1 AND kind = 'hold'");
        let row: Option<SqliteRow> = sqlx::query(&sql).bind(id(hold_id)).fetch_optional(&mut *tx).await.on(ENTITY)?;
        let hold = entry_from_row(&row.ok_or_else(|| StoreError::not_found("credit hold", hold_id))?)?;
        let settled: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM credit_entries WHERE hold_id = $1")
            .bind(id(hold_id))
            .fetch_one(&mut *tx)
            .await
            .on(ENTITY)?;
        if settled > 0 {
            return Err(already_settled(hold_id));
        }
        Ok((tx, hold))
    }
}

#[async_trait]
impl CreditLedger for SqliteStore {
    async fn grant(&self, user_id: Uuid, amount: i64, reason: &str, key: Option<&str>) -> StoreResult<LedgerEntry> {
        self.append(user_id, EntryKind::Grant, amount, reason, key).await
    }

    async fn hold(&self, user_id: Uuid, amount: i64, reason: &str, key: Option<&str>) -> StoreResult<LedgerEntry> {
        self.append(user_id, EntryKind::Hold, amount, reason, key).await
    }

    async fn capture(&self, hold_id: Uuid, amount: i64) -> StoreResult<Settlement> {
        let (mut tx, hold) = self.open_hold(hold_id).await?;
        let (spent, returned) = split_settlement(&hold, amount)?;
        let mut settlement = Settlement { capture: None, release: None };
        if spent > 0 {
            let entry =
                insert_entry(&mut tx, hold.user_id, EntryKind::Capture, spent, Some(hold.id), &hold.reason, None);
            settlement.capture = Some(entry.await?);
        }
        if returned > 0 {
            let entry =
                insert_entry(&mut tx, hold.user_id, EntryKind::Release, returned, Some(hold.id), &hold.reason, None);
            settlement.release = Some(entry.await?);
        }
        tx.commit().await.on(ENTITY)?;
        Ok(settlement)
    }

    async fn release(&self, hold_id: Uuid) -> StoreResult<LedgerEntry> {
        let (mut tx, hold) = self.open_hold(hold_id).await?;
        let entry =
            insert_entry(&mut tx, hold.user_id, EntryKind::Release, hold.amount, Some(hold.id), &hold.reason, None)
                .await?;
        tx.commit().await.on(ENTITY)?;
        Ok(entry)
    }

    async fn balance(&self, user_id: Uuid) -> StoreResult<Balance> {
        let row: SqliteRow = sqlx::query(BALANCE_SQL).bind(id(user_id)).fetch_one(&self.pool).await.on(ENTITY)?;
        balance_from_row(&row)
    }

    async fn entries(&self, user_id: Uuid, limit: u32) -> StoreResult<Vec<LedgerEntry>> {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM credit_entries WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        let rows: Vec<SqliteRow> =
            sqlx::query(&sql).bind(id(user_id)).bind(i64::from(limit)).fetch_all(&self.pool).await.on(ENTITY)?;
        rows.iter().map(entry_from_row).collect()
    }

    async fn open_holds(&self, user_id: Uuid, key_prefix: &str) -> StoreResult<Vec<LedgerEntry>> {
        let rows: Vec<SqliteRow> = sqlx::query(&open_holds_sql())
            .bind(id(user_id))
            .bind(like_prefix(key_prefix))
            .fetch_all(&self.pool)
            .await
            .on(ENTITY)?;
        rows.iter().map(entry_from_row).collect()
    }
}
