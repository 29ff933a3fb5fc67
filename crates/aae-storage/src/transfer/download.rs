//! Large downloads: ranged GETs in parallel, pinned to the object's ETag, either streamed in
//! order ([`StorageService::download_parallel`]) or written straight to their offsets in a
//! file ([`StorageService::download_to_file`]).
//!
//! Every range runs on its own task, so a range's body keeps arriving while the consumer is
//! busy with another one: the network and the disk overlap instead of taking turns.

use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::Arc;

use aae_config::StorageBackendKind;
use aae_types::BucketPurpose;
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::task::AbortOnDropHandle;

use super::{ByteStream, Progress, ProgressFn, parse_path};
use crate::error::{StorageError, StorageErrorKind};
use crate::service::{ObjectInfo, StorageService};

/// Bytes a range task gathers before one positioned write.
const WRITE_CHUNK: usize = 1 << 20;

/// A large object on an HTTP backend, split into ranges.
struct Ranged {
    info: ObjectInfo,
    store: Arc<dyn ObjectStore>,
    path: Path,
    bucket: String,
    ranges: Vec<Range<u64>>,
}

impl Ranged {
    fn options(&self, range: &Range<u64>) -> GetOptions {
        GetOptions { range: Some(range.clone().into()), if_match: self.info.etag.clone(), ..Default::default() }
    }
}

impl StorageService {
    /// The ranges of `key` when it is worth fetching in parts: an object at or above the
    /// multipart threshold on S3 or GCS, outside dual-write mode (which reads with fallback).
    async fn ranged(&self, purpose: BucketPurpose, key: &str) -> Result<Option<Ranged>, StorageError> {
        let remote = matches!(self.primary.backend.kind(), StorageBackendKind::S3 | StorageBackendKind::Gcs);
        if !remote || self.secondary.is_some() {
            return Ok(None);
        }
        let info = self.head(purpose, key).await?;
        if info.size < self.multipart.threshold_mib << 20 {
            return Ok(None);
        }
        let full = self.full_key(purpose, key)?;
        let bucket = self.location(purpose).name.clone();
        let path = parse_path(&full)?;
        let store = self.primary.backend.store(&bucket)?;
        let part = (self.multipart.part_size_mib << 20).max(1);
        let ranges = (0..info.size).step_by(part as usize).map(|start| start..(start + part).min(info.size)).collect();
        Ok(Some(Ranged { info, store, path, bucket, ranges }))
    }

    /// Like [`download`](Self::download), but objects at or above the multipart threshold on an
    /// HTTP backend are fetched as `part_size` ranges, `concurrency` at a time, pinned to the
    /// object's ETag so a concurrent overwrite fails the download instead of mixing versions.
    /// The stream yields the ranges in order; dropping it cancels the requests in flight.
    pub async fn download_parallel(
        &self,
        purpose: BucketPurpose,
        key: &str,
    ) -> Result<(ObjectInfo, ByteStream), StorageError> {
        let Some(ranged) = self.ranged(purpose, key).await? else {
            return self.download(purpose, key).await;
        };
        let ranged = Arc::new(ranged);
        let info = ranged.info.clone();
        let (error_bucket, error_key) = (ranged.bucket.clone(), key.to_owned());
        let stream = futures::stream::iter(0..ranged.ranges.len())
            .map(move |index| {
                let ranged = Arc::clone(&ranged);
                AbortOnDropHandle::new(tokio::spawn(async move {
                    let options = ranged.options(&ranged.ranges[index]);
                    ranged.store.get_opts(&ranged.path, options).await?.bytes().await
                }))
            })
            .buffered(self.multipart.concurrency.max(1))
            .map(move |joined| {
                let fetched = joined.map_err(|e| {
                    StorageError::new(StorageErrorKind::Internal, format!("range download task failed: {e}"))
                })?;
                fetched.map_err(|e| {
                    StorageError::from_object_store(e).with_bucket(error_bucket.clone()).with_key(error_key.clone())
                })
            })
            .boxed();
        Ok((info, stream))
    }

    /// Downloads an object into `file`: written to a temporary file next to it, then renamed
    /// into place, so `file` is never seen half-written. Large objects on HTTP backends are
    /// fetched as parallel ranges, each written at its offset as it arrives.
    pub async fn download_to_file(
        &self,
        purpose: BucketPurpose,
        key: &str,
        file: &FsPath,
        progress: Option<ProgressFn<'_>>,
    ) -> Result<ObjectInfo, StorageError> {
        let tmp = file.with_extension(format!("aae-partial-{}", std::process::id()));
        let fail = |e: std::io::Error| {
            StorageError::new(StorageErrorKind::Internal, format!("cannot write {}: {e}", file.display()))
        };
        let outcome = async {
            let info = match self.ranged(purpose, key).await? {
                Some(ranged) => ranged_to_file(ranged, key, self.multipart.concurrency, &tmp, progress, &fail).await?,
                None => {
                    let (info, stream) = self.download(purpose, key).await?;
                    stream_to_file(&info, stream, &tmp, progress, &fail).await?;
                    info
                }
            };
            tokio::fs::rename(&tmp, file).await.map_err(fail)?;
            Ok(info)
        }
        .await;
        if outcome.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        outcome
    }
}

