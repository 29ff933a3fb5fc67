//! [`CampaignStore`] on DynamoDB: items, GSI queries, per-status stats, and parts over the item
//! size limit kept in the campaign-outputs bucket (see the module docs of `dynamodb`).

use aae_storage::layout::campaign_record_part;
use aae_storage::{StorageError, StorageErrorKind, StorageService, UploadOptions};
use aae_types::BucketPurpose;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::try_join_all;

use super::item::{
    CAMPAIGN_ID, COMPLETED_AT, CREATED_AT, EXECUTION_TIME, ITEM_BUDGET, ITEM_LIMIT, Item, Part, STATUS, USER_ID,
    from_item, item_size, key, number, parse_json, refs, time, to_item,
};
use super::{DynamoCampaignStore, STATUS_INDEX, USER_INDEX, condition_failed, sdk_error};
use crate::campaigns::{Campaign, CampaignStats, CampaignStatus, CampaignStore, Cursor, Page, into_page, page_limit};
use crate::error::{StoreError, StoreErrorKind, StoreResult};
use crate::row::sqlite_time;

const ENTITY: &str = "campaign";

/// `(created_at, campaign_id)` of an item as stored; text order is list order.
fn sort_key(item: &Item) -> (&str, &str) {
    let text = |name| match item.get(name) {
        Some(AttributeValue::S(text)) => text.as_str(),
        _ => "",
    };
    (text(CREATED_AT), text(CAMPAIGN_ID))
}
const BUCKET: BucketPurpose = BucketPurpose::CampaignOutputs;

fn storage_error(campaign_id: &str, error: StorageError) -> StoreError {
    let kind = match error.kind {
        StorageErrorKind::Unavailable => StoreErrorKind::Unavailable,
        StorageErrorKind::InvalidKey | StorageErrorKind::InvalidInput => StoreErrorKind::Invalid,
        _ => StoreErrorKind::Internal,
    };
    StoreError::new(kind, ENTITY, format!("record part in object storage: {error}")).with_id(campaign_id)
}

impl DynamoCampaignStore {
    fn storage_for(&self, campaign_id: &str, why: &str) -> StoreResult<&StorageService> {
        self.storage.as_deref().ok_or_else(|| {
            StoreError::invalid(ENTITY, format!("{why}, and no object storage is configured for it"))
                .with_id(campaign_id)
        })
    }

