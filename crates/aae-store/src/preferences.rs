//! User model preferences (seed 000 `UserModelPreference`): which conversational provider and
//! model a user chose. Which providers and models exist is the model catalog's business (issue 4);
//! this store keeps the choice.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::row::SqlRow;

/// A user's model choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelPreference {
    /// The user.
    pub user_id: Uuid,
    /// Provider, e.g. `gemini`, `bedrock`.
    pub conversational_provider: String,
    /// Model, e.g. `gemini-2.5-flash`.
    pub conversational_model: String,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}

/// Model preference records, one per user.
#[async_trait]
pub trait PreferenceStore: Send + Sync {
    /// The user's preference, or `None` when the user never chose (callers apply the default).
    async fn get(&self, user_id: Uuid) -> StoreResult<Option<ModelPreference>>;

    /// Sets (creates or replaces) the user's preference. `Invalid` when provider or model is
    /// empty; `Conflict` when the user does not exist.
    async fn set(&self, user_id: Uuid, provider: &str, model: &str) -> StoreResult<ModelPreference>;

    /// Removes the preference; `true` when there was one.
    async fn clear(&self, user_id: Uuid) -> StoreResult<bool>;
}

pub(crate) fn check(provider: &str, model: &str) -> StoreResult<()> {
    if provider.trim().is_empty() || model.trim().is_empty() {
        return Err(StoreError::invalid("model preference", "provider and model must not be empty"));
    }
    Ok(())
}

pub(crate) fn preference_from_row(row: &impl SqlRow) -> StoreResult<ModelPreference> {
    Ok(ModelPreference {
        user_id: row.uuid("user_id")?,
        conversational_provider: row.text("conversational_provider")?,
        conversational_model: row.text("conversational_model")?,
        updated_at: row.time("updated_at")?,
    })
}
