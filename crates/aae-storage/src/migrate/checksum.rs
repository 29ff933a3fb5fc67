//! Content checksums for verification and skip decisions: MD5 of the whole object, and the
//! composite ETag of S3 multipart uploads (`md5(concat(part md5s))-N`) for candidate part sizes.

use std::io::Read as _;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore};

use crate::error::{StorageError, StorageErrorKind};

const MIB: u64 = 1 << 20;

/// What an ETag says about the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ETagSum {
    /// The MD5 of the content (S3 single-part uploads, GCS simple uploads).
    Md5([u8; 16]),
    /// An S3 multipart ETag: MD5 of the parts' MD5s, and the number of parts.
    Composite([u8; 16], u64),
    /// Nothing usable (local files, encrypted objects, absent).
    Opaque,
}

impl ETagSum {
    /// Reads `etag` (quoted or not). Untrusted stores (whose ETags are not content hashes, e.g.
    /// local files) always give `Opaque`.
    pub(crate) fn parse(etag: Option<&str>, trusted: bool) -> Self {
        let Some(etag) = etag.filter(|_| trusted) else {
            return Self::Opaque;
        };
        let etag = etag.trim().trim_start_matches("W/").trim_matches('"');
        let (hex_part, parts) = match etag.split_once('-') {
            Some((hex_part, n)) => match n.parse::<u64>() {
                Ok(n) if n >= 1 => (hex_part, Some(n)),
                _ => return Self::Opaque,
            },
            None => (etag, None),
        };
        let mut digest = [0u8; 16];
        if hex_part.len() != 32 || hex::decode_to_slice(hex_part, &mut digest).is_err() {
            return Self::Opaque;
        }
        match parts {
            Some(n) => Self::Composite(digest, n),
            None => Self::Md5(digest),
        }
    }
}

/// Checksums of content that was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContentSums {
    /// Bytes read.
    pub(crate) size: u64,
    /// MD5 of everything.
    pub(crate) md5: [u8; 16],
    /// `(part size, composite digest, parts)` for each part size asked for.
    pub(crate) composites: Vec<(u64, [u8; 16], u64)>,
}

impl ContentSums {
    /// Whether `etag` proves this content.
    pub(crate) fn matches(&self, etag: &ETagSum) -> bool {
        match etag {
            ETagSum::Md5(md5) => *md5 == self.md5,
            ETagSum::Composite(digest, parts) => self.composites.iter().any(|(_, d, n)| d == digest && n == parts),
            ETagSum::Opaque => false,
        }
    }
}

/// Part sizes that could have produced a `parts`-part upload of `size` bytes: ours, the usual
/// tool defaults (rclone 5 MiB, awscli 8 MiB, ...) and the even split, where they give `parts`.
pub(crate) fn candidate_part_sizes(size: u64, etag: &ETagSum, ours: u64) -> Vec<u64> {
    let ETagSum::Composite(_, parts) = *etag else {
        return Vec::new();
    };
    let even = size.div_ceil(parts);
    let mut sizes: Vec<u64> = [ours, 5 * MIB, 8 * MIB, 16 * MIB, 64 * MIB, 100 * MIB, even, even.div_ceil(MIB) * MIB]
        .into_iter()
        .filter(|&p| p > 0 && size.div_ceil(p) == parts)
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

/// Running MD5 of a whole object plus one composite per part size.
#[derive(Debug, Clone)]
pub(crate) struct ContentHasher {
    whole: Md5,
    size: u64,
    parts: Vec<PartHasher>,
}

#[derive(Debug, Clone)]
struct PartHasher {
    part_size: u64,
    current: Md5,
    filled: u64,
    outer: Md5,
    count: u64,
}

impl PartHasher {
    fn close(&mut self) {
        self.outer.update(self.current.finalize_reset());
        self.count += 1;
        self.filled = 0;
    }
}

impl ContentHasher {
    /// A hasher that also computes the composite ETag for each of `part_sizes`.
    pub(crate) fn new(part_sizes: &[u64]) -> Self {
        let parts = part_sizes
            .iter()
            .filter(|&&p| p > 0)
            .map(|&part_size| PartHasher { part_size, current: Md5::new(), filled: 0, outer: Md5::new(), count: 0 })
            .collect();
        Self { whole: Md5::new(), size: 0, parts }
    }

    /// Feeds the next bytes.
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.whole.update(data);
        self.size += data.len() as u64;
        for part in &mut self.parts {
            let mut rest = data;
            while !rest.is_empty() {
                let room = usize::try_from(part.part_size - part.filled).unwrap_or(usize::MAX);
                let (head, tail) = rest.split_at(room.min(rest.len()));
                part.current.update(head);
                part.filled += head.len() as u64;
                rest = tail;
                if part.filled == part.part_size {
                    part.close();
                }
            }
        }
    }

    /// The checksums of everything fed.
    pub(crate) fn finish(mut self) -> ContentSums {
        let composites = self
            .parts
            .iter_mut()
            .map(|part| {
                if part.filled > 0 {
                    part.close();
                }
                (part.part_size, part.outer.finalize_reset().into(), part.count)
            })
            .collect();
        ContentSums { size: self.size, md5: self.whole.finalize().into(), composites }
    }
}

