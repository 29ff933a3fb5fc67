//! Streaming transfers: multipart uploads of large files with a progress callback (seed 002's
//! `TransferConfig` and `ProgressPercentage`), and streaming downloads.
//!
//! A multipart upload that fails is aborted, so no partial object ever becomes visible.

mod download;

use std::path::Path as FsPath;

use aae_types::BucketPurpose;
use bytes::{Bytes, BytesMut};
use futures::stream::{BoxStream, FuturesUnordered};
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, MultipartUpload, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::{StorageError, StorageErrorKind};
use crate::service::{ObjectInfo, Side, StorageService, UploadOptions, UploadResult, info_from_get};

/// Progress of a transfer, reported after each completed part or chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes transferred so far.
    pub bytes_done: u64,
    /// Total bytes, when known.
    pub bytes_total: Option<u64>,
}

impl Progress {
    /// Percentage done, when the total is known.
    pub fn percent(&self) -> Option<f64> {
        self.bytes_total.map(|t| if t == 0 { 100.0 } else { self.bytes_done as f64 * 100.0 / t as f64 })
    }
}

/// A progress callback.
pub type ProgressFn<'a> = &'a (dyn Fn(Progress) + Send + Sync);

/// A stream of object bytes.
pub type ByteStream = BoxStream<'static, Result<Bytes, StorageError>>;

fn parse_path(full: &str) -> Result<Path, StorageError> {
    Path::parse(full).map_err(|e| StorageError::new(StorageErrorKind::InvalidKey, e.to_string()))
}

/// Reads up to `size` bytes; fewer only at end of input.
async fn read_chunk<R: AsyncRead + Unpin>(reader: &mut R, size: usize) -> std::io::Result<Bytes> {
    let mut buf = BytesMut::with_capacity(size);
    while buf.len() < size {
        let n = (&mut *reader).take((size - buf.len()) as u64).read_buf(&mut buf).await?;
        if n == 0 {
            break;
        }
    }
    Ok(buf.freeze())
}

fn io_error(e: std::io::Error) -> StorageError {
    StorageError::new(StorageErrorKind::Internal, format!("reading the upload source failed: {e}"))
}

impl StorageService {
    /// Uploads a file; files at or above `storage.multipart.threshold_mib` go up in parts of
    /// `part_size_mib`, `concurrency` at a time. `progress` is called as parts complete.
    pub async fn upload_file(
        &self,
        purpose: BucketPurpose,
        key: &str,
        file: &FsPath,
        options: &UploadOptions,
        progress: Option<ProgressFn<'_>>,
    ) -> Result<UploadResult, StorageError> {
        let handle = tokio::fs::File::open(file).await.map_err(|e| {
            StorageError::new(StorageErrorKind::InvalidInput, format!("cannot open {}: {e}", file.display()))
        })?;
        let size = handle.metadata().await.map_err(io_error)?.len();
        let mut options = options.clone();
        if options.metadata.original_filename.is_none() {
            options.metadata.original_filename = file.file_name().map(|n| n.to_string_lossy().into_owned());
        }
        self.upload_stream(
            purpose,
            key,
            tokio::io::BufReader::with_capacity(1 << 20, handle),
            Some(size),
            &options,
            progress,
        )
        .await
    }

    /// Uploads everything `reader` yields. Input shorter than the multipart threshold is sent in
    /// one request; longer input is sent as a multipart upload that is aborted on any failure.
    pub async fn upload_stream<R: AsyncRead + Unpin + Send>(
        &self,
        purpose: BucketPurpose,
        key: &str,
        mut reader: R,
        total: Option<u64>,
        options: &UploadOptions,
        progress: Option<ProgressFn<'_>>,
    ) -> Result<UploadResult, StorageError> {
        let full = self.full_key(purpose, key)?;
        let bucket = self.location(purpose).name.clone();
        let attributes = options.metadata.to_attributes(options.content_type.as_deref())?;
        let threshold = (self.multipart.threshold_mib << 20) as usize;
        let first = read_chunk(&mut reader, threshold.max(1)).await.map_err(io_error)?;
        if first.len() < threshold {
            let result = self.upload_bytes(purpose, key, first.clone(), options).await?;
            if let Some(report) = progress {
                report(Progress { bytes_done: result.size, bytes_total: total });
            }
            return Ok(result);
        }
        self.ensure_bucket(&self.primary, false, &bucket).await?;
        let path = parse_path(&full)?;
        let part_size = (self.multipart.part_size_mib << 20) as usize;
        let store = self.primary.backend.store(&bucket)?;
        let upload_future = multipart_upload(
            store.as_ref(),
            &path,
            PutMultipartOptions { attributes: attributes.clone(), ..Default::default() },
            first,
            &mut reader,
            part_size,
            self.multipart.concurrency,
            total,
            progress,
        );
        let (result, size) =
            self.primary.breaker.call(upload_future).await.map_err(|e| e.with_bucket(&bucket).with_key(key))?;
        if let Some(secondary) = &self.secondary
            && let Err(error) = self.replicate(secondary, &bucket, &path, attributes).await
        {
            tracing::warn!(%error, bucket = %bucket, key, "dual-write to the secondary store failed");
        }
        self.upload_result(purpose, key, bucket, result, size)
    }

