//! Amazon S3 and S3-compatible servers: data through `object_store`'s `AmazonS3`, presigned URLs
//! through our SigV4 presigner, bucket administration (exists, create, versioning) through
//! presigned requests, all with credentials from the AWS chain.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use aae_config::{SseKind, StorageBackendKind};
use async_trait::async_trait;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, AwsCredential};
use secrecy::SecretString;

use super::aws_credentials::{AwsCredentialCache, ObjectStoreCredentials};
use super::{Backend, BackendOptions, PresignMethod, StoreCache};
use crate::error::{StorageError, StorageErrorKind};
use crate::presign::sigv4::SigV4Credentials;
use crate::presign::{PresignInput, SigV4Presigner, SignError};
use crate::resilience::retry_request;
use crate::service::PresignedRequest;

/// The S3 backend.
pub struct S3Backend {
    /// Endpoint base URL; `None` means AWS itself.
    endpoint: Option<String>,
    region: String,
    path_style: bool,
    sse: Option<(SseKind, Option<String>)>,
    credentials: Arc<AwsCredentialCache>,
    presigner: RwLock<Option<(Arc<AwsCredential>, Arc<SigV4Presigner>)>>,
    options: BackendOptions,
    http: reqwest::Client,
    stores: StoreCache,
}

impl std::fmt::Debug for S3Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Backend")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Whether `endpoint`'s host cannot carry a bucket sub-domain (IP addresses, `localhost`).
fn host_needs_path_style(endpoint: &str) -> bool {
    url::Url::parse(endpoint).ok().is_some_and(|url| match url.host() {
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => true,
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    })
}

impl S3Backend {
    /// Resolves endpoint, region and credentials (explicit, or the AWS chain).
    pub async fn new(options: &BackendOptions) -> Result<Self, StorageError> {
        let endpoint = options
            .s3
            .endpoint
            .clone()
            .or_else(|| options.aws_endpoint.clone())
            .or_else(|| env_nonempty("AWS_ENDPOINT_URL_S3"))
            .or_else(|| env_nonempty("AWS_ENDPOINT_URL"))
            .map(|e| e.trim_end_matches('/').to_owned());
        let explicit_region = options.s3.region.clone().or_else(|| options.aws_region.clone());
        let (credentials, region) = match &options.aws_credentials {
            Some(fixed) => (AwsCredentialCache::fixed(fixed), explicit_region.or_else(|| env_nonempty("AWS_REGION"))),
            None => {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
                if let Some(profile) = &options.aws_profile {
                    loader = loader.profile_name(profile);
                }
                if let Some(region) = &explicit_region {
                    loader = loader.region(aws_config::Region::new(region.clone()));
                }
                let sdk = loader.load().await;
                let provider = sdk.credentials_provider().ok_or_else(|| {
                    StorageError::new(StorageErrorKind::AccessDenied, "no AWS credential provider is configured")
                })?;
                (AwsCredentialCache::from_provider(provider), sdk.region().map(|r| r.to_string()).or(explicit_region))
            }
        };
        let region = region.unwrap_or_else(|| "us-east-1".to_owned());
        let path_style = options.s3.force_path_style || endpoint.as_deref().is_some_and(host_needs_path_style);
        let sse = options.s3.sse.map(|kind| (kind, options.s3.kms_key_id.clone()));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(options.retry.request_timeout_secs))
            .connect_timeout(Duration::from_secs(options.retry.connect_timeout_secs))
            .build()
            .map_err(|e| StorageError::new(StorageErrorKind::Internal, format!("http client: {e}")))?;
        Ok(Self {
            endpoint,
            region,
            path_style,
            sse,
            credentials: Arc::new(credentials),
            presigner: RwLock::new(None),
            options: options.clone(),
            http,
            stores: StoreCache::default(),
        })
    }

    /// The endpoint base URL requests go to.
    fn endpoint_url(&self) -> String {
        self.endpoint.clone().unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", self.region))
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    async fn presigner(&self) -> Result<Arc<SigV4Presigner>, StorageError> {
        let credential = self.credentials.get().await?;
        if let Ok(guard) = self.presigner.read()
            && let Some((cred, presigner)) = guard.as_ref()
            && Arc::ptr_eq(cred, &credential)
        {
            return Ok(Arc::clone(presigner));
        }
        let presigner = Arc::new(
            SigV4Presigner::new(
                &self.endpoint_url(),
                &self.region,
                "s3",
                self.path_style,
                SigV4Credentials {
                    access_key_id: credential.key_id.clone(),
                    secret_access_key: SecretString::from(credential.secret_key.clone()),
                    session_token: credential.token.clone().map(SecretString::from),
                },
            )
            .map_err(sign_error)?,
        );
        if let Ok(mut guard) = self.presigner.write() {
            *guard = Some((credential, Arc::clone(&presigner)));
        }
        Ok(presigner)
    }

    fn sse_headers(&self) -> Vec<(&'static str, String)> {
        match &self.sse {
            Some((SseKind::Aes256, _)) => vec![("x-amz-server-side-encryption", "AES256".to_owned())],
            Some((SseKind::AwsKms, key)) => {
                let mut headers = vec![("x-amz-server-side-encryption", "aws:kms".to_owned())];
                if let Some(key) = key {
                    headers.push(("x-amz-server-side-encryption-aws-kms-key-id", key.clone()));
                }
                headers
            }
            None => Vec::new(),
        }
    }

    /// Sends a presigned bucket-level request, retrying retryable failures.
    async fn bucket_request(
        &self,
        method: &'static str,
        bucket: &str,
        query: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<(u16, String), StorageError> {
        let presigner = self.presigner().await?;
        let url = presigner
            .presign(
                &PresignInput { method, bucket, key: "", query, expires_secs: 300, signed_headers: &[] },
                chrono::Utc::now(),
            )
            .map_err(sign_error)?;
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| StorageError::new(StorageErrorKind::Internal, e.to_string()))?;
        retry_request(&self.options.retry, || {
            let mut request = self.http.request(method.clone(), &url);
            if method == reqwest::Method::PUT && body.is_none() {
                // Some servers answer 411 to a PUT without a length.
                request = request.header("content-length", "0");
            }
            if let Some(body) = &body {
                use base64::Engine as _;
                use md5::Digest as _;
                let digest = md5::Md5::digest(body.as_bytes());
                request = request
                    .header("content-md5", base64::engine::general_purpose::STANDARD.encode(digest))
                    .body(body.clone());
            }
            send_text(request)
        })
        .await
        .map_err(|e| e.with_bucket(bucket))
    }
}

