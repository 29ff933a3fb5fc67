//! Every route of the server, declared in one place.

mod files;
mod health;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::state::AppState;

/// Largest body a local signed upload accepts (S3's single-PUT limit).
const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024 * 1024;

/// The application router; tests call it without a socket.
pub fn router(state: AppState) -> Router {
    let files = Router::new()
        .route("/api/v1/files/{bucket}/{*key}", get(files::get_file).head(files::get_file).put(files::put_file))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES));
    Router::new()
        .route("/api/v1/health", get(health::health))
        .merge(files)
        .layer(DefaultBodyLimit::max(1024 * 1024))
        .with_state(state)
}
