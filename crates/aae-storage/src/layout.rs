//! The key layouts of the design documents, in one place.
//!
//! Seed 002: `users/{user_id}/jobs/{job_id}/{videos|code|thumbnails}/scene_{NNN}/…` and
//! `temp/{session_id}/{timestamp}/…`. Seed 003: `campaigns/{campaign_id}/{website/index.html,
//! pdf/campaign_report.pdf, artifacts/workflow_state.json, metadata/campaign_metadata.json}`, plus
//! `record/{part}.json` for record parts over DynamoDB's item limit.
//! Every function returns a key that passes [`crate::validate_key`] or an error naming the part
//! that made it invalid.

use crate::error::{StorageError, StorageErrorKind};
use crate::key::validate_key;

fn segment<'a>(name: &str, value: &'a str) -> Result<&'a str, StorageError> {
    if value.is_empty() || value.contains('/') || value == "." || value == ".." || value.chars().any(char::is_control) {
        return Err(StorageError::new(
            StorageErrorKind::InvalidKey,
            format!("{name} `{}` must be a non-empty path segment without `/`", value.escape_debug()),
        ));
    }
    Ok(value)
}

fn finish(key: String) -> Result<String, StorageError> {
    validate_key(&key)?;
    Ok(key)
}

/// The scene folder name of seed 002: `scene_001`.
pub fn scene_dir(scene_number: u32) -> String {
    format!("scene_{scene_number:03}")
}

/// `users/{user_id}/jobs/{job_id}/videos/scene_{NNN}/output.mp4` (seed 002 `store_rendered_video`).
pub fn video_output(user_id: &str, job_id: &str, scene_number: u32) -> Result<String, StorageError> {
    video_file(user_id, job_id, scene_number, "output.mp4")
}

/// `users/{user_id}/jobs/{job_id}/videos/scene_{NNN}/{file}`.
pub fn video_file(user_id: &str, job_id: &str, scene_number: u32, file: &str) -> Result<String, StorageError> {
    job_file(user_id, job_id, "videos", &scene_dir(scene_number), file)
}

/// `users/{user_id}/jobs/{job_id}/code/{scene}/{file}`.
pub fn code_file(user_id: &str, job_id: &str, scene: &str, file: &str) -> Result<String, StorageError> {
    job_file(user_id, job_id, "code", scene, file)
}

/// `users/{user_id}/jobs/{job_id}/thumbnails/{scene}/{file}`.
pub fn thumbnail_file(user_id: &str, job_id: &str, scene: &str, file: &str) -> Result<String, StorageError> {
    job_file(user_id, job_id, "thumbnails", scene, file)
}

/// `users/{user_id}/jobs/{job_id}/` — the prefix of everything a job stored in one bucket kind.
pub fn job_prefix(user_id: &str, job_id: &str) -> Result<String, StorageError> {
    Ok(format!("users/{}/jobs/{}/", segment("user_id", user_id)?, segment("job_id", job_id)?))
}

fn job_file(user_id: &str, job_id: &str, kind: &str, scene: &str, file: &str) -> Result<String, StorageError> {
    let file = file.trim_start_matches('/');
    finish(format!(
        "users/{}/jobs/{}/{kind}/{}/{file}",
        segment("user_id", user_id)?,
        segment("job_id", job_id)?,
        segment("scene", scene)?,
    ))
}

/// `temp/{session_id}/{timestamp}/{file}` (seed 002 temp bucket; 7-day lifecycle).
pub fn temp_file(session_id: &str, timestamp: i64, file: &str) -> Result<String, StorageError> {
    finish(format!("temp/{}/{timestamp}/{}", segment("session_id", session_id)?, file.trim_start_matches('/')))
}

/// A campaign artifact of seed 003.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignArtifact {
    /// `website/index.html`
    Website,
    /// `pdf/campaign_report.pdf`
    Pdf,
    /// `artifacts/workflow_state.json`
    WorkflowState,
    /// `metadata/campaign_metadata.json`
    Metadata,
}

impl CampaignArtifact {
    /// All four artifacts.
    pub const ALL: [CampaignArtifact; 4] = [Self::Website, Self::Pdf, Self::WorkflowState, Self::Metadata];

    /// Path below the campaign folder.
    pub fn relative_path(self) -> &'static str {
        match self {
            Self::Website => "website/index.html",
            Self::Pdf => "pdf/campaign_report.pdf",
            Self::WorkflowState => "artifacts/workflow_state.json",
            Self::Metadata => "metadata/campaign_metadata.json",
        }
    }

    /// Content type it is stored with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Website => "text/html; charset=utf-8",
            Self::Pdf => "application/pdf",
            Self::WorkflowState | Self::Metadata => "application/json",
        }
    }
}

/// `campaigns/{campaign_id}/{artifact path}`.
pub fn campaign_artifact(campaign_id: &str, artifact: CampaignArtifact) -> Result<String, StorageError> {
    finish(format!("campaigns/{}/{}", segment("campaign_id", campaign_id)?, artifact.relative_path()))
}

/// `campaigns/{campaign_id}/record/{part}.json`: a part of the campaign record too large for its
/// DynamoDB item (`final_state`, `progress_log`), kept next to the campaign's artifacts.
pub fn campaign_record_part(campaign_id: &str, part: &str) -> Result<String, StorageError> {
    finish(format!("campaigns/{}/record/{}.json", segment("campaign_id", campaign_id)?, segment("part", part)?))
}

/// `campaigns/{campaign_id}/` — everything a campaign stored.
pub fn campaign_prefix(campaign_id: &str) -> Result<String, StorageError> {
    Ok(format!("campaigns/{}/", segment("campaign_id", campaign_id)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_the_seeds() -> Result<(), StorageError> {
        assert_eq!(video_output("u1", "j1", 7)?, "users/u1/jobs/j1/videos/scene_007/output.mp4");
        assert_eq!(code_file("u1", "j1", "scene_007", "main.py")?, "users/u1/jobs/j1/code/scene_007/main.py");
        assert_eq!(
            thumbnail_file("u1", "j1", "scene_007", "thumb.jpg")?,
            "users/u1/jobs/j1/thumbnails/scene_007/thumb.jpg"
        );
        assert_eq!(temp_file("s1", 1_700_000_000, "a.bin")?, "temp/s1/1700000000/a.bin");
        let id = "campaign_20241201_120000_123456";
        assert_eq!(campaign_artifact(id, CampaignArtifact::Website)?, format!("campaigns/{id}/website/index.html"));
        assert_eq!(campaign_artifact(id, CampaignArtifact::Pdf)?, format!("campaigns/{id}/pdf/campaign_report.pdf"));
        assert_eq!(
            campaign_artifact(id, CampaignArtifact::WorkflowState)?,
            format!("campaigns/{id}/artifacts/workflow_state.json")
        );
        assert_eq!(
            campaign_artifact(id, CampaignArtifact::Metadata)?,
            format!("campaigns/{id}/metadata/campaign_metadata.json")
        );
        assert_eq!(campaign_record_part(id, "final_state")?, format!("campaigns/{id}/record/final_state.json"));
        assert!(campaign_record_part(id, "a/b").is_err());
        assert_eq!(scene_dir(123), "scene_123");
        Ok(())
    }

    #[test]
    fn rejects_ids_that_would_escape() {
        assert!(video_output("../x", "j", 1).is_err());
        assert!(video_output("u/v", "j", 1).is_err());
        assert!(campaign_artifact("", CampaignArtifact::Pdf).is_err());
        assert!(temp_file("s", 1, "../../etc/passwd").is_err());
    }
}
