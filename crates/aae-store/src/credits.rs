//! The credit ledger (seed 001 "Ensure credit deduction works with all model providers").
//!
//! Amounts are integer **micro-credits** (`i64`; 1 credit = 1,000,000), so sums are exact on both
//! engines. The ledger is append-only: grants add credits; a hold reserves an estimated cost
//! before work starts; when the work ends the hold is settled once, either captured (the actual
//! cost, at most the held amount, with the remainder released in the same step) or released in
//! full, so a failed generation gives the credits back. Balances are derived from the entries:
//! `available = grants − holds + releases`, `held = holds − captures − releases`,
//! `spent = captures`.
//!
//! Concurrency: every write of a user's entries first locks that user's `credit_accounts` row
//! (`SELECT … FOR UPDATE` on PostgreSQL; `BEGIN IMMEDIATE` on SQLite), so concurrent holds never
//! take `available` below zero.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{StoreError, StoreErrorKind, StoreResult};
use crate::row::SqlRow;

/// Micro-credits per credit.
pub const MICROS_PER_CREDIT: i64 = 1_000_000;

/// The kind of a ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// Credits added to the account.
    Grant,
    /// Credits reserved for work in progress.
    Hold,
    /// The part of a hold actually spent.
    Capture,
    /// The part of a hold given back.
    Release,
}

impl EntryKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grant => "grant",
            Self::Hold => "hold",
            Self::Capture => "capture",
            Self::Release => "release",
        }
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntryKind {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "grant" => Ok(Self::Grant),
            "hold" => Ok(Self::Hold),
            "capture" => Ok(Self::Capture),
            "release" => Ok(Self::Release),
            other => Err(StoreError::corrupt("credit entry", format!("unknown kind `{other}`"))),
        }
    }
}

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Entry id; a hold's id is the handle to capture or release it.
    pub id: Uuid,
    /// The user.
    pub user_id: Uuid,
    /// Kind.
    pub kind: EntryKind,
    /// Micro-credits, always positive.
    pub amount: i64,
    /// For captures and releases: the hold they settle.
    pub hold_id: Option<Uuid>,
    /// The caller's idempotency key, unique per user.
    pub idempotency_key: Option<String>,
    /// Why (e.g. `signup bonus`, `chat gemini-2.5-flash`).
    pub reason: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// A user's derived balance, in micro-credits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Sum of grants.
    pub granted: i64,
    /// Held by holds not settled yet.
    pub held: i64,
    /// Sum of captures.
    pub spent: i64,
    /// What a new hold may reserve: `granted − held − spent`. Never negative.
    pub available: i64,
}

impl Balance {
    /// Derives the balance from the sums of each kind of entry.
    pub fn from_sums(granted: i64, holds: i64, captures: i64, releases: i64) -> Self {
        Self { granted, held: holds - captures - releases, spent: captures, available: granted - holds + releases }
    }
}

/// The entries that settle a hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// The capture, absent when nothing was spent.
    pub capture: Option<LedgerEntry>,
    /// The release of what was not spent, absent when everything was.
    pub release: Option<LedgerEntry>,
}

/// The credit ledger.
#[async_trait]
pub trait CreditLedger: Send + Sync {
    /// Adds `amount` (> 0) micro-credits to the user. With an `idempotency_key` already used by
    /// this user, returns that entry instead of writing a new one (`Conflict` if it was not a grant
    /// of the same amount). `Conflict` when the user does not exist.
    async fn grant(
        &self,
        user_id: Uuid,
        amount: i64,
        reason: &str,
        idempotency_key: Option<&str>,
    ) -> StoreResult<LedgerEntry>;

    /// Reserves `amount` (> 0) micro-credits. `InsufficientCredits` when `available < amount`;
    /// concurrent holds are serialised per user, so `available` never goes below zero. The same
    /// idempotency rule as [`grant`](Self::grant) applies.
    async fn hold(
        &self,
        user_id: Uuid,
        amount: i64,
        reason: &str,
        idempotency_key: Option<&str>,
    ) -> StoreResult<LedgerEntry>;

    /// Settles hold `hold_id`: captures `amount` (0 ≤ amount ≤ held) and releases the remainder,
    /// atomically. `NotFound` for an unknown hold; `Invalid` when `amount` exceeds the hold;
    /// `Conflict` when the hold is already settled.
    async fn capture(&self, hold_id: Uuid, amount: i64) -> StoreResult<Settlement>;

    /// Releases hold `hold_id` in full. `NotFound` for an unknown hold; `Conflict` when it is
    /// already settled.
    async fn release(&self, hold_id: Uuid) -> StoreResult<LedgerEntry>;

    /// The user's balance (all zero for a user with no entries).
    async fn balance(&self, user_id: Uuid) -> StoreResult<Balance>;

    /// The user's entries, newest first, at most `limit`.
    async fn entries(&self, user_id: Uuid, limit: u32) -> StoreResult<Vec<LedgerEntry>>;

    /// The user's holds not settled yet whose idempotency key starts with `key_prefix`, oldest
    /// first: how a job finds the holds an earlier, interrupted attempt of its own left open.
    async fn open_holds(&self, user_id: Uuid, key_prefix: &str) -> StoreResult<Vec<LedgerEntry>>;
}

