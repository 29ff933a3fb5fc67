//! The SageMaker provider against the fake SageMaker runtime, with asynchronous inference through
//! an in-process s3s-fs server (Property 8: outputs are checked; Property 9: the video timeout).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aae_config::{Config, ConfigSources};
use aae_models::{
    CallContext, ImageRequest, ModelErrorKind, ModelProvider, ModelRouter, SageMakerProvider, VideoJob, VideoRequest,
    VideoStatus,
};
use aae_storage::backend::StaticAwsCredentials;
use aae_testkit::{ACCESS_KEY, FakeModelServer, FakeReply, S3sFs, SECRET_KEY, start_s3s_fs};
use aae_types::Provider;
use serde_json::json;

use crate::support::config;

const BUCKET: &str = "aae-sagemaker";
const IMAGE_ENDPOINT: &str = "sagemaker-endpoint-qwen-image";
const VIDEO_ENDPOINT: &str = "sagemaker-endpoint-wan-video";

/// An S3 server with the bucket, the fake SageMaker on it, and a configuration pointing at both.
struct Setup {
    _s3: S3sFs,
    fake: FakeModelServer,
    config: Config,
}

async fn setup(overrides: &[(&str, &str)]) -> Setup {
    let s3 = start_s3s_fs().await.unwrap();
    s3.create_bucket(BUCKET).unwrap();
    let fake = FakeModelServer::sagemaker(&s3.endpoint()).await.unwrap();
    let (fake_url, s3_url) = (fake.base_url(), s3.endpoint());
    let mut all = vec![
        ("providers.sagemaker.enabled", "true"),
        ("providers.sagemaker.endpoint_url", fake_url.as_str()),
        ("providers.sagemaker.async_input_location", "s3://aae-sagemaker/async-input/"),
        ("storage.s3.endpoint", s3_url.as_str()),
        ("storage.s3.force_path_style", "true"),
        ("aws.region", "us-east-1"),
        ("router.video_poll_ms", "50"),
        ("router.video_timeout_secs", "10"),
    ];
    all.extend_from_slice(overrides);
    Setup { _s3: s3, fake, config: config(&all) }
}

fn credentials() -> StaticAwsCredentials {
    StaticAwsCredentials {
        access_key_id: ACCESS_KEY.to_owned(),
        secret_access_key: SECRET_KEY.to_owned(),
        session_token: None,
    }
}

impl Setup {
    async fn provider(&self) -> SageMakerProvider {
        SageMakerProvider::with_credentials(&self.config, credentials()).await.unwrap()
    }

    async fn router(&self) -> ModelRouter {
        ModelRouter::new(&self.config).unwrap().with_provider(Provider::Sagemaker, Arc::new(self.provider().await))
    }
}

fn image_request(width: u32, height: u32) -> ImageRequest {
    ImageRequest {
        prompt: "a red bicycle on a beach".into(),
        negative_prompt: Some("blurry".into()),
        width,
        height,
        seed: Some(42),
        steps: None,
    }
}

fn dimensions(bytes: &[u8]) -> (u32, u32) {
    let decoded = image::load_from_memory(bytes).unwrap();
    (decoded.width(), decoded.height())
}

#[tokio::test]
async fn image_from_a_raw_png_reply_is_checked_and_every_field_is_on_the_wire() {
    let setup = setup(&[]).await;
    let output = setup.provider().await.generate_image(IMAGE_ENDPOINT, &image_request(96, 64)).await.unwrap();
    assert_eq!(output.content_type, "image/png");
    assert_eq!(dimensions(&output.bytes), (96, 64));
    let sent = setup.fake.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/endpoints/sagemaker-endpoint-qwen-image/invocations");
    assert_eq!(sent[0].headers["content-type"], "application/json");
    assert_eq!(sent[0].headers["accept"], "image/png, application/json");
    assert!(sent[0].headers["authorization"].contains("/us-east-1/sagemaker/aws4_request"), "SigV4 for sagemaker");
    // Unset optional fields are omitted, never sent as null.
    assert_eq!(
        sent[0].body,
        json!({"prompt": "a red bicycle on a beach", "negative_prompt": "blurry", "width": 96, "height": 64, "seed": 42})
    );
}

#[tokio::test]
async fn image_from_a_json_base64_reply_is_checked() {
    let setup = setup(&[]).await;
    setup.fake.sagemaker_json_images(true);
    let output = setup.provider().await.generate_image(IMAGE_ENDPOINT, &image_request(40, 30)).await.unwrap();
    assert_eq!(output.content_type, "image/png");
    assert_eq!(dimensions(&output.bytes), (40, 30));
}

