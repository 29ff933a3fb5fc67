//! HMAC-SHA256 signed, expiring URLs for files that `aae serve` serves itself (local and memory
//! backends): `{base_url}/api/v1/files/{bucket}/{key}?method=..&expires=..[&content_type=..]&signature=..`.
//!
//! The signature is `HMAC-SHA256(secret, "AAE-URL-V1\n{METHOD}\n{bucket}\n{key}\n{expires}\n{content_type}")`
//! in lowercase hex. The server must also check that a PUT's `Content-Type` equals
//! [`LocalUrlQuery::content_type`] when one was signed.

use std::fmt::Write as _;

use hmac::Mac;

use super::{HmacSha256, SignError, hex_lower_into, new_hmac, uri_encode};

/// Why a signed local URL was refused. Each maps to a 403 (or 400 when malformed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRejection {
    #[error("missing query parameter `{0}`, use the complete signed url")]
    MissingParam(&'static str),
    #[error("query parameter `{name}` is malformed: {reason}")]
    MalformedParam { name: &'static str, reason: &'static str },
    #[error("url was signed for {signed} requests and cannot be used for {actual}")]
    MethodMismatch { signed: String, actual: String },
    #[error("url expired at {expires} (unix seconds), ask for a new one")]
    Expired { expires: i64 },
    #[error("signature does not match, the url was altered or signed with another secret")]
    InvalidSignature,
}

/// The signed parameters of a local URL's query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalUrlQuery {
    /// The method the URL was signed for, `GET` or `PUT`.
    pub method: String,
    /// Unix seconds; the URL is valid while `now < expires`.
    pub expires: i64,
    /// The `Content-Type` a PUT must send, when one was signed.
    pub content_type: Option<String>,
    /// Lowercase hex HMAC-SHA256.
    pub signature: String,
}

impl LocalUrlQuery {
    /// Parses a raw query string (without `?`), percent-decoding values; unknown parameters are
    /// ignored, repeated signed ones are malformed.
    pub fn parse(query_string: &str) -> Result<Self, UrlRejection> {
        let (mut method, mut expires, mut content_type, mut signature) = (None, None, None, None);
        for (name, value) in url::form_urlencoded::parse(query_string.as_bytes()) {
            let (name, slot) = match name.as_ref() {
                "method" => ("method", &mut method),
                "expires" => ("expires", &mut expires),
                "content_type" => ("content_type", &mut content_type),
                "signature" => ("signature", &mut signature),
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                let reason = "given more than once";
                return Err(UrlRejection::MalformedParam { name, reason });
            }
        }
        let expires = expires.ok_or(UrlRejection::MissingParam("expires"))?;
        let expires = expires
            .parse::<i64>()
            .map_err(|_| UrlRejection::MalformedParam { name: "expires", reason: "not a unix timestamp in seconds" })?;
        let content_type = content_type.filter(|ct| !ct.is_empty());
        if content_type.as_deref().is_some_and(|ct| ct.chars().any(char::is_control)) {
            let (name, reason) = ("content_type", "contains control characters");
            return Err(UrlRejection::MalformedParam { name, reason });
        }
        Ok(Self {
            method: method.ok_or(UrlRejection::MissingParam("method"))?,
            expires,
            content_type,
            signature: signature.ok_or(UrlRejection::MissingParam("signature"))?,
        })
    }
}

/// Signs and verifies local file URLs with one server secret.
pub struct LocalUrlSigner {
    /// HMAC state already keyed with the secret; cloned per URL (the secret is not kept).
    keyed: HmacSha256,
    /// Origin (and optional prefix) of the server, without trailing `/`.
    base_url: String,
}

