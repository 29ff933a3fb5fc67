//! A handle to the shared dynalite server (a second DynamoDB implementation, on Node), started on
//! demand by `scripts/test-servers.sh`.

use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::OnceCell;

use crate::moto::{run_test_servers_script, script_path, url_host_port};
use crate::{ACCESS_KEY, REGION, SECRET_KEY};

/// Environment variable naming the dynalite endpoint.
pub const DYNALITE_ENDPOINT_ENV: &str = "AAE_TEST_DYNALITE_ENDPOINT";
/// The endpoint used when [`DYNALITE_ENDPOINT_ENV`] is unset.
pub const DEFAULT_DYNALITE_ENDPOINT: &str = "http://127.0.0.1:4567";

/// A dynalite 4.0.0 server shared by all tests on the machine, started with
/// `--createTableMs 0 --deleteTableMs 0 --updateTableMs 0` (tables are `ACTIVE` at once).
///
/// dynalite checks no signature and has no TransactWriteItems or TTL. Isolate tests with unique
/// table names; never delete tables that are not yours.
#[derive(Debug, Clone)]
pub struct Dynalite {
    endpoint: String,
}

/// Returns a handle to dynalite at `$AAE_TEST_DYNALITE_ENDPOINT` (default
/// `http://127.0.0.1:4567`). If nothing answers there and the endpoint is on this machine,
/// `scripts/test-servers.sh` is run once per process, which installs dynalite with npm into
/// `~/.cache/aae-tools/dynalite` on first use and starts it.
pub async fn dynalite() -> anyhow::Result<Dynalite> {
    let endpoint = std::env::var(DYNALITE_ENDPOINT_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_DYNALITE_ENDPOINT.to_owned())
        .trim_end_matches('/')
        .to_owned();
    let http =
        reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().context("build http client")?;
    let server = Dynalite { endpoint };
    if server.answers(&http).await {
        return Ok(server);
    }
    let (host, port) = url_host_port(&server.endpoint)
        .with_context(|| format!("{DYNALITE_ENDPOINT_ENV}={} is not an http://host:port url", server.endpoint))?;
    anyhow::ensure!(
        matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]"),
        "dynalite does not answer at {} and it is not on this machine",
        server.endpoint
    );
    static SCRIPT_RUN: OnceCell<Result<(), String>> = OnceCell::const_new();
    SCRIPT_RUN
        .get_or_init(|| run_test_servers_script("AAE_TEST_DYNALITE_PORT", port))
        .await
        .clone()
        .map_err(anyhow::Error::msg)?;
    for _ in 0..50 {
        if server.answers(&http).await {
            return Ok(server);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!(
        "dynalite does not answer at {} after running {} (needs node and npm)",
        server.endpoint,
        script_path().display()
    )
}

impl Dynalite {
    /// The server's base URL, e.g. `http://127.0.0.1:4567` (no trailing slash).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Access key the tests use (dynalite accepts any).
    pub fn access_key(&self) -> &'static str {
        ACCESS_KEY
    }

    /// Secret key the tests use (dynalite accepts any).
    pub fn secret_key(&self) -> &'static str {
        SECRET_KEY
    }

    /// Region the tests use.
    pub fn region(&self) -> &'static str {
        REGION
    }

    /// Any HTTP answer counts: dynalite answers a bare `GET /` with an error.
    async fn answers(&self, http: &reqwest::Client) -> bool {
        http.get(format!("{}/", self.endpoint)).timeout(Duration::from_secs(2)).send().await.is_ok()
    }
}

/// A DynamoDB table name no other test uses: `prefix` + `-` + 16 random hex digits (valid for
/// DynamoDB: letters, digits, `_`, `-`, `.`; 3 to 255 characters).
pub fn unique_table(prefix: &str) -> String {
    let base: String = prefix
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') { c } else { '-' })
        .take(200)
        .collect();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}", if base.is_empty() { "aae" } else { &base }, &random[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_tables_are_valid_and_distinct() {
        let (a, b) = (unique_table("campaigns test"), unique_table("campaigns test"));
        assert_ne!(a, b);
        assert!(a.starts_with("campaigns-test-"));
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')));
        assert!(unique_table("").starts_with("aae-"));
    }
}
