//! Seed 003's four endpoints, with exactly its response shapes:
//! `GET /api/v1/campaigns/{campaign_id}/aws`, `GET /api/v1/campaigns/aws/list`,
//! `GET /api/v1/campaigns/aws/stats` (admins only) and `DELETE /api/v1/campaigns/{campaign_id}/aws`.
//! They answer the same on every backend: `s3` describes the campaign-outputs bucket (local
//! files and S3-compatible servers included) and `dynamodb` the campaigns store (the table on
//! DynamoDB, `campaigns` on SQL).

use std::collections::BTreeMap;

use aae_config::CampaignBackendKind;
use aae_jobs::campaigns::delete_campaign;
use aae_types::BucketPurpose;
use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::ApiQuery;
use super::campaigns::{ArtifactUrls, PageQuery, artifact_urls, artifact_urls_of, owned_campaign};
use crate::auth::{Admin, Caller};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// `GET /campaigns/{id}/aws`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignAws {
    /// Campaign id.
    pub campaign_id: String,
    /// Where its parts live.
    pub aws_services: AwsServices,
}

/// The services holding a campaign.
#[derive(Debug, Serialize, ToSchema)]
pub struct AwsServices {
    /// The artifacts' bucket.
    pub s3: S3Info,
    /// The record's table.
    pub dynamodb: DynamoInfo,
}

/// The artifacts' bucket.
#[derive(Debug, Serialize, ToSchema)]
pub struct S3Info {
    /// Physical bucket name.
    pub bucket_name: String,
    /// Region.
    pub region: String,
    /// URLs of the four artifacts: `website`, `pdf`, `artifacts`, `metadata`.
    pub files: ArtifactUrls,
}

/// The record's table.
#[derive(Debug, Serialize, ToSchema)]
pub struct DynamoInfo {
    /// Table name.
    pub table_name: String,
    /// Region.
    pub region: String,
    /// The whole record (seed 003's item).
    #[schema(value_type = Object)]
    pub data: Value,
}

/// `GET /campaigns/aws/list`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AwsList {
    /// The caller's campaigns.
    pub campaigns: Vec<AwsListItem>,
    /// How many are in this answer.
    pub total: usize,
    /// The caller.
    pub user_id: String,
    /// Pass as `cursor` for more (AAE's addition; absent on the last page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One campaign of the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct AwsListItem {
    /// Id.
    pub campaign_id: String,
    /// Name.
    pub campaign_name: String,
    /// Status.
    pub status: String,
    /// The stored artifact URLs: `website`, `pdf`, `artifacts`, `metadata`.
    pub s3_urls: BTreeMap<String, String>,
}

/// `GET /campaigns/aws/stats`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AwsStats {
    /// Over every user's campaigns.
    pub aws_stats: StatsBody,
}

/// Campaign statistics.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsBody {
    /// All campaigns.
    pub total_campaigns: u64,
    /// Count per status.
    pub status_counts: BTreeMap<String, u64>,
    /// Completed campaigns.
    pub completed_campaigns: u64,
    /// Mean execution time of completed campaigns, seconds.
    pub average_execution_time: f64,
    /// Sum of execution times, seconds.
    pub total_execution_time: f64,
}

/// `DELETE /campaigns/{id}/aws`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AwsDeletion {
    /// Campaign id.
    pub campaign_id: String,
    /// Per service.
    pub deletion_results: DeletionResults,
    /// What happened.
    pub message: String,
}

/// Per service.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletionResults {
    /// The artifacts.
    pub s3: Success,
    /// The record.
    pub dynamodb: Success,
}

/// One service's outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct Success {
    /// Whether it worked.
    pub success: bool,
    /// Objects removed (s3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_objects: Option<usize>,
}

fn region(state: &AppState) -> String {
    let config = &state.config;
    config.storage.s3.region.clone().or_else(|| config.aws.region.clone()).unwrap_or_else(|| "us-east-1".to_owned())
}

fn table_name(state: &AppState) -> String {
    match state.config.campaigns.backend {
        CampaignBackendKind::Dynamodb => state.config.campaigns_table(),
        CampaignBackendKind::Sql => "campaigns".to_owned(),
    }
}

