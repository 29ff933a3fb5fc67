//! The campaigns table and its two GSIs: created when missing, waited on until `ACTIVE`, and
//! described for the `campaigns` health line.

use std::time::{Duration, Instant};

use aae_types::ServiceHealth;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ProvisionedThroughput, ScalarAttributeType, TableDescription, TableStatus,
};
use serde::Serialize;

use super::item::{CAMPAIGN_ID, CREATED_AT, STATUS, USER_ID};
use super::{DynamoCampaignStore, STATUS_INDEX, USER_INDEX, sdk_error};
use crate::error::{StoreError, StoreErrorKind, StoreResult};

const ENTITY: &str = "campaign table";
/// How long [`DynamoCampaignStore::ensure_table`] waits for the table and indexes to be `ACTIVE`.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(600);

/// What [`DynamoCampaignStore::ensure_table`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableReport {
    /// Table name.
    pub table: String,
    /// Whether this call created the table.
    pub created: bool,
    /// Indexes this call added to an existing table.
    pub indexes_added: Vec<String>,
}

fn build_error(e: aws_smithy_types::error::operation::BuildError) -> StoreError {
    StoreError::new(StoreErrorKind::Internal, ENTITY, format!("cannot build request: {e}"))
}

fn attribute(name: &str) -> StoreResult<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_error)
}

fn key(name: &str, kind: KeyType) -> StoreResult<KeySchemaElement> {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(build_error)
}

/// `(index name, partition key attribute)` of both GSIs; both sort by `created_at`.
const INDEXES: [(&str, &str); 2] = [(USER_INDEX, USER_ID), (STATUS_INDEX, STATUS)];

fn index_schema(hash: &str) -> StoreResult<Vec<KeySchemaElement>> {
    Ok(vec![key(hash, KeyType::Hash)?, key(CREATED_AT, KeyType::Range)?])
}

fn projection() -> Projection {
    Projection::builder().projection_type(ProjectionType::All).build()
}

fn attributes() -> StoreResult<Vec<AttributeDefinition>> {
    [CAMPAIGN_ID, USER_ID, STATUS, CREATED_AT].into_iter().map(attribute).collect()
}

impl DynamoCampaignStore {
    /// Creates the table (pay per request) with both GSIs when it is missing, or adds a missing
    /// GSI to an existing table, then waits until the table and its indexes are `ACTIVE`.
    /// Idempotent; concurrent callers are fine. `Invalid` when the table exists with another
    /// partition key.
    pub async fn ensure_table(&self) -> StoreResult<TableReport> {
        let mut report = TableReport { table: self.table.clone(), created: false, indexes_added: Vec::new() };
        let description = match self.describe_table().await? {
            Some(description) => description,
            None => {
                self.create_table().await?;
                report.created = true;
                self.wait_active().await?
            }
        };
        let hash = description.key_schema().iter().find(|k| k.key_type() == &KeyType::Hash);
        if hash.map(|k| k.attribute_name()) != Some(CAMPAIGN_ID) {
            return Err(StoreError::invalid(
                ENTITY,
                format!("table `{}` exists but its partition key is not `{CAMPAIGN_ID}`", self.table),
            ));
        }
        let existing: Vec<String> =
            description.global_secondary_indexes().iter().filter_map(|i| i.index_name().map(str::to_owned)).collect();
        for (name, hash) in INDEXES {
            if existing.iter().any(|e| e == name) {
                continue;
            }
            // DynamoDB adds one index per UpdateTable and only to an ACTIVE table.
            self.wait_active().await?;
            let create = CreateGlobalSecondaryIndexAction::builder()
                .index_name(name)
                .set_key_schema(Some(index_schema(hash)?))
                .projection(projection())
                .set_provisioned_throughput(index_throughput(&description)?)
                .build()
                .map_err(build_error)?;
            self.client
                .update_table()
                .table_name(&self.table)
                .set_attribute_definitions(Some(attributes()?))
                .global_secondary_index_updates(GlobalSecondaryIndexUpdate::builder().create(create).build())
                .send()
                .await
                .map_err(|e| sdk_error(ENTITY, &self.table, e))?;
            tracing::info!(table = %self.table, index = name, "dynamodb index added");
            report.indexes_added.push(name.to_owned());
        }
        let description = self.wait_active().await?;
        let missing = missing_indexes(&description);
        if !missing.is_empty() {
            return Err(StoreError::new(
                StoreErrorKind::Internal,
                ENTITY,
                format!("table `{}` still lacks {} after creating it", self.table, missing.join(", ")),
            ));
        }
        Ok(report)
    }