#[tokio::test]
async fn an_image_of_the_wrong_size_or_no_image_is_an_error_not_an_output() {
    let setup = setup(&[]).await;
    let provider = setup.provider().await;
    setup.fake.sagemaker_push_wrong_size_image(32, 32);
    let error = provider.generate_image(IMAGE_ENDPOINT, &image_request(64, 48)).await.unwrap_err();
    assert_eq!(error.kind, ModelErrorKind::InvalidResponse);
    assert!(error.message.contains("expected a 64x48 image, got 32x32"), "{error}");
    assert!(!error.is_retryable());

    setup.fake.sagemaker_push_garbage_image();
    let error = provider.generate_image(IMAGE_ENDPOINT, &image_request(64, 48)).await.unwrap_err();
    assert_eq!(error.kind, ModelErrorKind::InvalidResponse);
    assert!(error.message.contains("reply is not an image"), "{error}");

    setup.fake.sagemaker_json_images(true);
    setup.fake.sagemaker_push_garbage_image();
    let error = provider.generate_image(IMAGE_ENDPOINT, &image_request(64, 48)).await.unwrap_err();
    assert!(error.message.contains("reply is not an image"), "{error}");
}

#[tokio::test]
async fn throttling_is_retryable_and_the_sdk_itself_never_retries() {
    let setup = setup(&[]).await;
    let provider = setup.provider().await;
    setup.fake.push([FakeReply::throttled(2)]);
    let error = provider.generate_image(IMAGE_ENDPOINT, &image_request(16, 16)).await.unwrap_err();
    assert_eq!((error.kind, error.status), (ModelErrorKind::Throttled, Some(429)));
    assert!(error.is_retryable());
    assert_eq!(error.retry_after, Some(Duration::from_secs(2)));
    assert!(error.message.contains("ThrottlingException"), "{error}");

    setup.fake.push([FakeReply::status(503)]);
    let error = provider.generate_image(IMAGE_ENDPOINT, &image_request(16, 16)).await.unwrap_err();
    assert_eq!((error.kind, error.status), (ModelErrorKind::Unavailable, Some(503)));
    assert_eq!(setup.fake.request_count(), 2, "one request per call: SDK retries are off");
}

#[tokio::test]
async fn aws_errors_map_to_kinds_without_credentials_in_messages() {
    let setup = setup(&[]).await;
    let provider = setup.provider().await;
    for (status, kind) in [
        (400, ModelErrorKind::InvalidRequest),
        (424, ModelErrorKind::InvalidRequest),
        (403, ModelErrorKind::Unauthorized),
        (500, ModelErrorKind::Unavailable),
    ] {
        setup.fake.push([FakeReply::status(status)]);
        let error = provider.generate_image(IMAGE_ENDPOINT, &image_request(16, 16)).await.unwrap_err();
        assert_eq!(error.kind, kind, "{status}: {error}");
        assert!(!error.to_string().contains(SECRET_KEY) && !error.to_string().contains(ACCESS_KEY), "{error}");
    }
    setup.fake.sagemaker_endpoints(&[IMAGE_ENDPOINT]);
    let error = provider.generate_image("no-such-endpoint", &image_request(16, 16)).await.unwrap_err();
    assert_eq!(error.kind, ModelErrorKind::ModelNotFound, "{error}");
    assert!(error.message.contains("no-such-endpoint"), "{error}");
}

#[tokio::test]
async fn the_router_retries_and_sends_images_to_the_configured_endpoint() {
    let setup = setup(&[("providers.sagemaker.qwen_image_endpoint", "qwen-image-prod")]).await;
    setup.fake.sagemaker_endpoints(&["qwen-image-prod"]);
    setup.fake.push([FakeReply::status(503)]);
    let routed = setup.router().await.generate_image(&CallContext::default(), &image_request(48, 32)).await.unwrap();
    assert_eq!(routed.model.key(), "sagemaker/qwen-image");
    assert_eq!(routed.model.model_id, IMAGE_ENDPOINT, "the catalog keeps the default name");
    assert_eq!(dimensions(&routed.value.bytes), (48, 32));
    let paths: Vec<String> = setup.fake.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/endpoints/qwen-image-prod/invocations"; 2], "the router is the retry layer");
}

#[tokio::test]
async fn video_end_to_end_through_the_router() {
    let setup = setup(&[]).await;
    let request = VideoRequest { prompt: "waves at dusk".into(), seconds: 3 };
    let routed = setup.router().await.generate_video(&CallContext::default(), &request).await.unwrap();
    assert_eq!(routed.model.key(), "sagemaker/wan2.2");
    assert_eq!(routed.value.content_type, "video/mp4");
    assert_eq!(routed.value.seconds, 3.0);
    assert_eq!(&routed.value.bytes[4..8], b"ftyp");
    assert!(routed.cost_micros > 0, "priced per second");

    let sent = setup.fake.requests();
    assert_eq!(sent[0].path, "/endpoints/sagemaker-endpoint-wan-video/async-invocations");
    let input = &sent[0].headers["x-amzn-sagemaker-inputlocation"];
    assert!(input.starts_with("s3://aae-sagemaker/async-input/") && input.ends_with(".json"), "{input}");
    assert_eq!(sent[0].headers["x-amzn-sagemaker-content-type"], "application/json");
    assert_eq!(
        setup.fake.sagemaker_inputs(),
        [json!({"prompt": "waves at dusk", "seconds": 3, "num_frames": 49, "fps": 16})]
    );
}

