//! Campaign records: every field of seed 003's DynamoDB item, listed by user newest first with
//! cursor pagination (seed 003 `user_campaigns_index`), by status (`status_created_index`), and
//! summarised by [`CampaignStore::stats`].

use std::collections::BTreeMap;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{StoreError, StoreResult};
use crate::jobs::string_enum;
use crate::row::{SqlRow, parse_time};

string_enum! {
    /// Campaign status.
    CampaignStatus, "campaign" {
        /// Created, not started.
        Pending = "pending",
        /// Agents at work.
        Running = "running",
        /// Artifacts stored.
        Completed = "completed",
        /// Gave up.
        Failed = "failed",
        /// Stopped by the user.
        Cancelled = "cancelled",
    }
}

/// A campaign record (seed 003's item).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    /// Id, e.g. `campaign_20241201_120000_123456`.
    pub campaign_id: String,
    /// Owner, as text (seed 003 keeps a user name or id here).
    pub user_id: String,
    /// Name.
    pub campaign_name: String,
    /// Status.
    pub status: CampaignStatus,
    /// Created; the list order.
    pub created_at: DateTime<Utc>,
    /// Finished.
    pub completed_at: Option<DateTime<Utc>>,
    /// Seconds the run took.
    pub execution_time: Option<f64>,
    /// `campaigns/{id}/website/index.html` URL.
    pub website_url: Option<String>,
    /// `campaigns/{id}/pdf/campaign_report.pdf` URL.
    pub pdf_url: Option<String>,
    /// `campaigns/{id}/artifacts/workflow_state.json` URL.
    pub workflow_state_url: Option<String>,
    /// `campaigns/{id}/metadata/campaign_metadata.json` URL.
    pub metadata_url: Option<String>,
    /// The brief.
    pub campaign_brief: Value,
    /// The workflow's final state.
    pub final_state: Option<Value>,
    /// Progress log.
    pub progress_log: Option<Value>,
    /// Agent interactions (a JSON array).
    pub agent_interactions: Value,
}

impl Campaign {
    /// A pending campaign created now, with an empty brief and no artifacts.
    pub fn new(campaign_id: impl Into<String>, user_id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            campaign_id: campaign_id.into(),
            user_id: user_id.into(),
            campaign_name: name.into(),
            status: CampaignStatus::Pending,
            created_at: crate::row::now(),
            completed_at: None,
            execution_time: None,
            website_url: None,
            pdf_url: None,
            workflow_state_url: None,
            metadata_url: None,
            campaign_brief: Value::Object(Default::default()),
            final_state: None,
            progress_log: None,
            agent_interactions: Value::Array(Vec::new()),
        }
    }

    pub(crate) fn check(&self) -> StoreResult<()> {
        if self.campaign_id.is_empty() || self.user_id.is_empty() {
            return Err(StoreError::invalid("campaign", "campaign_id and user_id must not be empty"));
        }
        if self.execution_time.is_some_and(|t| !t.is_finite() || t < 0.0) {
            return Err(StoreError::invalid("campaign", "execution_time must be a non-negative number of seconds"));
        }
        Ok(())
    }
}

/// A campaign as a list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignSummary {
    /// Id.
    pub campaign_id: String,
    /// Owner.
    pub user_id: String,
    /// Name.
    pub campaign_name: String,
    /// Status.
    pub status: CampaignStatus,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Finished.
    pub completed_at: Option<DateTime<Utc>>,
    /// Seconds the run took.
    pub execution_time: Option<f64>,
    /// Percent done: 100 when completed, else the last progress-log entry's `percent` (0 when
    /// none).
    pub progress: f64,
    /// Website URL, when stored.
    pub website_url: Option<String>,
    /// PDF URL, when stored.
    pub pdf_url: Option<String>,
    /// Workflow-state URL, when stored.
    pub workflow_state_url: Option<String>,
    /// Metadata URL, when stored.
    pub metadata_url: Option<String>,
}

impl Campaign {
    /// Percent done: 100 when completed, else the last progress-log entry's `percent`.
    pub fn progress(&self) -> f64 {
        if self.status == CampaignStatus::Completed {
            return 100.0;
        }
        self.progress_log
            .as_ref()
            .and_then(Value::as_array)
            .and_then(|log| log.last())
            .and_then(|entry| entry.get("percent"))
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
    }
}

impl From<&Campaign> for CampaignSummary {
    fn from(c: &Campaign) -> Self {
        Self {
            campaign_id: c.campaign_id.clone(),
            user_id: c.user_id.clone(),
            campaign_name: c.campaign_name.clone(),
            status: c.status,
            created_at: c.created_at,
            completed_at: c.completed_at,
            execution_time: c.execution_time,
            progress: c.progress(),
            website_url: c.website_url.clone(),
            pdf_url: c.pdf_url.clone(),
            workflow_state_url: c.workflow_state_url.clone(),
            metadata_url: c.metadata_url.clone(),
        }
    }
}

