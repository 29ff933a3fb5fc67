//! `aae storage migrate`: copies every object from one location to another (`file:///path`,
//! `s3://bucket[/prefix]`, `gs://bucket[/prefix]`), keeping content type and metadata.
//!
//! - Every copy is verified: the bytes read from the source are counted and hashed (MD5, plus the
//!   S3 multipart composite) while they stream, and compared with the destination's ETag when it
//!   is a content hash, else with the copy read back.
//! - Objects already identical at the destination (same size and same MD5, taken from ETags when
//!   they are content hashes, else computed by reading) are skipped, so a re-run resumes where
//!   the last one stopped. Size alone never decides a skip.
//! - Between two buckets of the same S3 endpoint, objects are copied server-side (`CopyObject`).
//! - Objects at or above the multipart threshold stream through a multipart upload that is
//!   aborted on failure; smaller ones are sent in one request.
//! - Per-object failures are retried once, then counted in the summary; only set-up failures
//!   (bad URL, missing or unreachable bucket) are errors.
//!
//! It does not delete objects that exist only at the destination, nor compare metadata when
//! deciding to skip.

mod checksum;
mod content_type;
pub use content_type::guess as guess_content_type;
mod copy;
mod location;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::{Id, JoinSet};
use tokio_util::task::AbortOnDropHandle;

use crate::backend::BackendOptions;
use crate::error::{StorageError, StorageErrorKind};

use copy::{Copier, Outcome};

/// Objects copied at once by default.
pub const DEFAULT_CONCURRENCY: usize = 16;
/// Default multipart part size (8 MiB, as `storage.multipart.part_size_mib`).
pub const DEFAULT_PART_SIZE: usize = 8 << 20;
/// Default size from which objects go up in parts (25 MiB, as `storage.multipart.threshold_mib`).
pub const DEFAULT_MULTIPART_THRESHOLD: usize = 25 << 20;
/// S3's smallest part size (every part but the last).
const MIN_PART_SIZE: usize = 5 << 20;
/// S3's largest part size.
const MAX_PART_SIZE: usize = 5 << 30;
/// How often progress is reported while objects are in flight (besides after each object).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
/// Listed objects waiting for a copy slot; the listing runs this far ahead of the copies.
const LISTING_BUFFER: usize = 16_384;

/// What to migrate and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateOptions {
    /// Source URL: `file:///path`, `s3://bucket[/prefix]` or `gs://bucket[/prefix]`.
    pub from: String,
    /// Destination URL, same forms.
    pub to: String,
    /// S3 endpoint of the source, instead of the configured one.
    pub from_endpoint: Option<String>,
    /// S3 endpoint of the destination, instead of the configured one.
    pub to_endpoint: Option<String>,
    /// Objects copied at once (at least 1; default [`DEFAULT_CONCURRENCY`]).
    pub concurrency: usize,
    /// List and compare only: report what would be copied, write nothing.
    pub dry_run: bool,
    /// Create the destination bucket (or directory) when it does not exist.
    pub create_bucket: bool,
    /// Multipart part size in bytes (5 MiB to 5 GiB).
    pub part_size: usize,
    /// Objects of at least this many bytes are copied as multipart uploads.
    pub multipart_threshold: usize,
}

impl MigrateOptions {
    /// Options with the defaults for everything but the two URLs.
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> Self {
        Self { from: from.into(), to: to.into(), ..Self::default() }
    }

    fn validate(&self) -> Result<(), StorageError> {
        let invalid = |message: String| Err(StorageError::new(StorageErrorKind::InvalidInput, message));
        if self.concurrency == 0 {
            return invalid("concurrency must be at least 1".to_owned());
        }
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&self.part_size) {
            return invalid(format!("part size must be between 5 MiB and 5 GiB, got {} bytes", self.part_size));
        }
        if self.multipart_threshold == 0 {
            return invalid("multipart threshold must be at least 1 byte".to_owned());
        }
        Ok(())
    }
}

impl Default for MigrateOptions {
    fn default() -> Self {
        Self {
            from: String::new(),
            to: String::new(),
            from_endpoint: None,
            to_endpoint: None,
            concurrency: DEFAULT_CONCURRENCY,
            dry_run: false,
            create_bucket: false,
            part_size: DEFAULT_PART_SIZE,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
        }
    }
}