/// Sends a request and returns its status and body text.
async fn send_text(request: reqwest::RequestBuilder) -> Result<(u16, String), reqwest::Error> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await.unwrap_or_default()))
}

fn sign_error(e: SignError) -> StorageError {
    let kind = match e {
        SignError::InvalidExpiry { .. } | SignError::InvalidBucket { .. } | SignError::InvalidHeader { .. } => {
            StorageErrorKind::InvalidInput
        }
        SignError::InvalidCredentials { .. } => StorageErrorKind::AccessDenied,
        _ => StorageErrorKind::Internal,
    };
    StorageError::new(kind, e.to_string())
}

fn xml_code(body: &str) -> &str {
    body.split_once("<Code>").and_then(|(_, rest)| rest.split_once("</Code>")).map_or("", |(code, _)| code)
}

fn status_error(status: u16, body: &str) -> StorageError {
    let code = xml_code(body);
    let kind = match (status, code) {
        (_, "NoSuchBucket") => StorageErrorKind::NoSuchBucket,
        (401 | 403, _) => StorageErrorKind::AccessDenied,
        (404, _) => StorageErrorKind::NotFound,
        (409, _) => StorageErrorKind::Conflict,
        (301 | 307, _) => StorageErrorKind::InvalidInput,
        (s, _) if s >= 500 || s == 429 => StorageErrorKind::Unavailable,
        _ => StorageErrorKind::Internal,
    };
    let hint = if matches!(status, 301 | 307) {
        "; the bucket is in another region: set AAE__STORAGE__S3__REGION"
    } else {
        ""
    };
    StorageError::new(kind, format!("s3 answered {status} {code}{hint}"))
}

#[async_trait]
impl Backend for S3Backend {
    fn kind(&self) -> StorageBackendKind {
        StorageBackendKind::S3
    }

    fn describe(&self) -> String {
        format!(
            "s3 {} ({}, {})",
            self.endpoint_url(),
            self.region,
            if self.path_style { "path-style" } else { "virtual-hosted" }
        )
    }

