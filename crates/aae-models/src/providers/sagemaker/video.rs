//! Wan2.2 on an asynchronous endpoint.
//!
//! `start`: the request is written as JSON to `{async_input_location}{uuid}.json` in S3 —
//! `{"prompt", "seconds", "num_frames", "fps"}`, where `num_frames = seconds × 16 + 1` at 16
//! fps (Wan2.2's frame rate; its frame counts have the form 4k + 1) for containers that count
//! frames rather than seconds — then `InvokeEndpointAsync` is called with that `InputLocation`
//! and the uuid as `InferenceId`. The job id is JSON holding the inference id and the
//! `OutputLocation` and `FailureLocation` SageMaker answered.
//!
//! `poll`: the output object, when it exists, must be an MP4 (Property 8, `checks.rs`) and is
//! returned with the duration its `mvhd` box gives; else the failure object, when it exists,
//! fails the job with its text (truncated); else the job is pending.

use std::sync::Arc;

use aae_storage::backend::S3Backend;
use aae_storage::{Backend, StorageErrorKind};
use aws_sdk_sagemakerruntime::Client;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::checks::check_mp4;
use super::errors::{async_error, storage_error, truncate};
use super::{NAME, invalid};
use crate::error::{ModelError, ModelErrorKind, ModelResult};
use crate::types::{VideoJob, VideoOutput, VideoRequest, VideoStatus};

/// Frames per second the input's `num_frames` assumes.
const FPS: u32 = 16;
/// The longest failure text kept in [`VideoStatus::Failed`].
const MAX_FAILURE_TEXT: usize = 1_000;

/// An `s3://bucket/key` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct S3Location {
    pub(super) bucket: String,
    pub(super) key: String,
}

impl S3Location {
    /// Parses `s3://bucket/key` (the key may be empty).
    pub(super) fn parse(url: &str) -> Option<Self> {
        let rest = url.trim().strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        (!bucket.is_empty()).then(|| Self { bucket: bucket.to_owned(), key: key.to_owned() })
    }

    fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// What a video job id holds.
#[derive(Debug, Serialize, Deserialize)]
struct JobHandle {
    inference_id: String,
    output_location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure_location: Option<String>,
}

/// The JSON input written to S3.
#[derive(Debug, Serialize)]
struct VideoInput<'a> {
    prompt: &'a str,
    seconds: u32,
    num_frames: u32,
    fps: u32,
}

/// Writes the input and starts the asynchronous inference.
pub(super) async fn start(
    client: &Client,
    s3: &Arc<S3Backend>,
    input_prefix: &S3Location,
    endpoint: &str,
    request: &VideoRequest,
) -> ModelResult<VideoJob> {
    if request.seconds == 0 {
        return Err(ModelError::new(ModelErrorKind::InvalidRequest, NAME, endpoint, "a video of 0 seconds"));
    }
    let inference_id = Uuid::new_v4().to_string();
    let mut prefix = input_prefix.key.clone();
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    let input = S3Location { bucket: input_prefix.bucket.clone(), key: format!("{prefix}{inference_id}.json") };
    let body = VideoInput {
        prompt: &request.prompt,
        seconds: request.seconds,
        num_frames: request.seconds.saturating_mul(FPS).saturating_add(1),
        fps: FPS,
    };
    let body = serde_json::to_vec(&body).map_err(|e| invalid(endpoint, format!("video input: {e}")))?;
    let store = s3.store(&input.bucket).map_err(|e| storage_error(endpoint, "cannot open", &input.url(), &e))?;
    store.put(&input.key.as_str().into(), body.into()).await.map_err(|e| {
        let error = aae_storage::StorageError::from_object_store(e);
        let mut mapped = storage_error(endpoint, "cannot write the video input to", &input.url(), &error);
        if error.kind == StorageErrorKind::NoSuchBucket {
            mapped.kind = ModelErrorKind::NotConfigured;
            mapped.message.push_str("; check AAE__PROVIDERS__SAGEMAKER__ASYNC_INPUT_LOCATION");
        }
        mapped
    })?;
    let reply = client
        .invoke_endpoint_async()
        .endpoint_name(endpoint)
        .content_type("application/json")
        .accept("video/mp4")
        .input_location(input.url())
        .inference_id(&inference_id)
        .send()
        .await
        .map_err(|e| async_error(endpoint, e))?;
    let output_location = reply
        .output_location()
        .filter(|l| S3Location::parse(l).is_some())
        .ok_or_else(|| invalid(endpoint, "reply has no s3 OutputLocation".to_owned()))?;
    let handle = JobHandle {
        inference_id: reply.inference_id().unwrap_or(&inference_id).to_owned(),
        output_location: output_location.to_owned(),
        failure_location: reply.failure_location().filter(|l| S3Location::parse(l).is_some()).map(str::to_owned),
    };
    let id = serde_json::to_string(&handle).map_err(|e| invalid(endpoint, format!("job id: {e}")))?;
    Ok(VideoJob { id })
}