#[tokio::test]
async fn a_failure_location_fails_the_video_with_its_message() {
    let setup = setup(&[]).await;
    setup.fake.sagemaker_output_paths("s3://aae-sagemaker/out", "s3://aae-sagemaker/failed/");
    setup.fake.sagemaker_push_video_failure("CUDA out of memory while sampling frame 12");
    let request = VideoRequest { prompt: "a storm".into(), seconds: 5 };
    let error = setup.router().await.generate_video(&CallContext::default(), &request).await.unwrap_err();
    assert!(error.to_string().contains("CUDA out of memory while sampling frame 12"), "{error}");
    assert!(error.to_string().contains("failed"), "{error}");
}

#[tokio::test]
async fn a_garbage_video_output_is_an_error_not_an_output() {
    let setup = setup(&[]).await;
    setup.fake.sagemaker_push_garbage_video();
    let request = VideoRequest { prompt: "a storm".into(), seconds: 5 };
    let error = setup.router().await.generate_video(&CallContext::default(), &request).await.unwrap_err();
    assert!(error.to_string().contains("output is not an mp4"), "{error}");
    assert_eq!(error.kind, ModelErrorKind::InvalidResponse, "{error}");
}

#[tokio::test]
async fn the_video_timeout_is_enforced_when_the_job_never_finishes() {
    let setup = setup(&[("router.video_timeout_secs", "1")]).await;
    setup.fake.sagemaker_push_video_never();
    let started = Instant::now();
    let request = VideoRequest { prompt: "forever".into(), seconds: 5 };
    let error = setup.router().await.generate_video(&CallContext::default(), &request).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(error.kind, ModelErrorKind::Timeout, "{error}");
    assert!(elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test]
async fn polling_reports_pending_until_the_output_exists() {
    let setup = setup(&[]).await;
    setup.fake.sagemaker_set_video_delay(Duration::from_millis(300));
    let provider = setup.provider().await;
    let job = provider.start_video(VIDEO_ENDPOINT, &VideoRequest { prompt: "p".into(), seconds: 2 }).await.unwrap();
    assert_eq!(provider.poll_video(VIDEO_ENDPOINT, &job).await.unwrap(), VideoStatus::Pending);
    let deadline = Instant::now() + Duration::from_secs(10);
    let output = loop {
        match provider.poll_video(VIDEO_ENDPOINT, &job).await.unwrap() {
            VideoStatus::Done { output } => break output,
            VideoStatus::Pending if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(output.seconds, 2.0);
    let bogus = VideoJob { id: "not json".into() };
    assert_eq!(provider.poll_video(VIDEO_ENDPOINT, &bogus).await.unwrap_err().kind, ModelErrorKind::InvalidRequest);
}

#[tokio::test]
async fn video_needs_the_async_input_location() {
    let mut setup = setup(&[]).await;
    setup.config.providers.sagemaker.async_input_location = None;
    let request = VideoRequest { prompt: "p".into(), seconds: 2 };
    let error = setup.provider().await.start_video(VIDEO_ENDPOINT, &request).await.unwrap_err();
    assert_eq!(error.kind, ModelErrorKind::NotConfigured);
    assert!(error.message.contains("AAE__PROVIDERS__SAGEMAKER__ASYNC_INPUT_LOCATION"), "{error}");
    assert_eq!(setup.fake.request_count(), 0);
}

#[tokio::test]
async fn the_provider_is_set_up_only_when_enabled_and_its_settings_are_validated() {
    let enabled = config(&[("providers.sagemaker.enabled", "true"), ("aws.region", "us-east-1")]);
    assert!(ModelRouter::from_config(&enabled).await.unwrap().has_provider(Provider::Sagemaker));
    let disabled = config(&[]);
    assert!(!ModelRouter::from_config(&disabled).await.unwrap().has_provider(Provider::Sagemaker));

    for (key, value) in [
        ("providers.sagemaker.async_input_location", "my-bucket/prefix"),
        ("providers.sagemaker.endpoint_url", "ftp://example.com"),
    ] {
        let sources = ConfigSources { ignore_env: true, ..Default::default() }.set(key, value);
        let error = Config::load(&sources).unwrap_err().to_string();
        assert!(error.contains(key), "{error}");
    }
}
