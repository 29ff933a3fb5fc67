//! Campaigns: `POST /api/v1/campaigns` (brief → record + job, 202), list, show with progress,
//! `events` (Server-Sent Events as the progress log grows), `resume`, and seed 003's four AWS
//! endpoints with exactly its response shapes (`aws_shapes.rs`).
//!
//! Every campaign belongs to the user who created it (its `user_id` is the user's id); another
//! user's campaign answers 404, as a missing one does.

use std::convert::Infallible;
use std::time::Duration;

use aae_jobs::campaigns::{CampaignOwner, campaign_jobs, create_campaign, resume_campaign};
use aae_storage::layout::{CampaignArtifact, campaign_artifact};
use aae_store::{Campaign, CampaignStatus, StoreErrorKind};
use aae_types::{BucketPurpose, CampaignBrief};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::models::effective_preference;
use super::{ApiBody, ApiQuery};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// How long artifact URLs in API answers stay valid.
pub(crate) const ARTIFACT_URL_TTL: Duration = Duration::from_secs(3600);

/// The campaign, if the caller owns it; 404 otherwise.
pub(crate) async fn owned_campaign(state: &AppState, caller: &Caller, id: &str) -> Result<Campaign, ApiError> {
    let api = state.api()?;
    let not_found = || ApiError::not_found(format!("no campaign `{id}`"));
    if id.is_empty() || id.len() > 255 {
        return Err(not_found());
    }
    match api.records.campaigns.get(id).await {
        Ok(c) if c.user_id == caller.id.to_string() => Ok(c),
        Ok(_) => Err(not_found()),
        Err(e) if e.kind == StoreErrorKind::NotFound => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}

/// Short-lived download URLs of the four artifacts that exist.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ArtifactUrls {
    /// `website/index.html`.
    pub website: Option<String>,
    /// `pdf/campaign_report.pdf`.
    pub pdf: Option<String>,
    /// `artifacts/workflow_state.json`.
    pub artifacts: Option<String>,
    /// `metadata/campaign_metadata.json`.
    pub metadata: Option<String>,
}

/// Fresh presigned (or CDN-signed, or local signed) URLs of the campaign's stored artifacts; an
/// artifact not stored yet has none.
pub(crate) async fn artifact_urls(state: &AppState, campaign: &Campaign) -> ArtifactUrls {
    artifact_urls_of(state, &aae_store::CampaignSummary::from(campaign)).await
}

/// [`artifact_urls`] of a list's summary.
pub(crate) async fn artifact_urls_of(state: &AppState, campaign: &aae_store::CampaignSummary) -> ArtifactUrls {
    let stored = [
        (CampaignArtifact::Website, campaign.website_url.is_some()),
        (CampaignArtifact::Pdf, campaign.pdf_url.is_some()),
        (CampaignArtifact::WorkflowState, campaign.workflow_state_url.is_some()),
        (CampaignArtifact::Metadata, campaign.metadata_url.is_some()),
    ];
    let mut urls = ArtifactUrls::default();
    for (artifact, recorded) in stored {
        if !recorded {
            continue;
        }
        let Ok(key) = campaign_artifact(&campaign.campaign_id, artifact) else { continue };
        let url =
            match state.storage.presigned_download_url(BucketPurpose::CampaignOutputs, &key, ARTIFACT_URL_TTL).await {
                Ok(presigned) => Some(presigned.url),
                Err(e) => {
                    tracing::warn!(campaign = %campaign.campaign_id, %key, error = %e, "cannot sign an artifact url");
                    None
                }
            };
        match artifact {
            CampaignArtifact::Website => urls.website = url,
            CampaignArtifact::Pdf => urls.pdf = url,
            CampaignArtifact::WorkflowState => urls.artifacts = url,
            CampaignArtifact::Metadata => urls.metadata = url,
        }
    }
    urls
}

/// A campaign in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignSummary {
    /// Id (seed 003 format).
    pub campaign_id: String,
    /// Name from the brief.
    pub campaign_name: String,
    /// `pending`, `running`, `completed`, `failed` or `cancelled`.
    pub status: String,
    /// Percent done.
    pub progress: f64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Finished.
    pub completed_at: Option<DateTime<Utc>>,
    /// Seconds the run took.
    pub execution_time: Option<f64>,
}

