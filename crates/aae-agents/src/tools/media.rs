//! `generate_image` and `generate_video`: media from the generation models (Qwen-Image and
//! Wan2.2 on SageMaker) through the router, so usage, cost and credits are recorded.

use std::sync::Arc;

use aae_models::{ImageRequest, ModelError, ModelErrorKind, VideoRequest};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::parse_args;
use super::workspace::{AssetKind, CampaignWorkspace, CreativeSource, StoredCreative, StoredMedia};
use crate::agent::RunContext;
use crate::tool::{Tool, ToolError, ToolOutput};

/// Why a generation call failed, in terms the model (and the operator) can act on. A missing
/// provider is `Failed` with what to configure; throttling and outages are `Transient`.
fn model_error(what: &str, needs: &str, error: &ModelError) -> ToolError {
    match error.kind {
        ModelErrorKind::NotConfigured | ModelErrorKind::Unsupported | ModelErrorKind::UnknownModel => {
            ToolError::Failed(format!("{what} is not available ({error}); it needs {needs}"))
        }
        _ if error.is_retryable() => ToolError::Transient(format!("{what} failed: {error}")),
        _ => ToolError::Failed(format!("{what} failed: {error}")),
    }
}

/// A file stem the model chose, or `{default_prefix}_{n}`.
fn file_stem(name: Option<String>, default_prefix: &str, n: usize) -> Result<String, ToolError> {
    let name = name.unwrap_or_else(|| format!("{default_prefix}_{n}"));
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if valid {
        Ok(name)
    } else {
        Err(ToolError::InvalidArguments(format!("name {name:?} must match [a-z0-9_-]{{1,64}}")))
    }
}

/// `generate_image`: one image from the image model, stored at `creatives/{name}.png` (`.jpg`,
/// `.webp` when the model answers in those formats), usable
/// as a creative and as the background of `render_ad_creatives`.
#[derive(Debug, Clone)]
pub struct GenerateImage {
    workspace: Arc<CampaignWorkspace>,
}

