//! MCP both ways, over real transports: an rmcp client against [`ToolServer`] serving the platform
//! tools (in-process duplex stream and streamable HTTP on 127.0.0.1:0), and [`McpTool`]s of a
//! connected server offered to an agent driven by the scripted model.

use std::sync::Arc;
use std::time::Duration;

use aae_agents::mcp::{McpClients, McpError, ToolServer, connect};
use aae_agents::tools::{CampaignWorkspace, platform_tools};
use aae_agents::{Agent, ToolError};
use aae_config::{Config, ConfigSources, McpConfig, McpServerConfig};
use aae_creative::CreativeSize;
use aae_models::Message;
use aae_storage::StorageService;
use aae_types::{BucketPurpose, CampaignBrief};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{World, calls, text, world};

const ID: &str = "campaign_20250102_090000_000002";

struct Fixture {
    world: World,
    storage: Arc<StorageService>,
    server: ToolServer,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let sources = ConfigSources { ignore_env: true, ..Default::default() }
        .set("storage.backend", "memory")
        .set("data_dir", dir.path().to_str().unwrap());
    let config = Config::load(&sources).unwrap();
    let storage = Arc::new(StorageService::from_config(&config).await.unwrap());
    let brief = CampaignBrief::from_toml(include_str!("../../../../examples/briefs/coffee_subscription.toml")).unwrap();
    let workspace = Arc::new(CampaignWorkspace::new(ID, storage.clone(), brief).unwrap());
    let world = world();
    let server = ToolServer::new("aae", platform_tools(&workspace), world.context.clone()).unwrap();
    Fixture { world, storage, server, _dir: dir }
}

fn object(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn creative_args(sizes: &[&str]) -> Value {
    json!({
        "headline": "Fresh beans, every fortnight",
        "body": "Single-origin coffee roasted to order and shipped within 48 hours.",
        "call_to_action": "Start my subscription",
        "sizes": sizes,
    })
}

impl Fixture {
    /// Checks the PNG at `campaigns/{ID}/creatives/{size}.png` has the size's dimensions.
    async fn assert_png(&self, size: &str) {
        let key = format!("campaigns/{ID}/creatives/{size}.png");
        let (_, bytes) = self.storage.download_bytes(BucketPurpose::CampaignOutputs, &key).await.unwrap();
        let png = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).unwrap();
        let expected = CreativeSize::ALL.iter().find(|s| s.name() == size).unwrap().dimensions();
        assert_eq!((png.width(), png.height()), expected, "{key}");
    }
}