/// Reads `path` from `store` and returns its checksums (with composites for `part_sizes`).
pub(crate) async fn hash_object(
    store: &dyn ObjectStore,
    path: &Path,
    part_sizes: &[u64],
) -> Result<ContentSums, StorageError> {
    let got = store.get_opts(path, GetOptions::default()).await.map_err(StorageError::from_object_store)?;
    let mut hasher = ContentHasher::new(part_sizes);
    let mut stream = got.into_stream();
    while let Some(chunk) = stream.next().await {
        hasher.update(&chunk.map_err(StorageError::from_object_store)?);
    }
    Ok(hasher.finish())
}

/// Reads the local file `file` and returns its checksums, in one blocking task.
pub(crate) async fn hash_file(file: PathBuf, part_sizes: Vec<u64>) -> Result<ContentSums, StorageError> {
    let task = tokio::task::spawn_blocking(move || {
        let mut handle = std::fs::File::open(&file)?;
        let mut hasher = ContentHasher::new(&part_sizes);
        let mut buffer = vec![0u8; 256 << 10];
        loop {
            match handle.read(&mut buffer) {
                Ok(0) => return Ok(hasher.finish()),
                Ok(n) => hasher.update(&buffer[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    });
    let io_error = |e: std::io::Error| {
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => StorageErrorKind::NotFound,
            std::io::ErrorKind::PermissionDenied => StorageErrorKind::AccessDenied,
            _ => StorageErrorKind::Internal,
        };
        StorageError::new(kind, format!("cannot read the file: {e}"))
    };
    match task.await {
        Ok(result) => result.map_err(io_error),
        Err(e) => Err(StorageError::new(StorageErrorKind::Internal, format!("hashing task failed: {e}"))),
    }
}

/// An object's byte stream that hashes what passes through it, as `io::Result` for
/// `tokio_util::io::StreamReader`.
pub(crate) struct HashingStream {
    inner: BoxStream<'static, object_store::Result<Bytes>>,
    hasher: ContentHasher,
}

impl HashingStream {
    pub(crate) fn new(inner: BoxStream<'static, object_store::Result<Bytes>>, part_sizes: &[u64]) -> Self {
        Self { inner, hasher: ContentHasher::new(part_sizes) }
    }

    /// The checksums of everything that went through.
    pub(crate) fn finish(self) -> ContentSums {
        self.hasher.finish()
    }
}

impl Stream for HashingStream {
    type Item = std::io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match this.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.hasher.update(&chunk);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(std::io::Error::other(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Lowercase hex of a digest, for messages.
pub(crate) fn hex16(digest: &[u8; 16]) -> String {
    hex::encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md5(data: &[u8]) -> [u8; 16] {
        Md5::digest(data).into()
    }

    #[test]
    fn parses_s3_etags() {
        let d = md5(b"hello");
        let hex = hex16(&d);
        assert_eq!(ETagSum::parse(Some(&format!("\"{hex}\"")), true), ETagSum::Md5(d));
        assert_eq!(ETagSum::parse(Some(&hex), true), ETagSum::Md5(d));
        assert_eq!(ETagSum::parse(Some(&format!("\"{hex}-12\"")), true), ETagSum::Composite(d, 12));
        assert_eq!(ETagSum::parse(Some(&hex), false), ETagSum::Opaque);
        for bad in ["", "\"\"", "abc", "1a2b-3c4d-5e6f", &format!("{hex}-0"), &format!("{hex}-x"), &format!("{hex}00")]
        {
            assert_eq!(ETagSum::parse(Some(bad), true), ETagSum::Opaque, "{bad}");
        }
        assert_eq!(ETagSum::parse(None, true), ETagSum::Opaque);
    }

    #[test]
    fn composite_matches_s3_multipart_etag_whatever_the_chunking() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let part = 4096u64;
        let parts: Vec<&[u8]> = data.chunks(part as usize).collect();
        let mut outer = Md5::new();
        for p in &parts {
            outer.update(md5(p));
        }
        let expected = ETagSum::Composite(outer.finalize().into(), parts.len() as u64);
        for chunk in [1usize, 100, 4096, 5000, 10_000] {
            let mut hasher = ContentHasher::new(&[part, 1000]);
            for piece in data.chunks(chunk) {
                hasher.update(piece);
            }
            let sums = hasher.finish();
            assert_eq!(sums.size, 10_000);
            assert!(sums.matches(&ETagSum::Md5(md5(&data))));
            assert!(sums.matches(&expected), "chunk {chunk}");
            assert!(!sums.matches(&ETagSum::Composite(md5(&data), 3)));
            assert!(!sums.matches(&ETagSum::Opaque));
        }
    }

    #[test]
    fn exact_multiple_of_the_part_size_has_no_empty_last_part() {
        let mut hasher = ContentHasher::new(&[4]);
        hasher.update(b"abcdefgh");
        let sums = hasher.finish();
        assert_eq!(sums.composites[0].2, 2);
    }

    #[test]
    fn candidate_part_sizes_give_the_right_count() {
        let size = 64 * MIB + 1;
        let etag = ETagSum::Composite([0; 16], 9);
        let sizes = candidate_part_sizes(size, &etag, 8 * MIB);
        assert!(sizes.contains(&(8 * MIB)), "{sizes:?}");
        assert!(sizes.iter().all(|&p| size.div_ceil(p) == 9));
        assert!(candidate_part_sizes(size, &ETagSum::Opaque, 8 * MIB).is_empty());
    }
}
