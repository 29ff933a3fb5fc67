//! `aae mcp serve` as a child process spoken to over stdio by AAE's own MCP client
//! ([`aae_agents::mcp::connect`]): the platform tools are listed and called, the PNGs land in
//! the local storage under the data dir, and invalid arguments come back as the tool's error.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aae_agents::mcp::connect;
use aae_agents::{EventSink, RunContext, ToolError};
use aae_config::{Config, ConfigSources, McpServerConfig};
use aae_models::{CallContext, ModelRouter};
use serde_json::json;

const ID: &str = "campaign_20250103_100000_000003";

fn find(dir: &Path, suffix: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find(&path, suffix) {
                return Some(found);
            }
        } else if path.to_string_lossy().ends_with(suffix) {
            return Some(path);
        }
    }
    None
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    (be(16), be(20))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aae_mcp_serve_offers_the_platform_tools_over_stdio() {
    let dir = tempfile::tempdir().expect("tempdir");
    let brief = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/briefs/coffee_subscription.toml");
    let server = McpServerConfig {
        name: "aae".into(),
        command: env!("CARGO_BIN_EXE_aae").into(),
        args: ["mcp", "serve", "--brief", brief, "--campaign-id", ID].map(str::to_owned).to_vec(),
        env: [
            ("AAE__DATA_DIR", dir.path().to_string_lossy().into_owned()),
            ("AAE__LOG__LEVEL", "warn".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into_iter()
        .collect(),
        ..Default::default()
    };
    let connection = connect(&server, Duration::from_secs(60)).await.expect("connect to aae mcp serve");
    let tools = connection.tools();
    let names: Vec<&str> = tools.iter().map(|t| t.name()).collect();
    assert_eq!(
        names,
        [
            "aae__render_ad_creatives",
            "aae__generate_image",
            "aae__generate_video",
            "aae__create_landing_page",
            "aae__create_pdf_report",
            "aae__save_campaign"
        ]
    );

    let config = Config::load(&ConfigSources { ignore_env: true, ..Default::default() }).expect("config");
    let router = ModelRouter::new(&config).expect("router");
    let context = RunContext::new(Arc::new(router), CallContext::default(), EventSink::default());
    let args = json!({
        "headline": "Fresh beans, every fortnight",
        "body": "Single-origin coffee roasted to order and shipped within 48 hours.",
        "call_to_action": "Start my subscription",
        "sizes": ["square_1080x1080", "mobile_banner_320x50"]
    });
    let output = tools[0].call(&context, args.clone()).await.expect("render_ad_creatives");
    let keys: Vec<&str> =
        output["creatives"].as_array().expect("creatives").iter().filter_map(|c| c["key"].as_str()).collect();
    assert_eq!(
        keys,
        [
            format!("campaigns/{ID}/creatives/square_1080x1080.png"),
            format!("campaigns/{ID}/creatives/mobile_banner_320x50.png")
        ]
    );
    for (key, size) in keys.iter().zip([(1080, 1080), (320, 50)]) {
        let path = find(dir.path(), key).unwrap_or_else(|| panic!("{key} is not under {}", dir.path().display()));
        assert_eq!(png_size(&std::fs::read(&path).expect("read png")), size, "{key}");
    }

    let mut bad = args;
    bad.as_object_mut().expect("object").remove("body");
    let error = tools[0].call(&context, bad).await.expect_err("missing body");
    assert!(matches!(&error, ToolError::Failed(m) if m.contains("mcp server aae") && m.contains("body")), "{error}");
}
