//! Migration endpoints: parsing `file:///path`, `s3://bucket[/prefix]` and `gs://bucket[/prefix]`,
//! and opening them on the storage backends (creating the destination bucket when allowed).

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use aae_config::SseKind;
use futures::stream::{BoxStream, FuturesUnordered};
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ListResult, ObjectMeta, ObjectStore};

use super::MigrateOptions;
use super::checksum::{ContentSums, hash_file, hash_object};
use crate::backend::sidecar::SidecarMetadata;
use crate::backend::{Backend, BackendOptions, GcsBackend, S3Backend};
use crate::error::{StorageError, StorageErrorKind};

/// Where objects are, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// A local directory.
    Local(PathBuf),
    /// An S3 bucket and key prefix (without surrounding `/`).
    S3 { bucket: String, prefix: String },
    /// A GCS bucket and key prefix.
    Gcs { bucket: String, prefix: String },
}

impl Location {
    /// Parses `file:///path`, `s3://bucket[/prefix]` or `gs://bucket[/prefix]`.
    pub(crate) fn parse(url: &str) -> Result<Self, StorageError> {
        let bad = |why: &str| {
            StorageError::new(
                StorageErrorKind::InvalidInput,
                format!("`{url}` {why}; expected file:///path, s3://bucket[/prefix] or gs://bucket[/prefix]"),
            )
        };
        if url.starts_with("file://") {
            let parsed = url::Url::parse(url).map_err(|e| bad(&format!("is not a valid url ({e})")))?;
            let path = parsed.to_file_path().map_err(|()| bad("is not an absolute local path"))?;
            return Ok(Self::Local(path));
        }
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("has no scheme"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() || bucket.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
            return Err(bad("has no valid bucket name"));
        }
        let prefix = prefix.trim_matches('/');
        if !prefix.is_empty() {
            Path::parse(prefix).map_err(|e| bad(&format!("has an invalid prefix ({e})")))?;
        }
        let (bucket, prefix) = (bucket.to_owned(), prefix.to_owned());
        match scheme {
            "s3" => Ok(Self::S3 { bucket, prefix }),
            "gs" => Ok(Self::Gcs { bucket, prefix }),
            _ => Err(bad("has an unsupported scheme")),
        }
    }
}

/// For a directory laid out as AAE's local backend (`<X>/storage/objects/<bucket>`), the
/// directory of its attribute sidecars (`<X>/storage/meta/<bucket>`).
pub(crate) fn aae_meta_dir(path: &FsPath) -> Option<PathBuf> {
    let bucket = path.file_name()?;
    let objects = path.parent()?;
    let storage = objects.parent()?;
    (objects.file_name()? == "objects" && storage.file_name()? == "storage").then(|| storage.join("meta").join(bucket))
}

/// An object found by listing.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    /// Full key in its store.
    pub(crate) path: Path,
    /// Key below the endpoint's prefix; the same on both sides.
    pub(crate) rel: String,
    /// Size in bytes.
    pub(crate) size: u64,
    /// ETag as listed.
    pub(crate) etag: Option<String>,
}

/// Directories of an object store listed at once.
const WALK_CONCURRENCY: usize = 16;
/// Listed objects buffered ahead of their consumer.
const WALK_BUFFER: usize = 4_096;

/// One side of a migration, opened.
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// The URL as given, for messages.
    pub(crate) url: String,
    /// The objects (an empty in-memory store for a destination that does not exist yet in a dry run).
    pub(crate) store: Arc<dyn ObjectStore>,
    /// Bucket name (or directory), for errors.
    pub(crate) bucket: String,
    prefix: Option<Path>,
    /// The object data as plain files, for local directories: hashed directly, off the runtime.
    pub(crate) files: Option<Arc<LocalFileSystem>>,
    /// Whether ETags are content MD5s (S3, GCS) rather than opaque (local files).
    pub(crate) md5_etags: bool,
    /// Whether content type and metadata can be stored (false for plain local directories).
    pub(crate) keeps_attributes: bool,
    /// Whether objects carry no content type, so one is guessed from the extension.
    pub(crate) guess_content_type: bool,
}

impl Endpoint {
    /// Every object below the prefix.
    pub(crate) async fn list(&self) -> Result<Vec<Listed>, StorageError> {
        self.list_stream().try_collect().await
    }