/// Open holds by key prefix; both engines accept it. `$1` is the user id, `$2` a `LIKE` pattern
/// escaped with [`like_prefix`].
pub(crate) fn open_holds_sql() -> String {
    format!(
        "SELECT {ENTRY_COLUMNS} FROM credit_entries h WHERE h.user_id = $1 AND h.kind = 'hold' \
         AND h.idempotency_key LIKE $2 ESCAPE '\\' \
         AND NOT EXISTS (SELECT 1 FROM credit_entries s WHERE s.hold_id = h.id) \
         ORDER BY h.created_at, h.id"
    )
}

/// `prefix` as a `LIKE` pattern matching every string that starts with it.
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

pub(crate) const ENTRY_COLUMNS: &str = "id, user_id, kind, amount, hold_id, idempotency_key, reason, created_at";

/// The balance query; both engines accept it. `$1` is the user id.
pub(crate) const BALANCE_SQL: &str = "SELECT \
     CAST(COALESCE(SUM(CASE WHEN kind = 'grant' THEN amount ELSE 0 END), 0) AS BIGINT) AS grants, \
     CAST(COALESCE(SUM(CASE WHEN kind = 'hold' THEN amount ELSE 0 END), 0) AS BIGINT) AS holds, \
     CAST(COALESCE(SUM(CASE WHEN kind = 'capture' THEN amount ELSE 0 END), 0) AS BIGINT) AS captures, \
     CAST(COALESCE(SUM(CASE WHEN kind = 'release' THEN amount ELSE 0 END), 0) AS BIGINT) AS releases \
     FROM credit_entries WHERE user_id = $1";

pub(crate) fn balance_from_row(row: &impl SqlRow) -> StoreResult<Balance> {
    Ok(Balance::from_sums(row.int("grants")?, row.int("holds")?, row.int("captures")?, row.int("releases")?))
}

pub(crate) fn entry_from_row(row: &impl SqlRow) -> StoreResult<LedgerEntry> {
    Ok(LedgerEntry {
        id: row.uuid("id")?,
        user_id: row.uuid("user_id")?,
        kind: row.text("kind")?.parse()?,
        amount: row.int("amount")?,
        hold_id: row.opt_uuid("hold_id")?,
        idempotency_key: row.opt_text("idempotency_key")?,
        reason: row.text("reason")?,
        created_at: row.time("created_at")?,
    })
}

pub(crate) fn check_amount(amount: i64) -> StoreResult<()> {
    if amount <= 0 {
        return Err(StoreError::invalid("credit entry", format!("amount must be positive, got {amount}")));
    }
    Ok(())
}

/// Checks that an entry found by idempotency key is the same request.
pub(crate) fn check_replay(existing: LedgerEntry, kind: EntryKind, amount: i64) -> StoreResult<LedgerEntry> {
    if existing.kind == kind && existing.amount == amount {
        Ok(existing)
    } else {
        Err(StoreError::conflict(
            "credit entry",
            format!("idempotency key already used for a {} of {} micro-credits", existing.kind, existing.amount),
        )
        .with_id(existing.id))
    }
}

pub(crate) fn insufficient(user_id: Uuid, available: i64, amount: i64) -> StoreError {
    StoreError::new(
        StoreErrorKind::InsufficientCredits,
        "credit hold",
        format!("available {available} micro-credits, requested {amount}"),
    )
    .with_id(user_id)
}

/// What settling `hold` with a capture of `amount` writes: (capture, release) amounts.
pub(crate) fn split_settlement(hold: &LedgerEntry, amount: i64) -> StoreResult<(i64, i64)> {
    if amount < 0 || amount > hold.amount {
        return Err(StoreError::invalid(
            "credit hold",
            format!("capture must be between 0 and the held {} micro-credits, got {amount}", hold.amount),
        )
        .with_id(hold.id));
    }
    Ok((amount, hold.amount - amount))
}

pub(crate) fn already_settled(hold_id: Uuid) -> StoreError {
    StoreError::conflict("credit hold", "already captured or released").with_id(hold_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_is_derived_from_the_sums() {
        // grant 100; hold 30 captured 20 (10 released); hold 25 still open.
        let balance = Balance::from_sums(100, 55, 20, 10);
        assert_eq!(balance, Balance { granted: 100, held: 25, spent: 20, available: 55 });
        assert_eq!(balance.available, balance.granted - balance.held - balance.spent);
    }

    #[test]
    fn settlement_splits_capture_and_release() {
        let hold = LedgerEntry {
            id: Uuid::nil(),
            user_id: Uuid::nil(),
            kind: EntryKind::Hold,
            amount: 50,
            hold_id: None,
            idempotency_key: None,
            reason: String::new(),
            created_at: Utc::now(),
        };
        assert_eq!(split_settlement(&hold, 20).unwrap(), (20, 30));
        assert_eq!(split_settlement(&hold, 50).unwrap(), (50, 0));
        assert_eq!(split_settlement(&hold, 0).unwrap(), (0, 50));
        assert_eq!(split_settlement(&hold, 51).unwrap_err().kind, StoreErrorKind::Invalid);
        assert!(check_replay(hold.clone(), EntryKind::Hold, 50).is_ok());
        assert_eq!(check_replay(hold, EntryKind::Grant, 50).unwrap_err().kind, StoreErrorKind::Conflict);
    }
}
