//! The fake SageMaker runtime REST API ([`FakeModelServer::sagemaker`]):
//!
//! - `POST /endpoints/{EndpointName}/invocations` (`InvokeEndpoint`): reads the JSON body
//!   `{"prompt", "width", "height", …}` and answers a real PNG of that size (a gradient seeded
//!   from the prompt), raw as `image/png` or as JSON `{"images": ["<base64>"]}`
//!   ([`FakeModelServer::sagemaker_json_images`]); scripted: a wrong size, bytes that are no
//!   image, and (through [`FakeReply::Status`]) AWS errors with `x-amzn-ErrorType`.
//! - `POST /endpoints/{EndpointName}/async-invocations` (`InvokeEndpointAsync`): reads
//!   `X-Amzn-SageMaker-InputLocation`, answers `202 {"InferenceId"}` with the
//!   `X-Amzn-SageMaker-OutputLocation` / `X-Amzn-SageMaker-FailureLocation` headers, then after a
//!   delay reads the input JSON from S3 and writes a real MP4 of its `seconds` to the output
//!   location — or, scripted, an error text to the failure location, garbage to the output
//!   location, or nothing. S3 is reached through `object_store` at the constructor's endpoint,
//!   path-style, signed with [`ACCESS_KEY`] / [`SECRET_KEY`] in [`REGION`].

use std::collections::VecDeque;
use std::io::Cursor;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use serde_json::{Value, json};

use super::{FakeModelServer, FakeReply, Shared};
use crate::{ACCESS_KEY, REGION, SECRET_KEY};

/// What the next image reply does instead of the right image.
#[derive(Debug, Clone)]
enum ImageFault {
    WrongSize(u32, u32),
    Garbage,
}

/// What an asynchronous job writes.
#[derive(Debug, Clone)]
enum VideoOutcome {
    Failure(String),
    Garbage,
    Never,
}

/// The SageMaker part of a fake's state.
#[derive(Debug)]
pub(crate) struct SageMakerState {
    pub(crate) s3_endpoint: Option<String>,
    json_images: bool,
    image_faults: VecDeque<ImageFault>,
    video_delay: Duration,
    video_outcomes: VecDeque<VideoOutcome>,
    paths: Option<(String, String)>,
    endpoints: Option<Vec<String>>,
    inputs: Vec<Value>,
}

impl Default for SageMakerState {
    fn default() -> Self {
        Self {
            s3_endpoint: None,
            json_images: false,
            image_faults: VecDeque::new(),
            video_delay: Duration::from_millis(100),
            video_outcomes: VecDeque::new(),
            paths: None,
            endpoints: None,
            inputs: Vec::new(),
        }
    }
}

impl FakeModelServer {
    /// Answers images as JSON `{"images": ["<base64>"]}` (`true`) or raw `image/png` (default).
    pub fn sagemaker_json_images(&self, json: bool) {
        self.shared.lock().sagemaker.json_images = json;
    }

    /// The next image reply is a real PNG of `width`×`height`, whatever was asked.
    pub fn sagemaker_push_wrong_size_image(&self, width: u32, height: u32) {
        self.shared.lock().sagemaker.image_faults.push_back(ImageFault::WrongSize(width, height));
    }

    /// The next image reply is `image/png` bytes that are not an image.
    pub fn sagemaker_push_garbage_image(&self) {
        self.shared.lock().sagemaker.image_faults.push_back(ImageFault::Garbage);
    }

    /// Only these endpoints exist; others answer `ValidationError: Endpoint … not found`, as
    /// SageMaker does. By default every endpoint exists.
    pub fn sagemaker_endpoints(&self, names: &[&str]) {
        self.shared.lock().sagemaker.endpoints = Some(names.iter().map(|n| (*n).to_owned()).collect());
    }

    /// How long an asynchronous job runs before it writes its result (default 100 ms).
    pub fn sagemaker_set_video_delay(&self, delay: Duration) {
        self.shared.lock().sagemaker.video_delay = delay;
    }

