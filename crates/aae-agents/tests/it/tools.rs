//! The platform tools on an in-memory storage service: what each stores, where, and what the
//! stored artifacts contain; then an agent driving them all with a scripted model.

use std::path::Path;
use std::sync::Arc;

use aae_agents::tools::{
    AssetKind, CampaignMetadata, CampaignWorkspace, CreateLandingPage, CreatePdfReport, GenerateImage, GenerateVideo,
    RENDERER, RenderAdCreatives, SaveCampaign, WorkflowState, load_brief, platform_tools,
};
use aae_agents::{Agent, AgentEvent, Tool, ToolError};
use aae_config::{Config, ConfigSources};
use aae_creative::CreativeSize;
use aae_models::Message;
use aae_storage::StorageService;
use aae_types::{BucketPurpose, CampaignBrief};
use serde_json::{Value, json};

use super::{World, calls, text, world};

const ID: &str = "campaign_20250101_120000_000001";
const STRATEGY: &str = "Lead with freshness: every bag is roasted to order and shipped within two days.";

struct Campaign {
    world: World,
    storage: Arc<StorageService>,
    workspace: Arc<CampaignWorkspace>,
    _dir: tempfile::TempDir,
}

/// An in-memory storage service (its data dir in the returned temporary directory).
pub(crate) async fn memory_storage() -> (Arc<StorageService>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let sources = ConfigSources { ignore_env: true, ..Default::default() }
        .set("storage.backend", "memory")
        .set("data_dir", dir.path().to_str().unwrap());
    let config = Config::load(&sources).unwrap();
    (Arc::new(StorageService::from_config(&config).await.unwrap()), dir)
}

/// `examples/briefs/coffee_subscription.toml`.
pub(crate) fn coffee_brief() -> CampaignBrief {
    CampaignBrief::from_toml(include_str!("../../../../examples/briefs/coffee_subscription.toml")).unwrap()
}

async fn campaign() -> Campaign {
    let (storage, dir) = memory_storage().await;
    let workspace = Arc::new(CampaignWorkspace::new(ID, storage.clone(), coffee_brief()).unwrap());
    Campaign { world: world(), storage, workspace, _dir: dir }
}

impl Campaign {
    async fn get(&self, key: &str) -> Vec<u8> {
        let (_, bytes) = self.storage.download_bytes(BucketPurpose::CampaignOutputs, key).await.unwrap();
        bytes.to_vec()
    }

    async fn exists(&self, key: &str) -> bool {
        self.storage.exists(BucketPurpose::CampaignOutputs, key).await.unwrap()
    }

    async fn render(&self, sizes: Option<&[&str]>) -> Value {
        let mut args = creative_args();
        if let Some(sizes) = sizes {
            args["sizes"] = json!(sizes);
        }
        RenderAdCreatives::new(self.workspace.clone()).call(&self.world.context, args).await.unwrap()
    }

    async fn landing_page(&self) -> Value {
        CreateLandingPage::new(self.workspace.clone()).call(&self.world.context, landing_args()).await.unwrap()
    }

    async fn report(&self) -> Value {
        CreatePdfReport::new(self.workspace.clone()).call(&self.world.context, report_args()).await.unwrap()
    }
}

fn creative_args() -> Value {
    json!({
        "headline": "Fresh beans, every fortnight",
        "body": "Single-origin coffee roasted to order and shipped within 48 hours.",
        "call_to_action": "Start my subscription"
    })
}

pub(crate) fn landing_args() -> Value {
    json!({
        "headline": "Coffee this fresh only comes by post",
        "subheadline": "Single-origin beans, roasted to order, at your door every two weeks.",
        "value_propositions": [
            {"title": "Roasted to order", "text": "Beans leave the roastery within 48 hours."},
            {"title": "Pause any time", "text": "Skip, pause or cancel from your account."}
        ],
        "call_to_action": {"label": "Start my subscription", "url": "https://example.com/subscribe"},
        "lang": "en"
    })
}

