//! Storage backends: one trait, one module per implementation, one factory from config.
//!
//! A backend turns a physical bucket name into an `Arc<dyn ObjectStore>` and supplies what
//! `object_store` does not: presigned URLs in the backend's own scheme, direct object URLs, bucket
//! existence and creation, and a health probe.

mod aws_credentials;
mod gcs;
mod local;
mod memory;
mod s3;
pub mod sidecar;

use std::collections::HashMap;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aae_config::{Config, GcsConfig, RetryConfig, S3Config, StorageBackendKind};
use async_trait::async_trait;
use object_store::ObjectStore;

pub use aws_credentials::{AwsCredentialCache, StaticAwsCredentials};
pub use gcs::GcsBackend;
pub use local::LocalBackend;
pub use memory::MemoryBackend;
pub use s3::S3Backend;

use crate::error::{StorageError, StorageErrorKind};
use crate::service::PresignedRequest;

/// HTTP methods a presigned URL can authorise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresignMethod {
    /// Download.
    Get,
    /// Upload.
    Put,
}

impl PresignMethod {
    /// Upper-case HTTP spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Put => "PUT",
        }
    }
}

/// One storage backend. Implementations are cheap to share (`Arc<dyn Backend>`).
#[async_trait]
pub trait Backend: Send + Sync + Debug {
    /// Which backend this is.
    fn kind(&self) -> StorageBackendKind;

    /// A human-readable location for health lines and errors, e.g. `s3 http://127.0.0.1:5000`.
    /// Never contains credentials.
    fn describe(&self) -> String;

    /// The object store for `bucket` (cached per bucket). Keys given to it are full keys.
    fn store(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>, StorageError>;

    /// A URL that authorises `method` on `bucket`/`key` until `expires` from now. When
    /// `content_type` is given for a PUT, the uploader must send it; every header the URL needs
    /// is listed in the result.
    async fn presign(
        &self,
        method: PresignMethod,
        bucket: &str,
        key: &str,
        content_type: Option<&str>,
        expires: Duration,
    ) -> Result<PresignedRequest, StorageError>;

    /// The direct (non-CDN) URL of an object, unsigned.
    fn object_url(&self, bucket: &str, key: &str) -> String;

    /// Whether the bucket exists.
    async fn bucket_exists(&self, bucket: &str) -> Result<bool, StorageError>;

    /// Creates the bucket; succeeds when it already exists and is ours.
    async fn create_bucket(&self, bucket: &str) -> Result<(), StorageError>;

    /// The HMAC signer when this backend's presigned URLs are served by `aae serve`.
    fn local_signer(&self) -> Option<&crate::presign::LocalUrlSigner> {
        None
    }

    /// Whether objects written to `bucket` get version ids.
    async fn versioning_enabled(&self, _bucket: &str) -> Result<bool, StorageError> {
        Ok(false)
    }
}

/// Everything a backend needs, taken from the configuration.
#[derive(Debug, Clone)]
pub struct BackendOptions {
    /// Root for local files: objects live in `{data_dir}/storage/objects/{bucket}`.
    pub data_dir: PathBuf,
    /// Base of local signed URLs (`server.public_url`).
    pub public_url: String,
    /// HMAC key for local signed URLs.
    pub url_signing_secret: Vec<u8>,
    /// AWS region from `aws.region` (else the AWS chain).
    pub aws_region: Option<String>,
    /// AWS endpoint from `aws.endpoint_url` (else `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`).
    pub aws_endpoint: Option<String>,
    /// AWS profile from `aws.profile` (else `AWS_PROFILE`).
    pub aws_profile: Option<String>,
    /// Explicit credentials instead of the AWS chain (tests, `migrate` with per-side keys).
    pub aws_credentials: Option<StaticAwsCredentials>,
    /// S3 settings.
    pub s3: S3Config,
    /// GCS settings.
    pub gcs: GcsConfig,
    /// Retry and timeout policy for HTTP backends.
    pub retry: RetryConfig,
}

impl BackendOptions {
    /// Options from a loaded configuration and the URL-signing secret.
    pub fn from_config(config: &Config, url_signing_secret: Vec<u8>) -> Self {
        Self {
            data_dir: config.data_dir.clone(),
            public_url: config.server.public_base_url(),
            url_signing_secret,
            aws_region: config.aws.region.clone(),
            aws_endpoint: config.aws.endpoint_url.clone(),
            aws_profile: config.aws.profile.clone(),
            aws_credentials: None,
            s3: config.storage.s3.clone(),
            gcs: config.storage.gcs.clone(),
            retry: config.storage.retry.clone(),
        }
    }

    /// `object_store` client options with our timeouts.
    pub(crate) fn client_options(&self, allow_http: bool) -> object_store::ClientOptions {
        object_store::ClientOptions::new()
            .with_allow_http(allow_http)
            .with_timeout(Duration::from_secs(self.retry.request_timeout_secs))
            .with_connect_timeout(Duration::from_secs(self.retry.connect_timeout_secs))
            .with_pool_idle_timeout(Duration::from_secs(60))
    }

    /// `object_store`'s retry policy from ours: exponential backoff with jitter, retrying only
    /// 5xx, 429, timeouts and connection errors, capped in count and total time.
    pub(crate) fn retry_config(&self) -> object_store::RetryConfig {
        object_store::RetryConfig {
            backoff: object_store::BackoffConfig {
                init_backoff: Duration::from_millis(self.retry.initial_backoff_ms),
                max_backoff: Duration::from_millis(self.retry.max_backoff_ms),
                base: 2.0,
            },
            max_retries: self.retry.max_retries as usize,
            retry_timeout: Duration::from_secs(self.retry.retry_timeout_secs),
        }
    }
}

/// Builds the backend of `kind`.
pub async fn build_backend(
    kind: StorageBackendKind,
    options: &BackendOptions,
) -> Result<Arc<dyn Backend>, StorageError> {
    Ok(match kind {
        StorageBackendKind::Local => Arc::new(LocalBackend::new(options)?),
        StorageBackendKind::Memory => Arc::new(MemoryBackend::new(options)?),
        StorageBackendKind::S3 => Arc::new(S3Backend::new(options).await?),
        StorageBackendKind::Gcs => Arc::new(GcsBackend::new(options)?),
    })
}

/// A per-bucket cache of object stores.
#[derive(Debug, Default)]
pub(crate) struct StoreCache(Mutex<HashMap<String, Arc<dyn ObjectStore>>>);

impl StoreCache {
    pub(crate) fn get_or_try_insert(
        &self,
        bucket: &str,
        build: impl FnOnce() -> Result<Arc<dyn ObjectStore>, StorageError>,
    ) -> Result<Arc<dyn ObjectStore>, StorageError> {
        let mut map =
            self.0.lock().map_err(|_| StorageError::new(StorageErrorKind::Internal, "store cache poisoned"))?;
        if let Some(store) = map.get(bucket) {
            return Ok(Arc::clone(store));
        }
        let store = build()?;
        map.insert(bucket.to_owned(), Arc::clone(&store));
        Ok(store)
    }
}

/// Percent-encodes a key for a URL path, keeping `/`.
pub(crate) fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 8);
    crate::presign::uri_encode(key, true, &mut out);
    out
}