impl From<&Campaign> for CampaignSummary {
    fn from(c: &Campaign) -> Self {
        Self::from(&aae_store::CampaignSummary::from(c))
    }
}

impl From<&aae_store::CampaignSummary> for CampaignSummary {
    fn from(c: &aae_store::CampaignSummary) -> Self {
        Self {
            campaign_id: c.campaign_id.clone(),
            campaign_name: c.campaign_name.clone(),
            status: c.status.as_str().to_owned(),
            progress: c.progress,
            created_at: c.created_at,
            completed_at: c.completed_at,
            execution_time: c.execution_time,
        }
    }
}

/// A page of campaigns, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignPage {
    /// The campaigns.
    pub campaigns: Vec<CampaignSummary>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Paging of lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A campaign with its progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignDetail {
    /// Id.
    pub campaign_id: String,
    /// Name.
    pub campaign_name: String,
    /// Status.
    pub status: String,
    /// Percent done.
    pub progress: f64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Finished.
    pub completed_at: Option<DateTime<Utc>>,
    /// Seconds the run took.
    pub execution_time: Option<f64>,
    /// The brief.
    #[schema(value_type = Object)]
    pub campaign_brief: Value,
    /// Every step as it happened: `{at, step, status, message?, percent}`.
    #[schema(value_type = Vec<Object>)]
    pub progress_log: Value,
    /// Agent interactions recorded so far.
    pub agent_interactions: usize,
    /// Download URLs of the stored artifacts (valid for an hour).
    pub urls: ArtifactUrls,
    /// Keys of the rendered ad creatives in the campaign-outputs bucket.
    pub creatives: Vec<String>,
    /// The campaign's queued or running job, if any.
    pub job: Option<JobInfo>,
}

/// The job running a campaign.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobInfo {
    /// Job id.
    pub id: uuid::Uuid,
    /// `queued` or `running`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// Current stage.
    pub current_stage: Option<String>,
}

/// Answer of create and resume.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignAccepted {
    /// The campaign.
    pub campaign_id: String,
    /// The job that runs it.
    pub job_id: uuid::Uuid,
    /// `pending` (or the current status, on resume).
    pub status: String,
    /// Where to follow it: `GET` this for the record, `/events` for a stream.
    pub links: CampaignLinks,
}

/// Links of a campaign.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignLinks {
    /// The record.
    pub campaign: String,
    /// Server-Sent Events of its progress.
    pub events: String,
}

fn links(id: &str) -> CampaignLinks {
    CampaignLinks { campaign: format!("/api/v1/campaigns/{id}"), events: format!("/api/v1/campaigns/{id}/events") }
}

/// A campaign brief (the JSON form of `examples/briefs/*.toml`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documentation only: the body is parsed by `CampaignBrief::from_json`
pub struct BriefBody {
    /// The campaign's name, one line.
    #[schema(example = "Ember & Oak coffee subscription: autumn push", min_length = 1, max_length = 120)]
    name: String,
    /// The product or service advertised.
    #[schema(example = "A fortnightly subscription of freshly roasted single-origin beans", min_length = 1)]
    product: String,
    /// Who the campaign targets.
    #[schema(example = "Home-brewing coffee lovers aged 25-45 in the UK", min_length = 1)]
    audience: String,
    /// What it should achieve, 1 to 10 entries.
    #[schema(example = json!(["1,200 new subscriptions by the end of November"]), min_items = 1, max_items = 10)]
    goals: Vec<String>,
    /// The total budget, in `currency`.
    #[schema(example = 15000, minimum = 0)]
    budget: f64,
    /// ISO 4217 code, e.g. `GBP`.
    #[schema(example = "GBP")]
    currency: String,
    /// Where it runs, distinct entries of `aae_types::CHANNELS` (`search`, `social`, `display`, `email`, `instagram`, `facebook`, …).
    #[schema(example = json!(["instagram", "email"]), min_items = 1)]
    channels: Vec<String>,
    /// The voice of the copy.
    #[schema(example = "Warm, knowledgeable and unpretentious", min_length = 1)]
    tone: String,
    /// 1 to 5 colours as `#rrggbb`; the first is the primary colour.
    #[schema(example = json!(["#3b2418", "#e8a33d"]), min_items = 1, max_items = 5)]
    brand_colors: Vec<String>,
}

