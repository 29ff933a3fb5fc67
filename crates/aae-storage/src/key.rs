//! Object key validation, applied before any request is made.

use crate::error::{StorageError, StorageErrorKind};

/// The longest key S3 accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// Checks that `key` is acceptable on every backend: not empty, at most 1024 bytes of UTF-8, no
/// leading `/`, no empty, `.` or `..` segments, no control characters.
pub fn validate_key(key: &str) -> Result<(), StorageError> {
    let invalid =
        |why: &str| Err(StorageError::new(StorageErrorKind::InvalidKey, why.to_owned()).with_key(printable(key)));
    if key.is_empty() {
        return invalid("key must not be empty");
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(StorageError::new(
            StorageErrorKind::InvalidKey,
            format!("key is {} bytes; the limit is {MAX_KEY_BYTES} bytes", key.len()),
        ));
    }
    if key.starts_with('/') {
        return invalid("key must not start with `/`; remove the leading slash");
    }
    if key.chars().any(char::is_control) {
        return invalid("key must not contain control characters (newlines, tabs, NUL)");
    }
    for segment in key.split('/') {
        match segment {
            ".." => return invalid("key must not contain `..` segments"),
            "." => return invalid("key must not contain `.` segments"),
            "" if !key.ends_with('/') || key.len() == 1 => {
                return invalid("key must not contain empty segments (`//`)");
            }
            _ => {}
        }
    }
    if key.ends_with('/') {
        return invalid("key must not end with `/`; that names a folder, not an object");
    }
    Ok(())
}

/// Validates a list prefix: like a key, but may be empty and may end with `/`.
pub fn validate_prefix(prefix: &str) -> Result<(), StorageError> {
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    if trimmed.is_empty() {
        return if prefix.is_empty() {
            Ok(())
        } else {
            Err(StorageError::new(
                StorageErrorKind::InvalidKey,
                "prefix must not be `/`; use an empty prefix to list everything",
            ))
        };
    }
    validate_key(trimmed)
}

/// The key with control characters escaped, for error messages.
fn printable(key: &str) -> String {
    let mut s: String = key.chars().take(200).flat_map(char::escape_debug).collect();
    if key.chars().count() > 200 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_bad_keys_with_reasons() {
        for (key, why) in [
            ("", "empty"),
            ("/a", "start with `/`"),
            ("a/../b", "`..`"),
            ("..", "`..`"),
            ("a/./b", "`.`"),
            ("a//b", "empty segments"),
            ("a\nb", "control"),
            ("a\0b", "control"),
            ("dir/", "end with `/`"),
        ] {
            let err = validate_key(key).expect_err(key);
            assert_eq!(err.kind, StorageErrorKind::InvalidKey);
            assert!(err.to_string().contains(why), "{key:?}: {err}");
        }
        let long = "k".repeat(1025);
        assert!(validate_key(&long).expect_err("long").to_string().contains("1025 bytes"));
        assert!(validate_key(&"k".repeat(1024)).is_ok());
    }

    #[test]
    fn accepts_design_keys() {
        for key in [
            "users/u1/jobs/j1/videos/scene_001/output.mp4",
            "campaigns/campaign_20241201_120000_123456/website/index.html",
            "temp/session/1700000000/clip one+two=three.mp4",
            "naïve/日本語.txt",
            ".hidden",
            "a..b",
        ] {
            validate_key(key).unwrap_or_else(|e| panic!("{key}: {e}"));
        }
        assert!(validate_prefix("").is_ok());
        assert!(validate_prefix("users/u1/").is_ok());
        assert!(validate_prefix("/").is_err());
    }

    proptest! {
        #[test]
        fn valid_keys_never_escape_or_contain_controls(key in "\\PC{1,64}") {
            if validate_key(&key).is_ok() {
                prop_assert!(!key.starts_with('/'));
                prop_assert!(!key.split('/').any(|s| s == ".." || s == "." || s.is_empty()));
                prop_assert!(!key.chars().any(char::is_control));
            }
        }
    }
}
