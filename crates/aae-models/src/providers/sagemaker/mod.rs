//! AWS SageMaker endpoints: Qwen-Image on a real-time endpoint (`image.rs`, `InvokeEndpoint`)
//! and Wan2.2 on an asynchronous one (`video.rs`, S3 input + `InvokeEndpointAsync`, polled
//! through S3). Every output is checked before it is returned (Property 8, `checks.rs`); errors
//! are mapped in `errors.rs`.
//!
//! The client is the official `aws-sdk-sagemakerruntime`, built from the AWS chain: region
//! `providers.sagemaker.region` / `aws.region` / the chain; endpoint
//! `providers.sagemaker.endpoint_url` / `aws.endpoint_url` / `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`
//! / `AWS_ENDPOINT_URL`; profile `aws.profile`. SDK retries are off (the router is the only retry
//! layer); connecting is capped at 10 s and one attempt at `router.request_timeout_secs`. S3
//! objects are read and written through `aae-storage`'s S3 backend with the `storage.s3`
//! endpoint, region and path-style settings and the same credentials, also without retries.
//!
//! Endpoint names: the catalog's model ids are the default endpoint names
//! (`sagemaker-endpoint-qwen-image`, `sagemaker-endpoint-wan-video`); this provider sends those
//! to the endpoints configured in `providers.sagemaker.{qwen_image_endpoint,
//! wan_video_endpoint}`, so the configured names win. Any other model id is used as an endpoint
//! name as is.

mod checks;
mod errors;
mod image;
mod video;

use std::sync::Arc;
use std::time::Duration;

use aae_config::{Config, SageMakerConfig};
use aae_storage::backend::{BackendOptions, S3Backend, StaticAwsCredentials};
use async_trait::async_trait;
use aws_sdk_sagemakerruntime::Client;
use aws_sdk_sagemakerruntime::config::retry::RetryConfig;
use aws_sdk_sagemakerruntime::config::timeout::TimeoutConfig;
use aws_sdk_sagemakerruntime::config::{Credentials, Region};

use crate::error::{ModelError, ModelErrorKind, ModelResult};
use crate::provider::ModelProvider;
use crate::types::{
    ChatRequest, ChatResponse, ChatStream, ImageOutput, ImageRequest, VideoJob, VideoRequest, VideoStatus,
};
use video::S3Location;

const NAME: &str = "sagemaker";

/// The environment variable that sets `providers.sagemaker.async_input_location`.
const ASYNC_INPUT_ENV: &str = "AAE__PROVIDERS__SAGEMAKER__ASYNC_INPUT_LOCATION";

/// The SageMaker provider: image generation and video jobs on SageMaker endpoints.
pub struct SageMakerProvider {
    client: Client,
    s3: Arc<S3Backend>,
    /// Catalog model id (default endpoint name) → configured endpoint name.
    endpoints: Vec<(String, String)>,
    async_input: Option<S3Location>,
}

impl std::fmt::Debug for SageMakerProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SageMakerProvider")
            .field("endpoints", &self.endpoints)
            .field("async_input", &self.async_input)
            .field("s3", &self.s3)
            .finish_non_exhaustive()
    }
}

impl SageMakerProvider {
    /// The provider `config` describes, with credentials from the AWS chain. Makes no request.
    pub async fn from_config(config: &Config) -> ModelResult<Self> {
        Self::connect(config, None).await
    }

    /// [`from_config`](Self::from_config) with fixed credentials instead of the chain (local
    /// emulators and tests).
    pub async fn with_credentials(config: &Config, credentials: StaticAwsCredentials) -> ModelResult<Self> {
        Self::connect(config, Some(credentials)).await
    }

