//! One object: decide whether it must be copied, copy it (server-side, in one request, or as a
//! streaming multipart upload), and verify the copy.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use md5::{Digest, Md5};
use object_store::path::Path;
use object_store::{Attribute, AttributeValue, Attributes, GetOptions, PutMultipartOptions, PutOptions, PutPayload};
use tokio::sync::Semaphore;
use tokio_util::io::StreamReader;

use super::checksum::{ContentSums, ETagSum, HashingStream, candidate_part_sizes, hex16};
use super::location::{Endpoint, Endpoints, Listed};
use super::{MigrateFailure, MigrateOptions, Tally, content_type};
use crate::backend::S3Backend;
use crate::error::{StorageError, StorageErrorKind};
use crate::transfer::{Progress, multipart_upload};

/// Attempts per object (the first and one retry).
const ATTEMPTS: u32 = 2;
/// Parts of one multipart upload in flight at once.
const PART_CONCURRENCY: usize = 4;
/// Multipart uploads at once, bounding memory to about this × [`PART_CONCURRENCY`] parts.
const MAX_MULTIPART_UPLOADS: usize = 4;
/// The largest object S3's `CopyObject` accepts; larger ones are streamed.
const MAX_COPY_OBJECT_BYTES: u64 = 5 << 30;

/// What happened to one object.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Copied and verified (dry run: would be copied), with its size.
    Copied(u64),
    /// Identical at the destination.
    Skipped,
    /// Not copied.
    Failed(MigrateFailure),
}

/// The per-object worker, shared by the copy tasks.
pub(crate) struct Copier {
    endpoints: Endpoints,
    options: MigrateOptions,
    pub(crate) tally: Tally,
    multipart_slots: Semaphore,
}

impl Copier {
    pub(crate) fn new(endpoints: Endpoints, options: MigrateOptions, tally: Tally) -> Self {
        let multipart_slots = Semaphore::new(MAX_MULTIPART_UPLOADS.min(options.concurrency).max(1));
        Self { endpoints, options, tally, multipart_slots }
    }

    /// Skips, copies (retrying once) or fails `object`; `existing` is the destination's object of
    /// the same key, if any. Progress goes to the tally.
    pub(crate) async fn process(self: Arc<Self>, object: Listed, existing: Option<Listed>) -> Outcome {
        let reported = AtomicU64::new(0);
        let outcome = self.run(&object, existing.as_ref(), &reported).await;
        self.tally.in_flight_bytes.fetch_sub(reported.load(Ordering::Relaxed), Ordering::Relaxed);
        self.tally.finished_bytes.fetch_add(object.size, Ordering::Relaxed);
        outcome
    }

    async fn run(&self, object: &Listed, existing: Option<&Listed>, reported: &AtomicU64) -> Outcome {
        if let Some(existing) = existing.filter(|e| e.size == object.size) {
            match self.identical(object, existing).await {
                Ok(true) => return Outcome::Skipped,
                Ok(false) => {}
                Err(error) => {
                    tracing::debug!(%error, key = %object.path, "cannot compare with the destination, copying")
                }
            }
        }
        if self.options.dry_run {
            return Outcome::Copied(object.size);
        }
        let mut attempt = 1;
        loop {
            match self.copy(object, reported).await {
                Ok(bytes) => return Outcome::Copied(bytes),
                Err(error) if attempt < ATTEMPTS && worth_retrying(&error) => {
                    tracing::warn!(%error, key = %object.path, attempt, "copy failed, retrying");
                    self.tally.in_flight_bytes.fetch_sub(reported.swap(0, Ordering::Relaxed), Ordering::Relaxed);
                    attempt += 1;
                }
                Err(error) => {
                    return Outcome::Failed(MigrateFailure { key: object.path.to_string(), error: error.to_string() });
                }
            }
        }
    }