pub(crate) fn report_args() -> Value {
    json!({
        "audience_insights": "Home brewers own a grinder and care about roast dates.\n\nMost buy premium beans in supermarkets.",
        "market_insights": "Subscriptions grew 18 % last year in the UK speciality market.",
        "strategy": format!("{STRATEGY}\n\nRetarget site visitors with the square creative."),
        "kpis": [
            {"name": "Subscriptions", "target": "1,200", "measurement": "Shop back end"},
            {"name": "Cost per acquisition", "target": "under 18 GBP", "measurement": "Ad platforms"}
        ],
        "budget_split": [
            {"channel": "instagram", "share_percent": 40},
            {"channel": "facebook", "share_percent": 20},
            {"channel": "search", "share_percent": 30},
            {"channel": "email", "share_percent": 10}
        ]
    })
}

fn creative_key(name: &str) -> String {
    format!("campaigns/{ID}/creatives/{name}.png")
}

#[tokio::test]
async fn render_ad_creatives_stores_every_standard_size_at_its_key() {
    let c = campaign().await;
    let out = c.render(None).await;
    let listed = out["creatives"].as_array().unwrap();
    assert_eq!(listed.len(), CreativeSize::ALL.len());
    for (size, entry) in CreativeSize::ALL.iter().zip(listed) {
        let key = creative_key(size.name());
        assert_eq!(entry["key"], json!(key));
        assert_eq!(
            (entry["width"].as_u64(), entry["height"].as_u64()),
            (Some(size.width().into()), Some(size.height().into()))
        );
        assert!(entry["contrast_min"].as_f64().unwrap() >= 4.5, "{entry}");
        let (info, bytes) = c.storage.download_bytes(BucketPurpose::CampaignOutputs, &key).await.unwrap();
        assert_eq!(info.content_type.as_deref(), Some("image/png"));
        let png = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).unwrap();
        assert_eq!((png.width(), png.height()), size.dimensions(), "{key}");
    }
    let state = c.workspace.state();
    assert_eq!(state.creatives.len(), 7);
    assert_eq!(state.provenance.len(), 7);
    assert!(state.provenance.iter().all(|p| p.kind == AssetKind::Creative && p.model == RENDERER));
    assert_eq!(state.provenance[0].inputs["brand_colors"], json!(["#3b2418", "#e8a33d", "#f6efe6"]));

    // Rendering again replaces rather than duplicates; unknown sizes are named.
    c.render(Some(&["square_1080x1080"])).await;
    assert_eq!(c.workspace.state().creatives.len(), 7);
    assert_eq!(c.workspace.state().provenance.len(), 7);
    let mut args = creative_args();
    args["sizes"] = json!(["square_1080x1080", "billboard"]);
    let error = RenderAdCreatives::new(c.workspace.clone()).call(&c.world.context, args).await.unwrap_err();
    let ToolError::InvalidArguments(message) = error else { panic!("{error}") };
    assert!(message.starts_with("sizes[1]: unknown size \"billboard\"; sizes: square_1080x1080, story_1080x1920"));
    // No background image was generated yet.
    let mut args = creative_args();
    args["use_background_image"] = json!(true);
    let error = RenderAdCreatives::new(c.workspace.clone()).call(&c.world.context, args).await.unwrap_err();
    assert!(matches!(&error, ToolError::InvalidArguments(m) if m.starts_with("use_background_image")), "{error}");
}

#[tokio::test]
async fn create_landing_page_shows_the_headline_and_every_creative_with_alt_text() {
    let c = campaign().await;
    c.render(Some(&["square_1080x1080", "medium_rectangle_300x250"])).await;
    let out = c.landing_page().await;
    let key = format!("campaigns/{ID}/website/index.html");
    assert_eq!((out["key"].as_str(), out["creatives"].as_u64()), (Some(key.as_str()), Some(2)));
    let html = String::from_utf8(c.get(&key).await).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"), "{}", &html[..40]);
    assert!(html.contains("<html lang=\"en\""));
    assert!(html.contains("Coffee this fresh only comes by post"));
    assert!(html.contains("https://example.com/subscribe"));
    assert_eq!(html.matches("<img ").count(), 2);
    for name in ["square_1080x1080", "medium_rectangle_300x250"] {
        let tag_start = html.find(&format!("<img src=\"../creatives/{name}.png\"")).unwrap_or_else(|| panic!("{name}"));
        let tag = &html[tag_start..tag_start + html[tag_start..].find('>').unwrap()];
        assert!(tag.contains("alt=\"Ember &amp; Oak coffee subscription: autumn push ad, "), "{tag}");
    }
    let provenance = c.workspace.state().provenance;
    let page = provenance.iter().find(|p| p.asset_key == key).unwrap();
    assert_eq!((page.kind, page.model.as_str()), (AssetKind::LandingPage, RENDERER));
    assert_eq!(page.inputs["headline"], json!("Coffee this fresh only comes by post"));

    let mut bad = landing_args();
    bad["lang"] = json!("english please");
    let error = CreateLandingPage::new(c.workspace.clone()).call(&c.world.context, bad).await.unwrap_err();
    assert!(matches!(&error, ToolError::InvalidArguments(m) if m.starts_with("lang is")), "{error}");
}