    /// The campaign an item holds, with offloaded parts loaded back.
    async fn load(&self, item: &Item) -> StoreResult<Campaign> {
        let mut campaign = from_item(item)?;
        let parts = refs(item);
        if parts.is_empty() {
            return Ok(campaign);
        }
        let id = campaign.campaign_id.clone();
        let storage = self.storage.as_deref().ok_or_else(|| {
            StoreError::new(
                StoreErrorKind::Internal,
                ENTITY,
                "record has parts in object storage but no storage is configured",
            )
            .with_id(&id)
        })?;
        let loaded = try_join_all(parts.into_iter().map(|(part, key)| {
            let id = &id;
            async move {
                let (_, bytes) = storage.download_bytes(BUCKET, &key).await.map_err(|e| storage_error(id, e))?;
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| StoreError::corrupt(ENTITY, format!("object `{key}` is not UTF-8")).with_id(id))?;
                Ok::<_, StoreError>((part, parse_json(part.attr(), text)?))
            }
        }))
        .await?;
        for (part, value) in loaded {
            part.set(&mut campaign, value);
        }
        Ok(campaign)
    }

    /// Moves parts into object storage, largest first, until the item fits; returns the
    /// offloaded `(part, key)` pairs after uploading them.
    pub(crate) async fn offload(&self, campaign_id: &str, item: &mut Item) -> StoreResult<Vec<(Part, String)>> {
        let mut size = item_size(item);
        if size <= ITEM_BUDGET {
            return Ok(Vec::new());
        }
        let storage =
            self.storage_for(campaign_id, &format!("item is {} KiB, over DynamoDB's 400 KB limit", size / 1024))?;
        let mut parts: Vec<(Part, usize)> = Part::ALL
            .into_iter()
            .filter_map(|p| match item.get(p.attr()) {
                Some(AttributeValue::S(text)) => Some((p, text.len())),
                _ => None,
            })
            .collect();
        parts.sort_by_key(|p| std::cmp::Reverse(p.1));
        let mut uploads = Vec::new();
        for (part, len) in parts {
            if size <= ITEM_BUDGET {
                break;
            }
            let key = campaign_record_part(campaign_id, part.attr()).map_err(|e| storage_error(campaign_id, e))?;
            let Some(AttributeValue::S(text)) = item.remove(part.attr()) else { continue };
            size = size - part.attr().len() - len + part.ref_attr().len() + key.len();
            item.insert(part.ref_attr().to_owned(), AttributeValue::S(key.clone()));
            uploads.push((part, key, text));
        }
        if size > ITEM_LIMIT - 1024 {
            return Err(StoreError::invalid(
                ENTITY,
                format!(
                    "item is {} KiB even with final_state and progress_log in object storage; \
                     DynamoDB's limit is 400 KB (shrink campaign_brief or agent_interactions)",
                    size / 1024
                ),
            )
            .with_id(campaign_id));
        }
        let options = UploadOptions { content_type: Some("application/json".into()), ..Default::default() };
        try_join_all(
            uploads.iter().map(|(_, key, text)| {
                storage.upload_bytes(BUCKET, key, Bytes::from(text.clone().into_bytes()), &options)
            }),
        )
        .await
        .map_err(|e| storage_error(campaign_id, e))?;
        Ok(uploads.into_iter().map(|(part, key, _)| (part, key)).collect())
    }

    /// Deletes offloaded parts; `keep` are still referenced.
    pub(crate) async fn delete_parts(
        &self,
        campaign_id: &str,
        parts: &[(Part, String)],
        keep: &[(Part, String)],
    ) -> StoreResult<()> {
        let stale: Vec<&String> = parts.iter().filter(|p| !keep.contains(p)).map(|(_, key)| key).collect();
        if stale.is_empty() {
            return Ok(());
        }
        let storage = self.storage_for(campaign_id, "record has parts in object storage")?;
        try_join_all(stale.into_iter().map(|key| storage.delete(BUCKET, key)))
            .await
            .map_err(|e| storage_error(campaign_id, e))?;
        Ok(())
    }

    /// One page of the index whose partition key is `attr = value`, newest first with ties on
    /// `created_at` broken by `campaign_id` (DynamoDB leaves the order of equal sort keys open).
    ///
    /// After a cursor the query starts at `created_at <= cursor time` and drops the tie items at
    /// or above the cursor's id. Items come back in `created_at` order; the page is complete once
    /// its last item is newer than the last one read (no unread item can outrank it), or the
    /// index is exhausted. Without ties that is the first response of `limit + 1` items.
    async fn query_page(
        &self,
        index: &str,
        attr: &str,
        value: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> StoreResult<Page<Campaign>> {
        let limit = page_limit(limit)?;
        let cursor = cursor.map(Cursor::decode).transpose()?;
        let want = limit as usize + 1;
        let after = cursor.as_ref().map(|c| (sqlite_time(c.created_at), c.campaign_id.clone()));
        let mut kept: Vec<Item> = Vec::with_capacity(want);
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .expression_attribute_names("#k", attr)
                .expression_attribute_values(":v", AttributeValue::S(value.to_owned()))
                .scan_index_forward(false)
                .limit(want as i32)
                .set_exclusive_start_key(start.take());
            query = match &after {
                Some((time, _)) => query
                    .key_condition_expression(format!("#k = :v AND {CREATED_AT} <= :t"))
                    .expression_attribute_values(":t", AttributeValue::S(time.clone())),
                None => query.key_condition_expression("#k = :v"),
            };
            let out = query.send().await.map_err(|e| sdk_error(ENTITY, &self.table, e))?;
            let items = out.items.unwrap_or_default();
            let last_read = items.last().map(|i| sort_key(i).0.to_owned());
            kept.extend(items.into_iter().filter(|item| match &after {
                Some((time, id)) => {
                    let (t, i) = sort_key(item);
                    t < time.as_str() || (t == time.as_str() && i < id.as_str())
                }
                None => true,
            }));
            kept.sort_by(|a, b| sort_key(b).cmp(&sort_key(a)));
            match (out.last_evaluated_key, last_read) {
                (Some(next), Some(last_read))
                    if kept.len() < want || sort_key(&kept[want - 1]).0 <= last_read.as_str() =>
                {
                    start = Some(next);
                }
                (Some(next), None) if kept.len() < want => start = Some(next),
                _ => break,
            }
        }
        kept.truncate(want);
        let campaigns = try_join_all(kept.iter().map(|item| self.load(item))).await?;
        Ok(into_page(campaigns, limit))
    }
}

