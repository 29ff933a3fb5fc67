//! Pure, synchronous URL signing: no IO, no clock reads (callers pass `now`), no async.
//!
//! - [`sigv4`]: AWS Signature Version 4 query-string presigning for S3 and S3-compatible servers.
//! - [`cloudfront`]: CloudFront signed URLs with a canned policy (RSA-SHA1).
//! - [`local`]: HMAC-SHA256 expiring URLs for files that `aae serve` serves itself.
//!
//! This module owns the signing algorithms and their encodings only; choosing a backend, key
//! layout and expiry policy belongs to the storage service above it.

pub mod cloudfront;
pub mod local;
pub mod sigv4;

pub use cloudfront::CloudFrontSigner;
pub use local::{LocalUrlQuery, LocalUrlSigner, UrlRejection};
pub use sigv4::{SigV4Credentials, SigV4Presigner};

use chrono::{DateTime, Datelike, Timelike, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// Longest expiry SigV4 accepts for a presigned URL: 7 days.
pub const MAX_PRESIGN_EXPIRY_SECS: u64 = 604_800;

/// One request to presign with a canonical-request scheme (SigV4; GCS V4 takes the same input).
#[derive(Debug, Clone, Copy)]
pub struct PresignInput<'a> {
    /// `GET`, `PUT`, `HEAD`, `DELETE` or `POST`.
    pub method: &'a str,
    /// Empty only for service-level operations such as ListBuckets.
    pub bucket: &'a str,
    /// Object key, unencoded; empty for bucket-level operations.
    pub key: &'a str,
    /// Extra query parameters, unencoded, e.g. `("uploads", "")`, `("partNumber", "1")`.
    pub query: &'a [(&'a str, &'a str)],
    /// 1..=[`MAX_PRESIGN_EXPIRY_SECS`].
    pub expires_secs: u64,
    /// Headers the client must send with these exact values, lowercase names (`content-type`,
    /// `x-amz-server-side-encryption`, ...). `host` is always signed and must not be listed.
    pub signed_headers: &'a [(&'a str, &'a str)],
}

impl<'a> PresignInput<'a> {
    /// A request without extra query parameters or signed headers.
    pub const fn new(method: &'a str, bucket: &'a str, key: &'a str, expires_secs: u64) -> Self {
        let (query, signed_headers) = (&[] as &[(&str, &str)], &[] as &[(&str, &str)]);
        Self { method, bucket, key, query, expires_secs, signed_headers }
    }
}

/// Why a URL could not be signed. Every message says what is wrong and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("expiry must be between 1 second and 7 days ({MAX_PRESIGN_EXPIRY_SECS} s), got {secs} s")]
    InvalidExpiry { secs: u64 },
    #[error("unsupported http method `{method}` for a presigned url, use one of GET, PUT, HEAD, DELETE, POST")]
    UnsupportedMethod { method: String },
    #[error("invalid endpoint url `{endpoint}`: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    #[error("invalid credentials: {reason}")]
    InvalidCredentials { reason: String },
    #[error("invalid signing region or service: {reason}")]
    InvalidScope { reason: String },
    #[error("bucket name `{bucket}` cannot be used here: {reason}")]
    InvalidBucket { bucket: String, reason: String },
    #[error("signed header `{name}` is invalid: {reason}")]
    InvalidHeader { name: String, reason: String },
    #[error("query parameter `{name}` is reserved for the signature, remove it from the extra query parameters")]
    ReservedQueryParam { name: String },
    #[error(
        "invalid cloudfront private key: {reason}; expected a pem rsa key starting with \
         `-----BEGIN RSA PRIVATE KEY-----` (pkcs#1) or `-----BEGIN PRIVATE KEY-----` (pkcs#8)"
    )]
    InvalidPrivateKey { reason: String },
    #[error("cannot sign url `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("invalid local url signer configuration: {reason}")]
    InvalidLocalSigner { reason: String },
    #[error("rsa signing failed: {reason}")]
    Rsa { reason: String },
}

