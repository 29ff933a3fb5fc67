//! AWS Signature Version 4 query-string presigning for S3, as boto3's `generate_presigned_url`.
//!
//! Built for throughput: endpoint parts, the encoded credential and scope are computed once; the
//! derived signing key is cached per UTC day as a keyed HMAC state; the canonical request is
//! hashed straight from slices of the URL being built. One presign costs one SHA-256 of the
//! canonical request, one HMAC of the string to sign and two small allocations (a few more with
//! extra query parameters or signed headers).

use std::fmt::Write as _;
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use hmac::Mac;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::{CanonicalHeaders, HmacSha256, MAX_PRESIGN_EXPIRY_SECS, PresignInput, SignError};
use super::{amz_timestamp, hex_lower_into, hmac_sha256, new_hmac, uri_encode, uri_encoded};

/// Query parameters the signature sets itself, in canonical order; callers may not pass them.
const RESERVED_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-Security-Token",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
];

/// Static (or already resolved temporary) AWS credentials.
#[derive(Debug, Clone)]
pub struct SigV4Credentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: Option<SecretString>,
}

/// Presigns S3 requests for one endpoint and one set of credentials; `Send + Sync`, share it.
/// Rebuild it when temporary credentials rotate.
#[derive(Debug)]
pub struct SigV4Presigner {
    /// `{scheme}://`.
    scheme: String,
    /// `host[:port]` of the endpoint, port only when not the scheme's default.
    host: String,
    /// Path of the endpoint without trailing `/`, usually empty.
    base_path: String,
    path_style: bool,
    secret_access_key: SecretString,
    region: String,
    service: String,
    /// `{encoded access key id}%2F`, then the date, then `%2F{region}%2F{service}%2Faws4_request`.
    credential: (String, String),
    /// `/{region}/{service}/aws4_request\n`, follows the date in the string to sign.
    scope_suffix: String,
    /// Encoded session token, if any.
    security_token: Option<SecretString>,
    /// Bytes every URL needs besides bucket, key, extra query and headers.
    base_capacity: usize,
    /// Signing key for one UTC day (`yyyymmdd`), as an HMAC state already keyed with it.
    key_cache: RwLock<Option<(u32, HmacSha256)>>,
}

impl SigV4Presigner {
    /// `endpoint` is a base URL such as `https://s3.us-east-1.amazonaws.com` or
    /// `http://127.0.0.1:5000`. With `path_style` URLs are `{endpoint}/{bucket}/{key}`, otherwise
    /// `{scheme}://{bucket}.{host}/{key}`. `service` is `s3`.
    pub fn new(
        endpoint: &str,
        region: &str,
        service: &str,
        path_style: bool,
        credentials: SigV4Credentials,
    ) -> Result<Self, SignError> {
        let bad_endpoint = |reason: &str| SignError::InvalidEndpoint {
            endpoint: endpoint.to_owned(),
            reason: format!("{reason}, expected e.g. `https://s3.us-east-1.amazonaws.com`"),
        };
        let url = url::Url::parse(endpoint).map_err(|e| bad_endpoint(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad_endpoint("scheme must be http or https"));
        } else if url.authority().contains('@') || url.query().or(url.fragment()).is_some() {
            return Err(bad_endpoint("must not have user info, query or fragment"));
        }
        for (what, value) in [("region", region), ("service", service)] {
            if value.is_empty() || value.bytes().any(|b| b == b'/' || b.is_ascii_control()) {
                let reason = format!("{what} `{value}` must be non-empty and without `/`");
                return Err(SignError::InvalidScope { reason });
            }
        }
        let akid = credentials.access_key_id.trim();
        if akid.is_empty() || credentials.secret_access_key.expose_secret().is_empty() {
            let reason = "access key id and secret access key must both be set".to_owned();
            return Err(SignError::InvalidCredentials { reason });
        }
        let token = credentials.session_token.map(|t| uri_encoded(t.expose_secret()));
        let capacity = 256 + endpoint.len() + akid.len() + region.len();
        let (region_enc, service_enc) = (uri_encoded(region), uri_encoded(service));
        Ok(Self {
            scheme: format!("{}://", url.scheme()),
            // `host[:port]`, port only when not the default: `url` drops default ports.
            host: url.authority().to_owned(),
            base_path: url.path().trim_end_matches('/').to_owned(),
            path_style,
            secret_access_key: credentials.secret_access_key,
            region: region.to_owned(),
            service: service.to_owned(),
            credential: (
                format!("{}%2F", uri_encoded(akid)),
                format!("%2F{region_enc}%2F{service_enc}%2Faws4_request"),
            ),
            scope_suffix: format!("/{region}/{service}/aws4_request\n"),
            base_capacity: capacity + token.as_ref().map_or(0, String::len),
            security_token: token.map(SecretString::from),
            key_cache: RwLock::new(None),
        })
    }

