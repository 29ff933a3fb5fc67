//! A [`Campaign`] as a DynamoDB item and back: attribute names, JSON fields as text, pointers to
//! offloaded parts, and the item size the way DynamoDB counts it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::campaigns::Campaign;
use crate::error::{StoreError, StoreResult};
use crate::row::{parse_time, sqlite_time};

/// An item: attribute name → value.
pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) const CAMPAIGN_ID: &str = "campaign_id";
pub(crate) const USER_ID: &str = "user_id";
pub(crate) const STATUS: &str = "status";
pub(crate) const CREATED_AT: &str = "created_at";
pub(crate) const COMPLETED_AT: &str = "completed_at";
pub(crate) const EXECUTION_TIME: &str = "execution_time";

/// DynamoDB's item size limit (attribute names and values, UTF-8).
pub(crate) const ITEM_LIMIT: usize = 400 * 1024;
/// Items are kept below this, leaving room for the pointer attributes and rounding in numbers.
pub(crate) const ITEM_BUDGET: usize = ITEM_LIMIT - 4 * 1024;

const ENTITY: &str = "campaign";

/// A record part that may live in object storage instead of the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    FinalState,
    ProgressLog,
}

impl Part {
    pub(crate) const ALL: [Part; 2] = [Part::FinalState, Part::ProgressLog];

    /// The attribute holding the JSON text, and the part's file name.
    pub(crate) fn attr(self) -> &'static str {
        match self {
            Part::FinalState => "final_state",
            Part::ProgressLog => "progress_log",
        }
    }

    /// The attribute holding the object key when the part is offloaded.
    pub(crate) fn ref_attr(self) -> &'static str {
        match self {
            Part::FinalState => "final_state_ref",
            Part::ProgressLog => "progress_log_ref",
        }
    }

    pub(crate) fn value(self, campaign: &Campaign) -> Option<&Value> {
        match self {
            Part::FinalState => campaign.final_state.as_ref(),
            Part::ProgressLog => campaign.progress_log.as_ref(),
        }
    }

    pub(crate) fn set(self, campaign: &mut Campaign, value: Value) {
        match self {
            Part::FinalState => campaign.final_state = Some(value),
            Part::ProgressLog => campaign.progress_log = Some(value),
        }
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// `{campaign_id: id}`.
pub(crate) fn key(campaign_id: &str) -> Item {
    HashMap::from([(CAMPAIGN_ID.to_owned(), s(campaign_id))])
}

/// The stored form of a time: fixed-width RFC 3339 UTC with microseconds (text order is time order).
pub(crate) fn time(value: DateTime<Utc>) -> AttributeValue {
    s(sqlite_time(value))
}

/// An execution time as a number attribute.
pub(crate) fn number(value: f64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The whole campaign as an item, every part inline.
pub(crate) fn to_item(c: &Campaign) -> Item {
    let mut item = Item::with_capacity(16);
    let mut put = |name: &str, value: AttributeValue| {
        item.insert(name.to_owned(), value);
    };
    put(CAMPAIGN_ID, s(&c.campaign_id));
    put(USER_ID, s(&c.user_id));
    put("campaign_name", s(&c.campaign_name));
    put(STATUS, s(c.status.as_str()));
    put(CREATED_AT, time(c.created_at));
    if let Some(at) = c.completed_at {
        put(COMPLETED_AT, time(at));
    }
    if let Some(t) = c.execution_time {
        put(EXECUTION_TIME, number(t));
    }
    for (name, url) in [
        ("website_url", &c.website_url),
        ("pdf_url", &c.pdf_url),
        ("workflow_state_url", &c.workflow_state_url),
        ("metadata_url", &c.metadata_url),
    ] {
        if let Some(url) = url {
            put(name, s(url));
        }
    }
    put("campaign_brief", s(c.campaign_brief.to_string()));
    put("agent_interactions", s(c.agent_interactions.to_string()));
    for part in Part::ALL {
        if let Some(value) = part.value(c) {
            put(part.attr(), s(value.to_string()));
        }
    }
    item
}

/// The size DynamoDB charges against the 400 KB limit: names plus values (numbers counted by
/// their text, an upper bound).
pub(crate) fn item_size(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) | AttributeValue::N(text) => text.len(),
        AttributeValue::B(blob) => blob.as_ref().len(),
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum::<usize>(),
        _ => 1,
    }
}