/// Creates a campaign from a brief and queues it; answers at once (202).
#[utoipa::path(post, path = "/api/v1/campaigns", tag = "campaigns", security(("bearer" = [])),
    request_body = BriefBody,
    responses((status = 202, body = CampaignAccepted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiBody(body): ApiBody,
) -> Result<(StatusCode, Json<CampaignAccepted>), ApiError> {
    let api = state.api()?;
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::invalid("the brief must be UTF-8 JSON"))?;
    let brief = CampaignBrief::from_json(text).map_err(|e| ApiError::invalid(e.to_string()))?;
    if brief.logo.is_some() || !brief.documents.is_empty() {
        return Err(ApiError::invalid(
            "`logo` and `documents` name files on the server and are accepted only from the command line (aae campaign create); leave them out",
        ));
    }
    let (preference, _) = effective_preference(&state, caller.id).await?;
    let owner = CampaignOwner { label: caller.id.to_string(), user_id: Some(caller.id), preference: Some(preference) };
    let (campaign, job) = create_campaign(&api.records, brief, &owner).await?;
    tracing::info!(campaign = %campaign.campaign_id, %job, user = %caller.id, "campaign created");
    Ok((
        StatusCode::ACCEPTED,
        Json(CampaignAccepted {
            links: links(&campaign.campaign_id),
            campaign_id: campaign.campaign_id,
            job_id: job,
            status: campaign.status.as_str().to_owned(),
        }),
    ))
}

