//! Local files under `{data_dir}/storage/objects/{bucket}/{key}`, attributes under
//! `{data_dir}/storage/meta/{bucket}/{key}`, presigned URLs served by `aae serve` and signed with
//! HMAC-SHA256. Bucket directories are created on first use: the embedded default needs no setup.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aae_config::StorageBackendKind;
use async_trait::async_trait;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;

use super::sidecar::SidecarMetadata;
use super::{Backend, BackendOptions, PresignMethod, StoreCache};
use crate::error::{StorageError, StorageErrorKind};
use crate::presign::LocalUrlSigner;
use crate::service::PresignedRequest;

/// The local-files backend.
#[derive(Debug)]
pub struct LocalBackend {
    objects: PathBuf,
    meta: PathBuf,
    signer: LocalUrlSigner,
    stores: StoreCache,
}

impl LocalBackend {
    /// A backend rooted at `{data_dir}/storage`.
    pub fn new(options: &BackendOptions) -> Result<Self, StorageError> {
        let root = options.data_dir.join("storage");
        Ok(Self {
            objects: root.join("objects"),
            meta: root.join("meta"),
            signer: LocalUrlSigner::new(&options.url_signing_secret, &options.public_url)
                .map_err(|e| StorageError::new(StorageErrorKind::InvalidInput, e.to_string()))?,
            stores: StoreCache::default(),
        })
    }

    /// The directory holding `bucket`'s objects.
    pub fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.objects.join(bucket)
    }

    /// The URL signer, shared with the HTTP routes that verify these URLs.
    pub fn signer(&self) -> &LocalUrlSigner {
        &self.signer
    }
}

fn fs_store(dir: &FsPath) -> Result<Arc<dyn ObjectStore>, StorageError> {
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let store = LocalFileSystem::new_with_prefix(dir).map_err(StorageError::from_object_store)?;
    Ok(Arc::new(store.with_automatic_cleanup(true)))
}

fn io_error(dir: &FsPath, e: std::io::Error) -> StorageError {
    let kind = if e.kind() == std::io::ErrorKind::PermissionDenied {
        StorageErrorKind::AccessDenied
    } else {
        StorageErrorKind::Internal
    };
    StorageError::new(kind, format!("cannot use directory {}: {e}; check AAE__DATA_DIR", dir.display()))
}

#[async_trait]
impl Backend for LocalBackend {
    fn kind(&self) -> StorageBackendKind {
        StorageBackendKind::Local
    }

    fn describe(&self) -> String {
        format!("local {}", self.objects.display())
    }

    fn store(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>, StorageError> {
        self.stores.get_or_try_insert(bucket, || {
            let data = fs_store(&self.objects.join(bucket))?;
            let meta = fs_store(&self.meta.join(bucket))?;
            Ok(Arc::new(SidecarMetadata::new(data, meta)) as Arc<dyn ObjectStore>)
        })
    }

    async fn presign(
        &self,
        method: PresignMethod,
        bucket: &str,
        key: &str,
        content_type: Option<&str>,
        expires: Duration,
    ) -> Result<PresignedRequest, StorageError> {
        Ok(hmac_presign(&self.signer, method, bucket, key, content_type, expires))
    }

    fn object_url(&self, bucket: &str, key: &str) -> String {
        format!("file://{}/{}", self.objects.join(bucket).display(), super::encode_key(key))
    }

    fn local_signer(&self) -> Option<&LocalUrlSigner> {
        Some(&self.signer)
    }

    /// Local buckets are folders created on first use, so a bucket "exists" when its folder
    /// exists or can be created; an unwritable data directory is an error.
    async fn bucket_exists(&self, bucket: &str) -> Result<bool, StorageError> {
        self.store(bucket).map(|_| true)
    }

    async fn create_bucket(&self, bucket: &str) -> Result<(), StorageError> {
        self.store(bucket).map(|_| ())
    }
}

/// A presigned request in the HMAC scheme served by `aae serve`.
pub(crate) fn hmac_presign(
    signer: &LocalUrlSigner,
    method: PresignMethod,
    bucket: &str,
    key: &str,
    content_type: Option<&str>,
    expires: Duration,
) -> PresignedRequest {
    let expires_at = chrono::Utc::now() + expires;
    let content_type = content_type.filter(|_| method == PresignMethod::Put);
    let url = signer.sign(method.as_str(), bucket, key, content_type, expires_at.timestamp());
    let mut headers = std::collections::BTreeMap::new();
    if let Some(ct) = content_type {
        headers.insert("content-type".to_owned(), ct.to_owned());
    }
    PresignedRequest { url, method: method.as_str().to_owned(), headers, expires_at }
}
