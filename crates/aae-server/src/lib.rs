//! AAE's HTTP API (issue 6): the axum router (every route declared in [`routes`], the OpenAPI
//! 3.1 document generated from the same declarations in [`openapi`]), thin handlers, the one
//! mapping from [`aae_types::ErrorCode`] to HTTP status ([`error`]), authentication ([`auth`]:
//! local accounts with Argon2id and JWTs, or a Cognito user pool), per-user rate limits
//! ([`limits`], shared through Redis), Prometheus [`metrics`], request ids, JSON or text logs,
//! CORS, timeouts and graceful shutdown ([`serve`]).
//!
//! Every resource is scoped to its owner: another user's id answers 404. Long work (campaigns)
//! is queued as jobs (`aae-jobs`); the workers run in the `aae serve` process by default.
//!
//! It does not own the records (`aae-store`), the storage service (`aae-storage`), the model
//! router (`aae-models`), the agents (`aae-agents`) or the job workers (`aae-jobs`).

pub mod auth;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod reserve;
pub mod routes;
mod serve;
mod state;

pub use routes::{api_routes, router};
pub use serve::{app, serve, serve_until};
pub use state::{Api, AppState};