/// The caller's campaigns, newest first.
#[utoipa::path(get, path = "/api/v1/campaigns", tag = "campaigns", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = CampaignPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<CampaignPage>, ApiError> {
    let api = state.api()?;
    let limit = super::page_limit(query.limit)?;
    let page =
        api.records.campaigns.list_summaries_by_user(&caller.id.to_string(), limit, query.cursor.as_deref()).await?;
    Ok(Json(CampaignPage {
        campaigns: page.items.iter().map(CampaignSummary::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// A campaign with its progress log, artifact URLs and job.
#[utoipa::path(get, path = "/api/v1/campaigns/{campaign_id}", tag = "campaigns", security(("bearer" = [])),
    params(("campaign_id" = String, Path, description = "Campaign id")),
    responses((status = 200, body = CampaignDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CampaignDetail>, ApiError> {
    let api = state.api()?;
    let campaign = owned_campaign(&state, &caller, &id).await?;
    let job = campaign_jobs(&api.records, &id).await?.into_iter().next().map(|j| JobInfo {
        id: j.id,
        status: j.status.as_str().to_owned(),
        attempts: j.attempts,
        current_stage: j.current_stage,
    });
    let creatives = campaign
        .final_state
        .as_ref()
        .and_then(|s| s.get("creatives"))
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|c| c.get("key").and_then(Value::as_str).map(str::to_owned)).collect())
        .unwrap_or_default();
    Ok(Json(CampaignDetail {
        urls: artifact_urls(&state, &campaign).await,
        progress: campaign.progress(),
        agent_interactions: campaign.agent_interactions.as_array().map_or(0, Vec::len),
        progress_log: campaign.progress_log.clone().unwrap_or(Value::Array(Vec::new())),
        campaign_id: campaign.campaign_id,
        campaign_name: campaign.campaign_name,
        status: campaign.status.as_str().to_owned(),
        created_at: campaign.created_at,
        completed_at: campaign.completed_at,
        execution_time: campaign.execution_time,
        campaign_brief: campaign.campaign_brief,
        creatives,
        job,
    }))
}

/// Queues a failed or interrupted campaign again; its checkpoint skips the finished steps.
#[utoipa::path(post, path = "/api/v1/campaigns/{campaign_id}/resume", tag = "campaigns", security(("bearer" = [])),
    params(("campaign_id" = String, Path, description = "Campaign id")),
    responses((status = 202, body = CampaignAccepted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<CampaignAccepted>), ApiError> {
    let api = state.api()?;
    let campaign = owned_campaign(&state, &caller, &id).await?;
    let (preference, _) = effective_preference(&state, caller.id).await?;
    let owner =
        CampaignOwner { label: campaign.user_id.clone(), user_id: Some(caller.id), preference: Some(preference) };
    let (job, cancelled) = resume_campaign(&api.records, &campaign, &owner).await?;
    tracing::info!(campaign = %id, %job, cancelled, "campaign resumed");
    Ok((
        StatusCode::ACCEPTED,
        Json(CampaignAccepted {
            links: links(&id),
            campaign_id: id,
            job_id: job,
            status: campaign.status.as_str().to_owned(),
        }),
    ))
}

/// How often the event stream reads the record.
const EVENT_POLL: Duration = Duration::from_millis(400);

/// The campaign's progress as Server-Sent Events: a `snapshot` first, then one `progress` event
/// per new progress-log entry and a `status` event per status change, `done` at the end (a
/// completed, failed or cancelled campaign). Works whichever process runs the job.
#[utoipa::path(get, path = "/api/v1/campaigns/{campaign_id}/events", tag = "campaigns", security(("bearer" = [])),
    params(("campaign_id" = String, Path, description = "Campaign id")),
    responses((status = 200, description = "text/event-stream of snapshot, progress, status and done events", content_type = "text/event-stream", body = String),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let first = owned_campaign(&state, &caller, &id).await?;
    let api = std::sync::Arc::clone(state.api()?);
    let shutdown = state.shutdown.clone();
    struct Cursor {
        sent: usize,
        status: Option<CampaignStatus>,
        snapshot: Option<Campaign>,
        finished: bool,
    }
    let cursor = Cursor { sent: 0, status: None, snapshot: Some(first), finished: false };
    let stream = futures::stream::unfold(cursor, move |mut cursor| {
        let api = std::sync::Arc::clone(&api);
        let shutdown = shutdown.clone();
        let id = id.clone();
        async move {
            if cursor.finished {
                return None;
            }
            let mut events = Vec::new();
            let campaign = match cursor.snapshot.take() {
                Some(campaign) => {
                    events.push(json_event("snapshot", &CampaignSummary::from(&campaign)));
                    campaign
                }
                None => loop {
                    tokio::select! {
                        () = shutdown.cancelled() => {
                            cursor.finished = true;
                            let event = Event::default().event("shutdown").data("{\"message\":\"the server is shutting down; reconnect\"}");
                            return Some((futures::stream::iter(vec![Ok(event)]), cursor));
                        }
                        () = tokio::time::sleep(EVENT_POLL) => {}
                    }
                    match api.records.campaigns.get(&id).await {
                        Ok(campaign) => break campaign,
                        Err(e) if e.kind == StoreErrorKind::NotFound => {
                            cursor.finished = true;
                            let event = Event::default().event("deleted").data("{}");
                            return Some((futures::stream::iter(vec![Ok(event)]), cursor));
                        }
                        Err(e) => tracing::warn!(campaign = %id, error = %e, "campaign events: cannot read the record"),
                    }
                },
            };
            let log = campaign.progress_log.as_ref().and_then(Value::as_array).cloned().unwrap_or_default();
            for entry in log.iter().skip(cursor.sent) {
                events.push(json_event("progress", entry));
            }
            cursor.sent = cursor.sent.max(log.len());
            if cursor.status != Some(campaign.status) {
                cursor.status = Some(campaign.status);
                events.push(json_event(
                    "status",
                    &serde_json::json!({"status": campaign.status.as_str(), "progress": campaign.progress()}),
                ));
            }
            if matches!(campaign.status, CampaignStatus::Completed | CampaignStatus::Failed | CampaignStatus::Cancelled)
            {
                cursor.finished = true;
                events.push(json_event("done", &CampaignSummary::from(&campaign)));
            }
            Some((futures::stream::iter(events.into_iter().map(Ok).collect::<Vec<_>>()), cursor))
        }
    });
    use futures::StreamExt;
    Ok(Sse::new(stream.flatten()).keep_alive(KeepAlive::default()))
}

pub(crate) fn json_event(name: &str, value: &impl Serialize) -> Event {
    Event::default().event(name).data(serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned()))
}
