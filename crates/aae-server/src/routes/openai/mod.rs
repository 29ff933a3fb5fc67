//! The OpenAI-compatible gateway: `POST /v1/chat/completions` (JSON or Server-Sent Events),
//! `GET /v1/models`, `GET /v1/models/{model}` and `POST /v1/embeddings`, so OpenAI SDKs, chat
//! UIs and proxies (LiteLLM, LibreChat, Open WebUI) use AAE's providers through its router:
//! the caller's rate limit (group `gateway`), retries, breaker and fallback, usage records and
//! credits ([`crate::reserve`]: estimated cost reserved before the call, real cost charged
//! after). Callers send an API key ([`crate::auth::keys`]) or an access token as
//! `Authorization: Bearer`. Errors have OpenAI's shape ([`error::GatewayError`]).
//!
//! Model names are the catalog's (`claude-4.5-sonnet`, `gemini-2.5-flash`, any configured
//! OpenAI-compatible model), `provider/name`, or `default` (the caller's preference).

pub mod error;
mod stream;
pub mod wire;

use std::sync::Arc;

use aae_models::{CallContext, EmbeddingRequest, Metered, Usage};
use aae_store::ApiKey;
use aae_types::{ModelEntry, ModelKind, Provider, UserModelPreference};
use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::Utc;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uuid::Uuid;

use self::error::GatewayError;
use self::wire::{ChatCompletion, ChatCompletionRequest, EmbeddingInput, EmbeddingsRequest};
use crate::auth::Caller;
use crate::auth::keys::is_api_key;
use crate::reserve::{ReserveError, Ticket};
use crate::state::{Api, AppState};

/// The caller of a `/v1/*` route: an API key's owner, or a signed-in user.
#[derive(Debug, Clone)]
pub struct GatewayCaller {
    /// Who.
    pub caller: Caller,
    /// The key used, if any (its model limits apply).
    pub key: Option<ApiKey>,
}

impl FromRequestParts<AppState> for GatewayCaller {
    type Rejection = GatewayError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let api = state.api()?;
        let missing = || {
            GatewayError::from(crate::error::ApiError::unauthenticated(
                "send `Authorization: Bearer <API key>`; create a key with POST /api/v1/keys or `aae keys create EMAIL`",
            ))
        };
        let token = crate::auth::bearer(parts).map_err(|_| missing())?;
        let (caller, key) = if is_api_key(token) {
            let (caller, key) = api.keys.verify(token).await?;
            (caller, Some(key))
        } else {
            (api.auth.verify(token).await?, None)
        };
        api.limiter.check("gateway", &caller.id.to_string()).await?;
        Ok(Self { caller, key })
    }
}

/// A JSON body whose rejection is a [`GatewayError`].
#[derive(Debug)]
pub struct GatewayJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for GatewayJson<T> {
    type Rejection = GatewayError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(GatewayError::from(crate::error::ApiError::from(rejection))),
        }
    }
}

/// The name a model is listed and answered under: its catalog name, or `provider/name` when
/// another provider has a model of the same name.
fn public_name(entries: &[ModelEntry], entry: &ModelEntry) -> String {
    if entries.iter().filter(|e| e.name == entry.name).count() > 1 { entry.key() } else { entry.name.clone() }
}

/// Whether `entry` can serve a route that needs `kind` (OpenAI-compatible models do both).
fn serves(entry: &ModelEntry, kind: ModelKind) -> bool {
    entry.kind == kind || (entry.provider == Provider::OpenaiCompatible && kind == ModelKind::Embedding)
}