    async fn create_table(&self) -> StoreResult<()> {
        let mut indexes = Vec::new();
        for (name, hash) in INDEXES {
            indexes.push(
                GlobalSecondaryIndex::builder()
                    .index_name(name)
                    .set_key_schema(Some(index_schema(hash)?))
                    .projection(projection())
                    .build()
                    .map_err(build_error)?,
            );
        }
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .set_attribute_definitions(Some(attributes()?))
            .key_schema(key(CAMPAIGN_ID, KeyType::Hash)?)
            .set_global_secondary_indexes(Some(indexes))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => {
                tracing::info!(table = %self.table, "dynamodb campaigns table created");
                Ok(())
            }
            // Created by a concurrent caller meanwhile.
            Err(e) if e.code() == Some("ResourceInUseException") => Ok(()),
            Err(e) => Err(sdk_error(ENTITY, &self.table, e)),
        }
    }

    /// The table's description; `None` when it does not exist.
    pub(crate) async fn describe_table(&self) -> StoreResult<Option<TableDescription>> {
        match self.client.describe_table().table_name(&self.table).send().await {
            Ok(out) => Ok(out.table),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(sdk_error(ENTITY, &self.table, e)),
        }
    }

    /// Polls until the table and every index are `ACTIVE`.
    async fn wait_active(&self) -> StoreResult<TableDescription> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(50);
        loop {
            if let Some(description) = self.describe_table().await?
                && is_active(&description)
            {
                return Ok(description);
            }
            if started.elapsed() > ACTIVE_TIMEOUT {
                return Err(StoreError::new(
                    StoreErrorKind::Unavailable,
                    ENTITY,
                    format!("table `{}` not ACTIVE after {} s", self.table, ACTIVE_TIMEOUT.as_secs()),
                ));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// The `campaigns` health line: `DescribeTable`, healthy when the table and both indexes are
    /// `ACTIVE`.
    pub async fn health(&self) -> ServiceHealth {
        let started = Instant::now();
        let (healthy, detail) = match self.describe_table().await {
            Ok(Some(description)) => {
                let missing = missing_indexes(&description);
                let status = description.table_status().map(|s| s.as_str()).unwrap_or("UNKNOWN");
                if !missing.is_empty() {
                    (
                        false,
                        format!("{}: {status}, missing {}; run `aae db migrate`", self.description, missing.join(", ")),
                    )
                } else if is_active(&description) {
                    let items = description.item_count().unwrap_or(0);
                    (true, format!("{}: ACTIVE, 2 indexes, about {items} items", self.description))
                } else {
                    (false, format!("{}: {status} (table or an index not ACTIVE yet)", self.description))
                }
            }
            Ok(None) => (
                false,
                format!(
                    "{}: table missing; run `aae db migrate` or set campaigns.create_table = true",
                    self.description
                ),
            ),
            Err(error) => (false, format!("{}: {error}", self.description)),
        };
        ServiceHealth {
            service: "campaigns".into(),
            healthy,
            detail,
            latency_ms: started.elapsed().as_millis() as u64,
            last_check: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}

/// The names of the two GSIs the table lacks.
fn missing_indexes(description: &TableDescription) -> Vec<&'static str> {
    let present: Vec<&str> = description.global_secondary_indexes().iter().filter_map(|i| i.index_name()).collect();
    INDEXES.iter().map(|(name, _)| *name).filter(|name| !present.contains(name)).collect()
}

/// A new index on a provisioned table gets the table's capacity; on-demand tables take none.
fn index_throughput(description: &TableDescription) -> StoreResult<Option<ProvisionedThroughput>> {
    let on_demand =
        description.billing_mode_summary().and_then(|s| s.billing_mode()) == Some(&BillingMode::PayPerRequest);
    if on_demand {
        return Ok(None);
    }
    let table = description.provisioned_throughput();
    let read = table.and_then(|t| t.read_capacity_units()).unwrap_or(1).max(1);
    let write = table.and_then(|t| t.write_capacity_units()).unwrap_or(1).max(1);
    ProvisionedThroughput::builder()
        .read_capacity_units(read)
        .write_capacity_units(write)
        .build()
        .map(Some)
        .map_err(build_error)
}

fn is_active(description: &TableDescription) -> bool {
    description.table_status() == Some(&TableStatus::Active)
        && description
            .global_secondary_indexes()
            .iter()
            .all(|i| i.index_status().is_none_or(|s| s == &IndexStatus::Active))
}