/// `UNRESERVED[b]` is true for the bytes RFC 3986 (and AWS) never percent-encode:
/// `A-Z a-z 0-9 - _ . ~`.
const UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~');
        b += 1;
    }
    table
};

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `s` to `out` percent-encoded the way S3 (SigV4) wants it: every byte except
/// `A-Z a-z 0-9 - _ . ~` becomes `%XX` (uppercase hex), and `/` is kept as is when `keep_slash`
/// (object key paths). Runs of unreserved bytes are copied in one go.
pub(crate) fn uri_encode(s: &str, keep_slash: bool, out: &mut String) {
    let bytes = s.as_bytes();
    let mut run_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if UNRESERVED[usize::from(b)] || (keep_slash && b == b'/') {
            continue;
        }
        // A non-empty run holds only ASCII bytes, so both of its ends are char boundaries (an
        // empty one may start inside a multi-byte char and is skipped).
        if run_start < i {
            out.push_str(&s[run_start..i]);
        }
        out.push('%');
        out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
        out.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
        run_start = i + 1;
    }
    if run_start < bytes.len() {
        out.push_str(&s[run_start..]);
    }
}

/// [`uri_encode`] into a new `String`, `/` encoded too.
pub(crate) fn uri_encoded(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    uri_encode(s, false, &mut out);
    out
}

/// Writes `bytes` as lowercase hex into `out`, which must be twice as long as `bytes`.
pub(crate) fn hex_lower_into<'a>(bytes: &[u8], out: &'a mut [u8]) -> &'a str {
    const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
    let out = &mut out[..2 * bytes.len()];
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX_LOWER[usize::from(b >> 4)];
        pair[1] = HEX_LOWER[usize::from(b & 0x0f)];
    }
    // Only ASCII hex digits were written.
    std::str::from_utf8(out).unwrap_or_default()
}

/// Signed headers plus `host` (its value comes from the URL), sorted by name: the canonical
/// headers of SigV4 and GCS V4.
pub(crate) struct CanonicalHeaders<'a>(Vec<(&'a str, &'a str)>);

impl<'a> CanonicalHeaders<'a> {
    pub(crate) fn new(headers: &[(&'a str, &'a str)]) -> Result<Self, SignError> {
        let mut sorted = Vec::with_capacity(headers.len() + 1);
        sorted.push(("host", ""));
        for &(name, value) in headers {
            let token = |b: u8| matches!(b, b'a'..=b'z' | b'0'..=b'9') || b"-_.!#$%&'*+^`|~".contains(&b);
            let reason = if name == "host" {
                "host is always signed, do not list it"
            } else if name.is_empty() || !name.bytes().all(token) {
                "names must be lowercase http header names, e.g. `content-type`"
            } else if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                "values cannot contain line breaks or nul bytes"
            } else if sorted.iter().any(|&(n, _)| n == name) {
                "listed twice, pass each header once"
            } else {
                sorted.push((name, value));
                continue;
            };
            let (name, reason) = (name.to_owned(), reason.to_owned());
            return Err(SignError::InvalidHeader { name, reason });
        }
        sorted.sort_unstable_by_key(|&(name, _)| name);
        Ok(Self(sorted))
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Writes the names joined by `separator` (`;`, or `%3B` inside a query string).
    pub(crate) fn write_names(&self, out: &mut impl std::fmt::Write, separator: &str) -> std::fmt::Result {
        for (i, (name, _)) in self.0.iter().enumerate() {
            out.write_str(if i > 0 { separator } else { "" })?;
            out.write_str(name)?;
        }
        Ok(())
    }