impl std::fmt::Debug for LocalUrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalUrlSigner").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl LocalUrlSigner {
    /// `secret` should be at least 32 random bytes and stable across restarts (URLs signed before
    /// a restart stay valid); `base_url` is the public origin, e.g. `http://localhost:8080`.
    pub fn new(secret: impl AsRef<[u8]>, base_url: &str) -> Result<Self, SignError> {
        let secret = secret.as_ref();
        if secret.is_empty() {
            let reason = "the url signing secret is empty, set one (32 random bytes)".to_owned();
            return Err(SignError::InvalidLocalSigner { reason });
        }
        let base_url = base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            let reason = format!("base url `{base_url}` must start with http:// or https://");
            return Err(SignError::InvalidLocalSigner { reason });
        }
        Ok(Self { keyed: new_hmac(secret), base_url })
    }

    /// The signed URL for `method` (`GET` or `PUT`) on `bucket`/`key`, valid while
    /// `now < expires_epoch`. A GET URL also allows HEAD.
    pub fn sign(
        &self,
        method: &str,
        bucket: &str,
        key: &str,
        content_type: Option<&str>,
        expires_epoch: i64,
    ) -> String {
        let method = method.to_ascii_uppercase();
        let content_type = content_type.filter(|ct| !ct.is_empty());
        let mac = self.mac(&method, bucket, key, expires_epoch, content_type.unwrap_or_default());
        let mut url = String::with_capacity(self.base_url.len() + 3 * (bucket.len() + key.len()) + 160);
        url.push_str(&self.base_url);
        url.push_str("/api/v1/files/");
        uri_encode(bucket, false, &mut url);
        url.push('/');
        uri_encode(key, true, &mut url);
        let _ = write!(url, "?method={method}&expires={expires_epoch}");
        if let Some(content_type) = content_type {
            url.push_str("&content_type=");
            uri_encode(content_type, false, &mut url);
        }
        let mut hex = [0u8; 64];
        url.push_str("&signature=");
        url.push_str(hex_lower_into(&mac.finalize().into_bytes(), &mut hex));
        url
    }

    /// Checks a request for `bucket`/`key` (decoded from the path) made with `method` against its
    /// signed query, at `now_epoch`. The signature is compared in constant time.
    pub fn verify(
        &self,
        method: &str,
        bucket: &str,
        key: &str,
        query: &LocalUrlQuery,
        now_epoch: i64,
    ) -> Result<(), UrlRejection> {
        let signature = hex::decode(&query.signature).map_err(|_| UrlRejection::InvalidSignature)?;
        // No legitimate bucket has a line break; refusing them keeps the signed string unambiguous.
        if bucket.contains('\n') || query.method.contains('\n') {
            return Err(UrlRejection::InvalidSignature);
        }
        let content_type = query.content_type.as_deref().unwrap_or_default();
        self.mac(&query.method, bucket, key, query.expires, content_type)
            .verify_slice(&signature)
            .map_err(|_| UrlRejection::InvalidSignature)?;
        let actual = method.to_ascii_uppercase();
        if actual != query.method && !(actual == "HEAD" && query.method == "GET") {
            let signed = query.method.clone();
            return Err(UrlRejection::MethodMismatch { signed, actual });
        }
        if now_epoch >= query.expires {
            return Err(UrlRejection::Expired { expires: query.expires });
        }
        Ok(())
    }

    fn mac(&self, method: &str, bucket: &str, key: &str, expires: i64, ct: &str) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        let mut expires_buf = String::with_capacity(20);
        let _ = write!(expires_buf, "{expires}");
        for part in ["AAE-URL-V1\n", method, "\n", bucket, "\n", key, "\n", &expires_buf, "\n", ct] {
            mac.update(part.as_bytes());
        }
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use UrlRejection as R;

    const T: i64 = 1_700_000_000;
    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn signer() -> LocalUrlSigner {
        LocalUrlSigner::new(SECRET, "http://localhost:8080/").unwrap()
    }

    fn query_of(url: &str) -> LocalUrlQuery {
        LocalUrlQuery::parse(url.split_once('?').unwrap().1).unwrap()
    }

    #[test]
    fn round_trips_awkward_keys_and_content_types() {
        let s = signer();
        let keys = ["a b/ü+=%?#&.txt", "dir//x", "日本/файл (1).png", "-_.~", ""];
        for key in keys {
            for ct in [None, Some("application/vnd.api+json; charset=utf-8")] {
                let url = s.sign("PUT", "up loads", key, ct, T + 60);
                let prefix = "http://localhost:8080/api/v1/files/up%20loads/";
                assert!(url.starts_with(prefix), "{url}");
                let query = query_of(&url);
                assert_eq!(query.content_type.as_deref(), ct);
                assert_eq!(s.verify("PUT", "up loads", key, &query, T), Ok(()), "{url}");
            }
        }
        let url = s.sign("GET", "b", "a b/ü+.txt", None, T);
        let expected = "http://localhost:8080/api/v1/files/b/a%20b/%C3%BC%2B.txt\
                        ?method=GET&expires=1700000000&signature=";
        assert!(url.starts_with(expected), "{url}");
    }

    #[test]
    fn signature_is_hmac_of_the_documented_string() {
        let url = signer().sign("PUT", "b", "k/x", Some("image/png"), T);
        let message = format!("AAE-URL-V1\nPUT\nb\nk/x\n{T}\nimage/png");
        let expected = super::super::hmac_sha256(SECRET, message.as_bytes());
        assert_eq!(query_of(&url).signature, hex::encode(expected));
    }

    #[test]
    fn get_signature_allows_head_but_not_other_methods() {
        let s = signer();
        let get = query_of(&s.sign("GET", "b", "k", None, T + 60));
        let put = query_of(&s.sign("PUT", "b", "k", None, T + 60));
        assert_eq!(s.verify("HEAD", "b", "k", &get, T), Ok(()));
        assert_eq!(s.verify("get", "b", "k", &get, T), Ok(()));
        let mismatch = |signed: &str, actual: &str| {
            let (signed, actual) = (signed.to_owned(), actual.to_owned());
            Err(R::MethodMismatch { signed, actual })
        };
        assert_eq!(s.verify("PUT", "b", "k", &get, T), mismatch("GET", "PUT"));
        assert_eq!(s.verify("GET", "b", "k", &put, T), mismatch("PUT", "GET"));
        assert_eq!(s.verify("HEAD", "b", "k", &put, T), mismatch("PUT", "HEAD"));
    }

    #[test]
    fn expires_at_the_deadline() {
        let s = signer();
        let q = query_of(&s.sign("GET", "b", "k", None, T));
        assert_eq!(s.verify("GET", "b", "k", &q, T - 1), Ok(()));
        assert_eq!(s.verify("GET", "b", "k", &q, T), Err(R::Expired { expires: T }));
        let message = R::Expired { expires: T }.to_string();
        assert_eq!(message, "url expired at 1700000000 (unix seconds), ask for a new one");
    }

    #[test]
    fn rejects_tampering_and_other_secrets() {
        let s = signer();
        let q = query_of(&s.sign("PUT", "b", "k", Some("image/png"), T + 60));
        let bad = Err(R::InvalidSignature);
        assert_eq!(s.verify("PUT", "b", "k2", &q, T), bad);
        assert_eq!(s.verify("PUT", "b2", "k", &q, T), bad);
        let tamper = |change: fn(&mut LocalUrlQuery)| {
            let mut tampered = q.clone();
            change(&mut tampered);
            tampered
        };
        let tampered = [
            tamper(|t| t.expires += 3600),
            tamper(|t| t.content_type = None),
            tamper(|t| t.method = "GET".into()),
            tamper(|t| t.signature = "zz".into()),
            tamper(|t| t.signature.truncate(62)),
        ];
        for t in &tampered {
            assert_eq!(s.verify(&t.method, "b", "k", t, T), bad, "{t:?}");
        }
        let other = LocalUrlSigner::new(b"another secret", "http://localhost:8080").unwrap();
        assert_eq!(other.verify("PUT", "b", "k", &q, T), bad);
        assert!(!format!("{s:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn parse_reports_missing_and_malformed_params() {
        let malformed = |name, reason| R::MalformedParam { name, reason };
        let cases = [
            ("expires=1&signature=ab", R::MissingParam("method")),
            ("method=GET&signature=ab", R::MissingParam("expires")),
            ("method=GET&expires=1", R::MissingParam("signature")),
            ("method=GET&expires=soon&signature=ab", malformed("expires", "not a unix timestamp in seconds")),
            ("method=GET&method=PUT&expires=1&signature=ab", malformed("method", "given more than once")),
            (
                "method=GET&expires=1&content_type=a%0Ab&signature=ab",
                malformed("content_type", "contains control characters"),
            ),
        ];
        for (query, expected) in cases {
            assert_eq!(LocalUrlQuery::parse(query), Err(expected), "{query}");
        }
        let q = LocalUrlQuery::parse("x=1&method=GET&expires=5&content_type=&signature=ab").unwrap();
        assert_eq!((q.expires, q.content_type), (5, None));
        let message = R::MissingParam("expires").to_string();
        assert_eq!(message, "missing query parameter `expires`, use the complete signed url");
        assert!(LocalUrlSigner::new(b"", "http://x").is_err());
        assert!(LocalUrlSigner::new(b"k", "localhost:8080").is_err());
    }
}
