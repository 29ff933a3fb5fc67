//! [`CampaignWorkspace`]: one campaign's brief, storage and the record of what its tools made,
//! and [`SaveCampaign`], the tool that writes that record to storage.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use aae_storage::layout::{CampaignArtifact, campaign_artifact, campaign_prefix};
use aae_storage::{ObjectMetadata, StorageError, StorageService, UploadOptions, UploadResult, validate_key};
use aae_types::{BriefError, BriefFormat, BucketPurpose, CampaignBrief};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{parse_args, storage_error};
use crate::agent::RunContext;
use crate::tool::{Tool, ToolError, ToolOutput};

/// The `model` of assets AAE draws itself rather than asking a model for.
pub const RENDERER: &str = "aae-creative renderer";

/// Reads a brief file: TOML or JSON by its extension (`.toml`, `.json`), parsed and validated.
/// Its relative `logo` path is relative to the file's folder (see
/// [`CampaignWorkspace::with_brief_dir`]).
pub fn load_brief(path: &Path) -> Result<CampaignBrief, BriefError> {
    let format = BriefFormat::from_path(path)?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| BriefError::Read { path: path.to_path_buf(), message: e.to_string() })?;
    CampaignBrief::parse(&text, format)
}

/// What kind of asset a [`Provenance`] record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    /// A creative rendered by `aae-creative` (`creatives/{size}.png`).
    Creative,
    /// An image from the image model (`creatives/{name}.png`).
    GeneratedImage,
    /// A video from the video model (`media/{name}.mp4`).
    GeneratedVideo,
    /// The landing page (`website/index.html`).
    LandingPage,
    /// The PDF report (`pdf/campaign_report.pdf`).
    Report,
}

/// Where an asset came from: enough to explain it and to make it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Its key in the campaign-outputs bucket.
    pub asset_key: String,
    /// What it is.
    pub kind: AssetKind,
    /// The prompt given to the model (generated assets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Every other input that shaped it (texts, colours, sizes, shares).
    pub inputs: Value,
    /// `provider/model` that made it, or [`RENDERER`].
    pub model: String,
    /// The seed used, when the model takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// What making it cost, in micro-credits.
    pub cost_micros: i64,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// Whether a creative was drawn or generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreativeSource {
    /// Drawn by `aae-creative` (`render_ad_creatives`).
    Rendered,
    /// Made by the image model (`generate_image`).
    Generated,
}

/// A stored creative image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCreative {
    /// File stem, e.g. `square_1080x1080`.
    pub name: String,
    /// Key in the campaign-outputs bucket.
    pub key: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Alternative text for pages that show it.
    pub alt: String,
    /// Drawn or generated.
    pub source: CreativeSource,
    /// Lowest WCAG contrast ratio of its texts (rendered creatives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contrast_min: Option<f64>,
}

/// A stored video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMedia {
    /// File stem.
    pub name: String,
    /// Key in the campaign-outputs bucket.
    pub key: String,
    /// MIME type.
    pub content_type: String,
    /// Duration in seconds.
    pub seconds: f64,
}

/// One tool run that changed the workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The tool.
    pub tool: String,
    /// When it finished.
    pub at: DateTime<Utc>,
    /// The keys it stored.
    pub outputs: Vec<String>,
}

/// Everything the campaign's tools produced so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceState {
    /// Tool runs, oldest first.
    pub steps: Vec<Step>,
    /// Creatives, rendered and generated, in the order they were made.
    pub creatives: Vec<StoredCreative>,
    /// Videos.
    #[serde(default)]
    pub media: Vec<StoredMedia>,
    /// Key of `website/index.html` once made.
    pub landing_page: Option<String>,
    /// Key of `pdf/campaign_report.pdf` once made.
    pub report: Option<String>,
    /// Audience and market insights given to the report, one paragraph each.
    #[serde(default)]
    pub insights: Vec<String>,
    /// The strategy given to the report, one paragraph each.
    #[serde(default)]
    pub strategy: Vec<String>,
    /// One record per stored asset (the latest when an asset was made again).
    pub provenance: Vec<Provenance>,
    /// The summary given to `save_campaign`.
    pub summary: Option<String>,
    /// Campaign pipeline steps completed so far, in order (`market_insights`, `ad_creatives`,
    /// `publish`, `save`); a resumed run skips them.
    #[serde(default)]
    pub completed_steps: Vec<String>,
}

/// `artifacts/workflow_state.json`: the workspace state when it was saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowState {
    /// The campaign.
    pub campaign_id: String,
    /// When it was saved.
    pub saved_at: DateTime<Utc>,
    /// The state.
    #[serde(flatten)]
    pub state: WorkspaceState,
}

/// The keys of everything a campaign stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactKeys {
    /// `website/index.html`, once made.
    pub website: Option<String>,
    /// `pdf/campaign_report.pdf`, once made.
    pub pdf: Option<String>,
    /// `artifacts/workflow_state.json`.
    pub workflow_state: String,
    /// `metadata/campaign_metadata.json`.
    pub metadata: String,
    /// Every creative.
    pub creatives: Vec<String>,
    /// Every video.
    pub media: Vec<String>,
}