pub(crate) const SUMMARY_COLUMNS: &str = "campaign_id, user_id, campaign_name, status, created_at, completed_at, \
     execution_time, website_url, pdf_url, workflow_state_url, metadata_url";

pub(crate) fn summary_from_row(row: &impl SqlRow) -> StoreResult<CampaignSummary> {
    let status: CampaignStatus =
        row.text("status")?.parse().map_err(|e: StoreError| StoreError::corrupt("campaign", e.message))?;
    let progress = if status == CampaignStatus::Completed { 100.0 } else { row.opt_float("progress")?.unwrap_or(0.0) };
    Ok(CampaignSummary {
        campaign_id: row.text("campaign_id")?,
        user_id: row.text("user_id")?,
        campaign_name: row.text("campaign_name")?,
        status,
        created_at: row.time("created_at")?,
        completed_at: row.opt_time("completed_at")?,
        execution_time: row.opt_float("execution_time")?,
        progress,
        website_url: row.opt_text("website_url")?,
        pdf_url: row.opt_text("pdf_url")?,
        workflow_state_url: row.opt_text("workflow_state_url")?,
        metadata_url: row.opt_text("metadata_url")?,
    })
}

/// Turns `limit + 1` fetched summaries into a page.
pub(crate) fn into_summary_page(mut items: Vec<CampaignSummary>, limit: i64) -> Page<CampaignSummary> {
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_cursor = if more {
        items.last().map(|c| Cursor { created_at: c.created_at, campaign_id: c.campaign_id.clone() }.encode())
    } else {
        None
    };
    Page { items, next_cursor }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass back to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Campaign statistics (seed 003 "Get AWS Campaign Stats").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignStats {
    /// All campaigns.
    pub total_campaigns: u64,
    /// Count per status (statuses with no campaign are absent).
    pub status_counts: BTreeMap<String, u64>,
    /// Campaigns with status `completed`.
    pub completed_campaigns: u64,
    /// Mean `execution_time` of completed campaigns that have one (0 when none).
    pub average_execution_time: f64,
    /// Sum of `execution_time` of completed campaigns.
    pub total_execution_time: f64,
}

impl CampaignStats {
    /// Builds the stats from per-status rows of (status, count, completed execution time sum,
    /// number of completed execution times).
    pub(crate) fn from_groups(groups: Vec<(String, i64, f64, i64)>) -> Self {
        let mut stats = CampaignStats {
            total_campaigns: 0,
            status_counts: BTreeMap::new(),
            completed_campaigns: 0,
            average_execution_time: 0.0,
            total_execution_time: 0.0,
        };
        let mut timed = 0;
        for (status, count, time_sum, time_count) in groups {
            let count = count.max(0) as u64;
            stats.total_campaigns += count;
            if status == CampaignStatus::Completed.as_str() {
                stats.completed_campaigns = count;
            }
            stats.total_execution_time += time_sum;
            timed += time_count;
            stats.status_counts.insert(status, count);
        }
        if timed > 0 {
            stats.average_execution_time = stats.total_execution_time / timed as f64;
        }
        stats
    }
}

/// Campaign records.
#[async_trait]
pub trait CampaignStore: Send + Sync {
    /// Writes the whole record, creating or replacing it (seed 003 `put_item`). `Invalid` for an
    /// empty id or user or a bad execution time.
    async fn put(&self, campaign: &Campaign) -> StoreResult<()>;

    /// The record; `NotFound` otherwise.
    async fn get(&self, campaign_id: &str) -> StoreResult<Campaign>;

    /// Sets the status and, when given, the completion time and execution time. `NotFound` when
    /// missing.
    async fn set_status(
        &self,
        campaign_id: &str,
        status: CampaignStatus,
        completed_at: Option<DateTime<Utc>>,
        execution_time: Option<f64>,
    ) -> StoreResult<()>;

    /// The user's campaigns, newest first (`created_at`, then `campaign_id`, descending), `limit`
    /// per page (1 to 1000). `cursor` is the previous page's `next_cursor`; `Invalid` when it is
    /// malformed.
    async fn list_by_user(&self, user_id: &str, limit: u32, cursor: Option<&str>) -> StoreResult<Page<Campaign>>;

    /// The same page as [`list_by_user`](Self::list_by_user), as [`CampaignSummary`]s: what a
    /// list shows, without the brief, state, log and interactions (the SQL stores read only those
    /// columns; the default reads whole records).
    async fn list_summaries_by_user(
        &self,
        user_id: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> StoreResult<Page<CampaignSummary>> {
        let page = self.list_by_user(user_id, limit, cursor).await?;
        Ok(Page { items: page.items.iter().map(CampaignSummary::from).collect(), next_cursor: page.next_cursor })
    }

    /// Campaigns with `status`, newest first, paginated like [`list_by_user`](Self::list_by_user).
    async fn list_by_status(
        &self,
        status: CampaignStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> StoreResult<Page<Campaign>>;

    /// Statistics over all campaigns, or one user's, computed by one aggregate query.
    async fn stats(&self, user_id: Option<&str>) -> StoreResult<CampaignStats>;

    /// Deletes the record; `NotFound` when missing.
    async fn delete(&self, campaign_id: &str) -> StoreResult<()>;
}

pub(crate) const CAMPAIGN_COLUMNS: &str = "campaign_id, user_id, campaign_name, status, created_at, completed_at, \
     execution_time, website_url, pdf_url, workflow_state_url, metadata_url, campaign_brief, final_state, \
     progress_log, agent_interactions";

/// The stats query; both engines accept it. `$1` is the user id or NULL for all users.
pub(crate) const STATS_SQL: &str = "SELECT status, COUNT(*) AS campaigns, \
     CAST(COALESCE(SUM(CASE WHEN status = 'completed' THEN execution_time END), 0) AS DOUBLE PRECISION) AS time_sum, \
     COUNT(CASE WHEN status = 'completed' THEN execution_time END) AS time_count \
     FROM campaigns WHERE ($1 IS NULL OR user_id = $1) GROUP BY status";

pub(crate) fn campaign_from_row(row: &impl SqlRow) -> StoreResult<Campaign> {
    Ok(Campaign {
        campaign_id: row.text("campaign_id")?,
        user_id: row.text("user_id")?,
        campaign_name: row.text("campaign_name")?,
        status: row.text("status")?.parse().map_err(|e: StoreError| StoreError::corrupt("campaign", e.message))?,
        created_at: row.time("created_at")?,
        completed_at: row.opt_time("completed_at")?,
        execution_time: row.opt_float("execution_time")?,
        website_url: row.opt_text("website_url")?,
        pdf_url: row.opt_text("pdf_url")?,
        workflow_state_url: row.opt_text("workflow_state_url")?,
        metadata_url: row.opt_text("metadata_url")?,
        campaign_brief: row.json("campaign_brief")?,
        final_state: row.opt_json("final_state")?,
        progress_log: row.opt_json("progress_log")?,
        agent_interactions: row.json("agent_interactions")?,
    })
}

/// A position in a newest-first list: the last item's `created_at` and `campaign_id`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cursor {
    pub created_at: DateTime<Utc>,
    pub campaign_id: String,
}

impl Cursor {
    pub(crate) fn after(campaign: &Campaign) -> Self {
        Self { created_at: campaign.created_at, campaign_id: campaign.campaign_id.clone() }
    }

    pub(crate) fn encode(&self) -> String {
        let text = format!("{}|{}", crate::row::sqlite_time(self.created_at), self.campaign_id);
        URL_SAFE_NO_PAD.encode(text)
    }

    pub(crate) fn decode(cursor: &str) -> StoreResult<Self> {
        let invalid = || StoreError::invalid("campaign", "malformed cursor; pass a next_cursor from a previous page");
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (time, id) = text.split_once('|').ok_or_else(invalid)?;
        Ok(Self { created_at: parse_time("cursor", time).map_err(|_| invalid())?, campaign_id: id.to_owned() })
    }
}

pub(crate) fn page_limit(limit: u32) -> StoreResult<i64> {
    if !(1..=1000).contains(&limit) {
        return Err(StoreError::invalid("campaign", format!("limit must be between 1 and 1000, got {limit}")));
    }
    Ok(i64::from(limit))
}

/// Turns `limit + 1` fetched rows into a page.
pub(crate) fn into_page(mut items: Vec<Campaign>, limit: i64) -> Page<Campaign> {
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_cursor = if more { items.last().map(|c| Cursor::after(c).encode()) } else { None };
    Page { items, next_cursor }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let campaign = Campaign::new("campaign_1|x", "alice", "launch");
        let cursor = Cursor::after(&campaign);
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        assert!(Cursor::decode("not a cursor").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("no-separator")).is_err());
    }

    #[test]
    fn stats_add_up_the_groups() {
        let stats = CampaignStats::from_groups(vec![
            ("completed".into(), 4, 800.0, 4),
            ("running".into(), 2, 0.0, 0),
            ("failed".into(), 1, 0.0, 0),
        ]);
        assert_eq!(stats.total_campaigns, 7);
        assert_eq!(stats.completed_campaigns, 4);
        assert_eq!(stats.status_counts["running"], 2);
        assert_eq!(stats.total_execution_time, 800.0);
        assert_eq!(stats.average_execution_time, 200.0);
        assert_eq!(CampaignStats::from_groups(vec![]).average_execution_time, 0.0);
    }

    #[test]
    fn pages_carry_a_cursor_only_when_more_exist() {
        let items: Vec<Campaign> = (0..3).map(|i| Campaign::new(format!("c{i}"), "u", "n")).collect();
        let page = into_page(items.clone(), 2);
        assert_eq!(page.items.len(), 2);
        assert!(page.next_cursor.is_some());
        let page = into_page(items, 3);
        assert!(page.next_cursor.is_none());
        assert!(page_limit(0).is_err() && page_limit(1001).is_err());
    }
}
