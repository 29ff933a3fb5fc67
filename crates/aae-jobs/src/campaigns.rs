//! Creating, resuming and deleting campaigns: what `aae campaign` and the HTTP API share.
//!
//! A campaign is a record (seed 003, `pending`) plus a `campaign` job that runs it; resuming
//! cancels the campaign's unfinished earlier jobs and queues a new one (the checkpoint skips the
//! finished steps); deleting removes every object under `campaigns/{id}/` and then the record.

use aae_storage::StorageService;
use aae_storage::layout::campaign_prefix;
use aae_store::{Campaign, CampaignStatus, JobFilter, JobStatus, NewJob, Priority, Records, StoreError};
use aae_types::{BucketPurpose, CampaignBrief, ErrorCode, UserModelPreference};
use chrono::Utc;
use serde_json::Value;
use uuid::Uuid;

use crate::kinds::{CAMPAIGN_KIND, CampaignJobInput};

/// Why a campaign operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CampaignOpError {
    /// A record could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An artifact could not be listed or deleted.
    #[error(transparent)]
    Storage(#[from] aae_storage::StorageError),
    /// The campaign is in a state that does not allow the operation.
    #[error("{0}")]
    Conflict(String),
    /// The stored brief or the input cannot be used.
    #[error("{0}")]
    Invalid(String),
}

impl CampaignOpError {
    /// The closed error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Store(e) => e.code(),
            Self::Storage(e) => e.code(),
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::Invalid(_) => ErrorCode::InvalidInput,
        }
    }
}

/// Who a campaign belongs to and who pays for it.
#[derive(Debug, Clone, Default)]
pub struct CampaignOwner {
    /// The record's `user_id` (seed 003: a user name or id, as text).
    pub label: String,
    /// The paying user: usage records and the credit hold go to this user.
    pub user_id: Option<Uuid>,
    /// The conversational model to use (default: the configured default).
    pub preference: Option<UserModelPreference>,
}

/// Seed 003's id format: `campaign_YYYYMMDD_HHMMSS_ffffff`.
pub fn new_campaign_id() -> String {
    Utc::now().format("campaign_%Y%m%d_%H%M%S_%6f").to_string()
}

/// Creates the record (`pending`) and queues its `campaign` job; returns both.
pub async fn create_campaign(
    records: &Records,
    brief: CampaignBrief,
    owner: &CampaignOwner,
) -> Result<(Campaign, Uuid), CampaignOpError> {
    // Ids carry microseconds; two campaigns created in the same microsecond get a suffix.
    let mut campaign_id = new_campaign_id();
    if records.campaigns.get(&campaign_id).await.is_ok() {
        campaign_id = format!("{campaign_id}_{}", &Uuid::new_v4().simple().to_string()[..6]);
    }
    let mut campaign = Campaign::new(&campaign_id, &owner.label, &brief.name);
    campaign.campaign_brief =
        serde_json::to_value(&brief).map_err(|e| CampaignOpError::Invalid(format!("brief: {e}")))?;
    records.campaigns.put(&campaign).await?;
    let job = enqueue(records, &campaign_id, brief, owner).await?;
    Ok((campaign, job))
}

/// Queues a new job for a campaign that is not completed, after cancelling its unfinished
/// earlier jobs (a worker that died mid-run leaves its job `running` until the lease expires;
/// it would then run beside the resumed one). Returns the new job and how many were cancelled.
pub async fn resume_campaign(
    records: &Records,
    campaign: &Campaign,
    owner: &CampaignOwner,
) -> Result<(Uuid, usize), CampaignOpError> {
    if campaign.status == CampaignStatus::Completed {
        return Err(CampaignOpError::Conflict(format!(
            "campaign {} is already completed; nothing to resume",
            campaign.campaign_id
        )));
    }
    let brief: CampaignBrief = serde_json::from_value(campaign.campaign_brief.clone())
        .map_err(|e| CampaignOpError::Invalid(format!("campaign {} has no usable brief: {e}", campaign.campaign_id)))?;
    let cancelled = cancel_unfinished_jobs(records, &campaign.campaign_id).await?;
    // A campaign the API created belongs to a user (its `user_id` is the user's id): that user
    // keeps paying for it, whoever resumes it.
    let mut owner = owner.clone();
    if owner.user_id.is_none()
        && let Ok(id) = Uuid::parse_str(&campaign.user_id)
        && records.users.get(id).await.is_ok()
    {
        owner.user_id = Some(id);
    }
    let job = enqueue(records, &campaign.campaign_id, brief, &owner).await?;
    Ok((job, cancelled))
}