#[tokio::test]
async fn an_mcp_client_lists_and_calls_the_platform_tools_over_a_stream() {
    let f = fixture().await;
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    let server = f.server.clone();
    tokio::spawn(async move { server.serve(server_io).await.unwrap().waiting().await });
    let client = ().serve(client_io).await.unwrap();

    let info = client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().map(|i| i.name.as_str()), Some("aae"));
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "render_ad_creatives",
            "generate_image",
            "generate_video",
            "create_landing_page",
            "create_pdf_report",
            "save_campaign"
        ]
    );
    let render = &tools[0];
    assert_eq!(render.input_schema.get("type"), Some(&json!("object")));
    assert!(render.input_schema["properties"].get("headline").is_some());

    let sizes = ["square_1080x1080", "leaderboard_728x90"];
    let params = CallToolRequestParams::new("render_ad_creatives").with_arguments(object(creative_args(&sizes)));
    let result = client.call_tool(params).await.unwrap();
    assert_eq!(result.is_error, Some(false), "{result:?}");
    let output = result.structured_content.expect("structured content");
    let keys: Vec<&str> = output["creatives"].as_array().unwrap().iter().map(|c| c["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        sizes.map(|s| format!("campaigns/{ID}/creatives/{s}.png")).iter().map(String::as_str).collect::<Vec<_>>()
    );
    // The text content carries the same JSON, for clients that ignore structured content.
    let text: Value = serde_json::from_str(&result.content[0].as_text().unwrap().text).unwrap();
    assert_eq!(text, output);
    for size in sizes {
        f.assert_png(size).await;
    }
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn invalid_arguments_are_an_error_result_naming_the_field_and_unknown_tools_a_protocol_error() {
    let f = fixture().await;
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    let server = f.server.clone();
    tokio::spawn(async move { server.serve(server_io).await.unwrap().waiting().await });
    let client = ().serve(client_io).await.unwrap();

    let mut args = creative_args(&["square_1080x1080"]);
    args["headline"] = json!(42);
    let params = CallToolRequestParams::new("render_ad_creatives").with_arguments(object(args));
    let result = client.call_tool(params).await.unwrap();
    assert_eq!(result.is_error, Some(true));
    let message = &result.content[0].as_text().unwrap().text;
    assert!(message.contains("invalid arguments") && message.contains("arguments.headline"), "{message}");

    // A tool's own refusal is an error result too (an unknown size, checked by the tool).
    let params = CallToolRequestParams::new("render_ad_creatives")
        .with_arguments(object(creative_args(&["billboard_9000x9000"])));
    let result = client.call_tool(params).await.unwrap();
    assert_eq!(result.is_error, Some(true));
    assert!(result.content[0].as_text().unwrap().text.contains("billboard_9000x9000"));

    let error = client.call_tool(CallToolRequestParams::new("no_such_tool")).await.unwrap_err();
    assert!(error.to_string().contains("unknown tool `no_such_tool`"), "{error}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn the_tools_of_a_streamable_http_server_are_offered_to_an_agent() {
    let f = fixture().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = f.server.clone();
    let serving = tokio::spawn(async move {
        server
            .serve_http(listener, &[], async move {
                let _ = stopped.await;
            })
            .await
    });

    let config = McpConfig {
        servers: vec![McpServerConfig {
            name: "studio".into(),
            url: format!("http://{address}/mcp"),
            bearer_token: Some(SecretString::from("studio-token-123")),
            ..Default::default()
        }],
        ..Default::default()
    };
    let clients = McpClients::connect(&config).await.unwrap();
    let tools = clients.tools();
    let names: Vec<&str> = tools.iter().map(|t| t.name()).collect();
    assert!(names.contains(&"studio__render_ad_creatives") && names.len() == 6, "{names:?}");
    let render = tools.iter().find(|t| t.name() == "studio__render_ad_creatives").unwrap();
    assert!(render.description().contains("MCP server studio"));

    // The agent's own validation applies to MCP tools before any request is sent …
    let mut bad = creative_args(&["square_1080x1080"]);
    bad.as_object_mut().unwrap().remove("body");
    // … and a failing remote call comes back as the tool's error.
    let failed = render.call(&f.world.context, creative_args(&["nope_1x1"])).await.unwrap_err();
    assert!(matches!(&failed, ToolError::Failed(m) if m.contains("mcp server studio") && m.contains("nope_1x1")));

    f.world.model.script(
        "Designer",
        [
            calls(&[("m1", "studio__render_ad_creatives", bad)]),
            calls(&[("m2", "studio__render_ad_creatives", creative_args(&["medium_rectangle_300x250"]))]),
            text("Rendered the medium rectangle."),
        ],
    );
    let agent = Agent::new("designer", "Designer. Render what you are asked for.").with_tools(tools.clone());
    let out = agent.run(&f.world.context, vec![Message::user("A 300x250 creative, please.")]).await.unwrap();
    assert_eq!(out.answer, "Rendered the medium rectangle.");
    let results: Vec<&str> = out
        .messages
        .iter()
        .filter_map(|m| match m {
            Message::Tool { content, .. } => Some(content.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(results[0].contains("arguments") && results[0].contains("body"), "{}", results[0]);
    assert!(results[1].contains(&format!("campaigns/{ID}/creatives/medium_rectangle_300x250.png")), "{}", results[1]);
    f.assert_png("medium_rectangle_300x250").await;

    drop((agent, tools, clients));
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), serving).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn unreachable_servers_are_errors_naming_the_server_without_its_token() {
    // Bind then drop a listener: a local port nobody listens on.
    let port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let http = McpServerConfig {
        name: "crm".into(),
        url: format!("http://user:pw@127.0.0.1:{port}/mcp?key=abc"),
        bearer_token: Some(SecretString::from("crm-secret-token")),
        ..Default::default()
    };
    let error = connect(&http, Duration::from_secs(10)).await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(&error, McpError::Connect { server, .. } if server == "crm"));
    assert!(message.starts_with("mcp server crm: "), "{message}");
    for secret in ["crm-secret-token", "pw@", "key=abc"] {
        assert!(!message.contains(secret), "{message}");
    }

    let stdio =
        McpServerConfig { name: "files".into(), command: "/nonexistent/mcp-server".into(), ..Default::default() };
    let config = McpConfig { servers: vec![stdio], ..Default::default() };
    let message = McpClients::connect(&config).await.unwrap_err().to_string();
    assert!(message.starts_with("mcp server files: cannot start `/nonexistent/mcp-server`"), "{message}");
}