/// The outcome of a migration. Serializes (and [`to_json`](Self::to_json)) to exactly
/// `copied`, `skipped`, `failed`, `bytes`, `seconds`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MigrateSummary {
    /// Objects copied and verified (in a dry run: objects that would be copied).
    pub copied: u64,
    /// Objects already identical at the destination.
    pub skipped: u64,
    /// Objects that could not be copied or verified.
    pub failed: u64,
    /// Bytes copied (in a dry run: bytes that would be copied).
    pub bytes: u64,
    /// Wall-clock time, listing included.
    pub seconds: f64,
    /// Whether this was a dry run.
    #[serde(skip)]
    pub dry_run: bool,
    /// What failed and why, in completion order.
    #[serde(skip)]
    pub failures: Vec<MigrateFailure>,
}

impl MigrateSummary {
    /// Whether every object was copied or skipped (the command exits non-zero otherwise).
    pub fn is_success(&self) -> bool {
        self.failed == 0
    }

    /// One JSON object with the keys `copied`, `skipped`, `failed`, `bytes`, `seconds`.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "copied": self.copied,
            "skipped": self.skipped,
            "failed": self.failed,
            "bytes": self.bytes,
            "seconds": self.seconds,
        })
        .to_string()
    }
}

/// One object that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrateFailure {
    /// Its key at the source.
    pub key: String,
    /// What went wrong (no secrets, no signed URLs).
    pub error: String,
}

/// Progress, reported after each object, every 100 ms while objects are in flight (so large
/// copies move the bar) and when the listing ends. Copying starts with the first page of the
/// listing, so the totals grow until `listed` is true. The callback runs on the task that awaits
/// [`migrate`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MigrateProgress {
    /// Objects finished (copied, skipped or failed).
    pub objects_done: u64,
    /// Objects at the source (listed so far).
    pub objects_total: u64,
    /// Bytes of finished objects plus bytes sent of objects in progress.
    pub bytes_done: u64,
    /// Bytes at the source (listed so far).
    pub bytes_total: u64,
    /// Objects copied so far.
    pub copied: u64,
    /// Objects skipped so far.
    pub skipped: u64,
    /// Objects failed so far.
    pub failed: u64,
    /// Whether the source is listed to the end (the totals are final).
    pub listed: bool,
}

/// A progress callback.
pub type ProgressFn<'a> = &'a (dyn Fn(MigrateProgress) + Send + Sync);

/// Counters shared by the copy workers.
#[derive(Debug, Default)]
struct Tally {
    objects_total: AtomicU64,
    bytes_total: AtomicU64,
    listed: AtomicBool,
    objects_done: AtomicU64,
    finished_bytes: AtomicU64,
    in_flight_bytes: AtomicU64,
    copied: AtomicU64,
    skipped: AtomicU64,
    failed: AtomicU64,
}

impl Tally {
    fn snapshot(&self) -> MigrateProgress {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MigrateProgress {
            objects_done: load(&self.objects_done),
            objects_total: load(&self.objects_total),
            bytes_done: load(&self.finished_bytes) + load(&self.in_flight_bytes),
            bytes_total: load(&self.bytes_total),
            copied: load(&self.copied),
            skipped: load(&self.skipped),
            failed: load(&self.failed),
            listed: self.listed.load(Ordering::Relaxed),
        }
    }
}