    /// Every object below the prefix, as the store answers. Local directories are walked by the
    /// file system; object stores are walked directory by directory (`/`-delimited listings),
    /// [`WALK_CONCURRENCY`] directories at a time, so a bucket with many directories is listed in
    /// parallel and the first objects arrive after one small listing.
    pub(crate) fn list_stream(&self) -> BoxStream<'static, Result<Listed, StorageError>> {
        let prefix = self.prefix.as_ref().map(|p| format!("{p}/"));
        let bucket = self.bucket.clone();
        let to_listed = move |meta: ObjectMeta| {
            let full = meta.location.as_ref();
            let rel = prefix.as_deref().and_then(|p| full.strip_prefix(p)).unwrap_or(full).to_owned();
            Listed { rel, size: meta.size, etag: meta.e_tag, path: meta.location }
        };
        let error = move |e: object_store::Error| StorageError::from_object_store(e).with_bucket(&bucket);
        if self.files.is_some() {
            return self.store.list(self.prefix.as_ref()).map_ok(to_listed).map_err(error).boxed();
        }
        let (sender, receiver) = tokio::sync::mpsc::channel(WALK_BUFFER);
        let (store, root) = (Arc::clone(&self.store), self.prefix.clone());
        tokio::spawn(async move {
            let mut directories = vec![root];
            let mut listing = FuturesUnordered::new();
            loop {
                while listing.len() < WALK_CONCURRENCY
                    && let Some(directory) = directories.pop()
                {
                    let store = Arc::clone(&store);
                    listing.push(async move { store.list_with_delimiter(directory.as_ref()).await });
                }
                let Some(listed) = listing.next().await else { break };
                let ListResult { common_prefixes, objects } = match listed {
                    Ok(result) => result,
                    Err(e) => {
                        let _ = sender.send(Err(error(e))).await;
                        return;
                    }
                };
                directories.extend(common_prefixes.into_iter().map(Some));
                for meta in objects {
                    if sender.send(Ok(to_listed(meta))).await.is_err() {
                        return;
                    }
                }
            }
        });
        futures::stream::unfold(
            receiver,
            |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
        )
        .boxed()
    }

    /// Reads `path` and returns its checksums (with composites for `part_sizes`): local files in
    /// one blocking task, anything else streamed through the object store.
    pub(crate) async fn hash(&self, path: &Path, part_sizes: &[u64]) -> Result<ContentSums, StorageError> {
        let result = match &self.files {
            Some(files) => match files.path_to_filesystem(path) {
                Ok(file) => hash_file(file, part_sizes.to_vec()).await,
                Err(e) => Err(StorageError::from_object_store(e)),
            },
            None => hash_object(self.store.as_ref(), path, part_sizes).await,
        };
        result.map_err(|e| self.context(e, path))
    }

    /// Names this side's bucket and `path` in `error`, unless it already names some.
    pub(crate) fn context(&self, error: StorageError, path: &Path) -> StorageError {
        let error = if error.bucket.is_none() { error.with_bucket(&self.bucket) } else { error };
        if error.key.is_none() { error.with_key(path.as_ref()) } else { error }
    }

    /// The full key of `rel` on this side.
    pub(crate) fn path_for(&self, rel: &str) -> Result<Path, StorageError> {
        let full = match &self.prefix {
            Some(prefix) => format!("{prefix}/{rel}"),
            None => rel.to_owned(),
        };
        Path::parse(&full).map_err(|e| StorageError::new(StorageErrorKind::InvalidKey, e.to_string()).with_key(full))
    }
}

/// Both sides, and the S3 backend to copy with server-side when they share one.
#[derive(Debug)]
pub(crate) struct Endpoints {
    pub(crate) source: Endpoint,
    pub(crate) destination: Endpoint,
    /// Set when source and destination are buckets of the same S3 endpoint and credentials.
    pub(crate) server_side: Option<Arc<S3Backend>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Source,
    Destination,
}