/// `metadata/campaign_metadata.json`: the brief, the asset keys with their provenance,
/// timestamps and costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignMetadata {
    /// The campaign.
    pub campaign_id: String,
    /// Its brief.
    pub brief: CampaignBrief,
    /// When the workspace was opened.
    pub created_at: DateTime<Utc>,
    /// When it was saved.
    pub updated_at: DateTime<Utc>,
    /// The summary given to `save_campaign`.
    pub summary: String,
    /// Where everything is.
    pub artifacts: ArtifactKeys,
    /// One provenance record per stored asset.
    pub assets: Vec<Provenance>,
    /// Sum of the assets' costs, in micro-credits.
    pub total_cost_micros: i64,
}

/// One campaign's shared workspace: its id, brief and storage, and the state its tools write
/// into. Shared by the tools as `Arc<CampaignWorkspace>`; the state sits behind a mutex never
/// held across an await.
pub struct CampaignWorkspace {
    campaign_id: String,
    storage: Arc<StorageService>,
    brief: CampaignBrief,
    brief_dir: Option<PathBuf>,
    created_at: DateTime<Utc>,
    state: Mutex<WorkspaceState>,
}

impl std::fmt::Debug for CampaignWorkspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CampaignWorkspace").field("campaign_id", &self.campaign_id).finish_non_exhaustive()
    }
}

impl CampaignWorkspace {
    /// An empty workspace. Fails when `campaign_id` cannot be a key segment.
    pub fn new(
        campaign_id: impl Into<String>,
        storage: Arc<StorageService>,
        brief: CampaignBrief,
    ) -> Result<Self, StorageError> {
        let campaign_id = campaign_id.into();
        campaign_prefix(&campaign_id)?;
        Ok(Self {
            campaign_id,
            storage,
            brief,
            brief_dir: None,
            created_at: Utc::now(),
            state: Mutex::new(WorkspaceState::default()),
        })
    }

    /// Resolves the brief's relative `logo` path against `dir` (the brief file's folder)
    /// instead of the working directory.
    pub fn with_brief_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.brief_dir = Some(dir.into());
        self
    }

    /// Starts from a saved state (resuming a campaign).
    pub fn with_state(self, state: WorkspaceState) -> Self {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
        self
    }

    /// The campaign id.
    pub fn campaign_id(&self) -> &str {
        &self.campaign_id
    }

    /// The brief.
    pub fn brief(&self) -> &CampaignBrief {
        &self.brief
    }

    /// The storage service.
    pub fn storage(&self) -> &Arc<StorageService> {
        &self.storage
    }

    /// When the workspace was opened.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// A copy of the current state.
    pub fn state(&self) -> WorkspaceState {
        self.update(|state| state.clone())
    }

    /// Changes the state under its lock.
    pub fn update<R>(&self, f: impl FnOnce(&mut WorkspaceState) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// `campaigns/{campaign_id}/creatives/{file}`.
    pub fn creative_key(&self, file: &str) -> Result<String, ToolError> {
        self.key_under("creatives", file)
    }

    /// `campaigns/{campaign_id}/media/{file}`.
    pub fn media_key(&self, file: &str) -> Result<String, ToolError> {
        self.key_under("media", file)
    }

    /// The key of one of seed 003's four artifacts.
    pub fn artifact_key(&self, artifact: CampaignArtifact) -> Result<String, ToolError> {
        campaign_artifact(&self.campaign_id, artifact).map_err(storage_error)
    }

    fn key_under(&self, folder: &str, file: &str) -> Result<String, ToolError> {
        if file.is_empty() || file.contains('/') {
            return Err(ToolError::InvalidArguments(format!("{file:?} is not a file name")));
        }
        let key = format!("{}{folder}/{file}", campaign_prefix(&self.campaign_id).map_err(storage_error)?);
        validate_key(&key).map_err(storage_error)?;
        Ok(key)
    }

    /// Stores `bytes` at `key` in the campaign-outputs bucket.
    pub async fn store(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        file_type: &str,
    ) -> Result<UploadResult, ToolError> {
        let options = UploadOptions {
            content_type: Some(content_type.to_owned()),
            metadata: ObjectMetadata {
                job_id: Some(self.campaign_id.clone()),
                file_type: Some(file_type.to_owned()),
                ..ObjectMetadata::default()
            },
        };
        self.storage
            .upload_bytes(BucketPurpose::CampaignOutputs, key, bytes.into(), &options)
            .await
            .map_err(storage_error)
    }

    /// Reads an object of the campaign-outputs bucket.
    pub async fn download(&self, key: &str) -> Result<Vec<u8>, ToolError> {
        let (_, bytes) =
            self.storage.download_bytes(BucketPurpose::CampaignOutputs, key).await.map_err(storage_error)?;
        Ok(bytes.to_vec())
    }

    /// The brief's logo file, read from disk (relative paths against the brief's folder).
    pub async fn logo(&self) -> Result<Option<Vec<u8>>, ToolError> {
        let Some(logo) = &self.brief.logo else { return Ok(None) };
        let path = match &self.brief_dir {
            Some(dir) if logo.is_relative() => dir.join(logo),
            _ => logo.clone(),
        };
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| ToolError::Failed(format!("cannot read the brief's logo {}: {e}", path.display())))?;
        Ok(Some(bytes))
    }

    /// Records a tool run and the provenance of what it stored (replacing older records of the
    /// same keys).
    pub fn record(&self, tool: &str, assets: Vec<Provenance>) {
        let outputs = assets.iter().map(|p| p.asset_key.clone()).collect();
        self.update(|state| {
            for asset in assets {
                state.provenance.retain(|p| p.asset_key != asset.asset_key);
                state.provenance.push(asset);
            }
            state.steps.push(Step { tool: tool.to_owned(), at: Utc::now(), outputs });
        });
    }

    /// Adds or replaces (by key) a creative.
    pub fn put_creative(&self, creative: StoredCreative) {
        self.update(|state| match state.creatives.iter_mut().find(|c| c.key == creative.key) {
            Some(existing) => *existing = creative,
            None => state.creatives.push(creative),
        });
    }

    /// A provenance record for an asset stored now.
    pub fn provenance(&self, asset_key: &str, kind: AssetKind, inputs: Value) -> Provenance {
        Provenance {
            asset_key: asset_key.to_owned(),
            kind,
            prompt: None,
            inputs,
            model: RENDERER.to_owned(),
            seed: None,
            cost_micros: 0,
            created_at: Utc::now(),
        }
    }
}

