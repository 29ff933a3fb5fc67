//! The platform tools the campaign's agents call (issue 5): they turn the agents' words into the
//! stored artifacts of a campaign.
//!
//! | tool | stores | with |
//! | --- | --- | --- |
//! | `render_ad_creatives` ([`RenderAdCreatives`]) | `creatives/{size}.png`, every standard size | `aae-creative` |
//! | `generate_image` ([`GenerateImage`]) | `creatives/{name}.png` | the image model (Qwen-Image on SageMaker) |
//! | `generate_video` ([`GenerateVideo`]) | `media/{name}.mp4` | the video model (Wan2.2 on SageMaker) |
//! | `create_landing_page` ([`CreateLandingPage`]) | `website/index.html` | `aae-creative` |
//! | `create_pdf_report` ([`CreatePdfReport`]) | `pdf/campaign_report.pdf` | `aae-creative` |
//! | `save_campaign` ([`SaveCampaign`]) | `artifacts/workflow_state.json`, `metadata/campaign_metadata.json` | serde |
//!
//! **Layout.** Every key is below `campaigns/{campaign_id}/` in the campaign-outputs bucket, as
//! seed 003 lays it out (`aae_storage::layout::campaign_artifact` for its four artifacts; the
//! creatives and media folders next to them). The landing page refers to the creatives by
//! relative URLs (`../creatives/{name}.png`), so the campaign folder works as it is, served from
//! the bucket, a CDN or a copy on disk.
//!
//! **Provenance.** All tools of one campaign share a [`CampaignWorkspace`]: the brief (brand
//! colours, logo, budget and currency come from it, not from the model), the storage service,
//! and a [`WorkspaceState`] of what was made so far. Every stored asset gets a [`Provenance`]
//! record: its key and kind, the prompt and inputs that shaped it, the model (`provider/model`,
//! or [`RENDERER`] for what AAE draws itself), the seed and the cost in micro-credits.
//! `save_campaign` writes the state and the metadata (brief, keys, timestamps, costs) as JSON
//! that reads back into [`WorkflowState`] and [`CampaignMetadata`].
//!
//! [`load_brief`] reads a brief file (the parsing and validation are `aae-types`', which does no
//! IO).
//!
//! Errors follow [`ToolError`]: arguments the model can fix are `InvalidArguments` naming the
//! field, storage hiccups are `Transient` (retried by the agent loop), anything else `Failed`.

mod creatives;
mod landing_page;
mod media;
mod report;
mod workspace;

use std::sync::Arc;

use aae_creative::CreativeError;
use aae_storage::StorageError;
use aae_types::ErrorCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use creatives::RenderAdCreatives;
pub use landing_page::CreateLandingPage;
pub use media::{GenerateImage, GenerateVideo};
pub use report::CreatePdfReport;
pub use workspace::{
    ArtifactKeys, AssetKind, CampaignMetadata, CampaignWorkspace, CreativeSource, Provenance, RENDERER, SaveCampaign,
    Step, StoredCreative, StoredMedia, WorkflowState, WorkspaceState, load_brief,
};

use crate::tool::{Tool, ToolError};

/// Every platform tool over `workspace`: `render_ad_creatives`, `generate_image`,
/// `generate_video`, `create_landing_page`, `create_pdf_report`, `save_campaign`.
pub fn platform_tools(workspace: &Arc<CampaignWorkspace>) -> Vec<Arc<dyn Tool>> {
    vec![
        Arc::new(RenderAdCreatives::new(workspace.clone())),
        Arc::new(GenerateImage::new(workspace.clone())),
        Arc::new(GenerateVideo::new(workspace.clone())),
        Arc::new(CreateLandingPage::new(workspace.clone())),
        Arc::new(CreatePdfReport::new(workspace.clone())),
        Arc::new(SaveCampaign::new(workspace.clone())),
    ]
}

/// Reads a tool's arguments; serde's message names the field.
fn parse_args<T: DeserializeOwned>(arguments: Value) -> Result<T, ToolError> {
    serde_json::from_value(arguments).map_err(|e| ToolError::InvalidArguments(e.to_string()))
}

/// Storage failures: retryable ones are `Transient`.
fn storage_error(error: StorageError) -> ToolError {
    if error.is_retryable() { ToolError::Transient(error.to_string()) } else { ToolError::Failed(error.to_string()) }
}

/// Rendering failures: bad input is the model's to fix.
fn creative_error(error: CreativeError) -> ToolError {
    match error.code() {
        ErrorCode::InvalidInput => ToolError::InvalidArguments(error.to_string()),
        _ => ToolError::Failed(error.to_string()),
    }
}

/// Runs CPU-bound rendering off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CreativeError> + Send + 'static,
) -> Result<T, ToolError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ToolError::Failed(format!("the renderer stopped: {e}")))?
        .map_err(creative_error)
}
