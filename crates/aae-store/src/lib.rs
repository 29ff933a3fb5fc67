//! AAE's records: users, local credentials and refresh tokens, API keys, model preferences, the
//! credit ledger, jobs and the job queue, file metadata, campaigns, documents and their chunks,
//! conversations and messages, and usage.
//!
//! Each aggregate is one `Send + Sync` trait in its own module ([`UserStore`], [`AuthStore`],
//! [`ApiKeyStore`], [`PreferenceStore`], [`CreditLedger`], [`JobStore`], [`FileStore`],
//! [`CampaignStore`], [`DocumentStore`], [`ConversationStore`], [`UsageStore`]), implemented by a
//! backend per engine in mirrored files: `sqlite/*.rs` (the default: `{data_dir}/aae.db`, WAL) and
//! `postgres/*.rs` (when `database.url` is `postgres://…`; seed 002's tables with their columns and
//! types). [`open`] builds the pool from [`aae_config::DatabaseConfig`], applies the migrations
//! under `migrations/{sqlite,postgres}/` (tracked, so a second run does nothing) and returns
//! [`Records`], one `Arc<dyn …>` per trait. Campaigns can instead live in a DynamoDB table
//! (`dynamodb/`, feature `dynamodb`, on by default; see [`Records::open_config`]).
//!
//! This crate owns the schema and the SQL. It does not run jobs (workers live in `aae-jobs`),
//! price model calls, or store bytes (`aae-storage` does); callers pass ids in.

pub mod api_keys;
pub mod auth;
pub mod cache;
pub mod campaigns;
pub mod conversations;
pub mod credits;
pub mod documents;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
mod error;
pub mod files;
pub mod import_redis;
pub mod jobs;
mod postgres;
pub mod preferences;
mod records;
mod row;
mod sqlite;
pub mod usage;
pub mod users;

pub use api_keys::{ApiKey, ApiKeyStore, MAX_API_KEY_NAME_LEN, NewApiKey};
pub use auth::{AuthStore, MAX_TOKEN_HASH_LEN, RefreshToken};
pub use cache::{BucketDecision, CacheStatus, CachedConversations, SharedCache};
pub use campaigns::{Campaign, CampaignStats, CampaignStatus, CampaignStore, CampaignSummary, Page};
pub use conversations::{Conversation, ConversationStore, Message, MessageRole, NewMessage};
pub use credits::{Balance, CreditLedger, EntryKind, LedgerEntry, MICROS_PER_CREDIT, Settlement};
pub use documents::{Chunk, Document, DocumentStatus, DocumentStore, NewDocument};
#[cfg(feature = "dynamodb")]
pub use dynamodb::{DynamoCampaignStore, DynamoOptions, TableReport};
pub use error::{StoreError, StoreErrorKind, StoreResult};
pub use files::{FileRecord, FileStatus, FileStore, NewFile};
pub use import_redis::{ImportReport, SkippedKey};
pub use jobs::{Backoff, Job, JobFilter, JobStatus, JobStore, NewJob, Priority};
pub use preferences::{ModelPreference, PreferenceStore};
pub use records::{MigrationReport, Records, connect, open};
pub use usage::{ModelUsage, NewUsage, UsageRecord, UsageStore, UsageSummary};
pub use users::{NewUser, Role, User, UserStore, UserUpdate};
