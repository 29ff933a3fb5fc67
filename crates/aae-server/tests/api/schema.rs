//! Schemathesis (PyPI, installed by `scripts/test-servers.sh` into its own venv) against the
//! server's own `/api/v1/openapi.json`, signed in: it generates requests for every operation
//! and checks that none answers 5xx and every response matches the documented schema.

use std::process::Command;

use aae_testkit::Engine;
use serde_json::json;

use crate::helpers::{json_of, spawn_app_with};

fn schemathesis() -> std::path::PathBuf {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".to_owned());
    let tools = std::env::var("AAE_TOOLS_DIR").unwrap_or_else(|_| format!("{home}/.cache/aae-tools"));
    let venv = format!("{tools}/schemathesis-venv");
    std::path::Path::new(&venv).join("bin/schemathesis")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let binary = schemathesis();
    assert!(binary.exists(), "{} is missing; run scripts/test-servers.sh", binary.display());
    // Generous limits: the fuzzer sends many requests.
    let app = spawn_app_with(Engine::Sqlite, vec![("rate_limits.enabled", "false".to_owned())]).await;
    let admin = app.admin("fuzz").await;
    // Something to find: a campaign and a conversation.
    json_of(app.post(&admin, "/api/v1/conversations", json!({"title": "t"})).await, 201).await;
    let url = app.url("/api/v1/openapi.json");
    let token = admin.token.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(binary)
            .args([
                "run",
                &url,
                "--checks",
                "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
            ])
            .args([
                "--max-examples",
                "15",
                // The same cases every run: a CI failure reproduces.
                "--generation-deterministic",
                "--phases",
                "examples,coverage,fuzzing",
                "--exclude-path-regex",
                "/messages$|/events$|^/metrics$|/auth/logout$|/auth/refresh$",
                "--header",
            ])
            .arg(format!("Authorization: Bearer {token}"))
            .env("SCHEMATHESIS_HOOKS", "")
            .output()
    })
    .await
    .expect("join")
    .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "schemathesis failed:\n{stdout}\n{stderr}");
}