    /// The next asynchronous job writes `message` to its failure location.
    pub fn sagemaker_push_video_failure(&self, message: &str) {
        self.shared.lock().sagemaker.video_outcomes.push_back(VideoOutcome::Failure(message.to_owned()));
    }

    /// The next asynchronous job writes bytes that are no MP4 to its output location.
    pub fn sagemaker_push_garbage_video(&self) {
        self.shared.lock().sagemaker.video_outcomes.push_back(VideoOutcome::Garbage);
    }

    /// The next asynchronous job never writes anything.
    pub fn sagemaker_push_video_never(&self) {
        self.shared.lock().sagemaker.video_outcomes.push_back(VideoOutcome::Never);
    }

    /// Where jobs write, as the endpoint's `S3OutputPath` and `S3FailurePath` (`s3://bucket/prefix`);
    /// default: the input's bucket under `async-output/` and `async-failures/`.
    pub fn sagemaker_output_paths(&self, output: &str, failure: &str) {
        let paths = (output.trim_end_matches('/').to_owned(), failure.trim_end_matches('/').to_owned());
        self.shared.lock().sagemaker.paths = Some(paths);
    }

    /// The input documents asynchronous jobs read from S3, in order.
    pub fn sagemaker_inputs(&self) -> Vec<Value> {
        self.shared.lock().sagemaker.inputs.clone()
    }
}

pub(super) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/endpoints/{endpoint}/invocations", post(invoke))
        .route("/endpoints/{endpoint}/async-invocations", post(invoke_async))
        .with_state(shared)
}

/// An AWS JSON error: `x-amzn-ErrorType` names the code, the body carries the message.
fn aws_error(status: u16, code: &str, body: &Value, retry_after: Option<u64>) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(code) {
        headers.insert("x-amzn-errortype", value);
    }
    if let Ok(value) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-amzn-requestid", value);
    }
    if let Some(value) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
        headers.insert(header::RETRY_AFTER, value);
    }
    response
}

/// The error SageMaker answers for a scripted status.
fn status_error(status: u16, retry_after: Option<u64>) -> Response {
    let (code, message) = match status {
        401 => ("UnrecognizedClientException", "The security token included in the request is invalid."),
        403 => ("AccessDeniedException", "User is not authorized to perform: sagemaker:InvokeEndpoint"),
        424 => return model_error(400, "the model rejected the input"),
        429 => ("ThrottlingException", "Rate exceeded"),
        500 => ("InternalFailure", "An internal failure occurred."),
        503 => ("ServiceUnavailable", "The service is unavailable. Try your call again."),
        s if s >= 500 => ("InternalDependencyException", "An internal dependency failed."),
        _ => ("ValidationError", "1 validation error detected"),
    };
    aws_error(status, code, &json!({"message": message}), retry_after)
}

/// `ModelError` (424): the container answered `original` — SageMaker's own body shape.
fn model_error(original: u16, message: &str) -> Response {
    let body = json!({
        "ErrorCode": "CLIENT_ERROR_FROM_MODEL",
        "LogStreamArn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/fake",
        "Message": format!("Received client error ({original}) from primary with message \"{message}\"."),
        "OriginalMessage": message,
        "OriginalStatusCode": original,
    });
    aws_error(424, "ModelError", &body, None)
}

/// `ValidationError` for an endpoint that does not exist, or `None`.
fn unknown_endpoint(shared: &Shared, endpoint: &str) -> Option<Response> {
    let known = shared.lock().sagemaker.endpoints.clone()?;
    (!known.iter().any(|k| k == endpoint)).then(|| {
        let message = format!("Endpoint {endpoint} of account 123456789012 not found.");
        aws_error(400, "ValidationError", &json!({"message": message}), None)
    })
}

