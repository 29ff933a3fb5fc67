//! Process memory: one `InMemory` store per bucket, lost on exit. Presigned URLs use the same
//! HMAC scheme as local files and are served by `aae serve` in the same process.

use std::sync::Arc;
use std::time::Duration;

use aae_config::StorageBackendKind;
use async_trait::async_trait;
use object_store::ObjectStore;
use object_store::memory::InMemory;

use super::local::hmac_presign;
use super::{Backend, BackendOptions, PresignMethod, StoreCache};
use crate::error::{StorageError, StorageErrorKind};
use crate::presign::LocalUrlSigner;
use crate::service::PresignedRequest;

/// The in-memory backend.
#[derive(Debug)]
pub struct MemoryBackend {
    signer: LocalUrlSigner,
    stores: StoreCache,
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new(options: &BackendOptions) -> Result<Self, StorageError> {
        Ok(Self {
            signer: LocalUrlSigner::new(&options.url_signing_secret, &options.public_url)
                .map_err(|e| StorageError::new(StorageErrorKind::InvalidInput, e.to_string()))?,
            stores: StoreCache::default(),
        })
    }

    /// The URL signer, shared with the HTTP routes that verify these URLs.
    pub fn signer(&self) -> &LocalUrlSigner {
        &self.signer
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    fn kind(&self) -> StorageBackendKind {
        StorageBackendKind::Memory
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }

    fn store(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>, StorageError> {
        self.stores.get_or_try_insert(bucket, || Ok(Arc::new(InMemory::new()) as Arc<dyn ObjectStore>))
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
        format!("memory://{bucket}/{}", super::encode_key(key))
    }

    fn local_signer(&self) -> Option<&LocalUrlSigner> {
        Some(&self.signer)
    }

    async fn bucket_exists(&self, _bucket: &str) -> Result<bool, StorageError> {
        Ok(true)
    }

    async fn create_bucket(&self, bucket: &str) -> Result<(), StorageError> {
        self.store(bucket).map(|_| ())
    }
}
