//! Generated secrets: the HMAC key of local signed URLs (`server.url_signing_secret`, or a random
//! key generated once and kept in `{data_dir}/secrets/url-signing.key`, mode 0600) and any other
//! key kept the same way ([`load_or_create_secret`]).

use std::io::Write;

use aae_config::Config;
use rand::RngCore;
use secrecy::ExposeSecret;

use crate::error::{StorageError, StorageErrorKind};

/// Loads the URL-signing secret, creating it on first use.
pub fn load_or_create_url_secret(config: &Config) -> Result<Vec<u8>, StorageError> {
    if let Some(secret) = &config.server.url_signing_secret {
        let secret = secret.expose_secret();
        if secret.len() < 16 {
            return Err(StorageError::new(
                StorageErrorKind::InvalidInput,
                "server.url_signing_secret must be at least 16 characters",
            ));
        }
        return Ok(secret.as_bytes().to_vec());
    }
    load_or_create_secret(&config.data_dir, "url-signing")
}

/// The 32-byte random key kept in `{data_dir}/secrets/{name}.key` (hex, mode 0600), created on
/// first use. Concurrent first uses by several processes all end up with the same key.
pub fn load_or_create_secret(data_dir: &std::path::Path, name: &str) -> Result<Vec<u8>, StorageError> {
    let dir = data_dir.join("secrets");
    let path = dir.join(format!("{name}.key"));
    let fail = |what: &str, e: std::io::Error| {
        StorageError::new(
            StorageErrorKind::Internal,
            format!("cannot {what} {}: {e}; check AAE__DATA_DIR", path.display()),
        )
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            return hex::decode(text.trim()).map_err(|_| {
                StorageError::new(
                    StorageErrorKind::Internal,
                    format!("{} is not hex; delete it to generate a new key", path.display()),
                )
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail("read", e)),
    }
    std::fs::create_dir_all(&dir).map_err(|e| fail("create the folder of", e))?;
    let mut key = vec![0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    // Write a temporary file, then link it into place: readers never see a partial key, and
    // when two processes race, both end up using the one that was linked first.
    let tmp = dir.join(format!("{name}.key.{}.tmp", hex::encode(&key[..8])));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(|e| fail("create a temporary file for", e))?;
    file.write_all(hex::encode(&key).as_bytes()).map_err(|e| fail("write", e))?;
    drop(file);
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create_secret(data_dir, name),
        Err(e) => Err(fail("create", e)),
    }
}
