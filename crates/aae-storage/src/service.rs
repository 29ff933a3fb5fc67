//! The storage service: seed 000's `StorageInterface` over logical buckets, on one primary backend
//! and an optional dual-write secondary, each behind its own circuit breaker.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aae_config::{BucketLocation, Config, MultipartConfig, StorageBackendKind};
use aae_types::BucketPurpose;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::backend::{Backend, BackendOptions, PresignMethod, build_backend};
use crate::error::{StorageError, StorageErrorKind};
use crate::key::{validate_key, validate_prefix};
use crate::presign::{CloudFrontSigner, MAX_PRESIGN_EXPIRY_SECS};
use crate::resilience::CircuitBreaker;

mod metadata;
mod secret;

pub use metadata::ObjectMetadata;
pub use secret::{load_or_create_secret, load_or_create_url_secret};

/// A presigned request: the URL, the method it authorises, the headers the client must send, and
/// when it stops working.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresignedRequest {
    /// The URL.
    pub url: String,
    /// `GET` or `PUT`.
    pub method: String,
    /// Headers the client must send exactly (lowercase names), e.g. `content-type`.
    pub headers: BTreeMap<String, String>,
    /// Expiry time.
    pub expires_at: DateTime<Utc>,
}

/// Options of an upload.
#[derive(Debug, Clone, Default)]
pub struct UploadOptions {
    /// Content type; default `application/octet-stream`.
    pub content_type: Option<String>,
    /// Object metadata.
    pub metadata: ObjectMetadata,
}

/// The outcome of an upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadResult {
    /// Physical bucket.
    pub bucket: String,
    /// Key relative to the logical bucket.
    pub key: String,
    /// CDN URL (or direct URL without a CDN).
    pub url: String,
    /// ETag, when the backend reports one.
    pub etag: Option<String>,
    /// Version id, when the bucket is versioned.
    pub version_id: Option<String>,
    /// Bytes stored.
    pub size: u64,
}

/// An object as listed or inspected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// Key relative to the logical bucket.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification.
    pub last_modified: DateTime<Utc>,
    /// ETag, when known.
    pub etag: Option<String>,
    /// Version id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Content type (inspection only; listings leave it empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Metadata (inspection only).
    #[serde(skip_serializing_if = "ObjectMetadata::is_empty", default)]
    pub metadata: ObjectMetadata,
}

/// A backend with its breaker.
#[derive(Debug)]
pub(crate) struct Side {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) breaker: CircuitBreaker,
}

/// CDN settings resolved at start-up.
#[derive(Debug)]
struct Cdn {
    domain: Option<String>,
    signer: Option<CloudFrontSigner>,
}

/// The storage service. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct StorageService {
    buckets: BTreeMap<BucketPurpose, BucketLocation>,
    pub(crate) primary: Side,
    pub(crate) secondary: Option<Side>,
    cdn: Cdn,
    pub(crate) multipart: MultipartConfig,
    create_buckets: bool,
    ensured: Mutex<HashSet<(bool, String)>>,
}

impl StorageService {
    /// Builds the service from configuration: resolves buckets, loads (or creates) the local URL
    /// signing secret, builds the backends and the CDN signer.
    pub async fn from_config(config: &Config) -> Result<Self, StorageError> {
        let secret = load_or_create_url_secret(config)?;
        Self::from_config_with(config, BackendOptions::from_config(config, secret)).await
    }

    /// Like [`from_config`](Self::from_config) with explicit backend options (tests, tools).
    pub async fn from_config_with(config: &Config, options: BackendOptions) -> Result<Self, StorageError> {
        let storage = &config.storage;
        let mut buckets = BTreeMap::new();
        for purpose in BucketPurpose::ALL {
            let location =
                config.bucket(purpose).map_err(|e| StorageError::new(StorageErrorKind::InvalidInput, e.to_string()))?;
            buckets.insert(purpose, location);
        }
        let primary = build_backend(storage.backend, &options).await?;
        let secondary = match storage.dual_write.secondary {
            Some(kind) => Some(build_backend(kind, &options).await?),
            None => None,
        };
        let signer = match (&storage.cdn.key_pair_id, &storage.cdn.private_key_path) {
            (Some(id), Some(path)) => {
                let pem = std::fs::read_to_string(path).map_err(|e| {
                    StorageError::new(
                        StorageErrorKind::InvalidInput,
                        format!("cannot read storage.cdn.private_key_path {}: {e}", path.display()),
                    )
                })?;
                Some(
                    CloudFrontSigner::from_pem(id, &pem)
                        .map_err(|e| StorageError::new(StorageErrorKind::InvalidInput, e.to_string()))?,
                )
            }
            _ => None,
        };
        let breaker = |backend: &Arc<dyn Backend>, role: &str| {
            CircuitBreaker::new(format!("{role} {}", backend.kind().as_str()), &storage.circuit_breaker)
        };
        Ok(Self {
            buckets,
            primary: Side { breaker: breaker(&primary, "primary"), backend: primary },
            secondary: secondary.map(|b| Side { breaker: breaker(&b, "secondary"), backend: b }),
            cdn: Cdn { domain: storage.cdn.domain.clone(), signer },
            multipart: storage.multipart.clone(),
            create_buckets: storage.create_buckets,
            ensured: Mutex::new(HashSet::new()),
        })
    }