    /// Copies an object from the primary to the secondary store, streaming.
    async fn replicate(
        &self,
        secondary: &Side,
        bucket: &str,
        path: &Path,
        attributes: object_store::Attributes,
    ) -> Result<(), StorageError> {
        self.ensure_bucket(secondary, true, bucket).await?;
        let source = self.primary.backend.store(bucket)?;
        let target = secondary.backend.store(bucket)?;
        let got = source.get(path).await.map_err(StorageError::from_object_store)?;
        let reader = tokio_util::io::StreamReader::new(got.into_stream().map_err(std::io::Error::other));
        let mut reader = Box::pin(reader);
        let part_size = (self.multipart.part_size_mib << 20) as usize;
        let first = read_chunk(&mut reader, part_size).await.map_err(io_error)?;
        let upload = async {
            if first.len() < part_size {
                let opts = PutOptions { attributes, ..Default::default() };
                target
                    .put_opts(path, PutPayload::from_bytes(first), opts)
                    .await
                    .map_err(StorageError::from_object_store)?;
                return Ok(());
            }
            let opts = PutMultipartOptions { attributes, ..Default::default() };
            multipart_upload(
                target.as_ref(),
                path,
                opts,
                first,
                &mut reader,
                part_size,
                self.multipart.concurrency,
                None,
                None,
            )
            .await
            .map(|_| ())
        };
        secondary.breaker.call(upload).await
    }

    /// Streams an object: its info (content type, metadata) and its bytes. Falls back to the
    /// secondary store in dual-write mode.
    pub async fn download(&self, purpose: BucketPurpose, key: &str) -> Result<(ObjectInfo, ByteStream), StorageError> {
        let full = self.full_key(purpose, key)?;
        let bucket = self.location(purpose).name.clone();
        let path = parse_path(&full)?;
        self.read_with_fallback(&bucket, key, |side| {
            let (path, bucket) = (path.clone(), bucket.clone());
            async move {
                let result = self
                    .run(side, &bucket, key, |store| async move { store.get_opts(&path, GetOptions::default()).await })
                    .await?;
                let info = info_from_get(key, &result.meta, &result.attributes);
                let (bucket, key) = (bucket.clone(), key.to_owned());
                let stream = result
                    .into_stream()
                    .map_err(move |e| {
                        StorageError::from_object_store(e).with_bucket(bucket.clone()).with_key(key.clone())
                    })
                    .boxed();
                Ok((info, stream))
            }
        })
        .await
    }
}

/// Uploads `first` and the rest of `reader` as parts of `part_size`, `concurrency` in flight.
/// Aborts the upload on any failure.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn multipart_upload<R: AsyncRead + Unpin + Send>(
    store: &dyn ObjectStore,
    path: &Path,
    opts: PutMultipartOptions,
    first: Bytes,
    reader: &mut R,
    part_size: usize,
    concurrency: usize,
    total: Option<u64>,
    progress: Option<ProgressFn<'_>>,
) -> Result<(PutResult, u64), StorageError> {
    let mut upload = store.put_multipart_opts(path, opts).await.map_err(StorageError::from_object_store)?;
    // Every part but the last must be exactly `part_size` (S3 rejects small middle parts), so
    // the bytes already read are put back in front of the reader.
    let mut reader = std::io::Cursor::new(first).chain(reader);
    let outcome = send_parts(upload.as_mut(), &mut reader, part_size, concurrency, total, progress).await;
    match outcome {
        Ok(size) => match upload.complete().await {
            Ok(result) => Ok((result, size)),
            Err(e) => {
                abort(upload.as_mut(), path).await;
                Err(StorageError::from_object_store(e))
            }
        },
        Err(e) => {
            abort(upload.as_mut(), path).await;
            Err(e)
        }
    }
}

async fn abort(upload: &mut dyn MultipartUpload, path: &Path) {
    if let Err(error) = upload.abort().await {
        tracing::warn!(%error, key = %path, "aborting a failed multipart upload failed; the bucket's lifecycle rule will remove its parts");
    }
}

async fn send_parts<R: AsyncRead + Unpin + Send>(
    upload: &mut dyn MultipartUpload,
    reader: &mut R,
    part_size: usize,
    concurrency: usize,
    total: Option<u64>,
    progress: Option<ProgressFn<'_>>,
) -> Result<u64, StorageError> {
    let mut in_flight = FuturesUnordered::new();
    let mut done = 0u64;
    let mut sent = 0u64;
    let mut exhausted = false;
    loop {
        while !exhausted && in_flight.len() < concurrency.max(1) {
            let chunk = read_chunk(reader, part_size).await.map_err(io_error)?;
            exhausted = chunk.len() < part_size;
            if chunk.is_empty() {
                break;
            }
            let len = chunk.len() as u64;
            sent += len;
            in_flight.push(upload.put_part(PutPayload::from_bytes(chunk)).map(move |r| r.map(|()| len)));
        }
        match in_flight.next().await {
            Some(result) => {
                done += result.map_err(StorageError::from_object_store)?;
                if let Some(report) = progress {
                    report(Progress { bytes_done: done, bytes_total: total });
                }
            }
            None => return Ok(sent),
        }
    }
}
