//! The SQLite backend: one [`SqliteStore`] implementing every trait, one file per aggregate.
//!
//! Ids are bound as hyphenated text, JSON as text and timestamps as fixed-width RFC 3339 text (see
//! `row.rs`); all clock reads happen here, in Rust. Read-then-write transactions start with
//! `BEGIN IMMEDIATE`, which takes SQLite's single write lock up front, so they serialise instead
//! of failing on a stale snapshot.

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

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{Sqlite, SqlitePool, Transaction};
use uuid::Uuid;

use crate::error::{SqlxResultExt, StoreResult};

/// Every record store on one SQLite pool.
pub(crate) struct SqliteStore {
    pool: SqlitePool,
    /// Wakes this process's idle workers when it enqueues (see `JobStore::wait_for_jobs`).
    job_wakeups: tokio::sync::Notify,
}

impl SqliteStore {
    pub(crate) fn new(pool: SqlitePool) -> Self {
        Self { pool, job_wakeups: tokio::sync::Notify::new() }
    }

    /// A write transaction holding SQLite's write lock from the start.
    async fn write_tx(&self, entity: &'static str) -> StoreResult<Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.on(entity)
    }
}

/// A uuid as stored.
fn id(id: Uuid) -> String {
    id.hyphenated().to_string()
}

fn opt_id(value: Option<Uuid>) -> Option<String> {
    value.map(id)
}

/// A timestamp as stored.
fn ts(time: DateTime<Utc>) -> String {
    crate::row::sqlite_time(time)
}

fn opt_ts(time: Option<DateTime<Utc>>) -> Option<String> {
    time.map(ts)
}

/// JSON as stored; `null` is SQL NULL.
fn json(value: &Value) -> Option<String> {
    (!value.is_null()).then(|| value.to_string())
}

fn opt_json(value: Option<&Value>) -> Option<String> {
    value.and_then(json)
}

fn now() -> String {
    ts(crate::row::now())
}