impl GenerateImage {
    /// The tool over `workspace`.
    pub fn new(workspace: Arc<CampaignWorkspace>) -> Self {
        Self { workspace }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageArgs {
    prompt: String,
    #[serde(default)]
    negative_prompt: Option<String>,
    #[serde(default = "default_side")]
    width: u32,
    #[serde(default = "default_side")]
    height: u32,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    name: Option<String>,
}

fn default_side() -> u32 {
    1024
}

#[async_trait]
impl Tool for GenerateImage {
    fn name(&self) -> &str {
        "generate_image"
    }

    fn description(&self) -> &str {
        "Generates one image with the image model (Qwen-Image) from a prompt and stores it with the \
         creatives; render_ad_creatives can use it as a background. Only available when the \
         SageMaker image endpoint is configured."
    }

    fn parameters(&self) -> Value {
        let side = json!({"type": "integer", "minimum": 256, "maximum": 2048});
        json!({
            "type": "object",
            "properties": {
                "prompt": {"type": "string", "minLength": 1, "maxLength": 2000},
                "negative_prompt": {"type": "string", "maxLength": 2000},
                "width": side,
                "height": side,
                "seed": {"type": "integer", "minimum": 0},
                "name": {"type": "string", "minLength": 1, "maxLength": 64,
                         "description": "File name without extension, [a-z0-9_-] (default generated_N)."}
            },
            "required": ["prompt"],
            "additionalProperties": false
        })
    }

    async fn call(&self, context: &RunContext, arguments: Value) -> Result<ToolOutput, ToolError> {
        let args: ImageArgs = parse_args(arguments)?;
        let ws = &self.workspace;
        let n = ws.update(|s| s.creatives.iter().filter(|c| c.source == CreativeSource::Generated).count()) + 1;
        let name = file_stem(args.name, "generated", n)?;
        // A seed is always recorded, so the image can be made again.
        let seed = args.seed.unwrap_or_else(|| rand::random::<u32>().into());
        let request = ImageRequest {
            prompt: args.prompt.clone(),
            negative_prompt: args.negative_prompt.clone(),
            width: args.width,
            height: args.height,
            seed: Some(seed),
            steps: None,
        };
        let needs = "the sagemaker provider (providers.sagemaker.enabled and providers.sagemaker.qwen_image_endpoint)";
        let routed = context
            .router
            .generate_image(&context.call, &request)
            .await
            .map_err(|e| model_error("image generation", needs, &e))?;
        let extension = match routed.value.content_type.as_str() {
            "image/jpeg" => "jpg",
            "image/webp" => "webp",
            _ => "png",
        };
        let key = ws.creative_key(&format!("{name}.{extension}"))?;
        let stored = ws.store(&key, routed.value.bytes, &routed.value.content_type, "generated_image").await?;
        let mut provenance = ws.provenance(
            &key,
            AssetKind::GeneratedImage,
            json!({"negative_prompt": args.negative_prompt, "width": args.width, "height": args.height}),
        );
        provenance.prompt = Some(args.prompt.clone());
        provenance.model = routed.model.key();
        provenance.seed = Some(seed);
        provenance.cost_micros = routed.cost_micros;
        let alt: String = args.prompt.chars().take(200).collect();
        ws.put_creative(StoredCreative {
            name: name.clone(),
            key: key.clone(),
            width: args.width,
            height: args.height,
            alt,
            source: CreativeSource::Generated,
            contrast_min: None,
        });
        ws.record(self.name(), vec![provenance]);
        Ok(json!({
            "name": name, "key": key, "url": stored.url, "width": args.width, "height": args.height,
            "seed": seed, "model": routed.model.key(), "cost_micros": routed.cost_micros,
        }))
    }
}

/// `generate_video`: one video from the video model, stored at `media/{name}.mp4`.
#[derive(Debug, Clone)]
pub struct GenerateVideo {
    workspace: Arc<CampaignWorkspace>,
}

impl GenerateVideo {
    /// The tool over `workspace`.
    pub fn new(workspace: Arc<CampaignWorkspace>) -> Self {
        Self { workspace }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VideoArgs {
    prompt: String,
    #[serde(default = "default_seconds")]
    seconds: u32,
    #[serde(default)]
    name: Option<String>,
}

fn default_seconds() -> u32 {
    5
}

#[async_trait]
impl Tool for GenerateVideo {
    fn name(&self) -> &str {
        "generate_video"
    }

    fn description(&self) -> &str {
        "Generates a short video with the video model (Wan2.2) from a prompt and stores it with the \
         campaign's media. Takes minutes. Only available when the SageMaker video endpoint is \
         configured."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "prompt": {"type": "string", "minLength": 1, "maxLength": 2000},
                "seconds": {"type": "integer", "minimum": 1, "maximum": 10},
                "name": {"type": "string", "minLength": 1, "maxLength": 64,
                         "description": "File name without extension, [a-z0-9_-] (default video_N)."}
            },
            "required": ["prompt"],
            "additionalProperties": false
        })
    }

    async fn call(&self, context: &RunContext, arguments: Value) -> Result<ToolOutput, ToolError> {
        let args: VideoArgs = parse_args(arguments)?;
        let ws = &self.workspace;
        let n = ws.update(|s| s.media.len()) + 1;
        let name = file_stem(args.name, "video", n)?;
        let key = ws.media_key(&format!("{name}.mp4"))?;
        let request = VideoRequest { prompt: args.prompt.clone(), seconds: args.seconds };
        let needs = "the sagemaker provider (providers.sagemaker.enabled, providers.sagemaker.wan_video_endpoint \
                     and providers.sagemaker.async_input_location)";
        let routed = context
            .router
            .generate_video(&context.call, &request)
            .await
            .map_err(|e| model_error("video generation", needs, &e))?;
        let video = routed.value;
        let stored = ws.store(&key, video.bytes, &video.content_type, "generated_video").await?;
        let mut provenance = ws.provenance(&key, AssetKind::GeneratedVideo, json!({"seconds": args.seconds}));
        provenance.prompt = Some(args.prompt);
        provenance.model = routed.model.key();
        provenance.cost_micros = routed.cost_micros;
        ws.update(|state| {
            state.media.retain(|m| m.key != key);
            state.media.push(StoredMedia {
                name: name.clone(),
                key: key.clone(),
                content_type: video.content_type.clone(),
                seconds: video.seconds,
            });
        });
        ws.record(self.name(), vec![provenance]);
        Ok(json!({
            "name": name, "key": key, "url": stored.url, "seconds": video.seconds,
            "model": routed.model.key(), "cost_micros": routed.cost_micros,
        }))
    }
}
