//! The PostgreSQL backend: one [`PgStore`] implementing every trait, one file per aggregate,
//! mirroring `sqlite/`.
//!
//! Ids, JSONB and TIMESTAMPTZ are bound natively. The job queue leases with
//! `FOR UPDATE SKIP LOCKED` and reads the database clock; the credit ledger serialises each user's
//! writes by locking the user's `credit_accounts` row (`SELECT … FOR UPDATE`).

mod api_keys;
mod auth;
mod campaigns;
mod conversations;
mod credits;
mod documents;
mod files;
mod jobs;
mod preferences;
mod usage;
mod users;
mod wakeup;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::error::{SqlxResultExt, StoreResult};

/// Every record store on one PostgreSQL pool.
pub(crate) struct PgStore {
    pool: PgPool,
    wakeups: wakeup::Wakeups,
}

impl PgStore {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool, wakeups: wakeup::Wakeups::default() }
    }

    /// A read-committed transaction; callers take the row locks they need.
    async fn write_tx(&self, entity: &'static str) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool.begin().await.on(entity)
    }
}

// The helpers below mirror `sqlite/mod.rs` so both backends read alike; on PostgreSQL ids, times
// and JSON bind as themselves.

fn id(id: Uuid) -> Uuid {
    id
}

fn opt_id(value: Option<Uuid>) -> Option<Uuid> {
    value
}

fn ts(time: DateTime<Utc>) -> DateTime<Utc> {
    time
}

fn opt_ts(time: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    time
}

/// JSON as bound; `null` is SQL NULL.
fn json(value: &Value) -> Option<&Value> {
    (!value.is_null()).then_some(value)
}

fn opt_json(value: Option<&Value>) -> Option<&Value> {
    value.and_then(json)
}

fn now() -> DateTime<Utc> {
    crate::row::now()
}