/// The outcome of [`delete_campaign`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignDeletion {
    /// Objects removed from `campaigns/{id}/`.
    pub objects: usize,
    /// Unfinished jobs of the campaign that were cancelled first.
    pub jobs_cancelled: usize,
}

/// Cancels the campaign's unfinished jobs, deletes every object under `campaigns/{id}/`, then
/// the record. The record goes last, so a failure part-way leaves it to retry the delete with.
pub async fn delete_campaign(
    records: &Records,
    storage: &StorageService,
    campaign_id: &str,
) -> Result<CampaignDeletion, CampaignOpError> {
    records.campaigns.get(campaign_id).await?;
    let jobs_cancelled = cancel_unfinished_jobs(records, campaign_id).await?;
    let prefix = campaign_prefix(campaign_id)?;
    let objects = storage.list(BucketPurpose::CampaignOutputs, &prefix, usize::MAX).await?;
    for object in &objects {
        storage.delete(BucketPurpose::CampaignOutputs, &object.key).await?;
    }
    records.campaigns.delete(campaign_id).await?;
    Ok(CampaignDeletion { objects: objects.len(), jobs_cancelled })
}

/// The campaign's queued or running `campaign` jobs, newest first.
pub async fn campaign_jobs(records: &Records, campaign_id: &str) -> Result<Vec<aae_store::Job>, StoreError> {
    let mut jobs = Vec::new();
    for status in [JobStatus::Queued, JobStatus::Running] {
        let filter = JobFilter {
            kind: Some(CAMPAIGN_KIND.to_owned()),
            status: Some(status),
            limit: 1000,
            ..JobFilter::default()
        };
        for job in records.jobs.list(&filter).await? {
            if job.configuration.get("campaign_id").and_then(Value::as_str) == Some(campaign_id) {
                jobs.push(job);
            }
        }
    }
    Ok(jobs)
}

async fn cancel_unfinished_jobs(records: &Records, campaign_id: &str) -> Result<usize, StoreError> {
    let jobs = campaign_jobs(records, campaign_id).await?;
    let mut cancelled = 0;
    for job in jobs {
        match records.jobs.cancel(job.id).await {
            Ok(_) => cancelled += 1,
            // It finished between the listing and the cancel.
            Err(e) if e.kind == aae_store::StoreErrorKind::Conflict => {}
            Err(e) => return Err(e),
        }
    }
    Ok(cancelled)
}

async fn enqueue(
    records: &Records,
    campaign_id: &str,
    brief: CampaignBrief,
    owner: &CampaignOwner,
) -> Result<Uuid, CampaignOpError> {
    let topic = format!("campaign {}", brief.name);
    let input = CampaignJobInput {
        campaign_id: campaign_id.to_owned(),
        brief,
        user_id: owner.user_id,
        preference: owner.preference.clone(),
    };
    let configuration =
        serde_json::to_value(&input).map_err(|e| CampaignOpError::Invalid(format!("job input: {e}")))?;
    let job = records
        .jobs
        .enqueue(NewJob {
            user_id: owner.user_id,
            description: Some(format!("campaign {campaign_id}")),
            configuration,
            priority: Priority::Normal,
            ..NewJob::new(CAMPAIGN_KIND, topic)
        })
        .await?;
    Ok(job.id)
}