    /// Returns the presigned URL for `req`, valid from `now` for `req.expires_secs`.
    pub fn presign(&self, req: &PresignInput<'_>, now: DateTime<Utc>) -> Result<String, SignError> {
        if !matches!(req.method, "GET" | "PUT" | "HEAD" | "DELETE" | "POST") {
            let method = req.method.to_owned();
            return Err(SignError::UnsupportedMethod { method });
        }
        let secs = req.expires_secs;
        if !(1..=MAX_PRESIGN_EXPIRY_SECS).contains(&secs) {
            return Err(SignError::InvalidExpiry { secs });
        }
        self.check_bucket(req.bucket)?;
        let headers = CanonicalHeaders::new(req.signed_headers)?;
        let extras = encoded_query(req.query)?;
        let mut amz_date = [0u8; 16];
        let (amz_date, day) = amz_timestamp(now, &mut amz_date)?;
        let date = &amz_date[..8];

        let variable = 3 * (req.bucket.len() + req.key.len()) + 96 * (extras.len() + headers.len());
        let mut url = String::with_capacity(self.base_capacity + variable);
        url.push_str(&self.scheme);
        let host_start = url.len();
        if !self.path_style && !req.bucket.is_empty() {
            url.push_str(req.bucket);
            url.push('.');
        }
        url.push_str(&self.host);
        let host_end = url.len();
        url.push_str(&self.base_path);
        url.push('/');
        if self.path_style && !req.bucket.is_empty() {
            uri_encode(req.bucket, false, &mut url);
            url.push_str(if req.key.is_empty() { "" } else { "/" });
        }
        uri_encode(req.key, true, &mut url);
        let path_end = url.len();
        url.push('?');

        // Canonical query: the reserved parameters (in sorted order) merged with the sorted
        // extras. Keys never tie: extras may not use reserved names.
        let mut extra = extras.iter().peekable();
        let token = self.security_token.as_ref().map(|t| t.expose_secret());
        for (index, name) in RESERVED_PARAMS[..6].iter().enumerate() {
            if index == 4 && token.is_none() {
                continue;
            }
            while let Some((k, v)) = extra.next_if(|(k, _)| k.as_str() < *name) {
                let _ = write!(url, "{k}={v}&");
            }
            url.push_str(name);
            url.push('=');
            let _ = match index {
                0 => url.write_str("AWS4-HMAC-SHA256"),
                1 => write!(url, "{}{date}{}", self.credential.0, self.credential.1),
                2 => url.write_str(amz_date),
                3 => write!(url, "{secs}"),
                4 => url.write_str(token.unwrap_or_default()),
                _ => headers.write_names(&mut url, "%3B"),
            };
            url.push('&');
        }
        for (k, v) in extra {
            let _ = write!(url, "{k}={v}&");
        }
        url.pop();

        let mut hasher = Sha256::new();
        let (path, query) = (&url[host_end..path_end], &url[path_end + 1..]);
        for part in [req.method, "\n", path, "\n", query, "\n"] {
            hasher.update(part);
        }
        headers.hash_into(&mut hasher, &url[host_start..host_end]);
        hasher.update(b"\nUNSIGNED-PAYLOAD");
        let mut hex_buf = [0u8; 64];
        let canonical_hash = hex_lower_into(&hasher.finalize(), &mut hex_buf);

        let mut mac = self.signing_mac(day, date);
        let scope = self.scope_suffix.as_str();
        for part in ["AWS4-HMAC-SHA256\n", amz_date, "\n", date, scope, canonical_hash] {
            mac.update(part.as_bytes());
        }
        url.push_str("&X-Amz-Signature=");
        url.push_str(hex_lower_into(&mac.finalize().into_bytes(), &mut hex_buf));
        Ok(url)
    }

    fn check_bucket(&self, bucket: &str) -> Result<(), SignError> {
        let dns_char = |b: u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.');
        let reason = if bucket.contains('/') {
            "bucket names cannot contain `/`"
        } else if !self.path_style && !bucket.bytes().all(dns_char) {
            "virtual-hosted urls need a dns-compatible name (a-z, 0-9, `-`, `.`); use path_style"
        } else {
            return Ok(());
        };
        let (bucket, reason) = (bucket.to_owned(), reason.to_owned());
        Err(SignError::InvalidBucket { bucket, reason })
    }