/// The state of the job `job`.
pub(super) async fn poll(s3: &Arc<S3Backend>, endpoint: &str, job: &VideoJob) -> ModelResult<VideoStatus> {
    let handle: JobHandle = serde_json::from_str(&job.id).map_err(|e| {
        ModelError::new(ModelErrorKind::InvalidRequest, NAME, endpoint, format!("not a sagemaker video job id: {e}"))
    })?;
    let output = S3Location::parse(&handle.output_location)
        .ok_or_else(|| ModelError::new(ModelErrorKind::InvalidRequest, NAME, endpoint, "job has no output location"))?;
    if let Some(bytes) = read(s3, endpoint, &output).await? {
        let seconds = check_mp4(&bytes).map_err(|message| {
            invalid(endpoint, format!("inference {} wrote {}: {message}", handle.inference_id, output.url()))
        })?;
        return Ok(VideoStatus::Done { output: VideoOutput { bytes, content_type: "video/mp4".to_owned(), seconds } });
    }
    if let Some(failure) = handle.failure_location.as_deref().and_then(S3Location::parse)
        && let Some(bytes) = read(s3, endpoint, &failure).await?
    {
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        let message = if text.is_empty() { "the endpoint wrote an empty failure".to_owned() } else { text.to_owned() };
        return Ok(VideoStatus::Failed { message: truncate(&message, MAX_FAILURE_TEXT) });
    }
    Ok(VideoStatus::Pending)
}

/// The object at `location`, or `None` when it does not exist (yet).
async fn read(s3: &Arc<S3Backend>, endpoint: &str, location: &S3Location) -> ModelResult<Option<Vec<u8>>> {
    let store = s3.store(&location.bucket).map_err(|e| storage_error(endpoint, "cannot open", &location.url(), &e))?;
    let failed = |e| {
        let error = aae_storage::StorageError::from_object_store(e);
        (error.kind != StorageErrorKind::NotFound)
            .then(|| storage_error(endpoint, "cannot read", &location.url(), &error))
    };
    let found = match store.get(&location.key.as_str().into()).await {
        Ok(found) => found,
        Err(e) => return failed(e).map_or(Ok(None), Err),
    };
    match found.bytes().await {
        Ok(bytes) => Ok(Some(bytes.to_vec())),
        Err(e) => failed(e).map_or(Ok(None), Err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_locations_parse() {
        let full = S3Location::parse("s3://bucket/a/b/").expect("location");
        assert_eq!((full.bucket.as_str(), full.key.as_str()), ("bucket", "a/b/"));
        assert_eq!(S3Location::parse("s3://bucket").map(|l| l.key), Some(String::new()));
        assert_eq!(S3Location::parse("s3:///key"), None);
        assert_eq!(S3Location::parse("https://bucket/key"), None);
    }

    #[test]
    fn job_ids_round_trip() {
        let handle = JobHandle {
            inference_id: "i-1".into(),
            output_location: "s3://out/i-1.out".into(),
            failure_location: None,
        };
        let id = serde_json::to_string(&handle).expect("json");
        assert_eq!(id, r#"{"inference_id":"i-1","output_location":"s3://out/i-1.out"}"#);
        let back: JobHandle = serde_json::from_str(&id).expect("parse");
        assert_eq!(back.output_location, "s3://out/i-1.out");
    }
}
