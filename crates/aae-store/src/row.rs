//! Reading columns the same way from both engines, so each aggregate maps rows to its types once.
//!
//! PostgreSQL stores UUIDs, JSONB and TIMESTAMPTZ natively. SQLite stores them as TEXT: UUIDs
//! hyphenated, JSON as its text, timestamps as fixed-width RFC 3339 UTC with microseconds
//! (`2024-12-01T12:00:00.000000Z`), so text order is time order. [`SqlRow`] hides the difference.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};

/// Typed column access shared by the SQLite and PostgreSQL backends.
pub(crate) trait SqlRow {
    fn text(&self, col: &str) -> StoreResult<String>;
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>>;
    fn int(&self, col: &str) -> StoreResult<i64>;
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>>;
    fn opt_float(&self, col: &str) -> StoreResult<Option<f64>>;
    fn uuid(&self, col: &str) -> StoreResult<Uuid>;
    fn opt_uuid(&self, col: &str) -> StoreResult<Option<Uuid>>;
    fn time(&self, col: &str) -> StoreResult<DateTime<Utc>>;
    fn opt_time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>>;
    /// JSON, with SQL NULL read as `Value::Null`.
    fn json(&self, col: &str) -> StoreResult<Value> {
        Ok(self.opt_json(col)?.unwrap_or(Value::Null))
    }
    fn opt_json(&self, col: &str) -> StoreResult<Option<Value>>;
}

fn decode(col: &str, error: sqlx::Error) -> StoreError {
    StoreError::corrupt("row", format!("cannot read column `{col}`: {error}"))
}

/// Formats a timestamp the way the SQLite backend stores it.
pub(crate) fn sqlite_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a SQLite timestamp (any RFC 3339 form).
pub(crate) fn parse_time(col: &str, text: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::corrupt("row", format!("column `{col}` holds `{text}`, not an RFC 3339 time: {e}")))
}

/// The current time, truncated to the microsecond precision both engines keep.
pub(crate) fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

impl SqlRow for SqliteRow {
    fn text(&self, col: &str) -> StoreResult<String> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn int(&self, col: &str) -> StoreResult<i64> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn opt_float(&self, col: &str) -> StoreResult<Option<f64>> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn uuid(&self, col: &str) -> StoreResult<Uuid> {
        self.opt_uuid(col)?.ok_or_else(|| StoreError::corrupt("row", format!("column `{col}` is null")))
    }
    fn opt_uuid(&self, col: &str) -> StoreResult<Option<Uuid>> {
        self.opt_text(col)?
            .map(|text| {
                Uuid::parse_str(&text)
                    .map_err(|e| StoreError::corrupt("row", format!("column `{col}` holds `{text}`, not a uuid: {e}")))
            })
            .transpose()
    }
    fn time(&self, col: &str) -> StoreResult<DateTime<Utc>> {
        parse_time(col, &self.text(col)?)
    }
    fn opt_time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.opt_text(col)?.map(|text| parse_time(col, &text)).transpose()
    }
    fn opt_json(&self, col: &str) -> StoreResult<Option<Value>> {
        self.opt_text(col)?
            .map(|text| {
                serde_json::from_str(&text)
                    .map_err(|e| StoreError::corrupt("row", format!("column `{col}` is not JSON: {e}")))
            })
            .transpose()
    }
}

impl SqlRow for PgRow {
    fn text(&self, col: &str) -> StoreResult<String> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn int(&self, col: &str) -> StoreResult<i64> {
        self.opt_int(col)?.ok_or_else(|| StoreError::corrupt("row", format!("column `{col}` is null")))
    }
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        match self.try_get::<Option<i64>, _>(col) {
            Ok(value) => Ok(value),
            Err(_) => match self.try_get::<Option<i32>, _>(col) {
                Ok(value) => Ok(value.map(i64::from)),
                Err(_) => self.try_get::<Option<i16>, _>(col).map(|v| v.map(i64::from)).map_err(|e| decode(col, e)),
            },
        }
    }
    fn opt_float(&self, col: &str) -> StoreResult<Option<f64>> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn uuid(&self, col: &str) -> StoreResult<Uuid> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn opt_uuid(&self, col: &str) -> StoreResult<Option<Uuid>> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn time(&self, col: &str) -> StoreResult<DateTime<Utc>> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn opt_time(&self, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
    fn opt_json(&self, col: &str) -> StoreResult<Option<Value>> {
        self.try_get(col).map_err(|e| decode(col, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_times_sort_as_text_and_round_trip() {
        let a = DateTime::from_timestamp_micros(1_733_054_400_000_000).unwrap();
        let b = DateTime::from_timestamp_micros(1_733_054_400_100_000).unwrap();
        let c = DateTime::from_timestamp_micros(1_733_054_401_000_000).unwrap();
        let (ta, tb, tc) = (sqlite_time(a), sqlite_time(b), sqlite_time(c));
        assert_eq!(ta, "2024-12-01T12:00:00.000000Z");
        assert!(ta < tb && tb < tc, "{ta} {tb} {tc}");
        assert_eq!(parse_time("t", &tb).unwrap(), b);
        assert!(parse_time("t", "yesterday").is_err());
    }

    #[test]
    fn now_has_microsecond_precision() {
        let t = now();
        assert_eq!(t.timestamp_subsec_nanos() % 1_000, 0);
    }
}