#[async_trait]
impl CampaignStore for DynamoCampaignStore {
    async fn put(&self, campaign: &Campaign) -> StoreResult<()> {
        campaign.check()?;
        let id = campaign.campaign_id.as_str();
        let mut item = to_item(campaign);
        let offloaded = self.offload(id, &mut item).await?;
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error(ENTITY, &self.table, e).with_id(id))?;
        if let Some(old) = out.attributes {
            // Parts the previous version offloaded and this one keeps inline.
            if let Err(error) = self.delete_parts(id, &refs(&old), &offloaded).await {
                tracing::warn!(campaign_id = id, %error, "stale campaign record part not deleted");
            }
        }
        Ok(())
    }

    async fn get(&self, campaign_id: &str) -> StoreResult<Campaign> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(campaign_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(ENTITY, &self.table, e).with_id(campaign_id))?;
        let item = out.item.ok_or_else(|| StoreError::not_found(ENTITY, campaign_id))?;
        self.load(&item).await
    }

    async fn set_status(
        &self,
        campaign_id: &str,
        status: CampaignStatus,
        completed_at: Option<DateTime<Utc>>,
        execution_time: Option<f64>,
    ) -> StoreResult<()> {
        if execution_time.is_some_and(|t| !t.is_finite() || t < 0.0) {
            return Err(StoreError::invalid(ENTITY, "execution_time must be a non-negative number of seconds"));
        }
        let mut update = String::from("SET #s = :s");
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(campaign_id)))
            .condition_expression("attribute_exists(campaign_id)")
            .expression_attribute_names("#s", STATUS)
            .expression_attribute_values(":s", AttributeValue::S(status.as_str().to_owned()));
        if let Some(at) = completed_at {
            update.push_str(&format!(", {COMPLETED_AT} = :c"));
            request = request.expression_attribute_values(":c", time(at));
        }
        if let Some(t) = execution_time {
            update.push_str(&format!(", {EXECUTION_TIME} = :t"));
            request = request.expression_attribute_values(":t", number(t));
        }
        match request.update_expression(update).send().await {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(StoreError::not_found(ENTITY, campaign_id)),
            Err(e) => Err(sdk_error(ENTITY, &self.table, e).with_id(campaign_id)),
        }
    }

    async fn list_by_user(&self, user_id: &str, limit: u32, cursor: Option<&str>) -> StoreResult<Page<Campaign>> {
        self.query_page(USER_INDEX, USER_ID, user_id, limit, cursor).await
    }

    async fn list_by_status(
        &self,
        status: CampaignStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> StoreResult<Page<Campaign>> {
        self.query_page(STATUS_INDEX, STATUS, status.as_str(), limit, cursor).await
    }

    async fn stats(&self, user_id: Option<&str>) -> StoreResult<CampaignStats> {
        let groups = match user_id {
            Some(user) => self.user_groups(user).await?,
            None => try_join_all(CampaignStatus::ALL.iter().map(|s| self.status_group(*s)))
                .await?
                .into_iter()
                .flatten()
                .collect(),
        };
        Ok(CampaignStats::from_groups(groups))
    }

    async fn delete(&self, campaign_id: &str) -> StoreResult<()> {
        // Parts first, so a failure leaves the record (and the call retryable), not orphans.
        let projection = format!("{}, {}, {}", CAMPAIGN_ID, Part::FinalState.ref_attr(), Part::ProgressLog.ref_attr());
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(campaign_id)))
            .consistent_read(true)
            .projection_expression(projection)
            .send()
            .await
            .map_err(|e| sdk_error(ENTITY, &self.table, e).with_id(campaign_id))?;
        let item = out.item.ok_or_else(|| StoreError::not_found(ENTITY, campaign_id))?;
        let parts = refs(&item);
        self.delete_parts(campaign_id, &parts, &[]).await?;
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(campaign_id)))
            .condition_expression("attribute_exists(campaign_id)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match deleted {
            Ok(out) => {
                // A put in between may have offloaded other parts.
                let old = out.attributes.map(|old| refs(&old)).unwrap_or_default();
                self.delete_parts(campaign_id, &old, &parts).await
            }
            Err(e) if condition_failed(&e) => Err(StoreError::not_found(ENTITY, campaign_id)),
            Err(e) => Err(sdk_error(ENTITY, &self.table, e).with_id(campaign_id)),
        }
    }
}