    async fn connect(config: &Config, credentials: Option<StaticAwsCredentials>) -> ModelResult<Self> {
        let sagemaker = &config.providers.sagemaker;
        let region = sagemaker.region.clone().or_else(|| config.aws.region.clone());
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(profile) = &config.aws.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = sagemaker.endpoint_url.as_ref().or(config.aws.endpoint_url.as_ref()) {
            loader = loader.endpoint_url(endpoint.trim_end_matches('/'));
        }
        if let Some(fixed) = &credentials {
            loader = loader.credentials_provider(Credentials::new(
                &fixed.access_key_id,
                &fixed.secret_access_key,
                fixed.session_token.clone(),
                None,
                "aae-static",
            ));
        }
        let sdk = loader.load().await;
        let mut builder =
            aws_sdk_sagemakerruntime::config::Builder::from(&sdk).retry_config(RetryConfig::disabled()).timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(config.router.request_timeout_secs.max(1)))
                    .build(),
            );
        if sdk.region().is_none() {
            builder = builder.region(Region::new("us-east-1"));
        }
        let client = Client::from_conf(builder.build());

        let mut options = BackendOptions::from_config(config, Vec::new());
        options.aws_region = region.or(options.aws_region);
        options.aws_credentials = credentials;
        options.retry.max_retries = 0;
        let s3 = S3Backend::new(&options).await.map_err(|e| {
            ModelError::new(ModelErrorKind::NotConfigured, NAME, "", format!("s3 for asynchronous inference: {e}"))
        })?;

        let async_input = match &sagemaker.async_input_location {
            Some(location) => Some(S3Location::parse(location).ok_or_else(|| {
                ModelError::new(
                    ModelErrorKind::NotConfigured,
                    NAME,
                    "",
                    format!("providers.sagemaker.async_input_location `{location}` is not s3://bucket/prefix/"),
                )
            })?),
            None => None,
        };
        let defaults = SageMakerConfig::default();
        let endpoints = vec![
            (defaults.qwen_image_endpoint, sagemaker.qwen_image_endpoint.clone()),
            (defaults.wan_video_endpoint, sagemaker.wan_video_endpoint.clone()),
        ];
        Ok(Self { client, s3: Arc::new(s3), endpoints, async_input })
    }

    /// The endpoint a catalog model id goes to: the configured name for a default name, else
    /// the id itself.
    pub fn endpoint_for<'a>(&'a self, model_id: &'a str) -> &'a str {
        self.endpoints.iter().find(|(default, _)| default == model_id).map_or(model_id, |(_, configured)| configured)
    }
}

/// An invalid-response error for `endpoint`.
fn invalid(endpoint: &str, message: String) -> ModelError {
    ModelError::new(ModelErrorKind::InvalidResponse, NAME, endpoint, message)
}

#[async_trait]
impl ModelProvider for SageMakerProvider {
    fn name(&self) -> &str {
        NAME
    }

    async fn chat(&self, model_id: &str, _request: &ChatRequest) -> ModelResult<ChatResponse> {
        Err(ModelError::unsupported(NAME, model_id, "chat"))
    }

    async fn chat_stream(&self, model_id: &str, _request: &ChatRequest) -> ModelResult<ChatStream> {
        Err(ModelError::unsupported(NAME, model_id, "chat"))
    }

    async fn generate_image(&self, model_id: &str, request: &ImageRequest) -> ModelResult<ImageOutput> {
        image::generate(&self.client, self.endpoint_for(model_id), request).await
    }

    async fn start_video(&self, model_id: &str, request: &VideoRequest) -> ModelResult<VideoJob> {
        let endpoint = self.endpoint_for(model_id);
        let Some(input) = &self.async_input else {
            return Err(ModelError::new(
                ModelErrorKind::NotConfigured,
                NAME,
                endpoint,
                format!(
                    "video generation writes its request to s3 first: set {ASYNC_INPUT_ENV}=s3://bucket/prefix/ \
                     (providers.sagemaker.async_input_location)"
                ),
            ));
        };
        video::start(&self.client, &self.s3, input, endpoint, request).await
    }

    async fn poll_video(&self, model_id: &str, job: &VideoJob) -> ModelResult<VideoStatus> {
        video::poll(&self.s3, self.endpoint_for(model_id), job).await
    }
}
