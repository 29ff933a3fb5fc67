//! The record store error: a closed kind, the entity it concerns, and a message without secrets.

use std::fmt;

use aae_types::ErrorCode;

/// What went wrong, reduced to the kinds callers act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// The record does not exist.
    NotFound,
    /// The record exists, is in a state that forbids the operation, or is still referenced.
    Conflict,
    /// A credit hold would take the available balance below zero.
    InsufficientCredits,
    /// The caller no longer holds the job's lease (it expired and was taken, or the job was
    /// cancelled); the caller must stop working on the job.
    LeaseLost,
    /// An argument is not acceptable (checked before the database is touched where possible).
    Invalid,
    /// The database cannot be reached, timed out, or asked the caller to retry (busy, serialization
    /// failure, deadlock, terminated connection).
    Unavailable,
    /// Anything else, including data in the database this version cannot read.
    Internal,
}

impl StoreErrorKind {
    /// The API error code for this kind. Insufficient credits and a lost lease are conflicts with
    /// the current state of the record.
    pub fn code(self) -> ErrorCode {
        match self {
            Self::NotFound => ErrorCode::NotFound,
            Self::Conflict | Self::InsufficientCredits | Self::LeaseLost => ErrorCode::Conflict,
            Self::Invalid => ErrorCode::InvalidInput,
            Self::Unavailable => ErrorCode::Unavailable,
            Self::Internal => ErrorCode::Internal,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::NotFound => "not found",
            Self::Conflict => "conflict",
            Self::InsufficientCredits => "insufficient credits",
            Self::LeaseLost => "lease lost",
            Self::Invalid => "invalid input",
            Self::Unavailable => "database unavailable",
            Self::Internal => "database error",
        }
    }
}

/// A record store failure naming the entity (table or aggregate) and, when known, the record id.
#[derive(Debug, thiserror::Error)]
pub struct StoreError {
    /// The kind.
    pub kind: StoreErrorKind,
    /// The aggregate, e.g. `job`, `campaign`, `credit hold`.
    pub entity: &'static str,
    /// The record id, when known.
    pub id: Option<String>,
    /// Detail: what happened and, where possible, how to fix it. Never contains secrets.
    pub message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.entity, self.kind.describe())?;
        if let Some(id) = &self.id {
            write!(f, " (id `{id}`)")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl StoreError {
    /// A new error.
    pub fn new(kind: StoreErrorKind, entity: &'static str, message: impl Into<String>) -> Self {
        Self { kind, entity, id: None, message: message.into(), source: None }
    }

    /// The same error naming the record id.
    pub fn with_id(mut self, id: impl fmt::Display) -> Self {
        self.id = Some(id.to_string());
        self
    }

    /// `entity` with `id` does not exist.
    pub fn not_found(entity: &'static str, id: impl fmt::Display) -> Self {
        Self::new(StoreErrorKind::NotFound, entity, "").with_id(id)
    }

    /// An argument is not acceptable.
    pub fn invalid(entity: &'static str, message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Invalid, entity, message)
    }

    /// The record is in a state that forbids the operation.
    pub fn conflict(entity: &'static str, message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Conflict, entity, message)
    }

    /// Data read from the database cannot be interpreted.
    pub fn corrupt(entity: &'static str, message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Internal, entity, message)
    }

    /// The API error code.
    pub fn code(&self) -> ErrorCode {
        self.kind.code()
    }

    /// Whether retrying the same call may succeed (the database was unavailable or asked for a
    /// retry).
    pub fn is_retryable(&self) -> bool {
        self.kind == StoreErrorKind::Unavailable
    }

    /// Classifies a driver error. The message is the driver's, which never includes the
    /// connection URL.
    pub(crate) fn from_sqlx(entity: &'static str, error: sqlx::Error) -> Self {
        let kind = classify(&error);
        let message = match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => format!("already exists ({})", db.message()),
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                format!("references a missing record or is still referenced ({})", db.message())
            }
            other => other.to_string(),
        };
        Self { kind, entity, id: None, message, source: Some(Box::new(error)) }
    }
}

fn classify(error: &sqlx::Error) -> StoreErrorKind {
    match error {
        sqlx::Error::RowNotFound => StoreErrorKind::NotFound,
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => StoreErrorKind::Unavailable,
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() || db.is_foreign_key_violation() {
                return StoreErrorKind::Conflict;
            }
            if db.is_check_violation() {
                return StoreErrorKind::Invalid;
            }
            match db.code().as_deref() {
                // SQLite: BUSY, LOCKED (and their extended codes end in the primary code).
                Some(code) if is_sqlite_busy(code) => StoreErrorKind::Unavailable,
                // PostgreSQL: serialization failure, deadlock, admin shutdown / terminated backend,
                // cannot connect now, connection exceptions (class 08), insufficient resources (53).
                Some("40001" | "40P01" | "57P01" | "57P02" | "57P03") => StoreErrorKind::Unavailable,
                Some(code) if code.starts_with("08") || code.starts_with("53") => StoreErrorKind::Unavailable,
                // PostgreSQL: invalid text representation, numeric out of range, string too long.
                Some("22P02" | "22003" | "22001" | "23502") => StoreErrorKind::Invalid,
                _ => StoreErrorKind::Internal,
            }
        }
        _ => StoreErrorKind::Internal,
    }
}

fn is_sqlite_busy(code: &str) -> bool {
    code.parse::<i64>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

/// `Result` with [`StoreError`].
pub type StoreResult<T> = Result<T, StoreError>;

/// Maps driver errors to [`StoreError`] naming the entity.
pub(crate) trait SqlxResultExt<T> {
    /// Converts the error, naming `entity`.
    fn on(self, entity: &'static str) -> StoreResult<T>;
}

impl<T> SqlxResultExt<T> for Result<T, sqlx::Error> {
    fn on(self, entity: &'static str) -> StoreResult<T> {
        self.map_err(|e| StoreError::from_sqlx(entity, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_error_codes() {
        assert_eq!(StoreErrorKind::NotFound.code(), ErrorCode::NotFound);
        assert_eq!(StoreErrorKind::InsufficientCredits.code(), ErrorCode::Conflict);
        assert_eq!(StoreErrorKind::LeaseLost.code(), ErrorCode::Conflict);
        assert_eq!(StoreErrorKind::Invalid.code(), ErrorCode::InvalidInput);
        assert_eq!(StoreErrorKind::Unavailable.code(), ErrorCode::Unavailable);
    }

    #[test]
    fn display_is_lowercase_and_names_the_record() {
        let error = StoreError::not_found("job", "0b0c");
        assert_eq!(error.to_string(), "job not found (id `0b0c`)");
        let error = StoreError::invalid("job", "progress must be between 0 and 100");
        assert_eq!(error.to_string(), "job invalid input: progress must be between 0 and 100");
        assert!(!error.is_retryable());
    }

    #[test]
    fn driver_errors_are_classified() {
        assert_eq!(StoreError::from_sqlx("user", sqlx::Error::RowNotFound).kind, StoreErrorKind::NotFound);
        assert_eq!(StoreError::from_sqlx("user", sqlx::Error::PoolTimedOut).kind, StoreErrorKind::Unavailable);
        assert!(StoreError::from_sqlx("user", sqlx::Error::PoolClosed).is_retryable());
        assert!(is_sqlite_busy("5") && is_sqlite_busy("517") && !is_sqlite_busy("19"));
    }
}
