//! Google Cloud Storage through `object_store`'s `GoogleCloudStorage`, with V4 signed URLs
//! (`GOOG4-RSA-SHA256`) from a service-account key.
//!
//! Bucket creation needs a project and is left to the operator: a missing bucket is reported
//! with the command that creates it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aae_config::StorageBackendKind;
use async_trait::async_trait;
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::gcp::{GoogleCloudStorage, GoogleCloudStorageBuilder};
use object_store::path::Path;
use object_store::signer::Signer;

use super::{Backend, BackendOptions, PresignMethod, StoreCache};
use crate::error::{StorageError, StorageErrorKind};
use crate::service::PresignedRequest;

/// The GCS backend.
#[derive(Debug)]
pub struct GcsBackend {
    service_account: Option<PathBuf>,
    options: BackendOptions,
    stores: StoreCache,
    signers: std::sync::Mutex<std::collections::HashMap<String, Arc<GoogleCloudStorage>>>,
}

impl GcsBackend {
    /// A backend using `storage.gcs.service_account_path` or `GOOGLE_APPLICATION_CREDENTIALS`.
    pub fn new(options: &BackendOptions) -> Result<Self, StorageError> {
        let service_account = options
            .gcs
            .service_account_path
            .clone()
            .or_else(|| std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS").map(PathBuf::from));
        if let Some(path) = &service_account
            && !path.is_file()
        {
            return Err(StorageError::new(
                StorageErrorKind::InvalidInput,
                format!(
                    "gcs service account key {} does not exist; fix AAE__STORAGE__GCS__SERVICE_ACCOUNT_PATH",
                    path.display()
                ),
            ));
        }
        Ok(Self {
            service_account,
            options: options.clone(),
            stores: StoreCache::default(),
            signers: Default::default(),
        })
    }

    fn build(&self, bucket: &str) -> Result<Arc<GoogleCloudStorage>, StorageError> {
        let mut builder = GoogleCloudStorageBuilder::new()
            .with_bucket_name(bucket)
            .with_retry(self.options.retry_config())
            .with_client_options(self.options.client_options(false));
        if let Some(path) = &self.service_account {
            builder = builder.with_service_account_path(path.to_string_lossy());
        }
        let store = builder.build().map_err(|e| StorageError::from_object_store(e).with_bucket(bucket))?;
        Ok(Arc::new(store))
    }

    fn gcs(&self, bucket: &str) -> Result<Arc<GoogleCloudStorage>, StorageError> {
        let mut map =
            self.signers.lock().map_err(|_| StorageError::new(StorageErrorKind::Internal, "gcs cache poisoned"))?;
        if let Some(store) = map.get(bucket) {
            return Ok(Arc::clone(store));
        }
        let store = self.build(bucket)?;
        map.insert(bucket.to_owned(), Arc::clone(&store));
        Ok(store)
    }
}

#[async_trait]
impl Backend for GcsBackend {
    fn kind(&self) -> StorageBackendKind {
        StorageBackendKind::Gcs
    }

    fn describe(&self) -> String {
        "gcs https://storage.googleapis.com".to_owned()
    }

    fn store(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>, StorageError> {
        self.stores.get_or_try_insert(bucket, || Ok(self.gcs(bucket)? as Arc<dyn ObjectStore>))
    }

    async fn presign(
        &self,
        method: PresignMethod,
        bucket: &str,
        key: &str,
        _content_type: Option<&str>,
        expires: Duration,
    ) -> Result<PresignedRequest, StorageError> {
        if self.service_account.is_none() {
            return Err(StorageError::new(
                StorageErrorKind::NotSupported,
                "gcs signed urls need a service-account key: set AAE__STORAGE__GCS__SERVICE_ACCOUNT_PATH",
            ));
        }
        let http_method = match method {
            PresignMethod::Get => http::Method::GET,
            PresignMethod::Put => http::Method::PUT,
        };
        let now = chrono::Utc::now();
        let url = self
            .gcs(bucket)?
            .signed_url(http_method, &Path::from(key), expires)
            .await
            .map_err(|e| StorageError::from_object_store(e).with_bucket(bucket).with_key(key))?;
        Ok(PresignedRequest {
            url: url.to_string(),
            method: method.as_str().to_owned(),
            headers: Default::default(),
            expires_at: now + expires,
        })
    }

    fn object_url(&self, bucket: &str, key: &str) -> String {
        format!("https://storage.googleapis.com/{bucket}/{}", super::encode_key(key))
    }

    async fn bucket_exists(&self, bucket: &str) -> Result<bool, StorageError> {
        let store = self.store(bucket)?;
        let mut listing = store.list(None);
        match listing.next().await {
            None | Some(Ok(_)) => Ok(true),
            Some(Err(e)) => {
                let error = StorageError::from_object_store(e);
                match error.kind {
                    StorageErrorKind::NoSuchBucket | StorageErrorKind::NotFound => Ok(false),
                    _ => Err(error.with_bucket(bucket)),
                }
            }
        }
    }

    async fn create_bucket(&self, bucket: &str) -> Result<(), StorageError> {
        if self.bucket_exists(bucket).await? {
            return Ok(());
        }
        Err(StorageError::new(
            StorageErrorKind::NotSupported,
            format!(
                "create gcs buckets with `gcloud storage buckets create gs://{bucket}`; AAE does not know your project"
            ),
        )
        .with_bucket(bucket))
    }
}
