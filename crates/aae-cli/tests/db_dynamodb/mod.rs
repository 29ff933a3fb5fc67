//! `aae db migrate` and `aae config check` with `campaigns.backend = dynamodb`, against dynalite:
//! the table and both GSIs are created once, the health line follows the table, and checking
//! the configuration creates nothing.

// The helpers below are not #[test] functions, so clippy's allow-unwrap-in-tests does not reach them.
#![allow(clippy::unwrap_used)]

use super::{aae, stderr, stdout};

fn dynalite_endpoint() -> String {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async { aae_testkit::dynalite().await.unwrap().endpoint().to_owned() })
}

#[test]
fn db_migrate_creates_the_dynamodb_table_once_and_config_check_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = dynalite_endpoint();
    let table = format!("aae-cli-campaigns-{}", uuid::Uuid::new_v4().simple());
    let env = [
        ("AAE__CAMPAIGNS__BACKEND", "dynamodb"),
        ("AAE__CAMPAIGNS__TABLE", table.as_str()),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "AKIDAAETEST"),
        ("AWS_SECRET_ACCESS_KEY", "aae-test-secret"),
        ("AWS_REGION", "us-east-1"),
    ];

    // Checking the configuration describes the table and creates nothing: it is missing.
    let check = aae(dir.path(), &["config", "check"], &env);
    assert_eq!(check.status.code(), Some(1), "{}{}", stdout(&check), stderr(&check));
    assert!(stdout(&check).contains("FAIL campaigns") && stdout(&check).contains(&table), "{}", stdout(&check));

    let first = aae(dir.path(), &["db", "migrate", "--json"], &env);
    assert!(first.status.success(), "{}{}", stdout(&first), stderr(&first));
    let report: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(report["campaigns"]["created"], true, "{report}");

    let again = aae(dir.path(), &["db", "migrate"], &env);
    assert!(again.status.success(), "{}{}", stdout(&again), stderr(&again));
    assert!(stdout(&again).contains("table and both indexes present"), "{}", stdout(&again));

    let check = aae(dir.path(), &["config", "check", "--json"], &env);
    assert!(check.status.success(), "{}{}", stdout(&check), stderr(&check));
    let body: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let line = body["services"].as_array().unwrap().iter().find(|s| s["service"] == "campaigns").unwrap().clone();
    assert_eq!(line["healthy"], true, "{line}");
    assert!(!String::from_utf8_lossy(&check.stdout).contains("aae-test-secret"));
}
