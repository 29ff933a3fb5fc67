//! Local signed file URLs: `GET|HEAD|PUT /api/v1/files/{bucket}/{key}?method=…&expires=…&signature=…`.
//!
//! These make presigned URLs work on the local and memory backends. A tampered, expired or
//! wrong-method URL gets 403 and no data; the check happens before the store is touched.

use aae_storage::presign::LocalUrlQuery;
use aae_storage::{ObjectMetadata, UploadOptions};
use aae_types::ErrorCode;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::AccessDenied, message)
}

/// Checks the signature and returns the logical bucket and relative key.
fn authorize(
    state: &AppState,
    method: &Method,
    bucket: &str,
    key: &str,
    query: Option<&str>,
) -> Result<(aae_types::BucketPurpose, String, LocalUrlQuery), ApiError> {
    let signer = state.storage.backend().local_signer().ok_or_else(|| {
        ApiError::new(ErrorCode::NotFound, "file routes serve only the local and memory storage backends")
    })?;
    let query = LocalUrlQuery::parse(query.unwrap_or("")).map_err(|e| forbidden(e.to_string()))?;
    signer
        .verify(method.as_str(), bucket, key, &query, chrono::Utc::now().timestamp())
        .map_err(|e| forbidden(e.to_string()))?;
    let (purpose, relative) = state
        .storage
        .resolve(bucket, key)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("bucket `{bucket}` is not configured")))?;
    Ok((purpose, relative, query))
}

fn object_headers(info: &aae_storage::ObjectInfo) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let content_type = info.content_type.as_deref().unwrap_or("application/octet-stream");
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(info.size));
    if let Some(Ok(v)) = info.etag.as_deref().map(|e| HeaderValue::from_str(&quote(e))) {
        headers.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&info.last_modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
        headers.insert(header::LAST_MODIFIED, v);
    }
    headers
}

fn quote(etag: &str) -> String {
    if etag.starts_with('"') { etag.to_owned() } else { format!("\"{etag}\"") }
}

pub(crate) async fn get_file(
    State(state): State<AppState>,
    Path((bucket, key)): Path<(String, String)>,
    method: Method,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (purpose, key, _) = authorize(&state, &method, &bucket, &key, query.as_deref())?;
    if method == Method::HEAD {
        let info = state.storage.head(purpose, &key).await?;
        return Ok((StatusCode::OK, object_headers(&info)).into_response());
    }
    let (info, stream) = state.storage.download(purpose, &key).await?;
    let body = Body::from_stream(stream.map_err(std::io::Error::other));
    Ok((StatusCode::OK, object_headers(&info), body).into_response())
}

pub(crate) async fn put_file(
    State(state): State<AppState>,
    Path((bucket, key)): Path<(String, String)>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (purpose, key, signed) = authorize(&state, &method, &bucket, &key, query.as_deref())?;
    let sent_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if let Some(expected) = &signed.content_type
        && sent_type != Some(expected.as_str())
    {
        return Err(forbidden(format!(
            "this url was signed for content-type `{expected}`; send exactly that content-type header"
        )));
    }
    let total = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let reader = tokio_util::io::StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    let options = UploadOptions {
        content_type: signed.content_type.clone().or_else(|| sent_type.map(str::to_owned)),
        metadata: ObjectMetadata::default(),
    };
    let result = state.storage.upload_stream(purpose, &key, Box::pin(reader), total, &options, None).await?;
    let mut response =
        Json(json!({ "etag": result.etag, "version_id": result.version_id, "size": result.size })).into_response();
    if let Some(Ok(v)) = result.etag.as_deref().map(|e| HeaderValue::from_str(&quote(e))) {
        response.headers_mut().insert(header::ETAG, v);
    }
    Ok(response)
}