#[tokio::test]
async fn create_pdf_report_stores_a_pdf_whose_text_names_the_campaign_and_strategy() {
    let c = campaign().await;
    c.render(Some(&["square_1080x1080", "leaderboard_728x90"])).await;
    let out = c.report().await;
    let key = format!("campaigns/{ID}/pdf/campaign_report.pdf");
    assert_eq!(out["key"], json!(key));
    assert_eq!(out["creatives"], json!(2));
    let amounts: Vec<&str> = out["budget"].as_array().unwrap().iter().map(|l| l["amount"].as_str().unwrap()).collect();
    assert_eq!(amounts, ["6000.00", "3000.00", "4500.00", "1500.00"], "15,000 GBP split 40/20/30/10");
    let pdf = c.get(&key).await;
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdftotext(&pdf);
    assert!(text.contains("Ember & Oak coffee subscription: autumn push"), "{text}");
    assert!(text.contains(STRATEGY), "{text}");
    assert!(text.contains("6,000.00"), "{text}");
    let state = c.workspace.state();
    assert_eq!(state.report.as_deref(), Some(key.as_str()));
    assert_eq!(state.strategy.len(), 2);
    assert_eq!(state.insights.len(), 3);
}

/// The PDF's text with whitespace runs collapsed, so wrapped lines read as one.
fn pdftotext(pdf: &[u8]) -> String {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), pdf).unwrap();
    let out = std::process::Command::new("pdftotext").arg(file.path()).arg("-").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn a_budget_split_that_does_not_add_up_is_refused_naming_the_field() {
    let c = campaign().await;
    let mut args = report_args();
    args["budget_split"][0]["share_percent"] = json!(30);
    let error = CreatePdfReport::new(c.workspace.clone()).call(&c.world.context, args).await.unwrap_err();
    assert_eq!(
        error,
        ToolError::InvalidArguments(
            "budget_split: the shares add up to 90.0 %, they must add up to 100 % (±0.5)".into()
        )
    );
    assert!(!c.exists(&format!("campaigns/{ID}/pdf/campaign_report.pdf")).await);
    let mut args = report_args();
    args["kpis"][0] = json!({"name": "Subscriptions"});
    let error = CreatePdfReport::new(c.workspace.clone()).call(&c.world.context, args).await.unwrap_err();
    assert!(matches!(&error, ToolError::InvalidArguments(m) if m.contains("missing field `target`")), "{error}");
}