/// Writes an in-order stream to `tmp`.
async fn stream_to_file(
    info: &ObjectInfo,
    mut stream: ByteStream,
    tmp: &FsPath,
    progress: Option<ProgressFn<'_>>,
    fail: &dyn Fn(std::io::Error) -> StorageError,
) -> Result<(), StorageError> {
    let mut out = tokio::io::BufWriter::with_capacity(WRITE_CHUNK, tokio::fs::File::create(tmp).await.map_err(fail)?);
    let mut done = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        out.write_all(&chunk).await.map_err(fail)?;
        done += chunk.len() as u64;
        if let Some(report) = progress {
            report(Progress { bytes_done: done, bytes_total: Some(info.size) });
        }
    }
    out.flush().await.map_err(fail)
}

/// Fetches every range, `concurrency` at a time, each on its own task writing at its offset of
/// a pre-sized `tmp`. The first failure cancels the others.
async fn ranged_to_file(
    ranged: Ranged,
    key: &str,
    concurrency: usize,
    tmp: &FsPath,
    progress: Option<ProgressFn<'_>>,
    fail: &dyn Fn(std::io::Error) -> StorageError,
) -> Result<ObjectInfo, StorageError> {
    let size = ranged.info.size;
    let out = tokio::fs::File::create(tmp).await.map_err(fail)?;
    out.set_len(size).await.map_err(fail)?;
    let out = Arc::new(out.into_std().await);
    let ranged = Arc::new(ranged);
    let (sent, mut written) = mpsc::unbounded_channel::<u64>();
    let mut tasks = JoinSet::new();
    let mut pending = 0..ranged.ranges.len();
    let spawn = |tasks: &mut JoinSet<_>, index: usize| {
        let (ranged, out, sent) = (Arc::clone(&ranged), Arc::clone(&out), sent.clone());
        tasks.spawn(async move { fetch_range_into(&ranged, index, out, sent).await });
    };
    for index in pending.by_ref().take(concurrency.max(1)) {
        spawn(&mut tasks, index);
    }
    let mut done = 0u64;
    let mut report = |bytes: u64| {
        done += bytes;
        if let Some(report) = progress {
            report(Progress { bytes_done: done, bytes_total: Some(size) });
        }
    };
    loop {
        tokio::select! {
            Some(bytes) = written.recv() => report(bytes),
            joined = tasks.join_next() => match joined {
                None => break,
                Some(Ok(Ok(()))) => {
                    if let Some(index) = pending.next() {
                        spawn(&mut tasks, index);
                    }
                }
                // Returning drops `tasks`, which aborts the ranges still in flight.
                Some(Ok(Err(e))) => return Err(e.with_bucket(ranged.bucket.clone()).with_key(key)),
                Some(Err(e)) => {
                    return Err(StorageError::new(StorageErrorKind::Internal, format!("range download task failed: {e}")));
                }
            },
        }
    }
    while let Ok(bytes) = written.try_recv() {
        report(bytes);
    }
    Ok(ranged.info.clone())
}

/// Streams range `index` into `out` at its offset, in writes of about [`WRITE_CHUNK`] bytes,
/// reporting each write's size on `written`.
async fn fetch_range_into(
    ranged: &Ranged,
    index: usize,
    out: Arc<std::fs::File>,
    written: mpsc::UnboundedSender<u64>,
) -> Result<(), StorageError> {
    let range = &ranged.ranges[index];
    let got =
        ranged.store.get_opts(&ranged.path, ranged.options(range)).await.map_err(StorageError::from_object_store)?;
    let mut body = got.into_stream().map_err(StorageError::from_object_store);
    let mut offset = range.start;
    let mut buffer = BytesMut::with_capacity(WRITE_CHUNK);
    loop {
        let chunk = body.try_next().await?;
        let last = chunk.is_none();
        if let Some(chunk) = chunk {
            buffer.extend_from_slice(&chunk);
        }
        if buffer.len() >= WRITE_CHUNK || (last && !buffer.is_empty()) {
            let data = buffer.split().freeze();
            let len = data.len() as u64;
            if offset + len > range.end {
                return Err(range_length_mismatch(range, offset + len));
            }
            write_at(Arc::clone(&out), data, offset).await?;
            offset += len;
            let _ = written.send(len);
        }
        if last {
            break;
        }
    }
    if offset != range.end {
        return Err(range_length_mismatch(range, offset));
    }
    Ok(())
}

fn range_length_mismatch(range: &Range<u64>, end: u64) -> StorageError {
    StorageError::new(
        StorageErrorKind::Internal,
        format!(
            "range {}-{} answered bytes up to {end}; the object may have changed, retry the download",
            range.start, range.end
        ),
    )
}

/// Writes `data` at `offset` on the blocking pool.
async fn write_at(out: Arc<std::fs::File>, data: Bytes, offset: u64) -> Result<(), StorageError> {
    let io =
        |e: std::io::Error| StorageError::new(StorageErrorKind::Internal, format!("cannot write the download: {e}"));
    tokio::task::spawn_blocking(move || write_all_at(&out, &data, offset))
        .await
        .map_err(|e| StorageError::new(StorageErrorKind::Internal, format!("file write task failed: {e}")))?
        .map_err(io)
}

#[cfg(unix)]
fn write_all_at(file: &std::fs::File, data: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, data, offset)
}

#[cfg(windows)]
fn write_all_at(file: &std::fs::File, mut data: &[u8], mut offset: u64) -> std::io::Result<()> {
    while !data.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_write(file, data, offset)?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        data = &data[n..];
        offset += n as u64;
    }
    Ok(())
}
