//! Bulk loading: [`DynamoCampaignStore::put_many`] writes campaigns 25 to a `BatchWriteItem`,
//! resending what DynamoDB leaves unprocessed (throttling) with backoff.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use futures::future::try_join_all;

use super::item::to_item;
use super::{DynamoCampaignStore, sdk_error};
use crate::campaigns::Campaign;
use crate::error::{StoreError, StoreErrorKind, StoreResult};

const ENTITY: &str = "campaign";
/// DynamoDB's limit of requests per `BatchWriteItem`.
const BATCH: usize = 25;
/// Rounds of resending unprocessed items before giving up as unavailable.
const MAX_ROUNDS: u32 = 10;

impl DynamoCampaignStore {
    /// Creates or replaces every campaign, like [`crate::CampaignStore::put`] but 25 per request.
    /// Unlike `put` it does not delete parts a previous version kept in object storage. Ids must
    /// be unique within one call (DynamoDB refuses a batch naming an item twice).
    pub async fn put_many(&self, campaigns: &[Campaign]) -> StoreResult<()> {
        let mut requests = Vec::with_capacity(campaigns.len());
        for campaign in campaigns {
            campaign.check()?;
            let mut item = to_item(campaign);
            self.offload(&campaign.campaign_id, &mut item).await?;
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
                return Ok(());
            }
            try_join_all(wave.into_iter().map(|chunk| self.write_batch(chunk))).await?;
        }
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