#[tokio::test]
async fn save_campaign_writes_state_and_metadata_listing_every_asset_with_provenance() {
    let c = campaign().await;
    c.render(Some(&["square_1080x1080", "mobile_banner_320x50"])).await;
    c.landing_page().await;
    c.report().await;
    let save = SaveCampaign::new(c.workspace.clone());
    let out =
        save.call(&c.world.context, json!({"summary": "Autumn push: two creatives, page, report."})).await.unwrap();
    let state_key = format!("campaigns/{ID}/artifacts/workflow_state.json");
    let metadata_key = format!("campaigns/{ID}/metadata/campaign_metadata.json");
    assert_eq!((out["workflow_state"]["key"].as_str(), out["assets"].as_u64()), (Some(state_key.as_str()), Some(4)));

    let state_json: Value = serde_json::from_slice(&c.get(&state_key).await).unwrap();
    let metadata_json: Value = serde_json::from_slice(&c.get(&metadata_key).await).unwrap();
    let state: WorkflowState = serde_json::from_value(state_json.clone()).unwrap();
    let metadata: CampaignMetadata = serde_json::from_value(metadata_json.clone()).unwrap();
    assert_eq!(serde_json::to_value(&state).unwrap(), state_json, "the workflow state round-trips");
    assert_eq!(serde_json::to_value(&metadata).unwrap(), metadata_json, "the metadata round-trips");

    let tools: Vec<&str> = state.state.steps.iter().map(|s| s.tool.as_str()).collect();
    assert_eq!(tools, ["render_ad_creatives", "create_landing_page", "create_pdf_report", "save_campaign"]);
    assert_eq!(metadata.brief, *c.workspace.brief());
    assert_eq!(metadata.campaign_id, ID);
    let website = format!("campaigns/{ID}/website/index.html");
    let pdf = format!("campaigns/{ID}/pdf/campaign_report.pdf");
    assert_eq!(metadata.artifacts.website.as_deref(), Some(website.as_str()));
    assert_eq!(metadata.artifacts.pdf.as_deref(), Some(pdf.as_str()));
    assert_eq!(metadata.artifacts.workflow_state, state_key);
    let creatives = [creative_key("square_1080x1080"), creative_key("mobile_banner_320x50")];
    assert_eq!(metadata.artifacts.creatives, creatives);
    for key in creatives.iter().chain([&website, &pdf]) {
        assert!(c.exists(key).await, "{key}");
        for assets in [&metadata.assets, &state.state.provenance] {
            let record = assets.iter().find(|p| &p.asset_key == key).unwrap_or_else(|| panic!("{key}"));
            assert_eq!((record.model.as_str(), record.cost_micros), (RENDERER, 0));
        }
    }
    assert_eq!(metadata.total_cost_micros, 0);
    assert!(metadata.updated_at >= metadata.created_at);
    assert_eq!(state.state.summary.as_deref(), Some("Autumn push: two creatives, page, report."));
}

#[tokio::test]
async fn generation_without_sagemaker_fails_naming_the_provider() {
    let c = campaign().await;
    let error = GenerateImage::new(c.workspace.clone())
        .call(&c.world.context, json!({"prompt": "A steaming cup of coffee on an oak table", "seed": 7}))
        .await
        .unwrap_err();
    let ToolError::Failed(message) = &error else { panic!("{error:?}") };
    assert!(message.starts_with("image generation is not available ("), "{message}");
    assert!(message.contains("sagemaker"), "{message}");
    assert!(message.contains("providers.sagemaker.qwen_image_endpoint"), "{message}");
    let error = GenerateVideo::new(c.workspace.clone())
        .call(&c.world.context, json!({"prompt": "Beans pouring into a grinder"}))
        .await
        .unwrap_err();
    assert!(matches!(&error, ToolError::Failed(m) if m.contains("sagemaker")), "{error:?}");
    let state = c.workspace.state();
    assert!(state.creatives.is_empty() && state.media.is_empty() && state.provenance.is_empty());
}

#[tokio::test]
async fn an_agent_produces_all_four_artifacts_through_the_platform_tools() {
    let c = campaign().await;
    let mut render = creative_args();
    render["sizes"] = json!(["square_1080x1080", "landscape_1200x628", "mobile_banner_320x50"]);
    c.world.model.script(
        "campaign",
        [
            calls(&[("t1", "render_ad_creatives", render)]),
            calls(&[("t2", "create_landing_page", landing_args())]),
            calls(&[("t3", "create_pdf_report", report_args())]),
            calls(&[("t4", "save_campaign", json!({"summary": "Creatives, page and report are ready."}))]),
            text("The campaign is ready."),
        ],
    );
    let agent = Agent::new("campaign_automation_agent", "campaign: you turn briefs into stored campaign artifacts.")
        .with_tools(platform_tools(&c.workspace));
    let out = agent.run(&c.world.context, vec![Message::user("Produce the autumn push.")]).await.unwrap();
    assert_eq!((out.answer.as_str(), out.turns), ("The campaign is ready.", 5));

    let events = c.world.events.lock().unwrap().clone();
    let results: Vec<(&str, bool)> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::ToolResult { name, is_error, .. } => Some((name.as_str(), *is_error)),
            _ => None,
        })
        .collect();
    assert_eq!(
        results,
        [
            ("render_ad_creatives", false),
            ("create_landing_page", false),
            ("create_pdf_report", false),
            ("save_campaign", false)
        ]
    );
    for path in [
        "website/index.html",
        "pdf/campaign_report.pdf",
        "artifacts/workflow_state.json",
        "metadata/campaign_metadata.json",
        "creatives/square_1080x1080.png",
        "creatives/landscape_1200x628.png",
        "creatives/mobile_banner_320x50.png",
    ] {
        assert!(c.exists(&format!("campaigns/{ID}/{path}")).await, "{path}");
    }
}

