//! Campaign records on DynamoDB (seed 003's `campaigns` table), selected by
//! `campaigns.backend = dynamodb`: [`DynamoCampaignStore`] implements [`crate::CampaignStore`]
//! on the official `aws-sdk-dynamodb` client.
//!
//! # Table
//! Partition key `campaign_id` (S), pay-per-request, and two global secondary indexes projecting
//! every attribute: `user_campaigns_index` (`user_id` HASH, `created_at` RANGE) and
//! `status_created_index` (`status` HASH, `created_at` RANGE). [`DynamoCampaignStore::ensure_table`]
//! creates the table, or a missing index, and waits until both are `ACTIVE`; start-up calls it
//! when `campaigns.create_table` is on, and `aae db migrate` always does. `created_at` is stored
//! as fixed-width RFC 3339 UTC with microseconds (the SQLite form), so text order is time order.
//! The JSON fields (`campaign_brief`, `final_state`, `progress_log`, `agent_interactions`) are
//! stored as JSON text, which round-trips any JSON exactly and makes the item size predictable.
//!
//! # Reads
//! `get` is a strongly consistent `GetItem`. `list_by_user` / `list_by_status` are one `Query`
//! on the matching index (`ScanIndexForward = false`, `Limit = limit + 1`, repeated only when
//! DynamoDB's 1 MB page cut it short), never a `Scan`; their index reads are eventually
//! consistent, as every GSI read is. The cursor is the SQL backends' opaque cursor (the last
//! item's `created_at` and `campaign_id`); with the index key from the call it is exactly the
//! `ExclusiveStartKey`. Cost: one read unit per 4 KB of the page's items, halved (eventual).
//!
//! # Stats
//! DynamoDB has no aggregate query. Over all users, `stats` runs one `Query` per status on
//! `status_created_index`, concurrently: `Select = COUNT` for every status but `completed`, whose
//! query projects only `execution_time` to add it up. Over one user it runs one `Query` on
//! `user_campaigns_index` projecting `status` and `execution_time`. Each query pages through its
//! partition, so the cost is the read units of every item counted (4 KB per unit, eventually
//! consistent): like a scan of those items, but never of the table, and proportional to one
//! user's campaigns when filtered. A deployment with millions of campaigns that calls the
//! all-users stats often should keep counters instead (not built).
//!
//! # Large items
//! An item over DynamoDB's 400 KB limit keeps `final_state` and then, when still too large,
//! `progress_log` (the larger first) in the `campaign_outputs` bucket under
//! `campaigns/{id}/record/{part}.json`, with the key in a `{part}_ref` attribute. Reads load
//! them back; `put` deletes parts a new version no longer offloads; `delete` removes them before
//! the item. Without a storage service such an item is refused as `Invalid`.
//!
//! # Errors
//! Throttling, 5xx, timeouts and connection failures are `Unavailable`; validation errors are
//! `Invalid`; a failed `attribute_exists` condition is `NotFound`. Messages carry the AWS error
//! code and message, never credentials.

mod batch;
mod campaigns;
mod item;
mod stats;
mod table;

use std::sync::Arc;
use std::time::Duration;

use aae_config::Config;
use aae_storage::StorageService;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::error::{StoreError, StoreErrorKind, StoreResult};

pub use table::TableReport;

/// The GSI listing a user's campaigns, newest first.
pub const USER_INDEX: &str = "user_campaigns_index";
/// The GSI listing campaigns with a status, newest first.
pub const STATUS_INDEX: &str = "status_created_index";

/// Where the table is and how to reach it. Unset fields come from the AWS chain
/// (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_PROFILE`, credentials).
#[derive(Debug, Clone, Default)]
pub struct DynamoOptions {
    /// Table name.
    pub table: String,
    /// Region; default from the chain, else `us-east-1`.
    pub region: Option<String>,
    /// Endpoint, e.g. `http://127.0.0.1:5000` for moto.
    pub endpoint_url: Option<String>,
    /// Named profile.
    pub profile: Option<String>,
    /// Fixed access key and secret (for local emulators); default: the credential chain.
    pub static_credentials: Option<(String, String)>,
}

impl DynamoOptions {
    /// The table `campaigns.table` names (or `{env-prefix}aae-campaigns`) with the `aws` section.
    pub fn from_config(config: &Config) -> Self {
        Self {
            table: config.campaigns_table(),
            region: config.aws.region.clone(),
            endpoint_url: config.aws.endpoint_url.clone(),
            profile: config.aws.profile.clone(),
            static_credentials: None,
        }
    }
}