/// Records the request and returns the response to send instead of the normal one, if any.
async fn preamble(shared: &Shared, uri: String, endpoint: &str, headers: &HeaderMap, body: &Bytes) -> Option<Response> {
    let reply = match shared.next(uri, headers, body).await {
        Ok(reply) => reply,
        Err(response) => return Some(response),
    };
    if let Some(response) = unknown_endpoint(shared, endpoint) {
        return Some(response);
    }
    match reply {
        FakeReply::Status { status, retry_after } => Some(status_error(status, retry_after)),
        FakeReply::Hang | FakeReply::HangAfter { .. } => {
            std::future::pending::<()>().await;
            None
        }
        FakeReply::Message { .. } => None,
    }
}

async fn invoke(
    State(shared): State<Shared>,
    Path(endpoint): Path<String>,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(response) = preamble(&shared, uri.0.to_string(), &endpoint, &headers, &body).await {
        return response;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let size = |key: &str| request[key].as_u64().filter(|v| (1..=4096).contains(v)).map(|v| v as u32);
    let (Some(width), Some(height), Some(prompt)) = (size("width"), size("height"), request["prompt"].as_str()) else {
        return model_error(400, "prompt, width and height (1..=4096) are required");
    };
    let (fault, json_images) = {
        let mut inner = shared.lock();
        (inner.sagemaker.image_faults.pop_front(), inner.sagemaker.json_images)
    };
    let image = match fault {
        Some(ImageFault::Garbage) => b"<html>this is not an image</html>".to_vec(),
        Some(ImageFault::WrongSize(w, h)) => render_png(w, h, prompt.to_owned()).await,
        None => render_png(width, height, prompt.to_owned()).await,
    };
    let (content_type, body) = if json_images {
        ("application/json", json!({"images": [aws_smithy_types::base64::encode(&image)]}).to_string().into_bytes())
    } else {
        ("image/png", image)
    };
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert("x-amzn-invoked-production-variant", HeaderValue::from_static("AllTraffic"));
    response
}

/// A PNG of `width`×`height`: a gradient whose colours come from a hash of `prompt`.
async fn render_png(width: u32, height: u32, prompt: String) -> Vec<u8> {
    let render = move || {
        let seed =
            prompt.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        let [r, g, b, ..] = seed.to_le_bytes();
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            let fx = (x * 255 / width.max(1)) as u8;
            let fy = (y * 255 / height.max(1)) as u8;
            image::Rgb([r.wrapping_add(fx), g.wrapping_add(fy), b ^ fx ^ fy])
        });
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).map(|()| out.into_inner()).unwrap_or_default()
    };
    tokio::task::spawn_blocking(render).await.unwrap_or_default()
}

fn parse_s3(url: &str) -> Option<(String, String)> {
    let (bucket, key) = url.strip_prefix("s3://")?.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then(|| (bucket.to_owned(), key.to_owned()))
}