#[test]
fn brief_files_are_read_by_their_extension() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/briefs");
    for file in ["coffee_subscription.toml", "fitness_app_launch.toml", "eco_sneakers.json"] {
        load_brief(&examples.join(file)).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("brief.yaml");
    std::fs::write(&yaml, "name: x").unwrap();
    let error = load_brief(&yaml).unwrap_err().to_string();
    assert!(error.ends_with("brief.yaml: a brief file must end in .toml or .json"), "{error}");
    let missing = dir.path().join("missing.toml");
    let error = load_brief(&missing).unwrap_err().to_string();
    assert!(error.starts_with("cannot read the brief ") && error.contains("missing.toml"), "{error}");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"name": "x", "colour": "red"}"#).unwrap();
    assert!(load_brief(&bad).unwrap_err().to_string().starts_with("unknown key `colour`"));
}

#[tokio::test]
async fn the_orchestrator_runs_a_campaign_through_all_three_specialists() {
    use aae_agents::orchestrator::{campaign_orchestrator, campaign_request};
    let c = campaign().await;
    let mut render = creative_args();
    render["sizes"] = json!(["square_1080x1080", "story_1080x1920", "mobile_banner_320x50"]);
    let model = &c.world.model;
    model.script(
        "Orchestrator",
        [
            calls(&[(
                "o1",
                "market_insights_agent",
                json!({"query": "Audience and market for the coffee subscription"}),
            )]),
            calls(&[(
                "o2",
                "ad_creative_agent",
                json!({"query": "Creatives for home brewers who care about freshness"}),
            )]),
            calls(&[("o3", "campaign_automation_agent", json!({"query": "Publish the page and report, then save"}))]),
            text("Campaign ready: creatives, landing page, report and state are stored."),
        ],
    );
    model.script(
        "Insights",
        [calls(&[("i1", "read_brief", json!({}))]), text("Home brewers, 28-45, buy premium beans in supermarkets.")],
    );
    model.script(
        "Creative",
        [
            calls(&[("c1", "read_brief", json!({}))]),
            calls(&[("c2", "render_ad_creatives", render)]),
            text("Headline: Fresh beans, every fortnight. Three sizes rendered."),
        ],
    );
    model.script(
        "Automation",
        [
            calls(&[("a1", "create_landing_page", landing_args())]),
            calls(&[("a2", "create_pdf_report", report_args())]),
            calls(&[("a3", "save_campaign", json!({"summary": "Everything is stored."}))]),
            text("Stored the page, the report and the campaign state."),
        ],
    );
    let orchestrator = campaign_orchestrator(&c.workspace);
    let input = vec![Message::user(campaign_request(&c.workspace))];
    let out = orchestrator.run(&c.world.context, input).await.unwrap();
    assert_eq!(out.answer, "Campaign ready: creatives, landing page, report and state are stored.");
    assert_eq!(out.turns, 4);

    // The specialists saw the brief through read_brief, not the orchestrator's retelling.
    let insights = c.world.model.requests_of("Insights");
    let Some(Message::Tool { content, .. }) = insights[1].messages.last() else { panic!("a tool result") };
    assert!(content.contains("\"name\":") && content.contains("coffee"), "{content}");
    // The orchestrator's first message carries the whole brief.
    let first = &c.world.model.requests_of("Orchestrator")[0].messages[1];
    assert!(matches!(first, Message::User { content } if content.contains("\"budget\"")), "{first:?}");

    for path in [
        "website/index.html",
        "pdf/campaign_report.pdf",
        "artifacts/workflow_state.json",
        "metadata/campaign_metadata.json",
        "creatives/square_1080x1080.png",
        "creatives/story_1080x1920.png",
        "creatives/mobile_banner_320x50.png",
    ] {
        assert!(c.exists(&format!("campaigns/{ID}/{path}")).await, "{path}");
    }
    let events = c.world.events.lock().unwrap().clone();
    let finished: Vec<(&str, u32)> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::AgentFinished { agent, depth, .. } => Some((agent.as_str(), *depth)),
            _ => None,
        })
        .collect();
    assert_eq!(
        finished,
        [
            ("market_insights_agent", 1),
            ("ad_creative_agent", 1),
            ("campaign_automation_agent", 1),
            ("campaign_orchestrator", 0)
        ]
    );
}
