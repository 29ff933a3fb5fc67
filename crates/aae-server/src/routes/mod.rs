//! Every route of the server, declared in one place ([`api_routes`] for the documented API,
//! [`router`] adding the rest). The OpenAPI document is generated from the same declarations.

mod auth;
mod campaigns;
mod campaigns_aws;
mod conversations;
mod credits;
mod files;
mod health;
mod keys;
mod models;
pub mod openai;
mod uploads;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::openapi::ApiDoc;
use crate::state::AppState;

/// A JSON body whose rejection is an [`ApiError`] (`{"error": {…}}`, 400/413).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(request, state).await?;
        Ok(Self(value))
    }
}

/// A raw body whose rejection is an [`ApiError`] (413 past the route's limit).
#[derive(Debug)]
pub struct ApiBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(request, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    aae_types::ErrorCode::PayloadTooLarge,
                    "the request body is larger than this route accepts",
                )
            } else {
                ApiError::invalid(format!("cannot read the request body: {}", e.body_text()))
            }
        })?;
        Ok(Self(bytes))
    }
}

/// A query string whose rejection is an [`ApiError`] (400 with the parser's message).
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) = axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::invalid(format!("invalid query string: {}", e.body_text())))?;
        Ok(Self(value))
    }
}

/// The client's address (the key of sign-in rate limits).
#[derive(Debug)]
pub struct ClientAddress(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_owned(), |ConnectInfo(addr)| addr.ip().to_string());
        Ok(Self(address))
    }
}

/// `limit` of a list: 1 to 100, default 50.
pub(crate) fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(50),
        Some(n @ 1..=100) => Ok(n),
        Some(n) => Err(ApiError::invalid(format!("limit must be between 1 and 100, not {n}"))),
    }
}

/// The documented API: its axum routes and its OpenAPI document, from the same declarations.
/// `streaming` routes (event streams) get no request timeout.
pub fn api_routes() -> (Router<AppState>, Router<AppState>, utoipa::openapi::OpenApi) {
    let (plain, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::profile))
        .routes(routes!(models::list_models))
        .routes(routes!(models::get_preference, models::put_preference))
        .routes(routes!(conversations::create, conversations::list))
        .routes(routes!(conversations::show))
        .routes(routes!(campaigns::create, campaigns::list))
        .routes(routes!(campaigns::show))
        .routes(routes!(campaigns::resume))
        .routes(routes!(campaigns_aws::info, campaigns_aws::delete))
        .routes(routes!(campaigns_aws::list))
        .routes(routes!(campaigns_aws::stats))
        .routes(routes!(uploads::presign_upload))
        .routes(routes!(uploads::download_url))
        .routes(routes!(uploads::list))
        .routes(routes!(credits::get_credits))
        .routes(routes!(credits::grant))
        .routes(routes!(keys::create, keys::list))
        .routes(routes!(keys::revoke))
        .split_for_parts();
    let (streaming, streaming_doc) = OpenApiRouter::<AppState>::new()
        .routes(routes!(conversations::send))
        .routes(routes!(campaigns::events))
        .routes(routes!(health::metrics))
        .split_for_parts();
    doc.merge(streaming_doc);
    (plain, streaming, doc)
}

/// The application router; tests call it without a socket.
pub fn router(state: AppState) -> Router {
    let config = &state.config.server;
    let (plain, streaming, doc) = api_routes();
    let doc = std::sync::Arc::new(doc);
    let plain = plain
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(config.request_timeout_secs),
        ))
        .layer(DefaultBodyLimit::max(config.json_body_limit_kib * 1024));
    let streaming = streaming.layer(DefaultBodyLimit::max(config.json_body_limit_kib * 1024));
    let files = Router::new()
        .route("/api/v1/files/{file_id}/{*key}", get(files::get_file).head(files::get_file).put(files::put_file))
        .layer(DefaultBodyLimit::max(config.upload_body_limit_mib.saturating_mul(1024 * 1024)));
    // The OpenAI-compatible gateway follows OpenAI's own API description, not this document.
    // No timeout layer: the router bounds each call by `router.request_timeout_secs`.
    let gateway = Router::new()
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/models", get(openai::list_models))
        .route("/v1/models/{*model}", get(openai::get_model))
        .route("/v1/embeddings", post(openai::embeddings))
        .layer(DefaultBodyLimit::max(config.json_body_limit_kib * 1024));
    let docs = Router::new()
        .route("/api/v1/openapi.json", get(move || crate::openapi::document(std::sync::Arc::clone(&doc))))
        .route("/docs", get(crate::openapi::docs_page));
    Router::new()
        .merge(plain)
        .merge(streaming)
        .merge(files)
        .merge(gateway)
        .merge(docs)
        .fallback(|| async {
            ApiError::not_found("no such route; the API is described at /api/v1/openapi.json and /docs")
        })
        .with_state(state)
}