    /// Feeds the canonical header lines, `name:value\n` each with values trimmed and inner
    /// whitespace runs collapsed, then the blank line and the signed header names.
    pub(crate) fn hash_into(&self, hasher: &mut Sha256, host: &str) {
        for (name, value) in &self.0 {
            hasher.update(name);
            hasher.update(b":");
            hasher.update(if *name == "host" { host } else { "" });
            for (i, word) in value.split_ascii_whitespace().enumerate() {
                hasher.update(if i > 0 { " " } else { "" });
                hasher.update(word);
            }
            hasher.update(b"\n");
        }
        hasher.update(b"\n");
        let mut names = String::with_capacity(16 * self.0.len());
        let _ = self.write_names(&mut names, ";");
        hasher.update(names);
    }
}

/// An HMAC-SHA256 state keyed with `key`, ready for `update`s; clone it to reuse the keying.
pub(crate) fn new_hmac(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length (long keys are hashed), so this never falls back.
    HmacSha256::new_from_slice(key).unwrap_or_else(|_| HmacSha256::new(&Default::default()))
}

/// HMAC-SHA256 of `data` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = new_hmac(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Writes `now` as `yyyymmddThhmmssZ` (SigV4's `X-Amz-Date`) into `out` and returns it with the
/// date as the number `yyyymmdd`. Hand-rolled because `chrono`'s formatter is slow in hot loops.
pub(crate) fn amz_timestamp(now: DateTime<Utc>, out: &mut [u8; 16]) -> Result<(&str, u32), SignError> {
    let Some(year) = u32::try_from(now.year()).ok().filter(|y| *y <= 9999) else {
        let reason = format!("signing time {now} is outside the years 0 to 9999");
        return Err(SignError::InvalidScope { reason });
    };
    let (month, day) = (now.month(), now.day());
    *out = *b"00000000T000000Z";
    let fields = [(4, year), (6, month), (8, day), (11, now.hour()), (13, now.minute()), (15, now.second())];
    for (end, mut value) in fields {
        let width = if end == 4 { 4 } else { 2 };
        for digit in out[end - width..end].iter_mut().rev() {
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    // Only ASCII digits, `T` and `Z` were written.
    let text = std::str::from_utf8(out.as_slice()).unwrap_or_default();
    Ok((text, year * 10_000 + month * 100 + day))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str, keep_slash: bool) -> String {
        let mut out = String::new();
        uri_encode(s, keep_slash, &mut out);
        out
    }

    #[test]
    fn unreserved_bytes_pass_through() {
        let s = "AZaz09-_.~";
        assert_eq!(enc(s, false), s);
    }

    #[test]
    fn reserved_and_unicode_bytes_are_encoded_uppercase() {
        assert_eq!(enc("a b+c=d&e", false), "a%20b%2Bc%3Dd%26e");
        assert_eq!(enc("é/x", false), "%C3%A9%2Fx");
        assert_eq!(enc("é/x", true), "%C3%A9/x");
        assert_eq!(enc("日本", true), "%E6%97%A5%E6%9C%AC");
        assert_eq!(enc("*'()!", true), "%2A%27%28%29%21");
        assert_eq!(enc("", true), "");
    }

    #[test]
    fn hex_lower_writes_two_digits_per_byte() {
        let mut buf = [0u8; 8];
        assert_eq!(hex_lower_into(&[0x00, 0xab, 0x0f, 0xff], &mut buf), "00ab0fff");
    }

    #[test]
    fn amz_timestamp_pads_every_field() {
        let mut buf = [0u8; 16];
        let now = DateTime::parse_from_rfc3339("0987-01-02T03:04:05.999Z").unwrap().to_utc();
        assert_eq!(amz_timestamp(now, &mut buf).unwrap(), ("09870102T030405Z", 9_870_102));
        let mac = hex::encode(hmac_sha256(b"key", b""));
        assert_eq!(mac, "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0");
    }

    #[test]
    fn expiry_error_message_names_the_bounds() {
        let msg = SignError::InvalidExpiry { secs: 0 }.to_string();
        assert_eq!(msg, "expiry must be between 1 second and 7 days (604800 s), got 0 s");
    }
}