    /// The primary backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.primary.backend
    }

    /// The dual-write secondary backend, if any.
    pub fn secondary_backend(&self) -> Option<&Arc<dyn Backend>> {
        self.secondary.as_ref().map(|s| &s.backend)
    }

    /// The primary backend's circuit breaker.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.primary.breaker
    }

    /// Where a logical bucket lives.
    pub fn location(&self, purpose: BucketPurpose) -> &BucketLocation {
        // Every purpose is inserted at construction.
        &self.buckets[&purpose]
    }

    /// Every logical bucket and where it lives.
    pub fn locations(&self) -> impl Iterator<Item = &BucketLocation> {
        self.buckets.values()
    }

    /// The logical bucket and relative key of a physical bucket name and full key, as found in
    /// local signed URLs. The longest matching prefix wins.
    pub fn resolve(&self, bucket: &str, full_key: &str) -> Option<(BucketPurpose, String)> {
        self.buckets
            .values()
            .filter(|l| l.name == bucket)
            .filter_map(|l| {
                if l.prefix.is_empty() {
                    Some((l.prefix.len(), l.purpose, full_key.to_owned()))
                } else {
                    let rest = full_key.strip_prefix(l.prefix.as_str())?.strip_prefix('/')?;
                    Some((l.prefix.len(), l.purpose, rest.to_owned()))
                }
            })
            .max_by_key(|(len, _, _)| *len)
            .map(|(_, purpose, key)| (purpose, key))
    }

    /// The full key inside the physical bucket.
    pub fn full_key(&self, purpose: BucketPurpose, key: &str) -> Result<String, StorageError> {
        validate_key(key)?;
        let location = self.location(purpose);
        let full = if location.prefix.is_empty() { key.to_owned() } else { format!("{}/{key}", location.prefix) };
        validate_key(&full).map_err(|e| e.with_bucket(&location.name))?;
        Ok(full)
    }

    pub(crate) fn relative_key<'a>(&self, purpose: BucketPurpose, full: &'a str) -> &'a str {
        let prefix = &self.location(purpose).prefix;
        if prefix.is_empty() {
            full
        } else {
            full.strip_prefix(prefix.as_str()).and_then(|k| k.strip_prefix('/')).unwrap_or(full)
        }
    }

    /// Runs `op` on `side` through its breaker, naming bucket and key in errors.
    pub(crate) async fn run<T, F, Fut>(&self, side: &Side, bucket: &str, key: &str, op: F) -> Result<T, StorageError>
    where
        F: FnOnce(Arc<dyn ObjectStore>) -> Fut,
        Fut: Future<Output = Result<T, object_store::Error>>,
    {
        let store = side.backend.store(bucket)?;
        side.breaker.call(async { op(store).await.map_err(StorageError::from_object_store) }).await.map_err(|e| {
            let e = if e.bucket.is_none() { e.with_bucket(bucket) } else { e };
            if key.is_empty() || e.key.is_some() { e } else { e.with_key(key) }
        })
    }

    /// Creates the bucket on `side` once when bucket creation is enabled.
    pub(crate) async fn ensure_bucket(&self, side: &Side, secondary: bool, bucket: &str) -> Result<(), StorageError> {
        if !self.create_buckets {
            return Ok(());
        }
        let id = (secondary, bucket.to_owned());
        if self.ensured.lock().is_ok_and(|set| set.contains(&id)) {
            return Ok(());
        }
        let backend = &side.backend;
        side.breaker
            .call(async {
                if !backend.bucket_exists(bucket).await? {
                    tracing::info!(bucket, backend = backend.kind().as_str(), "creating bucket");
                    backend.create_bucket(bucket).await?;
                }
                Ok(())
            })
            .await?;
        if let Ok(mut set) = self.ensured.lock() {
            set.insert(id);
        }
        Ok(())
    }

    /// Creates every missing bucket (both sides). A no-op unless `storage.create_buckets`.
    pub async fn ensure_buckets(&self) -> Result<(), StorageError> {
        for location in self.buckets.values() {
            self.ensure_bucket(&self.primary, false, &location.name).await?;
            if let Some(secondary) = &self.secondary {
                self.ensure_bucket(secondary, true, &location.name).await?;
            }
        }
        Ok(())
    }

    /// A URL a client can PUT `content_type` data to until `expires` from now (seed 000
    /// `generate_presigned_upload_url`). The result lists the headers the client must send.
    pub async fn presigned_upload_url(
        &self,
        purpose: BucketPurpose,
        key: &str,
        content_type: &str,
        expires: Duration,
    ) -> Result<PresignedRequest, StorageError> {
        let content_type = content_type.trim();
        if content_type.is_empty() || content_type.chars().any(|c| c.is_control() || !c.is_ascii()) {
            return Err(StorageError::new(
                StorageErrorKind::InvalidInput,
                "content type must be a non-empty ASCII media type such as image/png",
            ));
        }
        self.presign(PresignMethod::Put, purpose, key, Some(content_type), expires).await
    }

    /// A URL that downloads the object until `expires` from now (seed 000
    /// `generate_presigned_download_url`).
    pub async fn presigned_download_url(
        &self,
        purpose: BucketPurpose,
        key: &str,
        expires: Duration,
    ) -> Result<PresignedRequest, StorageError> {
        self.presign(PresignMethod::Get, purpose, key, None, expires).await
    }

    async fn presign(
        &self,
        method: PresignMethod,
        purpose: BucketPurpose,
        key: &str,
        content_type: Option<&str>,
        expires: Duration,
    ) -> Result<PresignedRequest, StorageError> {
        check_expiry(expires)?;
        let full = self.full_key(purpose, key)?;
        let bucket = &self.location(purpose).name;
        if method == PresignMethod::Put {
            self.ensure_bucket(&self.primary, false, bucket).await?;
        }
        self.primary.backend.presign(method, bucket, &full, content_type, expires).await
    }

    /// Stores `data` (seed 000 `upload_file`): returns the URL, ETag and version id.
    pub async fn upload_bytes(
        &self,
        purpose: BucketPurpose,
        key: &str,
        data: Bytes,
        options: &UploadOptions,
    ) -> Result<UploadResult, StorageError> {
        let full = self.full_key(purpose, key)?;
        let bucket = self.location(purpose).name.clone();
        let attributes = options.metadata.to_attributes(options.content_type.as_deref())?;
        let size = data.len() as u64;
        let payload = PutPayload::from_bytes(data);
        self.ensure_bucket(&self.primary, false, &bucket).await?;
        let opts = PutOptions { attributes: attributes.clone(), ..Default::default() };
        let path = Path::parse(&full).map_err(|e| StorageError::new(StorageErrorKind::InvalidKey, e.to_string()))?;
        let result = self
            .run(&self.primary, &bucket, key, |store| {
                let (path, payload) = (path.clone(), payload.clone());
                async move { store.put_opts(&path, payload, opts).await }
            })
            .await?;
        if let Some(secondary) = &self.secondary {
            let outcome = async {
                self.ensure_bucket(secondary, true, &bucket).await?;
                let opts = PutOptions { attributes, ..Default::default() };
                self.run(secondary, &bucket, key, |store| async move { store.put_opts(&path, payload, opts).await })
                    .await
            }
            .await;
            if let Err(error) = outcome {
                tracing::warn!(%error, bucket = %bucket, key, "dual-write to the secondary store failed");
            }
        }
        self.upload_result(purpose, key, bucket, result, size)
    }

    /// What an upload reports back.
    pub(crate) fn upload_result(
        &self,
        purpose: BucketPurpose,
        key: &str,
        bucket: String,
        result: object_store::PutResult,
        size: u64,
    ) -> Result<UploadResult, StorageError> {
        Ok(UploadResult {
            url: self.cdn_url(purpose, key)?,
            bucket,
            key: key.to_owned(),
            etag: result.e_tag,
            version_id: result.version,
            size,
        })
    }

    /// Reads a whole object with its info (reads fall back to the secondary in dual-write mode).
    pub async fn download_bytes(&self, purpose: BucketPurpose, key: &str) -> Result<(ObjectInfo, Bytes), StorageError> {
        let (info, stream) = self.download(purpose, key).await?;
        let chunks: Vec<Bytes> = stream.try_collect().await?;
        let mut out = bytes::BytesMut::with_capacity(info.size as usize);
        for chunk in chunks {
            out.extend_from_slice(&chunk);
        }
        Ok((info, out.freeze()))
    }

    /// Deletes an object (seed 000 `delete_file`); deleting a missing object succeeds. In
    /// dual-write mode the object is deleted from both stores.
    pub async fn delete(&self, purpose: BucketPurpose, key: &str) -> Result<(), StorageError> {
        let full = self.full_key(purpose, key)?;
        let bucket = self.location(purpose).name.clone();
        let path = Path::parse(&full).map_err(|e| StorageError::new(StorageErrorKind::InvalidKey, e.to_string()))?;
        for side in std::iter::once(&self.primary).chain(self.secondary.as_ref()) {
            let result = self
                .run(side, &bucket, key, |store| {
                    let path = path.clone();
                    async move { store.delete(&path).await }
                })
                .await;
            match result {
                Ok(()) => {}
                Err(e) if e.kind == StorageErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Whether the object exists (seed 000 `file_exists`), on either store in dual-write mode.
    pub async fn exists(&self, purpose: BucketPurpose, key: &str) -> Result<bool, StorageError> {
        match self.head(purpose, key).await {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.kind, StorageErrorKind::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Size, ETag, version, content type and metadata of an object.
    pub async fn head(&self, purpose: BucketPurpose, key: &str) -> Result<ObjectInfo, StorageError> {
        let full = self.full_key(purpose, key)?;
        let bucket = self.location(purpose).name.clone();
        let path = Path::parse(&full).map_err(|e| StorageError::new(StorageErrorKind::InvalidKey, e.to_string()))?;
        self.read_with_fallback(&bucket, key, |side| {
            let path = path.clone();
            let bucket = bucket.clone();
            async move {
                let result = self
                    .run(side, &bucket, key, |store| async move {
                        store.get_opts(&path, GetOptions { head: true, ..Default::default() }).await
                    })
                    .await?;
                Ok(info_from_get(key, &result.meta, &result.attributes))
            }
        })
        .await
    }

    /// Runs a read on the primary, and on the secondary when the primary has no such object.
    pub(crate) async fn read_with_fallback<'a, T, F, Fut>(
        &'a self,
        bucket: &str,
        key: &str,
        read: F,
    ) -> Result<T, StorageError>
    where
        F: Fn(&'a Side) -> Fut,
        Fut: Future<Output = Result<T, StorageError>>,
    {
        match read(&self.primary).await {
            Err(e) if matches!(e.kind, StorageErrorKind::NotFound | StorageErrorKind::NoSuchBucket) => {
                match &self.secondary {
                    Some(secondary) => {
                        tracing::debug!(bucket, key, "object missing on primary, reading from secondary");
                        read(secondary)
                            .await
                            .map_err(|fallback| if fallback.kind == StorageErrorKind::NotFound { e } else { fallback })
                    }
                    None => Err(e),
                }
            }
            other => other,
        }
    }

    /// Objects whose keys start with `prefix`, in key order, at most `max_results` (seed 000
    /// `list_files`). Listing reads the primary store.
    pub async fn list(
        &self,
        purpose: BucketPurpose,
        prefix: &str,
        max_results: usize,
    ) -> Result<Vec<ObjectInfo>, StorageError> {
        validate_prefix(prefix)?;
        let location = self.location(purpose);
        let full_prefix = match (location.prefix.is_empty(), prefix.is_empty()) {
            (true, _) => prefix.to_owned(),
            (false, true) => format!("{}/", location.prefix),
            (false, false) => format!("{}/{prefix}", location.prefix),
        };
        // object_store lists whole path segments; list the parent folder and filter by the raw prefix.
        let dir = full_prefix.rfind('/').map_or("", |i| &full_prefix[..i]);
        let dir_path = Path::parse(dir).map_err(|e| StorageError::new(StorageErrorKind::InvalidKey, e.to_string()))?;
        let sorted_natively = matches!(self.primary.backend.kind(), StorageBackendKind::S3 | StorageBackendKind::Gcs);
        let bucket = location.name.clone();
        let mut objects = self
            .run(&self.primary, &bucket, "", |store| {
                let full_prefix = full_prefix.clone();
                async move {
                    let listing =
                        store.list(if dir.is_empty() { None } else { Some(&dir_path) }).try_filter(move |meta| {
                            futures::future::ready(meta.location.as_ref().starts_with(full_prefix.as_str()))
                        });
                    if sorted_natively {
                        listing.take(max_results).try_collect::<Vec<_>>().await
                    } else {
                        listing.try_collect::<Vec<_>>().await
                    }
                }
            })
            .await?;
        if !sorted_natively {
            objects.sort_by(|a, b| a.location.cmp(&b.location));
            objects.truncate(max_results);
        }
        Ok(objects
            .into_iter()
            .map(|meta| ObjectInfo {
                key: self.relative_key(purpose, meta.location.as_ref()).to_owned(),
                size: meta.size,
                last_modified: meta.last_modified,
                etag: meta.e_tag,
                version_id: meta.version,
                content_type: None,
                metadata: ObjectMetadata::default(),
            })
            .collect())
    }

    /// The public URL of an object (seed 000 `get_cdn_url`): `https://{cdn domain}/{key}` with
    /// the key percent-encoded, or the backend's direct URL without a CDN.
    pub fn cdn_url(&self, purpose: BucketPurpose, key: &str) -> Result<String, StorageError> {
        let full = self.full_key(purpose, key)?;
        Ok(match &self.cdn.domain {
            Some(domain) => format!("https://{domain}/{}", crate::backend::encode_key(&full)),
            None => self.primary.backend.object_url(&self.location(purpose).name, &full),
        })
    }

    /// A CloudFront signed URL (canned policy) valid for `expires`. Needs
    /// `storage.cdn.key_pair_id` and `storage.cdn.private_key_path`.
    pub fn signed_cdn_url(&self, purpose: BucketPurpose, key: &str, expires: Duration) -> Result<String, StorageError> {
        check_expiry(expires)?;
        let url = self.cdn_url(purpose, key)?;
        let signer = self.cdn.signer.as_ref().ok_or_else(|| {
            StorageError::new(
                StorageErrorKind::NotSupported,
                "cloudfront signed urls need AAE__STORAGE__CDN__KEY_PAIR_ID and AAE__STORAGE__CDN__PRIVATE_KEY_PATH",
            )
        })?;
        let expires_at = (Utc::now() + expires).timestamp();
        signer.sign_url(&url, expires_at).map_err(|e| StorageError::new(StorageErrorKind::Internal, e.to_string()))
    }
}

impl StorageService {
    /// The CDN's health line, when a CDN is configured. CloudFront is not probed over the
    /// network; the line says whether signed URLs are available.
    pub(crate) fn cdn_health(&self) -> Option<aae_types::ServiceHealth> {
        let domain = self.cdn.domain.as_ref()?;
        let signing = if self.cdn.signer.is_some() { "signed urls enabled" } else { "unsigned urls" };
        Some(crate::health::line("cdn", true, format!("https://{domain} ({signing})"), std::time::Instant::now()))
    }
}

fn check_expiry(expires: Duration) -> Result<(), StorageError> {
    let secs = expires.as_secs();
    if expires.subsec_nanos() != 0 || !(1..=MAX_PRESIGN_EXPIRY_SECS).contains(&secs) {
        return Err(StorageError::new(
            StorageErrorKind::InvalidInput,
            format!(
                "expiry must be a whole number of seconds from 1 to {MAX_PRESIGN_EXPIRY_SECS} (7 days), got {expires:?}"
            ),
        ));
    }
    Ok(())
}

pub(crate) fn info_from_get(
    key: &str,
    meta: &object_store::ObjectMeta,
    attributes: &object_store::Attributes,
) -> ObjectInfo {
    ObjectInfo {
        key: key.to_owned(),
        size: meta.size,
        last_modified: meta.last_modified,
        etag: meta.e_tag.clone(),
        version_id: meta.version.clone(),
        content_type: attributes.get(&object_store::Attribute::ContentType).map(|v| v.as_ref().to_owned()),
        metadata: ObjectMetadata::from_attributes(attributes),
    }
}