    /// Whether `dst` (same size as `src`) has the same content: from ETags when both are MD5s,
    /// else by reading the side whose ETag says least (checked against the other's ETag), and the
    /// other side too when its ETag cannot be checked.
    async fn identical(&self, src: &Listed, dst: &Listed) -> Result<bool, StorageError> {
        let s = ETagSum::parse(src.etag.as_deref(), self.endpoints.source.md5_etags);
        let d = ETagSum::parse(dst.etag.as_deref(), self.endpoints.destination.md5_etags);
        match (s, d) {
            (ETagSum::Md5(a), ETagSum::Md5(b)) => return Ok(a == b),
            (ETagSum::Composite(..), ETagSum::Composite(..)) if s == d => return Ok(true),
            _ => {}
        }
        let ((read, read_path), (other, other_path, other_sum)) = if rank(&s) < rank(&d) {
            ((&self.endpoints.source, &src.path), (&self.endpoints.destination, &dst.path, d))
        } else {
            ((&self.endpoints.destination, &dst.path), (&self.endpoints.source, &src.path, s))
        };
        let part_sizes = candidate_part_sizes(src.size, &other_sum, self.part_size());
        let sums = read.hash(read_path, &part_sizes).await?;
        if sums.size != src.size {
            return Ok(false);
        }
        match other_sum {
            ETagSum::Md5(md5) => return Ok(md5 == sums.md5),
            ETagSum::Composite(..) if sums.matches(&other_sum) => return Ok(true),
            _ => {}
        }
        let other_sums = other.hash(other_path, &[]).await?;
        Ok(other_sums.size == sums.size && other_sums.md5 == sums.md5)
    }

    /// Copies one object and verifies the copy; returns the bytes copied.
    async fn copy(&self, object: &Listed, reported: &AtomicU64) -> Result<u64, StorageError> {
        let target = self.endpoints.destination.path_for(&object.rel)?;
        if let Some(s3) = self.endpoints.server_side.as_deref()
            && object.size <= MAX_COPY_OBJECT_BYTES
        {
            return self.server_side_copy(s3, object, &target).await;
        }
        let (src, dst) = (&self.endpoints.source, &self.endpoints.destination);
        let large = object.size >= self.options.multipart_threshold as u64;
        // Taken before the GET so that no response waits, unread, for a slot.
        let _slot = match large {
            true => Some(
                self.multipart_slots
                    .acquire()
                    .await
                    .map_err(|e| StorageError::new(StorageErrorKind::Internal, e.to_string()))?,
            ),
            false => None,
        };
        let got = src
            .store
            .get_opts(&object.path, GetOptions::default())
            .await
            .map_err(|e| src.context(StorageError::from_object_store(e), &object.path))?;
        let size = got.meta.size;
        let attributes = self.attributes_for(&object.rel, &got.attributes);
        if !large {
            let data = got.bytes().await.map_err(|e| src.context(StorageError::from_object_store(e), &object.path))?;
            if data.len() as u64 != size {
                let message = format!("read {} bytes of {size} from the source", data.len());
                return Err(src.context(StorageError::new(StorageErrorKind::Unavailable, message), &object.path));
            }
            let sums = ContentSums { size, md5: Md5::digest(&data).into(), composites: Vec::new() };
            let opts = PutOptions { attributes, ..PutOptions::default() };
            let put = dst
                .store
                .put_opts(&target, PutPayload::from_bytes(data), opts)
                .await
                .map_err(|e| dst.context(StorageError::from_object_store(e), &target))?;
            self.verify(&target, put.e_tag.as_deref(), &sums).await?;
            return Ok(size);
        }
        let part_size = self.options.part_size;
        let mut reader = StreamReader::new(HashingStream::new(got.into_stream(), &[part_size as u64]));
        let report = |p: Progress| {
            let before = reported.swap(p.bytes_done, Ordering::Relaxed);
            self.tally.in_flight_bytes.fetch_add(p.bytes_done.saturating_sub(before), Ordering::Relaxed);
        };
        let opts = PutMultipartOptions { attributes, ..PutMultipartOptions::default() };
        let (put, sent) = multipart_upload(
            dst.store.as_ref(),
            &target,
            opts,
            Bytes::new(),
            &mut reader,
            part_size,
            PART_CONCURRENCY,
            Some(size),
            Some(&report),
        )
        .await
        .map_err(|e| dst.context(e, &target))?;
        let sums = reader.into_inner().finish();
        if sums.size != size || sent != size {
            let message = format!("read {} and sent {sent} bytes of {size}", sums.size);
            return Err(src.context(StorageError::new(StorageErrorKind::Unavailable, message), &object.path));
        }
        self.verify(&target, put.e_tag.as_deref(), &sums).await?;
        Ok(size)
    }