/// Copies every object of `options.from` to `options.to`; see the module docs. `base` supplies
/// credentials, region, retry policy and defaults (S3 endpoints are overridden per side by
/// `from_endpoint` / `to_endpoint`). Fails only when the migration cannot start.
pub async fn migrate(
    options: &MigrateOptions,
    base: &BackendOptions,
    progress: &(dyn Fn(MigrateProgress) + Send + Sync),
) -> Result<MigrateSummary, StorageError> {
    let started = Instant::now();
    options.validate()?;
    let endpoints = location::open(options, base).await?;
    // The source is listed on its own task, ahead of the copies, which start with its first page
    // once the destination is listed (its objects decide the skips).
    let (listed_tx, mut listed_rx) = mpsc::channel(LISTING_BUFFER);
    let mut source_pages = endpoints.source.list_stream();
    let _lister = AbortOnDropHandle::new(tokio::spawn(async move {
        while let Some(item) = source_pages.next().await {
            let failed = item.is_err();
            if listed_tx.send(item).await.is_err() || failed {
                break;
            }
        }
    }));
    let existing = endpoints.destination.list().await?;
    let at_destination = existing.len();
    let existing: HashMap<String, location::Listed> = existing.into_iter().map(|l| (l.rel.clone(), l)).collect();
    tracing::info!(
        from = %endpoints.source.url,
        to = %endpoints.destination.url,
        at_destination,
        server_side = endpoints.server_side.is_some(),
        dry_run = options.dry_run,
        "migration started"
    );
    let copier = Arc::new(Copier::new(endpoints, options.clone(), Tally::default()));
    let mut summary = MigrateSummary { dry_run: options.dry_run, ..MigrateSummary::default() };
    // One task per object (so hashing and signing use every core), `concurrency` at a time.
    let mut running = Running { copier: Arc::clone(&copier), existing, tasks: JoinSet::new(), keys: HashMap::new() };
    let mut listing = true;
    let mut tick = tokio::time::interval(PROGRESS_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let room = running.tasks.len() < options.concurrency;
        let joined = tokio::select! {
            listed = listed_rx.recv(), if listing && room => {
                match listed {
                    Some(object) => running.start(object?),
                    None => {
                        listing = false;
                        copier.tally.listed.store(true, Ordering::Relaxed);
                        let p = copier.tally.snapshot();
                        tracing::info!(objects = p.objects_total, bytes = p.bytes_total, "migration listed");
                        progress(p);
                    }
                }
                continue;
            }
            joined = running.tasks.join_next_with_id(), if !running.tasks.is_empty() => joined,
            _ = tick.tick(), if !running.tasks.is_empty() => {
                progress(copier.tally.snapshot());
                continue;
            }
            else => break,
        };
        let outcome = match joined {
            None => continue,
            Some(Ok((id, outcome))) => {
                running.keys.remove(&id);
                outcome
            }
            Some(Err(error)) => {
                let (key, size) = running.keys.remove(&error.id()).unwrap_or_default();
                copier.tally.finished_bytes.fetch_add(size, Ordering::Relaxed);
                Outcome::Failed(MigrateFailure { key, error: format!("copy task failed: {error}") })
            }
        };
        let tally = &copier.tally;
        let counter = match outcome {
            Outcome::Copied(bytes) => {
                summary.copied += 1;
                summary.bytes += bytes;
                &tally.copied
            }
            Outcome::Skipped => {
                summary.skipped += 1;
                &tally.skipped
            }
            Outcome::Failed(failure) => {
                tracing::warn!(key = %failure.key, error = %failure.error, "object not migrated");
                summary.failed += 1;
                summary.failures.push(failure);
                &tally.failed
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
        tally.objects_done.fetch_add(1, Ordering::Relaxed);
        progress(tally.snapshot());
    }
    summary.seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        copied = summary.copied,
        skipped = summary.skipped,
        failed = summary.failed,
        bytes = summary.bytes,
        seconds = summary.seconds,
        dry_run = options.dry_run,
        "migration finished"
    );
    Ok(summary)
}

/// The copy tasks in flight.
struct Running {
    copier: Arc<Copier>,
    /// Destination objects by relative key, removed as their source object is started.
    existing: HashMap<String, location::Listed>,
    tasks: JoinSet<Outcome>,
    /// Key and size of each task, to report a task that panicked.
    keys: HashMap<Id, (String, u64)>,
}

impl Running {
    fn start(&mut self, object: location::Listed) {
        let tally = &self.copier.tally;
        tally.objects_total.fetch_add(1, Ordering::Relaxed);
        tally.bytes_total.fetch_add(object.size, Ordering::Relaxed);
        let at_destination = self.existing.remove(&object.rel);
        let (key, size) = (object.path.to_string(), object.size);
        let task = self.tasks.spawn(Arc::clone(&self.copier).process(object, at_destination));
        self.keys.insert(task.id(), (key, size));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_json_has_exactly_the_five_keys() -> serde_json::Result<()> {
        let summary = MigrateSummary {
            copied: 3,
            skipped: 2,
            failed: 1,
            bytes: 42,
            seconds: 1.5,
            dry_run: true,
            failures: vec![MigrateFailure { key: "k".into(), error: "boom".into() }],
        };
        let expected = serde_json::json!({"copied": 3, "skipped": 2, "failed": 1, "bytes": 42, "seconds": 1.5});
        assert_eq!(serde_json::from_str::<serde_json::Value>(&summary.to_json())?, expected);
        assert_eq!(serde_json::to_value(&summary)?, expected);
        assert!(!summary.is_success());
        Ok(())
    }

    #[test]
    fn options_are_validated() {
        assert!(MigrateOptions::new("file:///a", "s3://b").validate().is_ok());
        let bad = [
            MigrateOptions { concurrency: 0, ..MigrateOptions::default() },
            MigrateOptions { part_size: 1 << 20, ..MigrateOptions::default() },
            MigrateOptions { multipart_threshold: 0, ..MigrateOptions::default() },
        ];
        for options in bad {
            let Err(error) = options.validate() else { panic!("{options:?} is valid") };
            assert_eq!(error.kind, StorageErrorKind::InvalidInput, "{options:?}");
        }
    }
}
