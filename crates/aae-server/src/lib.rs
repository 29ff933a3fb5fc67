//! AAE's HTTP server: the axum router (routes declared in [`routes::router`]), thin handlers,
//! the one mapping from [`aae_types::ErrorCode`] to HTTP status ([`error`]), request ids, JSON or
//! text logs, and graceful shutdown.
//!
//! Today it serves `GET /api/v1/health` and the local signed file routes
//! (`/api/v1/files/{bucket}/{key}`) that make presigned URLs work on the local and memory storage
//! backends. Later subsystems add their routes in `routes`.

pub mod error;
pub mod routes;
mod serve;
mod state;

pub use routes::router;
pub use serve::{app, serve, serve_until};
pub use state::AppState;