    /// Copies inside one S3 endpoint, then checks the copy's ETag against the source's; when
    /// they cannot be compared (a multipart source becomes one part) the copy is read back.
    ///
    /// When the listing gave no usable source ETag (some S3 servers list none), one bodiless
    /// HEAD fetches it and the copy is pinned to it (`x-amz-copy-source-if-match`), so an MD5
    /// ETag still verifies the copy without reading either side.
    async fn server_side_copy(&self, s3: &S3Backend, object: &Listed, target: &Path) -> Result<u64, StorageError> {
        let (src, dst) = (&self.endpoints.source, &self.endpoints.destination);
        let mut source_etag = object.etag.clone();
        let mut s = ETagSum::parse(source_etag.as_deref(), src.md5_etags);
        if s == ETagSum::Opaque {
            let head = src.store.head(&object.path).await;
            let head = head.map_err(|e| src.context(StorageError::from_object_store(e), &object.path))?;
            source_etag = head.e_tag;
            s = ETagSum::parse(source_etag.as_deref(), src.md5_etags);
        }
        let pin = source_etag.as_deref().filter(|_| s != ETagSum::Opaque);
        let etag = s3.copy_object(&src.bucket, object.path.as_ref(), pin, &dst.bucket, target.as_ref()).await?;
        let d = ETagSum::parse(etag.as_deref(), dst.md5_etags);
        if s == d && s != ETagSum::Opaque {
            return Ok(object.size);
        }
        let part_sizes = candidate_part_sizes(object.size, &s, self.part_size());
        let copy = dst.hash(target, &part_sizes).await?;
        if matches!(d, ETagSum::Md5(_)) && !copy.matches(&d) {
            return Err(mismatch(dst, target, "the copy does not match its own etag".to_owned()));
        }
        if copy.size == object.size && copy.matches(&s) {
            return Ok(copy.size);
        }
        // The source's ETag proves nothing about this content (or the source changed since it
        // was listed): compare with the source itself.
        let source = src.hash(&object.path, &[]).await?;
        check_same(dst, target, &source, &copy)?;
        Ok(copy.size)
    }

    /// Checks the copy at `target` against `sums` of what was read from the source: by its ETag
    /// when that is a content hash and agrees, else by reading it back.
    async fn verify(&self, target: &Path, etag: Option<&str>, sums: &ContentSums) -> Result<(), StorageError> {
        let dst = &self.endpoints.destination;
        if sums.matches(&ETagSum::parse(etag, dst.md5_etags)) {
            return Ok(());
        }
        let back = dst.hash(target, &[]).await?;
        check_same(dst, target, sums, &back)
    }

    /// The source's content type and metadata, with a content type guessed from the extension
    /// for plain files; nothing when the destination cannot keep attributes.
    fn attributes_for(&self, rel: &str, source: &Attributes) -> Attributes {
        if !self.endpoints.destination.keeps_attributes {
            return Attributes::new();
        }
        let mut attributes = source.clone();
        if self.endpoints.source.guess_content_type
            && attributes.get(&Attribute::ContentType).is_none()
            && let Some(content_type) = content_type::guess(rel)
        {
            attributes.insert(Attribute::ContentType, AttributeValue::from(content_type));
        }
        attributes
    }

    fn part_size(&self) -> u64 {
        self.options.part_size as u64
    }
}

/// How much an ETag tells: a whole-content MD5 most, nothing least.
fn rank(sum: &ETagSum) -> u8 {
    match sum {
        ETagSum::Md5(_) => 2,
        ETagSum::Composite(..) => 1,
        ETagSum::Opaque => 0,
    }
}

fn check_same(dst: &Endpoint, target: &Path, expected: &ContentSums, copy: &ContentSums) -> Result<(), StorageError> {
    if copy.size != expected.size {
        return Err(mismatch(dst, target, format!("the copy has {} bytes, the source {}", copy.size, expected.size)));
    }
    if copy.md5 != expected.md5 {
        let message = format!("the copy's md5 {} differs from the source's {}", hex16(&copy.md5), hex16(&expected.md5));
        return Err(mismatch(dst, target, message));
    }
    Ok(())
}

fn mismatch(dst: &Endpoint, target: &Path, detail: String) -> StorageError {
    dst.context(StorageError::new(StorageErrorKind::Internal, format!("copy verification failed: {detail}")), target)
}

/// Failures another attempt may fix: unavailability and verification mismatches.
fn worth_retrying(error: &StorageError) -> bool {
    matches!(error.kind, StorageErrorKind::Unavailable | StorageErrorKind::Internal | StorageErrorKind::Conflict)
}
