//! A user's files: `POST /api/v1/files/presign-upload` records the file (`pending`) and answers
//! a short-lived presigned PUT; the client uploads straight to storage; `GET
//! /api/v1/files/{id}/download-url` confirms the file when its object exists (size, type and
//! version read from storage) and answers a short-lived presigned GET; `GET /api/v1/files`
//! lists the caller's files. Keys follow seed 002: `users/{user_id}/uploads/{file_id}/{name}`.

use std::time::Duration;

use aae_store::{FileRecord, FileStatus, NewFile, StoreErrorKind};
use aae_types::{BucketPurpose, ErrorCode};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{ApiJson, ApiQuery};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// How long a presigned upload or download URL is valid.
const URL_TTL: Duration = Duration::from_secs(900);
/// Largest declared upload (S3's single-PUT limit).
const MAX_UPLOAD: u64 = 5 * 1024 * 1024 * 1024;

/// A file to upload.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresignUploadRequest {
    /// The file's name, as the user knows it (at most 255 characters).
    #[schema(example = "brand-guide.pdf")]
    pub filename: String,
    /// Media type the upload will send, e.g. `application/pdf`.
    #[schema(example = "application/pdf")]
    pub content_type: String,
    /// Declared size in bytes (optional).
    #[serde(default)]
    pub size: Option<u64>,
}

/// Where and how to upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresignUploadResponse {
    /// The file's id.
    pub file_id: Uuid,
    /// Upload with this method…
    pub method: String,
    /// …to this URL…
    pub upload_url: String,
    /// …sending exactly these headers.
    pub headers: std::collections::BTreeMap<String, String>,
    /// When the URL stops working.
    pub expires_at: DateTime<Utc>,
    /// The object's key in the uploads bucket.
    pub key: String,
}

/// A download URL.
#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadUrlResponse {
    /// The file.
    pub file_id: Uuid,
    /// GET this.
    pub url: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// A file record.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileInfo {
    /// Id.
    pub id: Uuid,
    /// `pending` until the upload is confirmed, then `confirmed`.
    pub status: String,
    /// The user's name for it.
    pub original_filename: Option<String>,
    /// Media type.
    pub content_type: Option<String>,
    /// Size in bytes (known once confirmed).
    pub file_size: Option<i64>,
    /// `upload`, …
    pub file_type: String,
    /// Key in its bucket.
    pub key: String,
    /// Recorded.
    pub created_at: DateTime<Utc>,
}

impl From<&FileRecord> for FileInfo {
    fn from(f: &FileRecord) -> Self {
        Self {
            id: f.id,
            status: f.status.as_str().to_owned(),
            original_filename: f.original_filename.clone(),
            content_type: f.content_type.clone(),
            file_size: f.file_size,
            file_type: f.file_type.clone(),
            key: f.s3_key.clone(),
            created_at: f.created_at,
        }
    }
}

/// The caller's files.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileList {
    /// Newest first.
    pub files: Vec<FileInfo>,
    /// Pass as `offset` for the next page; absent on the last.
    pub next_offset: Option<u64>,
}

/// Paging by offset.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OffsetQuery {
    /// Items per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Items to skip.
    pub offset: Option<u64>,
}

/// A file name safe as one key segment: path separators and control characters replaced, at
/// most 200 bytes; never empty, `.` or `..`.
fn key_segment(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c == '/' || c == '\\' || c.is_control() || c == '#' || c == '?' { '_' } else { c })
        .collect();
    while out.len() > 200 {
        out.pop();
    }
    let trimmed = out.trim().trim_matches('.');
    if trimmed.is_empty() { "file".to_owned() } else { trimmed.to_owned() }
}

