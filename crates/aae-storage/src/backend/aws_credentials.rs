//! AWS credentials from the standard chain (environment, profile, SSO, web identity, ECS, IMDS),
//! cached until shortly before they expire, shared by `object_store` and our presigner.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use object_store::CredentialProvider;
use object_store::aws::AwsCredential;
use tokio::sync::RwLock;

use crate::error::{StorageError, StorageErrorKind};

/// Explicit credentials, used instead of the chain.
#[derive(Clone)]
pub struct StaticAwsCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token.
    pub session_token: Option<String>,
}

impl fmt::Debug for StaticAwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticAwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .finish()
    }
}

/// Refresh credentials this long before they expire.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Credentials resolved once and refreshed before expiry.
pub struct AwsCredentialCache {
    provider: Option<SharedCredentialsProvider>,
    cached: RwLock<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

impl fmt::Debug for AwsCredentialCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentialCache").finish_non_exhaustive()
    }
}

impl AwsCredentialCache {
    /// A cache over the AWS chain's provider.
    pub fn from_provider(provider: SharedCredentialsProvider) -> Self {
        Self { provider: Some(provider), cached: RwLock::new(None) }
    }

    /// A cache holding fixed credentials.
    pub fn fixed(creds: &StaticAwsCredentials) -> Self {
        let credential = AwsCredential {
            key_id: creds.access_key_id.clone(),
            secret_key: creds.secret_access_key.clone(),
            token: creds.session_token.clone(),
        };
        Self { provider: None, cached: RwLock::new(Some((Arc::new(credential), None))) }
    }

    /// Current credentials, resolving or refreshing them when needed.
    pub async fn get(&self) -> Result<Arc<AwsCredential>, StorageError> {
        if let Some((cred, expiry)) = self.cached.read().await.as_ref()
            && expiry.is_none_or(|e| e > SystemTime::now() + REFRESH_MARGIN)
        {
            return Ok(Arc::clone(cred));
        }
        let Some(provider) = &self.provider else {
            return Err(StorageError::new(StorageErrorKind::AccessDenied, "fixed AWS credentials have expired"));
        };
        let mut slot = self.cached.write().await;
        if let Some((cred, expiry)) = slot.as_ref()
            && expiry.is_none_or(|e| e > SystemTime::now() + REFRESH_MARGIN)
        {
            return Ok(Arc::clone(cred));
        }
        let creds = provider.provide_credentials().await.map_err(|e| {
            StorageError::new(
                StorageErrorKind::AccessDenied,
                format!(
                    "no AWS credentials: {e}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run on a host with an IAM role"
                ),
            )
        })?;
        let credential = Arc::new(AwsCredential {
            key_id: creds.access_key_id().to_owned(),
            secret_key: creds.secret_access_key().to_owned(),
            token: creds.session_token().map(str::to_owned),
        });
        *slot = Some((Arc::clone(&credential), creds.expiry()));
        Ok(credential)
    }
}

/// Adapter so `object_store` signs with the same cached credentials.
#[derive(Debug)]
pub(crate) struct ObjectStoreCredentials(pub(crate) Arc<AwsCredentialCache>);

#[async_trait]
impl CredentialProvider for ObjectStoreCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        self.0
            .get()
            .await
            .map_err(|e| object_store::Error::Unauthenticated { path: String::new(), source: Box::new(e) })
    }
}
