//! A handle to the shared moto server, started on demand by `scripts/test-servers.sh`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::OnceCell;

use crate::{ACCESS_KEY, REGION, SECRET_KEY};

/// Environment variable naming the moto endpoint.
pub const MOTO_ENDPOINT_ENV: &str = "AAE_TEST_MOTO_ENDPOINT";
/// The endpoint used when [`MOTO_ENDPOINT_ENV`] is unset.
pub const DEFAULT_MOTO_ENDPOINT: &str = "http://127.0.0.1:5000";

/// A moto server (S3, DynamoDB, Cognito, ... in one process) shared by all tests on the machine.
///
/// moto keeps state across tests and checks no signature (any credentials work): isolate tests with
/// [`Moto::unique_bucket`] rather than by resetting the server.
#[derive(Debug, Clone)]
pub struct Moto {
    endpoint: String,
    http: reqwest::Client,
}

/// Returns a handle to the moto server at `$AAE_TEST_MOTO_ENDPOINT` (default
/// `http://127.0.0.1:5000`). If nothing answers there and the endpoint is on this machine,
/// `scripts/test-servers.sh` is run (once per process; the script itself serialises concurrent
/// runs with `flock`), which installs moto into a venv on first use (~1 min) and starts it.
pub async fn moto() -> anyhow::Result<Moto> {
    let endpoint = std::env::var(MOTO_ENDPOINT_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_MOTO_ENDPOINT.to_owned())
        .trim_end_matches('/')
        .to_owned();
    let http =
        reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().context("build http client")?;
    let moto = Moto { endpoint, http };

    if moto.answers().await {
        return Ok(moto);
    }
    let url = url_host_port(&moto.endpoint)
        .with_context(|| format!("{MOTO_ENDPOINT_ENV}={} is not an http://host:port url", moto.endpoint))?;
    anyhow::ensure!(
        matches!(url.0.as_str(), "127.0.0.1" | "localhost" | "[::1]"),
        "moto does not answer at {} and it is not on this machine",
        moto.endpoint
    );

    static SCRIPT_RUN: OnceCell<Result<(), String>> = OnceCell::const_new();
    SCRIPT_RUN
        .get_or_init(|| run_test_servers_script("AAE_TEST_MOTO_PORT", url.1))
        .await
        .clone()
        .map_err(anyhow::Error::msg)?;

    // The script waits until moto answers; allow a short grace period all the same.
    for _ in 0..50 {
        if moto.answers().await {
            return Ok(moto);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("moto does not answer at {} after running {}", moto.endpoint, script_path().display())
}

impl Moto {
    /// The server's base URL, e.g. `http://127.0.0.1:5000` (no trailing slash). Use path-style
    /// addressing against it.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Access key the tests use (moto accepts any).
    pub fn access_key(&self) -> &'static str {
        ACCESS_KEY
    }

    /// Secret key the tests use (moto accepts any).
    pub fn secret_key(&self) -> &'static str {
        SECRET_KEY
    }

    /// Region the tests use.
    pub fn region(&self) -> &'static str {
        REGION
    }

    /// A valid S3 bucket name that no other test will use: `prefix` (lowercased, other characters
    /// turned into single `-`s, cut to 40 characters) + `-` + 16 random hex digits; at most 57 characters.
    pub fn unique_bucket(&self, prefix: &str) -> String {
        unique_bucket(prefix)
    }

    /// Creates `bucket` on moto (an anonymous `PUT /bucket`; moto checks no signature).
    pub async fn create_bucket(&self, bucket: &str) -> anyhow::Result<()> {
        let url = format!("{}/{bucket}", self.endpoint);
        let response = self.http.put(&url).send().await.with_context(|| format!("PUT {url}"))?;
        let status = response.status();
        anyhow::ensure!(status.is_success(), "PUT {url} answered {status}");
        Ok(())
    }

    async fn answers(&self) -> bool {
        let url = format!("{}/moto-api/", self.endpoint);
        let probe = self.http.get(url).timeout(Duration::from_secs(2)).send().await;
        matches!(probe, Ok(r) if r.status().is_success())
    }
}

/// See [`Moto::unique_bucket`].
pub fn unique_bucket(prefix: &str) -> String {
    let mut base = String::with_capacity(prefix.len());
    for c in prefix.chars().map(|c| c.to_ascii_lowercase()) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' };
        // No leading '-' and no runs of '-' (which also rules out the reserved "xn--" prefix).
        if c != '-' || !(base.is_empty() || base.ends_with('-')) {
            base.push(c);
        }
    }
    if base.is_empty() || base.starts_with("sthree") {
        base.insert_str(0, "aae");
    }
    base.truncate(40);
    let base = base.trim_end_matches('-');
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{base}-{}", &random[..16])
}

/// `CARGO_MANIFEST_DIR/../../scripts/test-servers.sh`.
pub fn script_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/test-servers.sh")
}

/// Runs `scripts/test-servers.sh` with `port_env` (the port variable of the server that did not
/// answer) set to `port`.
pub(crate) async fn run_test_servers_script(port_env: &str, port: u16) -> Result<(), String> {
    let script = script_path();
    tracing::info!(script = %script.display(), port_env, port, "a test server is not answering: running the test servers script");
    let output = tokio::process::Command::new("bash")
        .arg(&script)
        .env(port_env, port.to_string())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("run {}: {e}", script.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed ({}):\n{}{}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Splits `http://host:port[/...]` into host and port (port 80 when absent).
pub(crate) fn url_host_port(endpoint: &str) -> Option<(String, u16)> {
    let rest = endpoint.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    if authority.ends_with(']') || !authority.contains(':') {
        return Some((authority.to_owned(), 80));
    }
    let (host, port) = authority.rsplit_once(':')?;
    Some((host.to_owned(), port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_bucket_names_are_valid_and_distinct() {
        for prefix in ["", "My_Test.Bucket", "---x", "xn--abc", &"a".repeat(100), "ok-"] {
            let a = unique_bucket(prefix);
            let b = unique_bucket(prefix);
            assert_ne!(a, b);
            assert!((3..=63).contains(&a.len()), "{a}");
            assert!(a.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{a}");
            assert!(a.starts_with(|c: char| c.is_ascii_alphanumeric()), "{a}");
            assert!(!a.starts_with("xn--") && !a.contains("--"), "{a}");
        }
        assert!(unique_bucket("upload").starts_with("upload-"));
    }

    #[test]
    fn host_port_of_endpoint() {
        assert_eq!(url_host_port("http://127.0.0.1:5000"), Some(("127.0.0.1".into(), 5000)));
        assert_eq!(url_host_port("http://localhost/x"), Some(("localhost".into(), 80)));
        assert_eq!(url_host_port("http://[::1]:5001"), Some(("[::1]".into(), 5001)));
        assert_eq!(url_host_port("https://x:1"), None);
    }
}
