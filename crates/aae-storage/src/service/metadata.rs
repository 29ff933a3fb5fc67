//! Object metadata (seed 002: `user_id`, `job_id`, `file_type`, `original_filename`,
//! `upload_timestamp`) stored as user metadata (`x-amz-meta-*` on S3).
//!
//! Values that are not printable ASCII (HTTP header values cannot carry them) are stored as
//! RFC 5987 `utf-8''percent-encoded` strings and decoded on read, so any Unicode file name
//! round-trips on every backend.

use std::collections::BTreeMap;

use object_store::{Attribute, AttributeValue, Attributes};
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use serde::{Deserialize, Serialize};

use crate::error::{StorageError, StorageErrorKind};

/// S3's limit on the total size of user metadata.
const MAX_METADATA_BYTES: usize = 2048;
const ENCODED_MARKER: &str = "utf-8''";
const ENCODE: &AsciiSet = &CONTROLS.add(b'%').add(b' ').add(b'"').add(b'\'');

/// Metadata stored with an object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMetadata {
    /// Owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Job that produced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Kind of file (`video`, `code`, `thumbnail`, `creative`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_type: Option<String>,
    /// Name of the file as the user gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_filename: Option<String>,
    /// When it was uploaded, RFC 3339; filled in on upload when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_timestamp: Option<String>,
    /// Any other metadata (lowercase keys of `a-z 0-9 _ -`).
    #[serde(flatten)]
    pub extra: BTreeMap<String, String>,
}

const NAMED: [&str; 5] = ["user_id", "job_id", "file_type", "original_filename", "upload_timestamp"];

impl ObjectMetadata {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.pairs().next().is_none()
    }

    /// Sets a field by name (named fields or `extra`).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match key {
            "user_id" => self.user_id = Some(value),
            "job_id" => self.job_id = Some(value),
            "file_type" => self.file_type = Some(value),
            "original_filename" => self.original_filename = Some(value),
            "upload_timestamp" => self.upload_timestamp = Some(value),
            other => {
                self.extra.insert(other.to_owned(), value);
            }
        }
    }

    /// Every set field as `(key, value)`.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        let named = [&self.user_id, &self.job_id, &self.file_type, &self.original_filename, &self.upload_timestamp];
        NAMED
            .into_iter()
            .zip(named)
            .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
            .chain(self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// The attributes to store: content type plus metadata, with `upload_timestamp` filled in.
    pub fn to_attributes(&self, content_type: Option<&str>) -> Result<Attributes, StorageError> {
        let mut attributes = Attributes::new();
        let content_type = content_type.map(str::trim).filter(|c| !c.is_empty()).unwrap_or("application/octet-stream");
        if content_type.chars().any(|c| c.is_control() || !c.is_ascii()) {
            return Err(StorageError::new(
                StorageErrorKind::InvalidInput,
                "content type must be printable ASCII, e.g. image/png",
            ));
        }
        attributes.insert(Attribute::ContentType, AttributeValue::from(content_type.to_owned()));
        let mut total = 0;
        let now = self
            .upload_timestamp
            .is_none()
            .then(|| chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        for (key, value) in self.pairs().chain(now.as_deref().map(|v| ("upload_timestamp", v))) {
            check_key(key)?;
            let value = encode_value(value);
            total += key.len() + value.len();
            attributes.insert(Attribute::Metadata(key.to_owned().into()), AttributeValue::from(value));
        }
        if total > MAX_METADATA_BYTES {
            return Err(StorageError::new(
                StorageErrorKind::InvalidInput,
                format!("metadata is {total} bytes; S3 allows at most {MAX_METADATA_BYTES} bytes of keys and values"),
            ));
        }
        Ok(attributes)
    }

    /// Reads metadata back from stored attributes.
    pub fn from_attributes(attributes: &Attributes) -> Self {
        let mut metadata = Self::default();
        for (attribute, value) in attributes {
            if let Attribute::Metadata(key) = attribute {
                metadata.set(&key.to_ascii_lowercase(), decode_value(value.as_ref()));
            }
        }
        metadata
    }
}

fn check_key(key: &str) -> Result<(), StorageError> {
    if key.is_empty()
        || key.len() > 128
        || !key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(StorageError::new(
            StorageErrorKind::InvalidInput,
            format!("metadata key `{}` must be 1-128 characters of a-z, 0-9, `_` and `-`", key.escape_debug()),
        ));
    }
    Ok(())
}

fn encode_value(value: &str) -> String {
    let plain =
        value.bytes().all(|b| (0x20..0x7f).contains(&b)) && !value.starts_with(ENCODED_MARKER) && value.trim() == value;
    if plain { value.to_owned() } else { format!("{ENCODED_MARKER}{}", utf8_percent_encode(value, ENCODE)) }
}

fn decode_value(value: &str) -> String {
    match value.strip_prefix(ENCODED_MARKER) {
        Some(encoded) => percent_decode_str(encoded).decode_utf8_lossy().into_owned(),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_and_awkward_values_round_trip() -> Result<(), StorageError> {
        let mut metadata =
            ObjectMetadata { original_filename: Some("naïve café 日本.mp4".into()), ..Default::default() };
        metadata.set("scene_number", " 7 ");
        metadata.set("note", "utf-8''looks encoded");
        let attributes = metadata.to_attributes(Some("video/mp4"))?;
        for (_, value) in &attributes {
            assert!(value.as_ref().bytes().all(|b| (0x20..0x7f).contains(&b)), "header-safe: {value:?}");
        }
        let back = ObjectMetadata::from_attributes(&attributes);
        assert_eq!(back.original_filename, metadata.original_filename);
        assert_eq!(back.extra.get("scene_number").map(String::as_str), Some(" 7 "));
        assert_eq!(back.extra.get("note").map(String::as_str), Some("utf-8''looks encoded"));
        assert!(back.upload_timestamp.is_some(), "timestamp filled in");
        Ok(())
    }

    #[test]
    fn rejects_bad_keys_and_oversized_metadata() {
        let mut metadata = ObjectMetadata::default();
        metadata.set("Bad Key", "x");
        assert!(metadata.to_attributes(None).is_err());
        let mut big = ObjectMetadata::default();
        big.set("blob", "x".repeat(3000));
        let err = big.to_attributes(None).expect_err("too big");
        assert!(err.to_string().contains("at most 2048 bytes"), "{err}");
    }
}