async fn invoke_async(
    State(shared): State<Shared>,
    Path(endpoint): Path<String>,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(response) = preamble(&shared, uri.0.to_string(), &endpoint, &headers, &body).await {
        return response;
    }
    let header_text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let Some((bucket, key)) = header_text("x-amzn-sagemaker-inputlocation").as_deref().and_then(parse_s3) else {
        let message = "InputLocation must be an s3://bucket/key location";
        return aws_error(400, "ValidationError", &json!({"message": message}), None);
    };
    let id = header_text("x-amzn-sagemaker-inferenceid").unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let (outcome, delay, paths, s3) = {
        let mut inner = shared.lock();
        let state = &mut inner.sagemaker;
        (state.video_outcomes.pop_front(), state.video_delay, state.paths.clone(), state.s3_endpoint.clone())
    };
    let (output_path, failure_path) =
        paths.unwrap_or_else(|| (format!("s3://{bucket}/async-output"), format!("s3://{bucket}/async-failures")));
    let output = format!("{output_path}/{id}.out");
    let failure = format!("{failure_path}/{id}-error.out");
    if !matches!(outcome, Some(VideoOutcome::Never)) {
        let job =
            Job { shared: shared.clone(), s3, input: (bucket, key), output: output.clone(), failure: failure.clone() };
        tokio::spawn(job.run(outcome, delay));
    }
    let mut response = Response::new(Body::from(json!({"InferenceId": id}).to_string()));
    *response.status_mut() = StatusCode::ACCEPTED;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in [("x-amzn-sagemaker-outputlocation", output), ("x-amzn-sagemaker-failurelocation", failure)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

/// One asynchronous inference.
struct Job {
    shared: Shared,
    s3: Option<String>,
    input: (String, String),
    output: String,
    failure: String,
}

impl Job {
    async fn run(self, outcome: Option<VideoOutcome>, delay: Duration) {
        tokio::time::sleep(delay).await;
        let Some(endpoint) = self.s3.clone() else {
            tracing::warn!("fake sagemaker has no s3 endpoint");
            return;
        };
        let (kind, location, bytes) = match self.read_input(&endpoint).await {
            Err(message) => ("failure", self.failure.clone(), message.into_bytes()),
            Ok(input) => {
                let seconds = input["seconds"].as_f64().unwrap_or_else(|| {
                    input["num_frames"].as_f64().unwrap_or(81.0) / input["fps"].as_f64().unwrap_or(16.0)
                });
                self.shared.lock().sagemaker.inputs.push(input);
                match outcome {
                    Some(VideoOutcome::Failure(message)) => ("failure", self.failure.clone(), message.into_bytes()),
                    Some(VideoOutcome::Garbage) => ("output", self.output.clone(), b"not a video at all".to_vec()),
                    Some(VideoOutcome::Never) => return,
                    None => ("output", self.output.clone(), mp4(seconds)),
                }
            }
        };
        let written = match parse_s3(&location) {
            Some((bucket, key)) => match store(&endpoint, &bucket) {
                Ok(store) => store.put(&key.as_str().into(), bytes.into()).await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
            None => Err(format!("{location} is not an s3 location")),
        };
        if let Err(error) = written {
            tracing::warn!(%error, kind, location, "fake sagemaker could not write its result");
        }
    }

    async fn read_input(&self, endpoint: &str) -> Result<Value, String> {
        let (bucket, key) = &self.input;
        let store = store(endpoint, bucket).map_err(|e| format!("cannot open s3://{bucket}: {e}"))?;
        let bytes = async { store.get(&key.as_str().into()).await?.bytes().await }
            .await
            .map_err(|e| format!("cannot read input s3://{bucket}/{key}: {e}"))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("input s3://{bucket}/{key} is not json: {e}"))
    }
}

fn store(endpoint: &str, bucket: &str) -> object_store::Result<AmazonS3> {
    AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_bucket_name(bucket)
        .with_region(REGION)
        .with_access_key_id(ACCESS_KEY)
        .with_secret_access_key(SECRET_KEY)
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .build()
}

fn mp4_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(payload.len() + 8).unwrap_or(u32::MAX).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(payload);
    out
}

/// A minimal MP4 of `seconds`: `ftyp`, `moov` with a version-0 `mvhd` (timescale 1000), and a
/// small `mdat`.
fn mp4(seconds: f64) -> Vec<u8> {
    let mut mvhd = Vec::with_capacity(100);
    mvhd.extend_from_slice(&[0; 12]); // version 0, flags, creation and modification times
    mvhd.extend_from_slice(&1000u32.to_be_bytes()); // timescale
    mvhd.extend_from_slice(&((seconds.max(0.0) * 1000.0).round() as u32).to_be_bytes()); // duration
    mvhd.extend_from_slice(&0x0001_0000u32.to_be_bytes()); // rate 1.0
    mvhd.extend_from_slice(&0x0100u16.to_be_bytes()); // volume 1.0
    mvhd.extend_from_slice(&[0; 10]); // reserved
    for value in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        mvhd.extend_from_slice(&value.to_be_bytes()); // unity matrix
    }
    mvhd.extend_from_slice(&[0; 24]); // pre-defined
    mvhd.extend_from_slice(&2u32.to_be_bytes()); // next track id
    let mut out = mp4_box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41");
    out.extend(mp4_box(b"moov", &mp4_box(b"mvhd", &mvhd)));
    out.extend(mp4_box(b"mdat", &[0x42; 64]));
    out
}