/// Seed 003 "Get Campaign AWS Info".
#[utoipa::path(get, path = "/api/v1/campaigns/{campaign_id}/aws", tag = "campaigns", security(("bearer" = [])),
    params(("campaign_id" = String, Path, description = "Campaign id")),
    responses((status = 200, body = CampaignAws), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn info(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CampaignAws>, ApiError> {
    let campaign = owned_campaign(&state, &caller, &id).await?;
    let files = artifact_urls(&state, &campaign).await;
    let data = serde_json::to_value(&campaign).map_err(|e| ApiError::internal(e.to_string()))?;
    let region = region(&state);
    Ok(Json(CampaignAws {
        campaign_id: campaign.campaign_id,
        aws_services: AwsServices {
            s3: S3Info {
                bucket_name: state.storage.location(BucketPurpose::CampaignOutputs).name.clone(),
                region: region.clone(),
                files,
            },
            dynamodb: DynamoInfo { table_name: table_name(&state), region, data },
        },
    }))
}

/// Seed 003 "List AWS Campaigns": the caller's campaigns with their artifact URLs.
#[utoipa::path(get, path = "/api/v1/campaigns/aws/list", tag = "campaigns", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = AwsList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<AwsList>, ApiError> {
    let api = state.api()?;
    let limit = super::page_limit(query.limit)?;
    let user_id = caller.id.to_string();
    let page = api.records.campaigns.list_summaries_by_user(&user_id, limit, query.cursor.as_deref()).await?;
    let mut campaigns = Vec::with_capacity(page.items.len());
    for campaign in &page.items {
        let urls = artifact_urls_of(&state, campaign).await;
        let s3_urls =
            [("website", urls.website), ("pdf", urls.pdf), ("artifacts", urls.artifacts), ("metadata", urls.metadata)]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
                .collect();
        campaigns.push(AwsListItem {
            campaign_id: campaign.campaign_id.clone(),
            campaign_name: campaign.campaign_name.clone(),
            status: campaign.status.as_str().to_owned(),
            s3_urls,
        });
    }
    Ok(Json(AwsList { total: campaigns.len(), campaigns, user_id, next_cursor: page.next_cursor }))
}

/// Seed 003 "Get AWS Campaign Stats" over every user's campaigns; admins only (403 otherwise).
#[utoipa::path(get, path = "/api/v1/campaigns/aws/stats", tag = "campaigns", security(("bearer" = [])),
    responses((status = 200, body = AwsStats), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn stats(State(state): State<AppState>, _admin: Admin) -> Result<Json<AwsStats>, ApiError> {
    let api = state.api()?;
    let stats = api.records.campaigns.stats(None).await?;
    Ok(Json(AwsStats {
        aws_stats: StatsBody {
            total_campaigns: stats.total_campaigns,
            status_counts: stats.status_counts,
            completed_campaigns: stats.completed_campaigns,
            average_execution_time: stats.average_execution_time,
            total_execution_time: stats.total_execution_time,
        },
    }))
}

/// Seed 003 "Delete Campaign from AWS": every object under `campaigns/{id}/`, then the record
/// (unfinished jobs of the campaign are cancelled first).
#[utoipa::path(delete, path = "/api/v1/campaigns/{campaign_id}/aws", tag = "campaigns", security(("bearer" = [])),
    params(("campaign_id" = String, Path, description = "Campaign id")),
    responses((status = 200, body = AwsDeletion), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AwsDeletion>, ApiError> {
    let api = state.api()?;
    owned_campaign(&state, &caller, &id).await?;
    let deleted = delete_campaign(&api.records, &state.storage, &id).await?;
    tracing::info!(campaign = %id, objects = deleted.objects, "campaign deleted");
    Ok(Json(AwsDeletion {
        campaign_id: id,
        deletion_results: DeletionResults {
            s3: Success { success: true, deleted_objects: Some(deleted.objects) },
            dynamodb: Success { success: true, deleted_objects: None },
        },
        message: "Campaign deletion completed".to_owned(),
    }))
}
