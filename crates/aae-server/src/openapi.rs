//! The OpenAPI 3.1 document (`GET /api/v1/openapi.json`), generated from the handlers'
//! `#[utoipa::path]` declarations by the same calls that build the routes, and `/docs`, an
//! interactive page (no external assets: it works offline) that lists every operation from the
//! document and sends requests with a bearer token.

use std::sync::Arc;

use axum::Json;
use axum::response::Html;
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// The document's fixed part: title, version, tags, security scheme.
#[derive(OpenApi)]
#[openapi(
    info(title = "AAE API", description = "The Automated Ad Engine: accounts, model preferences, conversations with the assistant, campaigns (seed 003's AWS endpoints included), files, credits, health.", license(name = "Apache-2.0")),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Local accounts: register, login, refresh, logout, profile"),
        (name = "models", description = "The model catalog and the user's conversational model"),
        (name = "conversations", description = "Chat with the assistant, streamed as Server-Sent Events"),
        (name = "campaigns", description = "Campaigns from briefs: create, follow, resume, and seed 003's AWS endpoints"),
        (name = "files", description = "Uploads and downloads through short-lived presigned URLs"),
        (name = "credits", description = "Balance, ledger and grants"),
        (name = "keys", description = "API keys for the OpenAI-compatible gateway at /v1 (chat completions, models, embeddings)"),
        (name = "health", description = "Service health and metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

pub(crate) async fn document(doc: Arc<utoipa::openapi::OpenApi>) -> Json<utoipa::openapi::OpenApi> {
    Json((*doc).clone())
}

pub(crate) async fn docs_page() -> Html<&'static str> {
    Html(DOCS_HTML)
}

const DOCS_HTML: &str = include_str!("docs.html");
