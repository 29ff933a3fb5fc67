//! `aae db import-redis`: copies job records kept in Redis hashes (the layout before seed 002's
//! move to RDS) into the `jobs` table, idempotently.
//!
//! ## The Redis layout it reads
//! One hash per job at keys matching a pattern (default `job:*`). Fields, all optional but
//! `topic`, named after seed 002's `jobs` columns:
//!
//! | field | meaning |
//! |---|---|
//! | `id` or `job_id` | the job's UUID; otherwise the key's last `:` segment when that is a UUID, else a UUID derived from the key (SHA-1 name-based), so a re-import finds the same row |
//! | `user_id` | an AAE user id, or an identity-provider subject (the seed's `clerk_user_id`); unknown users leave `user_id` empty and are kept in `metrics.imported_from.user_id` |
//! | `status` | `queued`/`pending`/`waiting`; `running`/`processing`/`in_progress`/`started` (imported as `queued`: no worker holds it any more); `completed`/`done`/`succeeded`; `failed`/`error`; `cancelled`/`canceled` |
//! | `priority` | `low`, `normal` (default), `high` |
//! | `topic`, `description`, `current_stage`, `kind` (default `legacy`) | text |
//! | `configuration`, `metrics`, `error_info` (or `error`) | JSON; text that is not JSON becomes a JSON string (`error` text becomes `{"message": …}`) |
//! | `progress_percentage` (or `progress`) | 0–100 |
//! | `created_at`, `updated_at`, `estimated_completion`, `completed_at` | RFC 3339, `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC), or Unix seconds |
//! | `batch_id` | UUID |
//! | `attempts`, `max_attempts` | integers |
//!
//! A row that already exists (same id) is left as it is: running the import twice changes
//! nothing. Keys that are not hashes, or hashes that cannot be read as a job, are reported with
//! the reason and skipped; they never stop the import.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use uuid::Uuid;

use crate::error::{StoreError, StoreErrorKind, StoreResult};
use crate::jobs::{JobStatus, Priority};
use crate::records::{Pool, Records};
use crate::row::sqlite_time;

/// Keys read per round trip.
const BATCH: usize = 200;

/// What [`Records::import_redis_jobs`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// Keys matching the pattern.
    pub scanned: u64,
    /// Jobs inserted by this run.
    pub imported: u64,
    /// Jobs already in the table (an earlier import, or the same id).
    pub existing: u64,
    /// Keys skipped, with the reason.
    pub skipped: Vec<SkippedKey>,
}

/// A key the import could not use.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SkippedKey {
    /// The Redis key.
    pub key: String,
    /// Why.
    pub reason: String,
}

/// One job as read from a hash.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LegacyJob {
    pub(crate) id: Uuid,
    pub(crate) user: Option<String>,
    pub(crate) status: JobStatus,
    pub(crate) priority: Priority,
    pub(crate) topic: String,
    pub(crate) description: Option<String>,
    pub(crate) kind: String,
    pub(crate) configuration: Value,
    pub(crate) progress: f64,
    pub(crate) current_stage: Option<String>,
    pub(crate) error_info: Value,
    pub(crate) metrics: Value,
    pub(crate) created_at: Option<DateTime<Utc>>,
    pub(crate) updated_at: Option<DateTime<Utc>>,
    pub(crate) estimated_completion: Option<DateTime<Utc>>,
    pub(crate) completed_at: Option<DateTime<Utc>>,
    pub(crate) batch_id: Option<Uuid>,
    pub(crate) attempts: i32,
    pub(crate) max_attempts: i32,
}

