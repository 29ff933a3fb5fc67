//! Bulk loading: [`DynamoCampaignStore::put_many`] writes campaigns 25 to a `BatchWriteItem`,
//! resending what DynamoDB leaves unprocessed (throttling) with backoff. `BatchWriteItem` cannot
//! return the items it replaces, so the pointers of parts the previous versions kept in object
//! storage are read first, 100 items to a `BatchGetItem` that projects only those pointers.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use futures::future::try_join_all;

use super::item::{CAMPAIGN_ID, Item, Part, refs, to_item};
use super::{DynamoCampaignStore, sdk_error};
use crate::campaigns::Campaign;
use crate::error::{StoreError, StoreErrorKind, StoreResult};

const ENTITY: &str = "campaign";
/// DynamoDB's limit of requests per `BatchWriteItem`.
const BATCH: usize = 25;
/// DynamoDB's limit of keys per `BatchGetItem`.
const GET_BATCH: usize = 100;
/// Rounds of resending unprocessed items before giving up as unavailable.
const MAX_ROUNDS: u32 = 10;

impl DynamoCampaignStore {
    /// Creates or replaces every campaign, like [`crate::CampaignStore::put`] but 25 per request.
    /// As `put` does, it deletes the parts a previous version kept in object storage that the new
    /// version keeps inline (best effort: a failed delete is logged, the write stands). Ids must
    /// be unique within one call (DynamoDB refuses a batch naming an item twice).
    pub async fn put_many(&self, campaigns: &[Campaign]) -> StoreResult<()> {
        for campaign in campaigns {
            campaign.check()?;
        }
        let previous = self.previous_refs(campaigns).await?;
        let mut requests = Vec::with_capacity(campaigns.len());
        let mut stale: Vec<(&str, Vec<(Part, String)>)> = Vec::new();
        for campaign in campaigns {
            let id = campaign.campaign_id.as_str();
            let mut item = to_item(campaign);
            let offloaded = self.offload(id, &mut item).await?;
            if let Some(old) = previous.get(id) {
                let gone: Vec<(Part, String)> = old.iter().filter(|p| !offloaded.contains(p)).cloned().collect();
                if !gone.is_empty() {
                    stale.push((id, gone));
                }
            }
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(|e| StoreError::new(StoreErrorKind::Internal, ENTITY, format!("cannot build request: {e}")))?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        let mut chunks = requests.chunks(BATCH).map(<[WriteRequest]>::to_vec);
        // A few batches in flight at once.
        loop {
            let wave: Vec<Vec<WriteRequest>> = chunks.by_ref().take(4).collect();
            if wave.is_empty() {
                break;
            }
            try_join_all(wave.into_iter().map(|chunk| self.write_batch(chunk))).await?;
        }
        for (id, parts) in stale {
            if let Err(error) = self.delete_parts(id, &parts, &[]).await {
                tracing::warn!(campaign_id = id, %error, "stale campaign record part not deleted");
            }
        }
        Ok(())
    }

    /// The offloaded parts the stored versions of `campaigns` point to, by campaign id (only ids
    /// that have some).
    async fn previous_refs(&self, campaigns: &[Campaign]) -> StoreResult<HashMap<String, Vec<(Part, String)>>> {
        let mut found = HashMap::new();
        let projection = format!("{CAMPAIGN_ID}, {}", Part::ALL.map(Part::ref_attr).join(", "));
        for chunk in campaigns.chunks(GET_BATCH) {
            let mut keys: Vec<Item> = chunk
                .iter()
                .map(|c| HashMap::from([(CAMPAIGN_ID.to_owned(), AttributeValue::S(c.campaign_id.clone()))]))
                .collect();
            let mut delay = Duration::from_millis(50);
            for round in 0..=MAX_ROUNDS {
                if keys.is_empty() {
                    break;
                }
                if round == MAX_ROUNDS {
                    return Err(StoreError::new(
                        StoreErrorKind::Unavailable,
                        ENTITY,
                        format!("{} keys still unprocessed after {MAX_ROUNDS} batch reads (throttled)", keys.len()),
                    ));
                }
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .projection_expression(&projection)
                    .build()
                    .map_err(|e| {
                        StoreError::new(StoreErrorKind::Internal, ENTITY, format!("cannot build request: {e}"))
                    })?;
                let out = self
                    .client
                    .batch_get_item()
                    .set_request_items(Some(HashMap::from([(self.table.clone(), request)])))
                    .send()
                    .await
                    .map_err(|e| sdk_error(ENTITY, &self.table, e))?;
                for item in out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                    let parts = refs(&item);
                    if let (false, Some(AttributeValue::S(id))) = (parts.is_empty(), item.get(CAMPAIGN_ID)) {
                        found.insert(id.clone(), parts);
                    }
                }
                keys = out
                    .unprocessed_keys
                    .and_then(|mut left| left.remove(&self.table))
                    .map(|left| left.keys)
                    .unwrap_or_default();
                if !keys.is_empty() {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
        Ok(found)
    }

    async fn write_batch(&self, mut requests: Vec<WriteRequest>) -> StoreResult<()> {
        let mut delay = Duration::from_millis(50);
        for _ in 0..MAX_ROUNDS {
            let out = self
                .client
                .batch_write_item()
                .set_request_items(Some(HashMap::from([(self.table.clone(), requests)])))
                .send()
                .await
                .map_err(|e| sdk_error(ENTITY, &self.table, e))?;
            requests = out.unprocessed_items.and_then(|mut left| left.remove(&self.table)).unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
        Err(StoreError::new(
            StoreErrorKind::Unavailable,
            ENTITY,
            format!("{} items still unprocessed after {MAX_ROUNDS} batch writes (throttled)", requests.len()),
        ))
    }
}
