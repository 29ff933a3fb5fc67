//! Argon2id password hashes (PHC strings with the OWASP-recommended parameters: 19 MiB, 2
//! passes, 1 lane), computed on the blocking pool so a burst of sign-ins never stalls the
//! server's request threads.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::ApiError;

/// Longest password accepted (bytes): bounds the hashing work a request can ask for.
pub const MAX_PASSWORD_BYTES: usize = 1024;

fn hasher() -> Argon2<'static> {
    // Params::DEFAULT is m=19456 KiB, t=2, p=1 (OWASP's first Argon2id choice).
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Hashes `password` into a PHC string.
pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| ApiError::internal(format!("password hashing task failed: {e}")))?
}

/// Whether `password` matches the PHC string `stored`. With no stored hash (unknown account) a
/// fixed hash is checked instead, so the answer takes as long either way.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let (stored, known) = match stored {
            Some(stored) => (stored, true),
            None => (DUMMY_HASH.to_owned(), false),
        };
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| ApiError::internal(format!("stored password hash is unreadable: {e}")))?;
        let matches = hasher().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(known && matches)
    })
    .await
    .map_err(|e| ApiError::internal(format!("password check task failed: {e}")))?
}

/// The Argon2id hash of a random string nobody knows, same parameters as real hashes.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$5v2kFQmK0X4WZ0P3b3Ddg0f3Yy7fWwtpI0n3h8Zb2uE";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_accounts_never_match() {
        let stored = hash("correct horse battery staple".into()).await.expect("hash");
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(verify("correct horse battery staple".into(), Some(stored.clone())).await.expect("verify"));
        assert!(!verify("wrong".into(), Some(stored)).await.expect("verify"));
        assert!(!verify("anything".into(), None).await.expect("verify"));
    }
}