/// Finds the model a request names among those of `kind` this server can call.
fn resolve(api: &Api, name: &str, kind: ModelKind) -> Result<ModelEntry, GatewayError> {
    let catalog = api.router.catalog();
    let entries = catalog.entries();
    let found = entries.iter().find(|e| e.key() == name).or_else(|| {
        let mut same = entries.iter().filter(|e| e.name == name && serves(e, kind));
        match (same.next(), same.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    });
    let usable: Vec<String> = entries
        .iter()
        .filter(|e| serves(e, kind) && api.router.has_provider(e.provider))
        .map(|e| public_name(entries, e))
        .collect();
    let listing = || {
        let what = if kind == ModelKind::Embedding { "embedding" } else { "chat" };
        let extra = if kind == ModelKind::Embedding { "" } else { ", or `default` for your preference" };
        format!("{what} models here: {}{extra} (GET /v1/models lists them)", usable.join(", "))
    };
    match found {
        Some(entry) if serves(entry, kind) && api.router.has_provider(entry.provider) => Ok(entry.clone()),
        Some(entry) if serves(entry, kind) => Err(GatewayError::model_not_found(format!(
            "the model `{name}` is in AAE's catalog but its provider ({}) is not configured on this server; {}",
            entry.provider.as_str(),
            listing()
        ))),
        Some(entry) => Err(GatewayError::model_not_found(format!(
            "the model `{name}` is a {} model, not usable here; {}",
            entry.kind.as_str(),
            listing()
        ))),
        None => Err(GatewayError::model_not_found(format!("the model `{name}` does not exist; {}", listing()))),
    }
}

/// 403 when the key may not use `entry`.
fn check_allowed(caller: &GatewayCaller, entries: &[ModelEntry], entry: &ModelEntry) -> Result<(), GatewayError> {
    let Some(key) = &caller.key else { return Ok(()) };
    if key.allowed_models.is_empty()
        || key.allowed_models.iter().any(|m| *m == entry.key() || *m == entry.name || *m == public_name(entries, entry))
    {
        return Ok(());
    }
    Err(GatewayError::model_not_allowed(format!(
        "this API key may only use {}; ask for a key without model limits to use `{}`",
        key.allowed_models.join(", "),
        public_name(entries, entry)
    )))
}

/// 402 for a reservation the caller's credits cannot cover.
fn reserve_error(error: ReserveError) -> GatewayError {
    match error {
        ReserveError::Insufficient { needed, available, in_flight } => {
            let credits = |micros: i64| micros as f64 / aae_store::MICROS_PER_CREDIT as f64;
            let running = if in_flight > 0 {
                format!(" ({} more are held by your requests still running)", credits(in_flight))
            } else {
                String::new()
            };
            GatewayError::insufficient_credits(format!(
                "not enough credits: this request may cost up to {} credits and {} are available{running}; \
                 lower max_tokens, or ask an admin to grant credits (POST /api/v1/admin/users/{{id}}/credits \
                 or `aae credits grant EMAIL AMOUNT`)",
                credits(needed),
                credits(available),
            ))
        }
        ReserveError::Store(error) => error.into(),
    }
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// `POST /v1/chat/completions`.
pub(crate) async fn chat_completions(
    State(state): State<AppState>,
    caller: GatewayCaller,
    headers: HeaderMap,
    GatewayJson(body): GatewayJson<ChatCompletionRequest>,
) -> Result<Response, GatewayError> {
    let api = state.api()?;
    let entries = api.router.catalog().entries();
    let (entry, preference) = if body.model == "default" {
        let (preference, _) = super::models::effective_preference(&state, caller.caller.id).await?;
        let entry = preference
            .validate(api.router.catalog())
            .map_err(|e| GatewayError::model_not_found(format!("your model preference is not usable: {e}")))?
            .clone();
        (entry, preference)
    } else {
        let entry = resolve(api, &body.model, ModelKind::Conversational)?;
        let preference = UserModelPreference::new(entry.provider.as_str(), &entry.name);
        (entry, preference)
    };
    check_allowed(&caller, entries, &entry)?;
    let request = body.to_chat_request()?;
    // The most the call may cost: the prompt (4 characters a token) and every output token.
    let output = u64::from(request.max_tokens.unwrap_or(state.config.gateway.default_max_tokens));
    let prompt = request.estimated_prompt_tokens();
    let metered = Metered { usage: Usage { input_tokens: prompt, output_tokens: output }, ..Metered::default() };
    let estimate = api.router.prices().cost_micros(&entry.key(), &metered);
    let ticket = api.reserve.reserve(caller.caller.id, estimate).await.map_err(reserve_error)?;
    let context = CallContext {
        user_id: Some(caller.caller.id),
        preference: Some(preference),
        hold: None,
        request_id: request_id(&headers),
        defer_accounting: true,
    };
    let id = format!("chatcmpl-{}", Uuid::new_v4().simple());
    let created = Utc::now().timestamp();
    if body.stream {
        let include_usage = body.stream_options.as_ref().is_some_and(|o| o.include_usage);
        let routed = match api.router.chat_stream(&context, &request).await {
            Ok(routed) => routed,
            Err(error) => {
                finish(api, ticket, 0).await;
                return Err(error.into());
            }
        };
        let model = answered_name(entries, &body.model, &entry, &routed.model);
        let answered = routed.model.key();
        let stream = stream::ChunkStream {
            id,
            created,
            model,
            include_usage,
            reserve: ticket.map(|t| (Arc::clone(&api.reserve), t)),
            prices: api.router.prices().clone(),
            answered: answered.clone(),
        };
        let mut response = stream.into_response(routed.stream);
        add_model_headers(&mut response, &answered, routed.failures.len());
        return Ok(response);
    }
    let routed = match api.router.chat(&context, &request).await {
        Ok(routed) => routed,
        Err(error) => {
            finish(api, ticket, 0).await;
            return Err(error.into());
        }
    };
    finish(api, ticket, routed.cost_micros).await;
    let model = answered_name(entries, &body.model, &entry, &routed.model);
    let mut response = Json(ChatCompletion::new(&id, created, &model, &routed.value)).into_response();
    add_model_headers(&mut response, &routed.model.key(), routed.failures.len());
    Ok(response)
}

async fn finish(api: &Api, ticket: Option<Ticket>, cost: i64) {
    if let Some(ticket) = ticket {
        api.reserve.finish(ticket, cost).await;
    }
}

/// The `model` of a reply: the name the caller asked for when that model answered, else the
/// name of the fallback that did.
fn answered_name(entries: &[ModelEntry], asked: &str, chosen: &ModelEntry, answered: &ModelEntry) -> String {
    if answered.key() == chosen.key() && asked != "default" { asked.to_owned() } else { public_name(entries, answered) }
}

fn add_model_headers(response: &mut Response, answered: &str, fallbacks: usize) {
    if let Ok(value) = HeaderValue::from_str(answered) {
        response.headers_mut().insert("x-aae-model", value);
    }
    response.headers_mut().insert("x-aae-fallbacks", HeaderValue::from(fallbacks));
}

/// `GET /v1/models`: the chat and embedding models this server can call now.
pub(crate) async fn list_models(
    State(state): State<AppState>,
    caller: GatewayCaller,
) -> Result<Json<Value>, GatewayError> {
    let api = state.api()?;
    let entries = api.router.catalog().entries();
    let data: Vec<Value> = entries
        .iter()
        .filter(|e| matches!(e.kind, ModelKind::Conversational | ModelKind::Embedding))
        .filter(|e| aae_models::availability(&state.config, e).0 && api.router.has_provider(e.provider))
        .filter(|e| check_allowed(&caller, entries, e).is_ok())
        .map(|e| model_object(entries, e))
        .collect();
    Ok(Json(json!({"object": "list", "data": data})))
}

fn model_object(entries: &[ModelEntry], entry: &ModelEntry) -> Value {
    json!({
        "id": public_name(entries, entry),
        "object": "model",
        "created": 0,
        "owned_by": entry.provider.as_str(),
    })
}

/// `GET /v1/models/{model}`.
pub(crate) async fn get_model(
    State(state): State<AppState>,
    caller: GatewayCaller,
    Path(model): Path<String>,
) -> Result<Json<Value>, GatewayError> {
    let api = state.api()?;
    let entries = api.router.catalog().entries();
    let entry =
        resolve(api, &model, ModelKind::Conversational).or_else(|_| resolve(api, &model, ModelKind::Embedding))?;
    check_allowed(&caller, entries, &entry)?;
    Ok(Json(model_object(entries, &entry)))
}

/// `POST /v1/embeddings`.
pub(crate) async fn embeddings(
    State(state): State<AppState>,
    caller: GatewayCaller,
    headers: HeaderMap,
    GatewayJson(body): GatewayJson<EmbeddingsRequest>,
) -> Result<Response, GatewayError> {
    let api = state.api()?;
    let entries = api.router.catalog().entries();
    let entry = resolve(api, &body.model, ModelKind::Embedding)?;
    check_allowed(&caller, entries, &entry)?;
    let inputs = match body.input {
        EmbeddingInput::One(text) => vec![text],
        EmbeddingInput::Many(texts) if !texts.is_empty() && texts.len() <= 2048 => texts,
        EmbeddingInput::Many(texts) => {
            return Err(GatewayError::invalid(
                "input",
                format!("input must hold 1 to 2048 texts, not {}", texts.len()),
            ));
        }
        EmbeddingInput::Tokens(_) => {
            return Err(GatewayError::invalid(
                "input",
                "input must be a string or a list of strings; token arrays are not supported",
            ));
        }
    };
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(GatewayError::invalid(
                "encoding_format",
                format!("encoding_format must be float or base64, not `{other}`"),
            ));
        }
    };
    let prompt = inputs.iter().map(|t| t.len() as u64).sum::<u64>().div_ceil(4);
    let metered = Metered { usage: Usage { input_tokens: prompt, output_tokens: 0 }, ..Metered::default() };
    let estimate = api.router.prices().cost_micros(&entry.key(), &metered);
    let ticket = api.reserve.reserve(caller.caller.id, estimate).await.map_err(reserve_error)?;
    let context = CallContext {
        user_id: Some(caller.caller.id),
        request_id: request_id(&headers),
        defer_accounting: true,
        ..CallContext::default()
    };
    let routed = match api.router.embed(&context, Some(&entry.key()), &EmbeddingRequest { inputs }).await {
        Ok(routed) => routed,
        Err(error) => {
            finish(api, ticket, 0).await;
            return Err(error.into());
        }
    };
    finish(api, ticket, routed.cost_micros).await;
    if let Some(dimensions) = body.dimensions
        && routed.value.vectors.first().is_some_and(|v| v.len() != dimensions as usize)
    {
        return Err(GatewayError::invalid(
            "dimensions",
            format!(
                "`{}` makes vectors of {} dimensions; it cannot shorten them",
                body.model,
                routed.value.vectors[0].len()
            ),
        ));
    }
    let data: Vec<Value> = routed
        .value
        .vectors
        .iter()
        .enumerate()
        .map(|(index, vector)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let usage = routed.value.usage;
    let prompt_tokens = if usage.input_tokens > 0 { usage.input_tokens } else { prompt };
    let mut response = Json(json!({
        "object": "list",
        "data": data,
        "model": answered_name(entries, &body.model, &entry, &routed.model),
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }))
    .into_response();
    add_model_headers(&mut response, &routed.model.key(), 0);
    Ok(response)
}