/// [`crate::CampaignStore`] on a DynamoDB table (see the module docs).
#[derive(Clone)]
pub struct DynamoCampaignStore {
    client: Client,
    table: String,
    storage: Option<Arc<StorageService>>,
    description: String,
}

impl std::fmt::Debug for DynamoCampaignStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoCampaignStore").field("table", &self.description).finish_non_exhaustive()
    }
}

impl DynamoCampaignStore {
    /// A store on `options.table`, with `storage` for items over the size limit. Makes no request.
    pub async fn connect(options: &DynamoOptions, storage: Option<Arc<StorageService>>) -> StoreResult<Self> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &options.endpoint_url {
            loader = loader.endpoint_url(endpoint.trim_end_matches('/'));
        }
        if let Some((key, secret)) = &options.static_credentials {
            loader = loader.credentials_provider(Credentials::new(key, secret, None, None, "aae-static"));
        }
        let sdk = loader.load().await;
        let mut builder = aws_sdk_dynamodb::config::Builder::from(&sdk).timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(30))
                .build(),
        );
        if sdk.region().is_none() {
            builder = builder.region(Region::new("us-east-1"));
        }
        let config = builder.build();
        let region = config.region().map(|r| r.to_string()).unwrap_or_default();
        let endpoint = sdk
            .endpoint_url()
            .map(str::to_owned)
            .or_else(|| env_nonempty("AWS_ENDPOINT_URL_DYNAMODB"))
            .or_else(|| env_nonempty("AWS_ENDPOINT_URL"))
            .map(|e| format!(" at {e}"))
            .unwrap_or_default();
        let description = format!("dynamodb table {} ({region}{endpoint})", options.table);
        Ok(Self::new(Client::from_conf(config), options.table.clone(), storage, description))
    }

    /// [`connect`](Self::connect) with [`DynamoOptions::from_config`].
    pub async fn from_config(config: &Config, storage: Option<Arc<StorageService>>) -> StoreResult<Self> {
        Self::connect(&DynamoOptions::from_config(config), storage).await
    }

    /// A store on a client built elsewhere (e.g. with interceptors in tests).
    pub fn new(
        client: Client,
        table: impl Into<String>,
        storage: Option<Arc<StorageService>>,
        description: impl Into<String>,
    ) -> Self {
        Self { client, table: table.into(), storage, description: description.into() }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Where the table is, without credentials, e.g. `dynamodb table dev-aae-campaigns (us-east-1)`.
    pub fn describe(&self) -> &str {
        &self.description
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Whether the call failed on its condition expression.
pub(crate) fn condition_failed<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

/// Maps an SDK error to a [`StoreError`] naming `entity` (see the module docs).
pub(crate) fn sdk_error<E, R>(entity: &'static str, table: &str, error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let (kind, message) = match &error {
        SdkError::ServiceError(_) => {
            let code = error.code().unwrap_or("Unknown");
            let text = error.message().unwrap_or("");
            (service_kind(code), format!("dynamodb {code} on table `{table}`: {text}"))
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => (
            StoreErrorKind::Unavailable,
            format!("dynamodb unreachable for table `{table}`: {}", aae_types::error_chain(&error)),
        ),
        _ => (
            StoreErrorKind::Internal,
            format!("dynamodb request for table `{table}`: {}", aae_types::error_chain(&error)),
        ),
    };
    StoreError::new(kind, entity, message)
}

fn service_kind(code: &str) -> StoreErrorKind {
    match code {
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "Throttling"
        | "RequestLimitExceeded"
        | "LimitExceededException"
        | "InternalServerError"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "TransactionConflictException"
        | "TransactionInProgressException" => StoreErrorKind::Unavailable,
        "ValidationException" | "SerializationException" => StoreErrorKind::Invalid,
        "ConditionalCheckFailedException" | "ResourceInUseException" => StoreErrorKind::Conflict,
        _ => StoreErrorKind::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_is_retryable_and_validation_is_invalid() {
        assert_eq!(service_kind("ProvisionedThroughputExceededException"), StoreErrorKind::Unavailable);
        assert_eq!(service_kind("ThrottlingException"), StoreErrorKind::Unavailable);
        assert_eq!(service_kind("ValidationException"), StoreErrorKind::Invalid);
        assert_eq!(service_kind("AccessDeniedException"), StoreErrorKind::Internal);
    }
}