/// Records a file and answers a presigned upload URL (15 minutes).
#[utoipa::path(post, path = "/api/v1/files/presign-upload", tag = "files", security(("bearer" = [])),
    request_body = PresignUploadRequest,
    responses((status = 201, body = PresignUploadResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn presign_upload(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PresignUploadRequest>,
) -> Result<(StatusCode, Json<PresignUploadResponse>), ApiError> {
    let api = state.api()?;
    let filename = body.filename.trim();
    if filename.is_empty() || filename.chars().count() > 255 {
        return Err(ApiError::invalid("filename must have 1 to 255 characters"));
    }
    if body.size.is_some_and(|s| s > MAX_UPLOAD) {
        return Err(ApiError::new(ErrorCode::PayloadTooLarge, "files are limited to 5 GiB"));
    }
    let file_id = Uuid::new_v4();
    let key = format!("users/{}/uploads/{file_id}/{}", caller.id, key_segment(filename));
    // Sign first: a bad content type is refused before anything is recorded.
    let presigned =
        state.storage.presigned_upload_url(BucketPurpose::Uploads, &key, &body.content_type, URL_TTL).await?;
    let bucket = state.storage.location(BucketPurpose::Uploads).name.clone();
    let full_key = state.storage.full_key(BucketPurpose::Uploads, &key)?;
    let record = NewFile {
        user_id: Some(caller.id),
        original_filename: Some(filename.to_owned()),
        content_type: Some(body.content_type.trim().to_owned()),
        file_size: body.size.map(|s| s as i64),
        status: FileStatus::Pending,
        metadata: serde_json::json!({"file_id": file_id}),
        ..NewFile::new("upload", bucket, full_key)
    };
    let record = api.records.files.create(record).await?;
    Ok((
        StatusCode::CREATED,
        Json(PresignUploadResponse {
            file_id: record.id,
            method: presigned.method,
            upload_url: presigned.url,
            headers: presigned.headers,
            expires_at: presigned.expires_at,
            key,
        }),
    ))
}

async fn owned_file(state: &AppState, caller: &Caller, id: &str) -> Result<FileRecord, ApiError> {
    let api = state.api()?;
    let not_found = || ApiError::not_found(format!("no file `{id}`"));
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    match api.records.files.get(id).await {
        Ok(f) if f.user_id == Some(caller.id) => Ok(f),
        Ok(_) => Err(not_found()),
        Err(e) if e.kind == StoreErrorKind::NotFound => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}

/// A presigned download URL (15 minutes); confirms a pending upload whose object exists.
#[utoipa::path(get, path = "/api/v1/files/{file_id}/download-url", tag = "files", security(("bearer" = [])),
    params(("file_id" = String, Path, description = "File id")),
    responses((status = 200, body = DownloadUrlResponse), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn download_url(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DownloadUrlResponse>, ApiError> {
    let api = state.api()?;
    let file = owned_file(&state, &caller, &id).await?;
    let (purpose, key) = state.storage.resolve(&file.s3_bucket, &file.s3_key).ok_or_else(|| {
        ApiError::internal(format!("file {} is in bucket {} that is not configured", file.id, file.s3_bucket))
    })?;
    if file.status == FileStatus::Pending {
        let info = match state.storage.head(purpose, &key).await {
            Ok(info) => info,
            Err(e) if e.code() == ErrorCode::NotFound => {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "the file has not been uploaded yet; PUT it to the upload_url from presign-upload first",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        api.records
            .files
            .confirm(file.id, Some(info.size as i64), info.content_type.as_deref(), info.version_id.as_deref())
            .await?;
    }
    let presigned = state.storage.presigned_download_url(purpose, &key, URL_TTL).await?;
    Ok(Json(DownloadUrlResponse { file_id: file.id, url: presigned.url, expires_at: presigned.expires_at }))
}

/// The caller's files, newest first.
#[utoipa::path(get, path = "/api/v1/files", tag = "files", security(("bearer" = [])), params(OffsetQuery),
    responses((status = 200, body = FileList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<OffsetQuery>,
) -> Result<Json<FileList>, ApiError> {
    let api = state.api()?;
    let limit = super::page_limit(query.limit)?;
    let offset = query.offset.unwrap_or(0);
    let mut files = api.records.files.list_by_user(caller.id, limit + 1, offset).await?;
    let more = files.len() > limit as usize;
    files.truncate(limit as usize);
    Ok(Json(FileList {
        next_offset: more.then_some(offset + u64::from(limit)),
        files: files.iter().map(FileInfo::from).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::key_segment;

    #[test]
    fn file_names_become_one_safe_key_segment() {
        assert_eq!(key_segment("brand guide.pdf"), "brand guide.pdf");
        assert_eq!(key_segment("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(key_segment(".."), "file");
        assert_eq!(key_segment("a\nb#c?d"), "a_b_c_d");
        assert!(key_segment(&"é".repeat(300)).len() <= 200);
    }
}