impl Records {
    /// Imports every hash at keys matching `pattern` (Redis glob, e.g. `job:*`) from the Redis at
    /// `redis_url` into the jobs table. Fails only when Redis cannot be read or the database
    /// refuses a write; bad keys are reported in [`ImportReport::skipped`].
    pub async fn import_redis_jobs(&self, redis_url: &str, pattern: &str) -> StoreResult<ImportReport> {
        let unavailable = |e: redis::RedisError| {
            StoreError::new(
                StoreErrorKind::Unavailable,
                "redis",
                format!("cannot read redis: {:?}", e.kind()).to_lowercase(),
            )
        };
        let client = redis::Client::open(redis_url)
            .map_err(|_| StoreError::invalid("redis", "not a valid redis url; expected redis://host:6379[/db]"))?;
        let mut connection = client.get_multiplexed_async_connection().await.map_err(unavailable)?;
        let mut keys: Vec<String> = Vec::new();
        {
            let mut iter =
                redis::AsyncCommands::scan_match::<_, String>(&mut connection, pattern).await.map_err(unavailable)?;
            while let Some(key) = iter.next_item().await {
                keys.push(key.map_err(unavailable)?);
            }
        }
        keys.sort();
        let mut report = ImportReport { scanned: keys.len() as u64, ..ImportReport::default() };
        let mut users: HashMap<String, Option<Uuid>> = HashMap::new();
        for batch in keys.chunks(BATCH) {
            let mut pipe = redis::pipe();
            for key in batch {
                pipe.cmd("TYPE").arg(key).cmd("HGETALL").arg(key);
            }
            // HGETALL of a non-hash fails the pipeline, so types are checked in the same trip and
            // non-hashes read again alone only when that happens.
            let replies: Result<Vec<redis::Value>, _> = pipe.query_async(&mut connection).await;
            let hashes = match replies {
                Ok(values) => pairs_to_hashes(batch, values),
                Err(_) => {
                    let mut hashes = Vec::new();
                    for key in batch {
                        let kind: String =
                            redis::cmd("TYPE").arg(key).query_async(&mut connection).await.map_err(unavailable)?;
                        if kind != "hash" {
                            hashes.push((key.clone(), Err(format!("a {kind}, not a hash"))));
                            continue;
                        }
                        let fields: HashMap<String, String> =
                            redis::cmd("HGETALL").arg(key).query_async(&mut connection).await.map_err(unavailable)?;
                        hashes.push((key.clone(), Ok(fields)));
                    }
                    hashes
                }
            };
            for (key, fields) in hashes {
                let job = fields.and_then(|fields| parse(&key, &fields));
                match job {
                    Err(reason) => report.skipped.push(SkippedKey { key, reason }),
                    Ok(job) => {
                        // Legacy hashes repeat a few users many times: look each up once.
                        let user_id = match &job.user {
                            Some(user) => match users.get(user) {
                                Some(found) => *found,
                                None => *users.entry(user.clone()).or_insert(self.find_user(user).await?),
                            },
                            None => None,
                        };
                        match self.insert_legacy(job, &key, user_id).await? {
                            true => report.imported += 1,
                            false => report.existing += 1,
                        }
                    }
                }
            }
        }
        tracing::info!(
            scanned = report.scanned,
            imported = report.imported,
            existing = report.existing,
            skipped = report.skipped.len(),
            "redis jobs imported"
        );
        Ok(report)
    }

    /// Inserts one job, owned by `user_id` (its `user` resolved), unless its id exists; whether
    /// it was inserted.
    async fn insert_legacy(&self, mut job: LegacyJob, key: &str, user_id: Option<Uuid>) -> StoreResult<bool> {
        let mut origin = json!({"redis_key": key});
        if let (Some(user), None) = (&job.user, user_id) {
            origin["user_id"] = Value::String(user.clone());
        }
        match &mut job.metrics {
            Value::Object(map) => {
                map.insert("imported_from".into(), origin);
            }
            other => *other = json!({"imported_from": origin, "legacy_metrics": other.take()}),
        }
        let now = crate::row::now();
        let created = job.created_at.unwrap_or(now);
        let updated = job.updated_at.unwrap_or(created);
        let json_or_null = |v: &Value| (!v.is_null()).then(|| v.clone());
        let inserted = match &self.pool {
            Pool::Postgres(pool) => sqlx::query(INSERT)
                .bind(job.id)
                .bind(user_id)
                .bind(job.status.as_str())
                .bind(job.priority.as_str())
                .bind(&job.topic)
                .bind(&job.description)
                .bind(json_or_null(&job.configuration))
                .bind(job.progress)
                .bind(&job.current_stage)
                .bind(json_or_null(&job.error_info))
                .bind(json_or_null(&job.metrics))
                .bind(created)
                .bind(updated)
                .bind(job.estimated_completion)
                .bind(job.batch_id)
                .bind(&job.kind)
                .bind(job.attempts)
                .bind(job.max_attempts)
                .bind(job.completed_at)
                .fetch_optional(pool)
                .await
                .map(|row| row.is_some()),
            Pool::Sqlite(pool) => sqlx::query(INSERT)
                .bind(job.id.to_string())
                .bind(user_id.map(|u| u.to_string()))
                .bind(job.status.as_str())
                .bind(job.priority.as_str())
                .bind(&job.topic)
                .bind(&job.description)
                .bind(json_or_null(&job.configuration).map(|v| v.to_string()))
                .bind(job.progress)
                .bind(&job.current_stage)
                .bind(json_or_null(&job.error_info).map(|v| v.to_string()))
                .bind(json_or_null(&job.metrics).map(|v| v.to_string()))
                .bind(sqlite_time(created))
                .bind(sqlite_time(updated))
                .bind(job.estimated_completion.map(sqlite_time))
                .bind(job.batch_id.map(|b| b.to_string()))
                .bind(&job.kind)
                .bind(job.attempts)
                .bind(job.max_attempts)
                .bind(job.completed_at.map(sqlite_time))
                .fetch_optional(pool)
                .await
                .map(|row| row.is_some()),
        };
        inserted.map_err(|e| StoreError::from_sqlx("job", e))
    }

