//! The `aae` binary, run as a user runs it.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod campaign;
mod db_dynamodb;
mod db_redis;
mod jobs;
mod mcp;
mod models;

/// `aae ARGS` in `data_dir`, with none of the caller's `AAE__*` settings and no instance
/// metadata lookups, plus `env`.
fn aae_command(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aae"));
    command.args(args).current_dir(data_dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("AAE__") || key == "AAE_CONFIG" {
            command.env_remove(key);
        }
    }
    command.env("AAE__DATA_DIR", data_dir).env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

fn aae(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    aae_command(data_dir, args, env).output().expect("run aae")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn config_check_passes_on_embedded_defaults_and_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let out = aae(dir.path(), &["config", "check"], &[("AAE__SERVER__URL_SIGNING_SECRET", "do-not-print-this-secret")]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("backend = \"local\""), "{text}");
    assert!(text.contains("ok   storage"), "{text}");
    assert!(!text.contains("do-not-print-this-secret") && !stderr(&out).contains("do-not-print-this-secret"));
    let json = aae(dir.path(), &["config", "check", "--json"], &[]);
    let body: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(body["healthy"], true);
    assert_eq!(body["services"][0]["service"], "storage");
}

#[test]
fn config_errors_name_the_key_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = aae(dir.path(), &["config", "check"], &[("AAE__STORAGE__BACKEND", "ftp")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("storage.backend") && err.contains("local, s3, gcs, memory"), "{err}");
    let out = aae(dir.path(), &["--set", "server.prot=1", "config", "check"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown key `prot`"), "{}", stderr(&out));
}

#[test]
fn config_check_fails_when_a_service_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let out = aae(
        dir.path(),
        &["config", "check"],
        &[
            ("AAE__STORAGE__BACKEND", "s3"),
            ("AAE__STORAGE__S3__ENDPOINT", &endpoint),
            ("AAE__STORAGE__RETRY__MAX_RETRIES", "0"),
            ("AWS_ACCESS_KEY_ID", "AKIDAAETEST"),
            ("AWS_SECRET_ACCESS_KEY", "aae-test-secret"),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("FAIL storage") && text.contains(&endpoint), "{text}");
    assert!(!text.contains("aae-test-secret"));
}

#[test]
fn storage_commands_round_trip_on_local_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("banner.png");
    std::fs::write(&file, b"\x89PNG fake banner").unwrap();
    let key = "creatives/c1/banner 300x250.png";
    let put =
        aae(dir.path(), &["storage", "put", "creatives", key, file.to_str().unwrap(), "--meta", "user_id=u1"], &[]);
    assert!(put.status.success(), "{}", stderr(&put));
    let result: serde_json::Value = serde_json::from_slice(&put.stdout).unwrap();
    assert_eq!(result["size"], 16);
    let ls = aae(dir.path(), &["storage", "ls", "creatives", "creatives/", "--json"], &[]);
    let rows: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    let row = &rows[0];
    assert_eq!(row["key"], key);
    assert_eq!(row["size"], 16);
    assert!(row["last_modified"].is_string() && row["etag"].is_string(), "{row}");
    assert_eq!(row.as_object().unwrap().len(), 4, "exactly key, size, last_modified, etag");
    let get = aae(dir.path(), &["storage", "get", "creatives", key], &[]);
    assert_eq!(get.stdout, b"\x89PNG fake banner");
    let out_file = dir.path().join("copy.png");
    let get = aae(dir.path(), &["storage", "get", "creatives", key, "--output", out_file.to_str().unwrap()], &[]);
    assert!(get.status.success());
    assert_eq!(std::fs::read(&out_file).unwrap(), b"\x89PNG fake banner");
    let presign = aae(dir.path(), &["storage", "presign", "creatives", key, "--method", "get", "--expires", "60"], &[]);
    let url = stdout(&presign);
    assert_eq!(url.lines().count(), 1, "prints only the url: {url}");
    assert!(
        url.starts_with("http://127.0.0.1:8080/api/v1/files/dev-aae-creatives/creatives/c1/banner%20300x250.png?"),
        "{url}"
    );
    let bad = aae(dir.path(), &["storage", "presign", "creatives", key, "--method", "get", "--expires", "0"], &[]);
    assert!(!bad.status.success() && stderr(&bad).contains("604800"), "{}", stderr(&bad));
    let cdn =
        aae(dir.path(), &["storage", "cdn-url", "creatives", key], &[("AAE__STORAGE__CDN__DOMAIN", "cdn.example.com")]);
    assert_eq!(stdout(&cdn).trim(), "https://cdn.example.com/creatives/c1/banner%20300x250.png");
    let rm = aae(dir.path(), &["storage", "rm", "creatives", key], &[]);
    assert!(rm.status.success());
    let missing = aae(dir.path(), &["storage", "get", "creatives", key], &[]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("object not found") && stderr(&missing).contains(key), "{}", stderr(&missing));
    let bad_bucket = aae(dir.path(), &["storage", "ls", "pictures"], &[]);
    assert!(stderr(&bad_bucket).contains("expected one of creatives"), "{}", stderr(&bad_bucket));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_commands_work_against_s3_with_the_aws_chain() {
    let moto = aae_testkit::moto().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bucket = moto.unique_bucket("cli");
    let env = [
        ("AAE__STORAGE__BACKEND", "s3"),
        ("AAE__STORAGE__S3__ENDPOINT", moto.endpoint()),
        ("AAE__STORAGE__CREATE_BUCKETS", "true"),
        ("AAE__STORAGE__BUCKETS__EXPORTS", bucket.as_str()),
        ("AWS_ACCESS_KEY_ID", "AKIDAAETEST"),
        ("AWS_SECRET_ACCESS_KEY", "aae-test-secret"),
        ("AWS_REGION", "us-east-1"),
    ];
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, b"%PDF-1.7 report").unwrap();
    let put = aae(dir.path(), &["storage", "put", "exports", "r/report.pdf", file.to_str().unwrap()], &env);
    assert!(put.status.success(), "{}", stderr(&put));
    let presign = aae(dir.path(), &["storage", "presign", "exports", "r/report.pdf", "--method", "get"], &env);
    let url = stdout(&presign).trim().to_owned();
    assert!(url.contains("X-Amz-Signature="), "{url}");
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"%PDF-1.7 report");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_health_and_signed_urls_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let port_text = port.to_string();
    let file = dir.path().join("page.html");
    std::fs::write(&file, b"<h1>launch</h1>").unwrap();
    let env = [("AAE__SERVER__PORT", port_text.as_str()), ("AAE__LOG__FORMAT", "json")];
    assert!(
        aae(dir.path(), &["storage", "put", "landing_pages", "launch/index.html", file.to_str().unwrap()], &env)
            .status
            .success()
    );
    let url = stdout(&aae(
        dir.path(),
        &["storage", "presign", "landing_pages", "launch/index.html", "--method", "get"],
        &env,
    ));
    let mut command = Command::new(env!("CARGO_BIN_EXE_aae"));
    command
        .args(["serve"])
        .current_dir(dir.path())
        .env("AAE__DATA_DIR", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut health = None;
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(format!("{base}/api/v1/health")).await {
            health = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health = health.expect("server came up");
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    let body: serde_json::Value = serde_json::from_slice(&health.bytes().await.unwrap()).unwrap();
    // Healthy, or degraded when the embedded model's weights are not in this data dir.
    assert!(body["status"] == "healthy" || body["status"] == "degraded", "{body}");
    assert_eq!(body["services"][0]["healthy"], true);
    let database = body["services"].as_array().unwrap().iter().find(|s| s["service"] == "database").cloned();
    let database = database.expect("a database line");
    assert_eq!(database["healthy"], true);
    assert!(database["detail"].as_str().unwrap().contains("schema up to date"), "start-up migrated: {database}");
    assert!(dir.path().join("aae.db").exists(), "the embedded default is SQLite in the data dir");
    let page = reqwest::get(url.trim()).await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html");
    assert_eq!(page.text().await.unwrap(), "<h1>launch</h1>");
    let forged = reqwest::get(url.trim().replace("expires=", "expires=9")).await.unwrap();
    assert_eq!(forged.status(), 403);
    let error: serde_json::Value = serde_json::from_slice(&forged.bytes().await.unwrap()).unwrap();
    assert_eq!(error["error"]["code"], "access_denied");
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "graceful exit: {:?}", output.status);
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(logs.lines().any(|l| l.starts_with('{') && l.contains("request_id")), "json logs with request ids: {logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_copies_local_objects_to_s3_and_resumes() {
    let moto = aae_testkit::moto().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for i in 0..20 {
        let file = dir.path().join(format!("f{i}.txt"));
        std::fs::write(&file, format!("object {i}")).unwrap();
        let key = format!("users/u1/jobs/j1/code/scene_{i:03}/main.py");
        let out =
            aae(dir.path(), &["storage", "put", "code", &key, file.to_str().unwrap(), "--meta", "user_id=u1"], &[]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let source = format!("file://{}/storage/objects/dev-aae-code", dir.path().display());
    let target = format!("s3://{}/migrated", moto.unique_bucket("migrate-cli"));
    let env = [
        ("AAE__STORAGE__CREATE_BUCKETS", "true"),
        ("AWS_ACCESS_KEY_ID", "AKIDAAETEST"),
        ("AWS_SECRET_ACCESS_KEY", "aae-test-secret"),
        ("AWS_REGION", "us-east-1"),
    ];
    let args = ["storage", "migrate", "--from", &source, "--to", &target, "--to-endpoint", moto.endpoint(), "--json"];
    let first = aae(dir.path(), &args, &env);
    assert!(first.status.success(), "{}", stderr(&first));
    let summary: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(
        (summary["copied"].as_u64(), summary["skipped"].as_u64(), summary["failed"].as_u64()),
        (Some(20), Some(0), Some(0))
    );
    let keys: Vec<&str> = summary.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 5, "{summary}");
    let second = aae(dir.path(), &args, &env);
    let summary: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!((summary["copied"].as_u64(), summary["skipped"].as_u64()), (Some(0), Some(20)));
    let missing = aae(
        dir.path(),
        &["storage", "migrate", "--from", "file:///nonexistent/aae", "--to", &target, "--to-endpoint", moto.endpoint()],
        &env,
    );
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("nonexistent"), "{}", stderr(&missing));
}

#[test]
fn db_migrate_applies_once_and_config_check_reports_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let first = aae(dir.path(), &["db", "migrate"], &[]);
    assert!(first.status.success(), "{}{}", stdout(&first), stderr(&first));
    assert!(
        stdout(&first).contains("applied 4 migration(s): 0001_records, 0003_usage_details, 0004_auth, 0005_api_keys"),
        "{}",
        stdout(&first)
    );
    assert!(dir.path().join("aae.db").is_file());
    let second = aae(dir.path(), &["db", "migrate", "--json"], &[]);
    let report: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(report, serde_json::json!({"engine": "sqlite", "applied": [], "known": 4}));
    let check = aae(dir.path(), &["config", "check"], &[]);
    assert!(check.status.success(), "{}{}", stdout(&check), stderr(&check));
    let text = stdout(&check);
    assert!(text.contains("ok   database") && text.contains("schema up to date"), "{text}");
    assert!(text.contains("[database]") && text.contains("max_connections = 10"), "{text}");
}

#[test]
fn config_check_fails_when_the_database_is_down_without_printing_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://aae:db-password-do-not-print@127.0.0.1:{port}/aae");
    let out = aae(
        dir.path(),
        &["config", "check"],
        &[("AAE__DATABASE__URL", &url), ("AAE__DATABASE__ACQUIRE_TIMEOUT_SECS", "2")],
    );
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("FAIL database") && text.contains(&format!("127.0.0.1:{port}/aae")), "{text}");
    assert!(text.contains("url = \"[redacted]\""), "{text}");
    assert!(!text.contains("db-password-do-not-print") && !stderr(&out).contains("db-password-do-not-print"));
    let out = aae(dir.path(), &["db", "migrate"], &[("AAE__DATABASE__URL", "mysql://root:pw@db/aae")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("database.url") && stderr(&out).contains("postgres://"), "{}", stderr(&out));
}

#[tokio::test]
async fn users_grant_admin_changes_the_role_and_names_unknown_emails() {
    let dir = tempfile::tempdir().unwrap();
    assert!(aae(dir.path(), &["db", "migrate"], &[]).status.success());
    let records = aae_store::open(&aae_config::DatabaseConfig::default(), dir.path()).await.unwrap();
    let user = records.users.create(aae_store::NewUser::new("local:ana@example.com", "Ana@Example.com")).await.unwrap();
    let out = aae(dir.path(), &["users", "grant-admin", "ana@example.com"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("is now admin"), "{}", stdout(&out));
    assert_eq!(records.users.get(user.id).await.unwrap().role, aae_store::Role::Admin);
    let out = aae(dir.path(), &["users", "revoke-admin", "ana@example.com"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(records.users.get(user.id).await.unwrap().role, aae_store::Role::User);
    let missing = aae(dir.path(), &["users", "grant-admin", "nobody@example.com"], &[]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("no user has the email nobody@example.com"), "{}", stderr(&missing));
    records.close().await;
}

#[tokio::test]
async fn operators_create_users_keys_and_credits_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    assert!(aae(dir.path(), &["db", "migrate"], &[]).status.success());
    let out = aae(dir.path(), &["users", "create", "Bo@Example.com", "--admin"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = uuid::Uuid::parse_str(stdout(&out).trim()).expect("prints only the id");
    let again = aae(dir.path(), &["users", "create", "bo@example.com"], &[]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("already exists"), "{}", stderr(&again));
    let bad = aae(dir.path(), &["users", "create", "not-an-email"], &[]);
    assert!(!bad.status.success() && stderr(&bad).contains("email"), "{}", stderr(&bad));

    let out = aae(dir.path(), &["credits", "grant", "bo@example.com", "12.5"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("available 12.5 credits"), "{}", stdout(&out));
    let out = aae(dir.path(), &["credits", "grant", "bo@example.com", "-1"], &[]);
    assert!(!out.status.success());
    let out = aae(dir.path(), &["credits", "show", "bo@example.com", "--json"], &[]);
    let balance: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (balance["available"].as_f64(), balance["user_id"].as_str()),
        (Some(12.5), Some(id.to_string().as_str()))
    );

    let out =
        aae(dir.path(), &["keys", "create", "bo@example.com", "--name", "ci", "--models", "claude-4.5-sonnet"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let key = stdout(&out).trim().to_owned();
    assert!(key.starts_with("aae-sk-") && !key.contains(char::is_whitespace), "prints only the key: {key}");
    let out = aae(dir.path(), &["keys", "create", "bo@example.com", "--models", "nope"], &[]);
    assert!(!out.status.success() && stderr(&out).contains("nope"), "{}", stderr(&out));
    let records = aae_store::open(&aae_config::DatabaseConfig::default(), dir.path()).await.unwrap();
    let stored = records.api_keys.find_by_hash(&aae_server::auth::keys::key_hash(&key)).await.unwrap();
    assert_eq!((stored.user_id, stored.name.as_str()), (id, "ci"));
    assert_eq!(stored.allowed_models, vec!["claude-4.5-sonnet".to_owned()]);
    let out = aae(dir.path(), &["keys", "list", "bo@example.com", "--json"], &[]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["id"], stored.id.to_string());
    assert!(!stdout(&out).contains(&key), "the secret is never listed");
    let out = aae(dir.path(), &["keys", "revoke", "bo@example.com", &stored.id.to_string()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(records.api_keys.find_by_hash(&aae_server::auth::keys::key_hash(&key)).await.unwrap().revoked_at.is_some());
    let out = aae(dir.path(), &["keys", "create", "nobody@example.com"], &[]);
    assert!(stderr(&out).contains("aae users create nobody@example.com"), "{}", stderr(&out));
    records.close().await;
}