/// The offloaded parts an item points to, with their object keys.
pub(crate) fn refs(item: &Item) -> Vec<(Part, String)> {
    Part::ALL.into_iter().filter_map(|part| Some((part, opt_text(item, part.ref_attr())?.to_owned()))).collect()
}

/// The campaign an item holds; offloaded parts are `None` (see [`refs`]).
pub(crate) fn from_item(item: &Item) -> StoreResult<Campaign> {
    let status = text(item, STATUS)?.parse().map_err(|e: StoreError| StoreError::corrupt(ENTITY, e.message))?;
    Ok(Campaign {
        campaign_id: text(item, CAMPAIGN_ID)?.to_owned(),
        user_id: text(item, USER_ID)?.to_owned(),
        campaign_name: text(item, "campaign_name")?.to_owned(),
        status,
        created_at: parse_time(CREATED_AT, text(item, CREATED_AT)?)?,
        completed_at: opt_text(item, COMPLETED_AT).map(|t| parse_time(COMPLETED_AT, t)).transpose()?,
        execution_time: opt_number(item, EXECUTION_TIME)?,
        website_url: opt_text(item, "website_url").map(str::to_owned),
        pdf_url: opt_text(item, "pdf_url").map(str::to_owned),
        workflow_state_url: opt_text(item, "workflow_state_url").map(str::to_owned),
        metadata_url: opt_text(item, "metadata_url").map(str::to_owned),
        campaign_brief: json(item, "campaign_brief")?.unwrap_or(Value::Object(Default::default())),
        final_state: json(item, Part::FinalState.attr())?,
        progress_log: json(item, Part::ProgressLog.attr())?,
        agent_interactions: json(item, "agent_interactions")?.unwrap_or(Value::Array(Vec::new())),
    })
}

fn opt_text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(text)) => Some(text),
        _ => None,
    }
}

fn text<'a>(item: &'a Item, name: &str) -> StoreResult<&'a str> {
    opt_text(item, name).ok_or_else(|| StoreError::corrupt(ENTITY, format!("item has no string attribute `{name}`")))
}

pub(crate) fn opt_number(item: &Item, name: &str) -> StoreResult<Option<f64>> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n
            .parse()
            .map(Some)
            .map_err(|_| StoreError::corrupt(ENTITY, format!("attribute `{name}` holds `{n}`, not a number"))),
        _ => Ok(None),
    }
}

/// Parses stored JSON text.
pub(crate) fn parse_json(name: &str, text: &str) -> StoreResult<Value> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(ENTITY, format!("attribute `{name}` is not JSON: {e}")))
}

fn json(item: &Item, name: &str) -> StoreResult<Option<Value>> {
    opt_text(item, name).map(|t| parse_json(name, t)).transpose()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::campaigns::CampaignStatus;

    #[test]
    fn items_round_trip_every_field() {
        let mut c = Campaign::new("campaign_1", "alice", "launch");
        c.status = CampaignStatus::Completed;
        c.completed_at = Some(c.created_at);
        c.execution_time = Some(200.5);
        c.website_url = Some("https://x/index.html".into());
        c.campaign_brief = json!({"a": [1, 2.5, null]});
        c.final_state = Some(json!({"ok": true}));
        c.agent_interactions = json!([{"agent": "x"}]);
        let item = to_item(&c);
        assert!(refs(&item).is_empty());
        assert_eq!(from_item(&item).unwrap(), c);
        assert!(item_size(&item) > 100 && item_size(&item) < 1000);
    }
}