    /// The HMAC state keyed with the signing key of `date`, derived at most once a day.
    fn signing_mac(&self, day: u32, date: &str) -> HmacSha256 {
        let cache = self.key_cache.read().unwrap_or_else(|e| e.into_inner());
        if let Some((cached_day, mac)) = &*cache
            && *cached_day == day
        {
            return mac.clone();
        }
        drop(cache);
        let secret = SecretString::from(format!("AWS4{}", self.secret_access_key.expose_secret()));
        let mut key = hmac_sha256(secret.expose_secret().as_bytes(), date.as_bytes());
        for part in [&self.region, &self.service, "aws4_request"] {
            key = hmac_sha256(&key, part.as_bytes());
        }
        let mac = new_hmac(&key);
        *self.key_cache.write().unwrap_or_else(|e| e.into_inner()) = Some((day, mac.clone()));
        mac
    }
}

/// Extra query parameters, encoded and sorted by key then value.
fn encoded_query(query: &[(&str, &str)]) -> Result<Vec<(String, String)>, SignError> {
    let mut encoded = Vec::with_capacity(query.len());
    for &(key, value) in query {
        if RESERVED_PARAMS.iter().any(|r| r.eq_ignore_ascii_case(key)) {
            let name = key.to_owned();
            return Err(SignError::ReservedQueryParam { name });
        }
        encoded.push((uri_encoded(key), uri_encoded(value)));
    }
    encoded.sort_unstable();
    Ok(encoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use PresignInput as Input;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const AWS_EXAMPLE_SIG: &str = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

    fn presigner(endpoint: &str, path_style: bool, token: Option<&str>) -> SigV4Presigner {
        let credentials = SigV4Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".to_owned(),
            secret_access_key: SECRET.into(),
            session_token: token.map(Into::into),
        };
        SigV4Presigner::new(endpoint, "us-east-1", "s3", path_style, credentials).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn signature(url: &str) -> &str {
        url.rsplit_once("&X-Amz-Signature=").unwrap().1
    }

    #[test]
    fn matches_the_aws_documented_example() {
        let signer = presigner("https://s3.amazonaws.com", false, None);
        let req = Input::new("GET", "examplebucket", "test.txt", 86_400);
        let url = signer.presign(&req, at("2013-05-24T00:00:00Z")).unwrap();
        let expected = "https://examplebucket.s3.amazonaws.com/test.txt?\
            X-Amz-Algorithm=AWS4-HMAC-SHA256\
            &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
            &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
            &X-Amz-Signature=";
        assert_eq!(url, format!("{expected}{AWS_EXAMPLE_SIG}"));
    }

    /// Signatures from boto3 1.43 `generate_presigned_url` at 2024-03-01T12:34:56Z.
    #[test]
    #[rustfmt::skip]
    fn matches_boto3_for_tokens_ports_awkward_keys_headers_and_query() {
        let (aws, local) = ("https://s3.us-east-1.amazonaws.com", "http://127.0.0.1:5000");
        let kms = "arn:aws:kms:us-east-1:111122223333:key/abcd";
        let sse = [("x-amz-server-side-encryption-aws-kms-key-id", kms),
            ("content-type", "application/json"), ("x-amz-server-side-encryption", "aws:kms")];
        let cases = [
            (aws, false, Some("FQoGZXIvYXdzE//abc+def=="), Input::new("GET", "my-bucket", "photos/2024/a b+c=d é.jpg", 3600),
             "https://my-bucket.s3.us-east-1.amazonaws.com/photos/2024/a%20b%2Bc%3Dd%20%C3%A9.jpg?",
             "5f4e8c3fb0437ad3b66238d827960bf101475477282dcb4cd93de41b85138fc3"),
            (local, true, None, Input { signed_headers: &[("content-type", "image/png")], ..Input::new("PUT", "uploads", "u/1/日本 file (1).png", 900) },
             "http://127.0.0.1:5000/uploads/u/1/%E6%97%A5%E6%9C%AC%20file%20%281%29.png?",
             "59fd5daf1603dc171eb45cf0dc1082e46c500cf4470eb763ad9ab5bc24c283af"),
            (local, true, None, Input { signed_headers: &sse, ..Input::new("PUT", "uploads", "k", 600) },
             "http://127.0.0.1:5000/uploads/k?",
             "7977f82ddb4cc89a42e72458516bcae479987e33ea1ff614151fdaeec17d9e28"),
            (local, true, None, Input { query: &[("uploads", "")], ..Input::new("POST", "uploads", "big/file.bin", 3600) },
             "http://127.0.0.1:5000/uploads/big/file.bin?X-Amz-Algorithm=",
             "8f1c2173243c5ef46aa760278ee3cbb49d1aae65bbacd9627e502b82e2862b6b"),
            (local, true, None, Input { query: &[("uploadId", "2~abc/def+"), ("partNumber", "7")], ..Input::new("PUT", "uploads", "big/file.bin", 3600) },
             "http://127.0.0.1:5000/uploads/big/file.bin?",
             "c6d689695b657e73e330acd76c5405535fc337aa693e25c9cd3ca0daf2d18020"),
            (local, true, None, Input { query: &[("versioning", "")], ..Input::new("GET", "uploads", "", 60) },
             "http://127.0.0.1:5000/uploads?",
             "4c5eda0e69cfc862fc1ff0ce562a5fa806989d88a72ee582ff2f12812bf446e3"),
            (aws, false, None, Input { query: &[("response-content-disposition", "attachment; filename=\"a b.txt\"")], ..Input::new("GET", "my-bucket", "a.txt", 300) },
             "https://my-bucket.s3.us-east-1.amazonaws.com/a.txt?",
             "a21694f5340118777725dd3fe5863b73a584061b546b53c1ca8d8bd545452a97"),
            ("http://localhost:9000/", true, None, Input::new("HEAD", "b", "x=y/%z", 7),
             "http://localhost:9000/b/x%3Dy/%25z?",
             "2df57b9fe25801e03437bee9b91059d5be8d3341a1bf4aa8c554f585885d5745"),
        ];
        for (endpoint, path_style, token, req, prefix, expected) in cases {
            let url = presigner(endpoint, path_style, token).presign(&req, at("2024-03-01T12:34:56Z")).unwrap();
            assert!(url.starts_with(prefix), "{url}");
            assert_eq!(signature(&url), expected, "{url}");
        }
    }

    #[test]
    fn session_token_is_in_the_signed_query() {
        let (req, now) = (Input::new("GET", "b", "k", 60), at("2024-03-01T12:34:56Z"));
        let endpoint = "https://s3.amazonaws.com";
        let with = presigner(endpoint, false, Some("tok/en+=")).presign(&req, now).unwrap();
        let without = presigner(endpoint, false, None).presign(&req, now).unwrap();
        let token = "&X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-SignedHeaders=host&";
        assert!(with.contains(token), "{with}");
        assert!(!without.contains("X-Amz-Security-Token"));
        assert_ne!(signature(&with), signature(&without));
        assert!(!format!("{:?}", presigner(endpoint, false, Some("tok"))).contains("tok\""));
    }

    #[test]
    fn signing_key_cache_follows_the_date() {
        let signer = presigner("https://s3.amazonaws.com", false, None);
        let req = Input::new("GET", "examplebucket", "test.txt", 86_400);
        for day in ["2013-05-24T00:00:00Z", "2024-03-01T00:00:00Z", "2013-05-24T00:00:00Z"] {
            let url = signer.presign(&req, at(day)).unwrap();
            assert_eq!(signature(&url) == AWS_EXAMPLE_SIG, day.starts_with("2013"));
        }
    }

    #[test]
    fn rejects_bad_input_with_clear_errors() {
        let signer = presigner("http://127.0.0.1:5000", true, None);
        let now = at("2024-03-01T12:34:56Z");
        assert!(signer.presign(&Input::new("GET", "b", "k", MAX_PRESIGN_EXPIRY_SECS), now).is_ok());
        let k = Input::new("PUT", "b", "k", 60);
        let cases = [
            (Input::new("GET", "b", "k", 0), "got 0 s"),
            (Input::new("GET", "b", "k", 604_801), "got 604801 s"),
            (Input::new("PATCH", "b", "k", 60), "`PATCH`"),
            (Input::new("GET", "a/b", "k", 60), "cannot contain `/`"),
            (Input { query: &[("x-amz-signature", "x")], ..k }, "reserved"),
            (Input { signed_headers: &[("host", "x")], ..k }, "always signed"),
            (Input { signed_headers: &[("Content-Type", "x")], ..k }, "lowercase"),
            (Input { signed_headers: &[("content-type", "a\nb")], ..k }, "line breaks"),
        ];
        for (req, message) in cases {
            let err = signer.presign(&req, now).unwrap_err().to_string();
            assert!(err.contains(message), "{err}");
        }
        let virtual_hosted = presigner("https://s3.amazonaws.com", false, None);
        let err = virtual_hosted.presign(&Input::new("GET", "My_Bucket", "k", 60), now).unwrap_err();
        assert!(err.to_string().contains("path_style"), "{err}");
        let credentials =
            SigV4Credentials { access_key_id: String::new(), secret_access_key: SECRET.into(), session_token: None };
        assert!(SigV4Presigner::new("ftp://x", "us-east-1", "s3", true, credentials.clone()).is_err());
        assert!(SigV4Presigner::new("http://x", "us-east-1", "s3", true, credentials).is_err());
    }
}