    fn store(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>, StorageError> {
        self.stores.get_or_try_insert(bucket, || {
            let allow_http = self.endpoint.as_deref().is_some_and(|e| e.starts_with("http://"));
            let mut builder = AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(&self.region)
                .with_credentials(Arc::new(ObjectStoreCredentials(Arc::clone(&self.credentials))))
                .with_retry(self.options.retry_config())
                .with_client_options(self.options.client_options(allow_http))
                .with_virtual_hosted_style_request(!self.path_style);
            if let Some(endpoint) = &self.endpoint {
                builder = builder.with_endpoint(if self.path_style {
                    endpoint.clone()
                } else {
                    endpoint.replacen("://", &format!("://{bucket}."), 1)
                });
            }
            match &self.sse {
                Some((SseKind::AwsKms, Some(key))) => builder = builder.with_sse_kms_encryption(key),
                Some((kind, _)) => {
                    let value = if *kind == SseKind::Aes256 { "AES256" } else { "aws:kms" };
                    let key: AmazonS3ConfigKey = "aws_server_side_encryption"
                        .parse()
                        .map_err(|e| StorageError::from_object_store(e).with_bucket(bucket))?;
                    builder = builder.with_config(key, value);
                }
                None => {}
            }
            let store = builder.build().map_err(|e| StorageError::from_object_store(e).with_bucket(bucket))?;
            Ok(Arc::new(store) as Arc<dyn ObjectStore>)
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
        let presigner = self.presigner().await?;
        let mut headers: Vec<(&str, String)> = Vec::new();
        if method == PresignMethod::Put {
            if let Some(ct) = content_type {
                headers.push(("content-type", ct.to_owned()));
            }
            headers.extend(self.sse_headers());
        }
        let signed: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let now = chrono::Utc::now();
        let url = presigner
            .presign(
                &PresignInput {
                    method: method.as_str(),
                    bucket,
                    key,
                    query: &[],
                    expires_secs: expires.as_secs(),
                    signed_headers: &signed,
                },
                now,
            )
            .map_err(|e| sign_error(e).with_bucket(bucket).with_key(key))?;
        Ok(PresignedRequest {
            url,
            method: method.as_str().to_owned(),
            headers: headers.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            expires_at: now + expires,
        })
    }

    fn object_url(&self, bucket: &str, key: &str) -> String {
        let key = super::encode_key(key);
        match (&self.endpoint, self.path_style) {
            (Some(endpoint), true) => format!("{endpoint}/{bucket}/{key}"),
            (Some(endpoint), false) => format!("{}/{key}", endpoint.replacen("://", &format!("://{bucket}."), 1)),
            (None, true) => format!("https://s3.{}.amazonaws.com/{bucket}/{key}", self.region),
            (None, false) => format!("https://{bucket}.s3.{}.amazonaws.com/{key}", self.region),
        }
    }

    async fn bucket_exists(&self, bucket: &str) -> Result<bool, StorageError> {
        match self.bucket_request("HEAD", bucket, &[], None).await? {
            (200, _) => Ok(true),
            (404, _) => Ok(false),
            (status, body) => Err(status_error(status, &body).with_bucket(bucket)),
        }
    }

    async fn create_bucket(&self, bucket: &str) -> Result<(), StorageError> {
        let body = (self.region != "us-east-1").then(|| {
            format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                self.region
            )
        });
        match self.bucket_request("PUT", bucket, &[], body).await? {
            (200, _) => Ok(()),
            (409, body) if xml_code(&body) == "BucketAlreadyOwnedByYou" => Ok(()),
            (status, body) => Err(status_error(status, &body).with_bucket(bucket)),
        }
    }

    async fn versioning_enabled(&self, bucket: &str) -> Result<bool, StorageError> {
        match self.bucket_request("GET", bucket, &[("versioning", "")], None).await? {
            (200, body) => Ok(body.contains("<Status>Enabled</Status>")),
            (status, body) => Err(status_error(status, &body).with_bucket(bucket)),
        }
    }
}

impl S3Backend {
    /// Copies `from_bucket`/`from_key` to `bucket`/`key` on this endpoint without moving the bytes
    /// through us: a presigned `CopyObject` (`x-amz-copy-source`, `x-amz-metadata-directive: COPY`
    /// so content type and metadata are kept; the destination gets our SSE settings). Returns the
    /// new object's ETag as S3 reports it (quoted). S3 copies objects up to 5 GiB this way. With
    /// `if_match`, the copy happens only while the source still has that ETag (else 412, a conflict).
    pub(crate) async fn copy_object(
        &self,
        from_bucket: &str,
        from_key: &str,
        if_match: Option<&str>,
        bucket: &str,
        key: &str,
    ) -> Result<Option<String>, StorageError> {
        let presigner = self.presigner().await?;
        let mut headers = vec![
            ("x-amz-copy-source", format!("/{from_bucket}/{}", super::encode_key(from_key))),
            ("x-amz-metadata-directive", "COPY".to_owned()),
        ];
        if let Some(etag) = if_match {
            headers.push(("x-amz-copy-source-if-match", etag.to_owned()));
        }
        headers.extend(self.sse_headers());
        let signed: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let input = PresignInput { method: "PUT", bucket, key, query: &[], expires_secs: 300, signed_headers: &signed };
        let url = presigner
            .presign(&input, chrono::Utc::now())
            .map_err(|e| sign_error(e).with_bucket(bucket).with_key(key))?;
        let (status, body) = retry_request(&self.options.retry, || {
            let mut request = self.http.put(&url);
            for (name, value) in &headers {
                request = request.header(*name, value);
            }
            send_text(request)
        })
        .await
        .map_err(|e| e.with_bucket(bucket).with_key(key))?;
        // S3 may answer 200 and still fail the copy, with an `<Error>` body.
        if status != 200 || body.contains("<Error>") {
            let status = if status == 200 { 500 } else { status };
            return Err(status_error(status, &body).with_bucket(bucket).with_key(key));
        }
        let etag = body
            .split_once("<ETag>")
            .and_then(|(_, rest)| rest.split_once("</ETag>"))
            .map(|(etag, _)| etag.replace("&quot;", "\"").replace("&#34;", "\""));
        Ok(etag)
    }
}

impl S3Backend {
    /// Turns versioning on for `bucket` (used by tests and `aae storage` set-up).
    pub async fn enable_versioning(&self, bucket: &str) -> Result<(), StorageError> {
        let body = "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status></VersioningConfiguration>".to_owned();
        match self.bucket_request("PUT", bucket, &[("versioning", "")], Some(body)).await? {
            (200, _) => Ok(()),
            (status, body) => Err(status_error(status, &body).with_bucket(bucket)),
        }
    }
}