/// `save_campaign`: writes `artifacts/workflow_state.json` and `metadata/campaign_metadata.json`.
#[derive(Debug, Clone)]
pub struct SaveCampaign {
    workspace: Arc<CampaignWorkspace>,
}

impl SaveCampaign {
    /// The tool over `workspace`.
    pub fn new(workspace: Arc<CampaignWorkspace>) -> Self {
        Self { workspace }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SaveArgs {
    summary: String,
}

#[async_trait]
impl Tool for SaveCampaign {
    fn name(&self) -> &str {
        "save_campaign"
    }

    fn description(&self) -> &str {
        "Saves the campaign: writes the workflow state (steps, assets, provenance) and the campaign \
         metadata (brief, asset keys, timestamps, costs). Call it last, with a short summary."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 4000,
                            "description": "What the campaign consists of, in a few sentences."}
            },
            "required": ["summary"],
            "additionalProperties": false
        })
    }

    async fn call(&self, _context: &RunContext, arguments: Value) -> Result<ToolOutput, ToolError> {
        let args: SaveArgs = parse_args(arguments)?;
        if args.summary.trim().is_empty() {
            return Err(ToolError::InvalidArguments("summary is empty; describe the campaign".into()));
        }
        let ws = &self.workspace;
        let state_key = ws.artifact_key(CampaignArtifact::WorkflowState)?;
        let metadata_key = ws.artifact_key(CampaignArtifact::Metadata)?;
        let saved_at = Utc::now();
        let state = ws.update(|state| {
            state.summary = Some(args.summary.clone());
            let outputs = vec![state_key.clone(), metadata_key.clone()];
            state.steps.push(Step { tool: self.name().to_owned(), at: saved_at, outputs });
            state.clone()
        });
        let metadata = CampaignMetadata {
            campaign_id: ws.campaign_id.clone(),
            brief: ws.brief.clone(),
            created_at: ws.created_at,
            updated_at: saved_at,
            summary: args.summary,
            artifacts: ArtifactKeys {
                website: state.landing_page.clone(),
                pdf: state.report.clone(),
                workflow_state: state_key.clone(),
                metadata: metadata_key.clone(),
                creatives: state.creatives.iter().map(|c| c.key.clone()).collect(),
                media: state.media.iter().map(|m| m.key.clone()).collect(),
            },
            total_cost_micros: state.provenance.iter().map(|p| p.cost_micros).sum(),
            assets: state.provenance.clone(),
        };
        let workflow = WorkflowState { campaign_id: ws.campaign_id.clone(), saved_at, state };
        let encode = |value: serde_json::Result<Vec<u8>>| {
            value.map_err(|e| ToolError::Failed(format!("cannot encode the campaign state: {e}")))
        };
        let workflow_json = encode(serde_json::to_vec_pretty(&workflow))?;
        let metadata_json = encode(serde_json::to_vec_pretty(&metadata))?;
        let json_type = CampaignArtifact::Metadata.content_type();
        let (state_stored, metadata_stored) = futures::future::try_join(
            ws.store(&state_key, workflow_json, json_type, "workflow_state"),
            ws.store(&metadata_key, metadata_json, json_type, "campaign_metadata"),
        )
        .await?;
        Ok(json!({
            "workflow_state": {"key": state_key, "url": state_stored.url},
            "metadata": {"key": metadata_key, "url": metadata_stored.url},
            "assets": metadata.assets.len(),
            "total_cost_micros": metadata.total_cost_micros,
        }))
    }
}