/// Parses both URLs and opens both sides. The destination bucket is created when missing and
/// `create_bucket` is set (never in a dry run).
pub(crate) async fn open(options: &MigrateOptions, base: &BackendOptions) -> Result<Endpoints, StorageError> {
    let from = Location::parse(&options.from)?;
    let to = Location::parse(&options.to)?;
    let effective = |endpoint: &Option<String>| {
        endpoint.as_deref().or(base.s3.endpoint.as_deref()).map(|e| e.trim_end_matches('/').to_owned())
    };
    let same_endpoint = effective(&options.from_endpoint) == effective(&options.to_endpoint);
    if from == to && same_endpoint {
        return Err(StorageError::new(StorageErrorKind::InvalidInput, "source and destination are the same location"));
    }
    for (location, endpoint, flag) in [(&from, &options.from_endpoint, "from"), (&to, &options.to_endpoint, "to")] {
        if endpoint.is_some() && !matches!(location, Location::S3 { .. }) {
            return Err(StorageError::new(
                StorageErrorKind::InvalidInput,
                format!("--{flag}-endpoint applies to s3:// urls only"),
            ));
        }
    }
    let s3_for = |endpoint: &Option<String>| {
        let mut opts = base.clone();
        if let Some(endpoint) = endpoint {
            opts.s3.endpoint = Some(endpoint.clone());
        }
        async move { S3Backend::new(&opts).await.map(Arc::new) }
    };
    let from_s3 = match from {
        Location::S3 { .. } => Some(s3_for(&options.from_endpoint).await?),
        _ => None,
    };
    let (to_s3, server_side) = match (&to, &from_s3) {
        (Location::S3 { .. }, Some(shared)) if same_endpoint => (Some(Arc::clone(shared)), Some(Arc::clone(shared))),
        (Location::S3 { .. }, _) => (Some(s3_for(&options.to_endpoint).await?), None),
        _ => (None, None),
    };
    let source = open_side(&options.from, &from, Role::Source, from_s3, base, options).await?;
    let destination = open_side(&options.to, &to, Role::Destination, to_s3, base, options).await?;
    Ok(Endpoints { source, destination, server_side })
}

async fn open_side(
    url: &str,
    location: &Location,
    role: Role,
    s3: Option<Arc<S3Backend>>,
    base: &BackendOptions,
    options: &MigrateOptions,
) -> Result<Endpoint, StorageError> {
    let (bucket, prefix, backend): (&str, &str, Arc<dyn Backend>) = match (location, s3) {
        (Location::Local(dir), _) => return open_local(url, dir, role, options),
        (Location::S3 { bucket, prefix }, Some(s3)) => (bucket, prefix, s3),
        (Location::S3 { bucket, prefix }, None) => (bucket, prefix, Arc::new(S3Backend::new(base).await?)),
        (Location::Gcs { bucket, prefix }, _) => (bucket, prefix, Arc::new(GcsBackend::new(base)?)),
    };
    let exists = backend.bucket_exists(bucket).await?;
    let store = match (exists, role) {
        (true, _) => backend.store(bucket)?,
        (false, Role::Source) => {
            return Err(StorageError::new(StorageErrorKind::NoSuchBucket, "the source bucket does not exist")
                .with_bucket(bucket));
        }
        (false, Role::Destination) => {
            if !options.create_bucket {
                return Err(StorageError::new(
                    StorageErrorKind::NoSuchBucket,
                    "the destination bucket does not exist: create it, or enable bucket creation (AAE__STORAGE__CREATE_BUCKETS=true)",
                )
                .with_bucket(bucket));
            }
            if options.dry_run {
                tracing::info!(bucket, "dry run: the destination bucket would be created");
                Arc::new(InMemory::new())
            } else {
                tracing::info!(bucket, backend = %backend.describe(), "creating the destination bucket");
                backend.create_bucket(bucket).await?;
                backend.store(bucket)?
            }
        }
    };
    let encrypted =
        role == Role::Destination && matches!(location, Location::S3 { .. }) && base.s3.sse == Some(SseKind::AwsKms);
    Ok(Endpoint {
        url: url.to_owned(),
        store,
        bucket: bucket.to_owned(),
        files: None,
        prefix: (!prefix.is_empty()).then(|| Path::from_iter(prefix.split('/'))),
        // SSE-KMS ETags are not MD5s: verify such copies by reading them back.
        md5_etags: !encrypted,
        keeps_attributes: true,
        guess_content_type: false,
    })
}

