//! Domain types shared by every AAE crate: environments and their resource prefixes, the logical
//! storage buckets, service health, the model catalog with [`UserModelPreference`], the
//! [`CampaignBrief`] (parsed from TOML or JSON text and validated), and the closed [`ErrorCode`]
//! that the HTTP layer maps to status codes in exactly one place.
//!
//! This crate does no IO (it parses text it is given, it never reads files) and depends on nothing
//! heavier than `serde` and its TOML and JSON formats.

pub mod brief;
mod bucket;
mod error;
mod health;
mod models;

pub use brief::{BriefError, BriefFormat, Budget, CHANNELS, CampaignBrief};
pub use bucket::{BucketPurpose, Environment};
pub use error::{ErrorCode, error_chain};
pub use health::ServiceHealth;
pub use models::{
    CONVERSATIONAL_MODELS, Capability, EMBEDDING_MODELS, GENERATION_MODELS, ModelCatalog, ModelEntry, ModelKind,
    ModelSelectionError, Provider, UserModelPreference,
};