    /// The AAE user with this id, or with this identity-provider subject.
    async fn find_user(&self, user: &str) -> StoreResult<Option<Uuid>> {
        let by_id = Uuid::parse_str(user).ok();
        if let Some(id) = by_id
            && self.users.get(id).await.is_ok()
        {
            return Ok(Some(id));
        }
        match self.users.get_by_subject(user).await {
            Ok(found) => Ok(Some(found.id)),
            Err(e) if e.kind == StoreErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

const INSERT: &str = "INSERT INTO jobs (id, user_id, status, priority, topic, description, configuration, \
    progress_percentage, current_stage, error_info, metrics, created_at, updated_at, estimated_completion, batch_id, \
    kind, attempts, max_attempts, run_at, completed_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $12, $19) \
    ON CONFLICT (id) DO NOTHING RETURNING id";

/// A key and its fields, or why it has none.
type ReadHash = (String, Result<HashMap<String, String>, String>);

/// Pairs each key with its hash from a `TYPE`, `HGETALL` reply sequence.
fn pairs_to_hashes(keys: &[String], values: Vec<redis::Value>) -> Vec<ReadHash> {
    let mut values = values.into_iter();
    keys.iter()
        .map(|key| {
            let kind: Option<String> = values.next().and_then(|v| redis::from_redis_value(v).ok());
            let fields = values.next();
            let hash = match kind.as_deref() {
                Some("hash") => fields
                    .and_then(|v| redis::from_redis_value::<HashMap<String, String>>(v).ok())
                    .ok_or_else(|| "a hash whose fields are not text".to_owned()),
                Some("none") => Err("deleted while importing".to_owned()),
                Some(other) => Err(format!("a {other}, not a hash")),
                None => Err("no TYPE reply".to_owned()),
            };
            (key.clone(), hash)
        })
        .collect()
}

/// Reads one hash as a job; `Err` says why it cannot be.
pub(crate) fn parse(key: &str, fields: &HashMap<String, String>) -> Result<LegacyJob, String> {
    let get = |name: &str| fields.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let topic = get("topic").ok_or("no `topic` field")?.to_owned();
    let id = match get("id").or_else(|| get("job_id")) {
        Some(id) => Uuid::parse_str(id).map_err(|_| format!("`id` `{id}` is not a UUID"))?,
        None => key.rsplit(':').next().and_then(|s| Uuid::parse_str(s).ok()).unwrap_or_else(|| id_from_key(key)),
    };
    let status = match get("status").unwrap_or("queued").to_ascii_lowercase().as_str() {
        "queued" | "pending" | "waiting" | "running" | "processing" | "in_progress" | "started" => JobStatus::Queued,
        "completed" | "complete" | "done" | "succeeded" | "success" => JobStatus::Completed,
        "failed" | "error" => JobStatus::Failed,
        "cancelled" | "canceled" => JobStatus::Cancelled,
        other => return Err(format!("unknown status `{other}`")),
    };
    let priority = match get("priority") {
        None => Priority::Normal,
        Some(p) => {
            p.to_ascii_lowercase().parse().map_err(|_| format!("unknown priority `{p}`; use low, normal or high"))?
        }
    };
    let progress = match get("progress_percentage").or_else(|| get("progress")) {
        None => {
            if status == JobStatus::Completed {
                100.0
            } else {
                0.0
            }
        }
        Some(p) => p
            .trim_end_matches('%')
            .parse::<f64>()
            .map_err(|_| format!("progress `{p}` is not a number"))?
            .clamp(0.0, 100.0),
    };
    let time = |name: &str| {
        get(name).map(|v| parse_time(v).ok_or_else(|| format!("`{name}` `{v}` is not a time"))).transpose()
    };
    let int = |name: &str, default: i32| {
        get(name).map_or(Ok(default), |v| v.parse::<i32>().map_err(|_| format!("`{name}` `{v}` is not an integer")))
    };
    let error_info = match (get("error_info"), get("error")) {
        (Some(v), _) => json_field(v),
        (None, Some(message)) => json!({"message": message}),
        (None, None) => Value::Null,
    };
    let max_attempts = int("max_attempts", 3)?.max(1);
    let completed_at = time("completed_at")?;
    Ok(LegacyJob {
        id,
        user: get("user_id").map(str::to_owned),
        status,
        priority,
        topic,
        description: get("description").map(str::to_owned),
        kind: get("kind").unwrap_or("legacy").to_owned(),
        configuration: get("configuration").map_or(Value::Null, json_field),
        progress,
        current_stage: get("current_stage").map(str::to_owned),
        error_info,
        metrics: get("metrics").map_or(Value::Null, json_field),
        created_at: time("created_at")?,
        updated_at: time("updated_at")?,
        estimated_completion: time("estimated_completion")?,
        completed_at: completed_at.or_else(|| (status == JobStatus::Completed).then(crate::row::now)),
        batch_id: get("batch_id")
            .map(|b| Uuid::parse_str(b).map_err(|_| format!("`batch_id` `{b}` is not a UUID")))
            .transpose()?,
        attempts: int("attempts", 0)?.clamp(0, max_attempts),
        max_attempts,
    })
}

fn json_field(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// A name-based (SHA-1, as UUID v5) id for a key without one.
fn id_from_key(key: &str) -> Uuid {
    let digest = Sha1::new().chain_update(b"aae-import-redis:").chain_update(key.as_bytes()).finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc());
        }
    }
    let seconds: f64 = text.parse().ok()?;
    DateTime::from_timestamp_micros((seconds * 1e6) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn seed_shaped_hashes_become_jobs() {
        let id = "6f1c2a9e-2d7b-4c1e-9a53-0b8f4a5d7e21";
        let job = parse(
            &format!("job:{id}"),
            &hash(&[
                ("topic", "Ocean documentary"),
                ("status", "processing"),
                ("priority", "HIGH"),
                ("progress", "42.5"),
                ("configuration", r#"{"duration": 60}"#),
                ("error", "render timed out"),
                ("created_at", "2024-12-01 12:00:00.123456"),
                ("updated_at", "1733054460"),
            ]),
        )
        .unwrap();
        assert_eq!(job.id.to_string(), id, "the key's UUID");
        assert_eq!((job.status, job.priority, job.progress), (JobStatus::Queued, Priority::High, 42.5));
        assert_eq!(job.configuration, json!({"duration": 60}));
        assert_eq!(job.error_info, json!({"message": "render timed out"}));
        assert_eq!(job.created_at.map(|t| t.to_rfc3339()), Some("2024-12-01T12:00:00.123456+00:00".to_owned()));
        assert_eq!(job.updated_at.map(|t| t.timestamp()), Some(1_733_054_460));
        assert_eq!(job.kind, "legacy");
    }

    #[test]
    fn keys_without_ids_get_the_same_id_every_time() {
        let fields = hash(&[("topic", "t"), ("status", "done")]);
        let (a, b) = (parse("job:legacy-7", &fields).unwrap(), parse("job:legacy-7", &fields).unwrap());
        assert_eq!(a.id, b.id);
        assert_eq!(a.id.get_version_num(), 5);
        assert_ne!(a.id, parse("job:legacy-8", &fields).unwrap().id);
        assert_eq!((a.status, a.progress), (JobStatus::Completed, 100.0));
    }

    #[test]
    fn unusable_hashes_say_why() {
        let cases = [
            (hash(&[("status", "queued")]), "no `topic`"),
            (hash(&[("topic", "t"), ("status", "exploded")]), "unknown status `exploded`"),
            (hash(&[("topic", "t"), ("priority", "urgent")]), "unknown priority `urgent`"),
            (hash(&[("topic", "t"), ("created_at", "yesterday")]), "`created_at` `yesterday`"),
            (hash(&[("topic", "t"), ("id", "42")]), "`id` `42` is not a UUID"),
        ];
        for (fields, expected) in cases {
            let err = parse("job:x", &fields).expect_err(expected);
            assert!(err.contains(expected), "{err}");
        }
    }
}
