//! AAE's object storage: every logical bucket of the design (creatives, landing pages, exports,
//! uploads, videos, code, thumbnails, temp, campaign outputs, documents) on one of four backends —
//! local files (default), S3 (AWS or any S3-compatible server), GCS, or memory — behind one
//! [`StorageService`] that offers seed 000's `StorageInterface`: presigned upload and download
//! URLs, uploads with metadata, delete, CDN URLs, exists and list, plus streaming multipart
//! uploads with progress, streaming downloads, retries, a circuit breaker, dual-write mode and the
//! `migrate` tool.
//!
//! The engine underneath is `Arc<dyn object_store::ObjectStore>`; this crate adds only what the
//! product needs on top: bucket resolution, key layout and validation, presigning (SigV4, GCS V4,
//! CloudFront, HMAC for local files), bucket creation, error kinds and resilience.
//!
//! It does not know about users, jobs or databases: callers pass ids and metadata in.

pub mod backend;
mod error;
pub mod health;
pub mod key;
pub mod layout;
pub mod migrate;
pub mod presign;
mod resilience;
mod service;
pub mod transfer;

pub use backend::{Backend, BackendOptions, build_backend};
pub use error::{StorageError, StorageErrorKind};
pub use key::validate_key;
pub use resilience::{BreakerState, CircuitBreaker};
pub use service::{
    ObjectInfo, ObjectMetadata, PresignedRequest, StorageService, UploadOptions, UploadResult, load_or_create_secret,
};
pub use transfer::Progress;
