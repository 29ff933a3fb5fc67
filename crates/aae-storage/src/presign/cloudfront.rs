//! CloudFront signed URLs with a canned policy: RSA-SHA1 (PKCS#1 v1.5) over
//! `{"Statement":[{"Resource":"URL","Condition":{"DateLessThan":{"AWS:EpochTime":EXPIRES}}}]}`,
//! base64 made URL-safe CloudFront's way (`+`→`-`, `=`→`_`, `/`→`~`).

use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha1::{Digest as _, Sha1};

use super::SignError;

/// Signs CloudFront URLs for one key pair (public key registered in a CloudFront key group).
pub struct CloudFrontSigner {
    key_pair_id: String,
    key: RsaPrivateKey,
}

impl std::fmt::Debug for CloudFrontSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = &self.key_pair_id;
        f.debug_struct("CloudFrontSigner").field("key_pair_id", id).finish_non_exhaustive()
    }
}

impl CloudFrontSigner {
    /// Loads an unencrypted RSA private key, PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8
    /// (`BEGIN PRIVATE KEY`). A PEM whose line breaks arrived as literal `\n` (a common way of
    /// putting keys in environment variables) is accepted too.
    pub fn from_pem(key_pair_id: &str, pem: &str) -> Result<Self, SignError> {
        let key_pair_id = key_pair_id.trim();
        if key_pair_id.is_empty() || !key_pair_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            let reason =
                format!("key pair id `{key_pair_id}` must be the id of a cloudfront public key, e.g. K2JCJMDEHXQW5F");
            return Err(SignError::InvalidPrivateKey { reason });
        }
        let unescaped;
        let mut pem = pem.trim();
        if !pem.contains('\n') && pem.contains("\\n") {
            unescaped = pem.replace("\\n", "\n");
            pem = &unescaped;
        }
        let invalid = |reason: String| SignError::InvalidPrivateKey { reason };
        let key = if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
            RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| invalid(format!("bad pkcs#1 key ({e})")))?
        } else if pem.contains("-----BEGIN PRIVATE KEY-----") {
            RsaPrivateKey::from_pkcs8_pem(pem)
                .map_err(|e| invalid(format!("bad pkcs#8 key, or not an rsa key ({e})")))?
        } else if pem.contains("ENCRYPTED") {
            let how = "decrypt it first with `openssl pkey -in key.pem -out plain.pem`";
            return Err(invalid(format!("encrypted keys are not supported, {how}")));
        } else {
            return Err(invalid("no pem private key found".to_owned()));
        };
        Ok(Self { key_pair_id: key_pair_id.to_owned(), key })
    }

    /// The canned policy CloudFront checks for `url` and `expires_epoch` (unix seconds).
    pub fn canned_policy(url: &str, expires_epoch: i64) -> String {
        format!(
            r#"{{"Statement":[{{"Resource":"{url}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires_epoch}}}}}}}]}}"#
        )
    }

    /// `url` with `Expires`, `Signature` and `Key-Pair-Id` appended; valid until `expires_epoch`.
    /// `url` must be absolute and already percent-encoded, as the client will request it.
    pub fn sign_url(&self, url: &str, expires_epoch: i64) -> Result<String, SignError> {
        let reason = if !(url.starts_with("https://") || url.starts_with("http://")) {
            "must start with https:// or http://"
        } else if url.contains(['"', '\\', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            "must be percent-encoded, without spaces, quotes, backslashes or a fragment"
        } else if expires_epoch <= 0 {
            "expiry must be a positive unix time in seconds"
        } else {
            ""
        };
        if !reason.is_empty() {
            let (url, reason) = (url.to_owned(), reason.to_owned());
            return Err(SignError::InvalidUrl { url, reason });
        }
        let digest = Sha1::digest(Self::canned_policy(url, expires_epoch).as_bytes());
        let signature = self
            .key
            .sign_with_rng(&mut rand::thread_rng(), Pkcs1v15Sign::new::<Sha1>(), &digest)
            .map_err(|e| SignError::Rsa { reason: e.to_string() })?;
        let signature = base64::engine::general_purpose::STANDARD.encode(signature);
        let signature: String = signature
            .chars()
            .map(|c| match c {
                '+' => '-',
                '=' => '_',
                '/' => '~',
                c => c,
            })
            .collect();
        let separator = if url.contains('?') { '&' } else { '?' };
        Ok(format!("{url}{separator}Expires={expires_epoch}&Signature={signature}&Key-Pair-Id={}", self.key_pair_id))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::path::Path;
    use std::process::{Command, Stdio};

    use super::*;

    fn openssl(dir: &Path, args: &[&str]) {
        let status = Command::new("/usr/bin/openssl").args(args).current_dir(dir).status().unwrap();
        assert!(status.success(), "openssl {args:?} failed");
    }

    /// What AWS documents: `openssl sha1 -sign key.pem | openssl base64 -A | tr '+=/' '-_~'`.
    fn openssl_signature(dir: &Path, key_file: &str, policy: &str) -> String {
        let pipeline = format!("/usr/bin/openssl sha1 -sign {key_file} | /usr/bin/openssl base64 -A | tr '+=/' '-_~'");
        let mut child = Command::new("sh")
            .args(["-c", &pipeline])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(policy.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    fn query_param<'a>(url: &'a str, name: &str) -> &'a str {
        let start = url.find(&format!("{name}=")).unwrap() + name.len() + 1;
        url[start..].split('&').next().unwrap()
    }

    #[test]
    fn signatures_match_openssl_for_pkcs1_and_pkcs8_keys() {
        let dir = tempfile::tempdir().unwrap();
        openssl(dir.path(), &["genrsa", "-out", "pkcs8.pem", "2048"]);
        openssl(dir.path(), &["pkey", "-in", "pkcs8.pem", "-traditional", "-out", "pkcs1.pem"]);
        for (file, header) in [("pkcs8.pem", "BEGIN PRIVATE KEY"), ("pkcs1.pem", "BEGIN RSA PRIVATE KEY")] {
            let pem = std::fs::read_to_string(dir.path().join(file)).unwrap();
            assert!(pem.contains(header), "{file} is not {header}");
            let signer = CloudFrontSigner::from_pem("K2JCJMDEHXQW5F", &pem).unwrap();
            for url in ["https://d111111abcdef8.cloudfront.net/images/a%20b.jpg", "https://cdn.example.com/v.mp4?w=640"]
            {
                let signed = signer.sign_url(url, 1_767_225_600).unwrap();
                let policy = CloudFrontSigner::canned_policy(url, 1_767_225_600);
                let separator = if url.contains('?') { '&' } else { '?' };
                assert!(signed.starts_with(&format!("{url}{separator}Expires=1767225600&Signature=")), "{signed}");
                assert!(signed.ends_with("&Key-Pair-Id=K2JCJMDEHXQW5F"), "{signed}");
                assert_eq!(query_param(&signed, "Signature"), openssl_signature(dir.path(), file, &policy));
            }
            for (url, expires) in [("ftp://x/a", 1), ("https://x/a b", 1), ("https://x/a#b", 1), ("https://x/a", 0)] {
                assert!(matches!(signer.sign_url(url, expires), Err(SignError::InvalidUrl { .. })));
            }
            let escaped = pem.replace('\n', "\\n");
            assert!(CloudFrontSigner::from_pem("K2JCJMDEHXQW5F", &escaped).is_ok());
        }
    }

    #[test]
    fn canned_policy_has_no_whitespace() {
        assert_eq!(
            CloudFrontSigner::canned_policy("https://d.cloudfront.net/a.jpg", 1_700_000_000),
            r#"{"Statement":[{"Resource":"https://d.cloudfront.net/a.jpg","Condition":{"DateLessThan":{"AWS:EpochTime":1700000000}}}]}"#
        );
    }

    #[test]
    fn bad_pem_gives_a_clear_error() {
        let err = CloudFrontSigner::from_pem("K1", "not a key").unwrap_err().to_string();
        assert!(err.starts_with("invalid cloudfront private key: no pem private key found"), "{err}");
        assert!(err.contains("-----BEGIN RSA PRIVATE KEY-----"), "{err}");
        let garbage = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        let err = CloudFrontSigner::from_pem("K1", garbage).unwrap_err().to_string();
        assert!(err.contains("bad pkcs#1 key"), "{err}");
        let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----";
        let err = CloudFrontSigner::from_pem("K1", encrypted).unwrap_err().to_string();
        assert!(err.contains("openssl pkey"), "{err}");
        let err = CloudFrontSigner::from_pem("", garbage).unwrap_err().to_string();
        assert!(err.contains("key pair id"), "{err}");
    }
}