fn open_local(url: &str, dir: &FsPath, role: Role, options: &MigrateOptions) -> Result<Endpoint, StorageError> {
    let meta_dir = aae_meta_dir(dir);
    let describe = dir.display().to_string();
    let no_dir = |message: &str| StorageError::new(StorageErrorKind::NoSuchBucket, message).with_bucket(&describe);
    let exists = dir.is_dir();
    match role {
        Role::Source if !exists => return Err(no_dir("the source directory does not exist")),
        Role::Destination if !exists && !options.create_bucket => {
            return Err(no_dir(
                "the destination directory does not exist: create it, or enable bucket creation (AAE__STORAGE__CREATE_BUCKETS=true)",
            ));
        }
        Role::Destination if options.dry_run && !exists => {
            // Create nothing: there is nothing to compare with.
            return Ok(Endpoint {
                url: url.to_owned(),
                store: Arc::new(InMemory::new()),
                files: None,
                bucket: describe,
                prefix: None,
                md5_etags: false,
                keeps_attributes: meta_dir.is_some(),
                guess_content_type: false,
            });
        }
        Role::Destination if !options.dry_run => {
            create_dir(dir)?;
            if let Some(meta) = &meta_dir {
                create_dir(meta)?;
            }
        }
        _ => {}
    }
    let files = local_fs(dir)?;
    let data: Arc<dyn ObjectStore> = files.clone();
    let (store, keeps_attributes): (Arc<dyn ObjectStore>, bool) = match meta_dir.as_deref().filter(|m| m.is_dir()) {
        Some(meta) => (Arc::new(SidecarMetadata::new(data, local_fs(meta)?)), true),
        // A dry run into an AAE layout whose sidecar directory does not exist yet would keep them.
        None => (data, role == Role::Destination && meta_dir.is_some()),
    };
    if role == Role::Destination && !keeps_attributes {
        tracing::warn!(dir = %describe, "plain directory destination: content types and metadata are not kept (use an AAE layout, <data_dir>/storage/objects/<bucket>)");
    }
    Ok(Endpoint {
        url: url.to_owned(),
        store,
        files: Some(files),
        bucket: describe,
        prefix: None,
        md5_etags: false,
        keeps_attributes,
        guess_content_type: role == Role::Source && !keeps_attributes,
    })
}

fn create_dir(dir: &FsPath) -> Result<(), StorageError> {
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, &e))
}

fn local_fs(dir: &FsPath) -> Result<Arc<LocalFileSystem>, StorageError> {
    let store = LocalFileSystem::new_with_prefix(dir)
        .map_err(|e| StorageError::from_object_store(e).with_bucket(dir.display().to_string()))?;
    Ok(Arc::new(store))
}

fn io_error(dir: &FsPath, e: &std::io::Error) -> StorageError {
    let kind = if e.kind() == std::io::ErrorKind::PermissionDenied {
        StorageErrorKind::AccessDenied
    } else {
        StorageErrorKind::Internal
    };
    StorageError::new(kind, format!("cannot create directory {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() -> Result<(), StorageError> {
        assert_eq!(Location::parse("file:///tmp/a%20b/")?, Location::Local(PathBuf::from("/tmp/a b/")));
        assert_eq!(
            Location::parse("s3://bucket/some/prefix/")?,
            Location::S3 { bucket: "bucket".into(), prefix: "some/prefix".into() }
        );
        assert_eq!(Location::parse("s3://bucket")?, Location::S3 { bucket: "bucket".into(), prefix: String::new() });
        assert_eq!(Location::parse("gs://b/p")?, Location::Gcs { bucket: "b".into(), prefix: "p".into() });
        for bad in ["bucket/key", "s3://", "s3:///x", "ftp://b", "file://relative/x", "s3://b/a//c"] {
            let Err(err) = Location::parse(bad) else { panic!("{bad} parsed") };
            assert_eq!(err.kind, StorageErrorKind::InvalidInput, "{bad}");
            assert!(err.to_string().contains("expected file:///path"), "{err}");
        }
        Ok(())
    }

    #[test]
    fn recognises_the_aae_local_layout() {
        assert_eq!(aae_meta_dir(FsPath::new("/d/storage/objects/b")), Some(PathBuf::from("/d/storage/meta/b")));
        assert_eq!(aae_meta_dir(FsPath::new("/d/storage/objects/b/")), Some(PathBuf::from("/d/storage/meta/b")));
        assert_eq!(aae_meta_dir(FsPath::new("/d/objects/b")), None);
        assert_eq!(aae_meta_dir(FsPath::new("/b")), None);
    }
}
