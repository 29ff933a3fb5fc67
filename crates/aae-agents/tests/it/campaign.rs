//! The campaign pipeline end to end on in-memory storage with the scripted model: the
//! orchestrator driving all three specialists, steps it skips run by the pipeline, a step asked
//! for twice run once, every artifact from cooperative specialists, every artifact from
//! specialists that make none (the fallbacks), and a failed campaign resumed from its checkpoint
//! without redoing finished steps.

use std::sync::{Arc, Mutex};

use aae_agents::AgentEvent;
use aae_agents::campaign::{CampaignError, CampaignPipeline, StepStatus, load_checkpoint};
use aae_agents::tools::{CampaignMetadata, CampaignWorkspace};
use aae_storage::StorageService;
use aae_types::{BucketPurpose, CampaignBrief};
use serde_json::json;

use super::tools::{coffee_brief, landing_args, memory_storage, report_args};
use super::{calls, text, world};

const ID: &str = "campaign_20250102_090000_000002";

struct Setup {
    storage: Arc<StorageService>,
    brief: CampaignBrief,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let (storage, dir) = memory_storage().await;
    Setup { storage, brief: coffee_brief(), _dir: dir }
}

impl Setup {
    fn workspace(&self) -> Arc<CampaignWorkspace> {
        Arc::new(CampaignWorkspace::new(ID, self.storage.clone(), self.brief.clone()).unwrap())
    }

    async fn exists(&self, path: &str) -> bool {
        self.storage.exists(BucketPurpose::CampaignOutputs, &format!("campaigns/{ID}/{path}")).await.unwrap()
    }

    async fn metadata(&self) -> CampaignMetadata {
        let key = format!("campaigns/{ID}/metadata/campaign_metadata.json");
        let (_, bytes) = self.storage.download_bytes(BucketPurpose::CampaignOutputs, &key).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }
}

const ARTIFACTS: [&str; 5] = [
    "website/index.html",
    "pdf/campaign_report.pdf",
    "artifacts/workflow_state.json",
    "metadata/campaign_metadata.json",
    "creatives/square_1080x1080.png",
];

#[tokio::test]
async fn cooperative_specialists_produce_every_artifact_and_the_record_of_their_work() {
    let s = setup().await;
    let w = world();
    cooperative_specialists(&w);
    let progress = Arc::new(Mutex::new(Vec::new()));
    let seen = progress.clone();
    let pipeline = CampaignPipeline::new(s.workspace())
        .orchestrated(false)
        .on_progress(move |e| seen.lock().unwrap().push(e.clone()));
    let outcome = pipeline.run(&w.context).await.unwrap();

    for path in ARTIFACTS {
        assert!(s.exists(path).await, "{path}");
    }
    assert_eq!(outcome.state.creatives.len(), 7, "every standard size");
    // The insights step stored the specialist's paragraphs; the report then stored its own.
    assert_eq!(outcome.interactions[0].answer, "Home brewers aged 28-45.\n\nSubscriptions grew 18 % last year.");
    assert!(outcome.state.insights[0].starts_with("Home brewers own a grinder"), "{:?}", outcome.state.insights);
    assert_eq!(outcome.state.completed_steps, vec!["market_insights", "ad_creatives", "publish", "save"]);
    let urls = &outcome.urls;
    for url in [&urls.website_url, &urls.pdf_url, &urls.workflow_state_url, &urls.metadata_url] {
        assert!(url.as_deref().is_some_and(|u| u.contains(ID)), "{urls:?}");
    }
    assert!(outcome.resumed_from.is_none());

    let agents: Vec<&str> = outcome.interactions.iter().map(|i| i.agent.as_str()).collect();
    assert_eq!(agents, ["market_insights_agent", "ad_creative_agent", "campaign_automation_agent"]);
    assert!(outcome.interactions.iter().all(|i| i.fallback.is_none() && i.error.is_none()));
    let automation = &outcome.interactions[2];
    let tools: Vec<&str> = automation.tool_calls.iter().map(|c| c.tool.as_str()).collect();
    assert_eq!(tools, ["create_landing_page", "create_pdf_report"]);
    assert!(automation.tool_calls.iter().all(|c| !c.is_error && c.attempts == 1));
    assert_eq!((automation.input_tokens, automation.output_tokens), (200, 30));

    let log = progress.lock().unwrap().clone();
    assert_eq!(log, outcome.progress, "the callback saw every entry");
    let statuses: Vec<(&str, StepStatus)> = log.iter().map(|e| (e.step.as_str(), e.status)).collect();
    assert_eq!(statuses.len(), 8);
    assert_eq!(statuses[7], ("save", StepStatus::Completed));
    assert!(log.windows(2).all(|p| p[0].percent <= p[1].percent), "progress never goes back");
    assert_eq!(log[7].percent, 100.0);
    let metadata = s.metadata().await;
    assert_eq!(metadata.artifacts.creatives.len(), 7);
    assert!(metadata.summary.contains("coffee") || metadata.summary.contains("Coffee"), "{}", metadata.summary);
}

#[tokio::test]
async fn specialists_that_make_nothing_still_leave_every_artifact() {
    let s = setup().await;
    let w = world();
    // Every specialist just talks; the constrained-JSON fallback answers for the creatives and
    // answers garbage for the landing page, so its content comes from the brief.
    w.model.script("Insights", [text("")]);
    w.model.script("Creative", [text("I would write something punchy.")]);
    // The automation agent's reply cannot be completed: the step goes on with its fallbacks.
    w.model.script("Automation", [text(super::INVALID_RESPONSE)]);
    w.model.script(
        "",
        [
            text(r#"{"headline": "Fresh beans by post", "body": "Roasted to order, every fortnight.", "call_to_action": "Subscribe"}"#),
            text("not json"),
        ],
    );
    let outcome = CampaignPipeline::new(s.workspace()).orchestrated(false).run(&w.context).await.unwrap();
    for path in ARTIFACTS {
        assert!(s.exists(path).await, "{path}");
    }
    let fallbacks: Vec<String> = outcome.interactions.iter().map(|i| i.fallback.clone().unwrap_or_default()).collect();
    assert!(fallbacks[0].contains("from the brief"), "{fallbacks:?}");
    assert!(fallbacks[1].contains("render_ad_creatives") && fallbacks[1].contains("constrained JSON"), "{fallbacks:?}");
    assert!(fallbacks[2].contains("create_landing_page") && fallbacks[2].contains("from the brief"), "{fallbacks:?}");
    assert!(fallbacks[2].contains("create_pdf_report"), "{fallbacks:?}");
    let cut_off = outcome.interactions[2].error.as_deref().unwrap_or_default();
    assert!(cut_off.contains("cut off"), "the agent's failure is recorded: {cut_off}");
    assert!(!outcome.state.insights.is_empty());
    let html = {
        let key = format!("campaigns/{ID}/website/index.html");
        let (_, bytes) = s.storage.download_bytes(BucketPurpose::CampaignOutputs, &key).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    let escaped = s.brief.name.replace('&', "&amp;");
    assert!(html.contains(&escaped), "the page's headline comes from the brief");
}

#[tokio::test]
async fn a_failed_campaign_resumes_from_the_step_that_did_not_finish() {
    let s = setup().await;
    let w = world();
    w.model.script("Insights", [text("Home brewers.\n\nA growing market.")]);
    w.model.script(
        "Creative",
        [
            calls(&[(
                "c1",
                "render_ad_creatives",
                json!({"headline": "Fresh beans", "body": "", "call_to_action": "Subscribe"}),
            )]),
            text("Rendered."),
        ],
    );
    // No script for Automation: its model call fails, so the publish step fails.
    let error = CampaignPipeline::new(s.workspace()).orchestrated(false).run(&w.context).await.unwrap_err();
    assert!(matches!(&error, CampaignError::Step { step: "publish", .. }), "{error}");
    assert!(s.exists("artifacts/workflow_state.json").await, "checkpointed after ad_creatives");
    assert!(!s.exists("website/index.html").await);

    // A new process: a fresh workspace restored from the checkpoint.
    let workspace = s.workspace();
    let state = load_checkpoint(&workspace).await.unwrap().expect("a checkpoint");
    assert_eq!(state.completed_steps, vec!["market_insights", "ad_creatives"]);
    let workspace = Arc::new(CampaignWorkspace::new(ID, s.storage.clone(), s.brief.clone()).unwrap().with_state(state));
    w.model.script(
        "Automation",
        [
            calls(&[("a1", "create_landing_page", landing_args()), ("a2", "create_pdf_report", report_args())]),
            text("Stored."),
        ],
    );
    let outcome = CampaignPipeline::new(workspace).orchestrated(false).run(&w.context).await.unwrap();
    assert_eq!(outcome.resumed_from, Some("publish"));
    assert_eq!(outcome.interactions.len(), 1, "only the publish step ran again");
    assert_eq!(w.model.requests_of("Insights").len(), 1, "insights were not asked for again");
    assert_eq!(w.model.requests_of("Creative").len(), 2);
    for path in ARTIFACTS {
        assert!(s.exists(path).await, "{path}");
    }
    let skipped = outcome.progress.iter().filter(|e| e.status == StepStatus::Skipped).count();
    assert_eq!(skipped, 2);
    assert_eq!(s.metadata().await.artifacts.creatives.len(), 7, "the first run's creatives are in the metadata");
}

#[tokio::test]
async fn a_checkpoint_of_another_campaign_is_refused() {
    let s = setup().await;
    let other = serde_json::json!({"campaign_id": "campaign_other", "saved_at": "2025-01-01T00:00:00Z", "steps": [], "creatives": [], "landing_page": null, "report": null, "provenance": [], "summary": null});
    let key = format!("campaigns/{ID}/artifacts/workflow_state.json");
    s.storage
        .upload_bytes(
            BucketPurpose::CampaignOutputs,
            &key,
            serde_json::to_vec(&other).unwrap().into(),
            &Default::default(),
        )
        .await
        .unwrap();
    let error = load_checkpoint(&s.workspace()).await.unwrap_err();
    assert!(error.to_string().contains("campaign_other"), "{error}");
}

#[tokio::test]
async fn extra_tools_such_as_mcp_servers_tools_reach_every_specialist() {
    let s = setup().await;
    let w = world();
    let guidelines = aae_agents::FnTool::new(
        "brand__guidelines",
        "The brand's voice and do-nots (an MCP server's tool).",
        json!({"type": "object", "properties": {}, "additionalProperties": false}),
        |_, _| async { Ok(json!({"voice": "warm, precise"})) },
    );
    w.model.script(
        "Insights",
        [calls(&[("g1", "brand__guidelines", json!({}))]), text("Warm, precise home brewers.\n\nA growing market.")],
    );
    w.model.script("Creative", [text("Copy written.")]);
    w.model.script("Automation", [text("Done.")]);
    let tools: Vec<Arc<dyn aae_agents::Tool>> = vec![Arc::new(guidelines)];
    let outcome =
        CampaignPipeline::new(s.workspace()).orchestrated(false).with_tools(tools).run(&w.context).await.unwrap();
    for agent in ["Insights", "Creative", "Automation"] {
        let request = &w.model.requests_of(agent)[0];
        assert!(request.tools.iter().any(|t| t.name == "brand__guidelines"), "{agent} was not offered the tool");
    }
    let call = &outcome.interactions[0].tool_calls[0];
    assert_eq!((call.tool.as_str(), call.is_error), ("brand__guidelines", false));
}

fn ask(id: &str, agent: &str, query: &str) -> (String, String, serde_json::Value) {
    (id.to_owned(), agent.to_owned(), json!({"query": query}))
}

fn orchestrator_calls(asks: &[(String, String, serde_json::Value)]) -> aae_models::ChatResponse {
    let borrowed: Vec<(&str, &str, serde_json::Value)> =
        asks.iter().map(|(id, name, args)| (id.as_str(), name.as_str(), args.clone())).collect();
    calls(&borrowed)
}

fn cooperative_specialists(w: &super::World) {
    w.model.script("Insights", [text("Home brewers aged 28-45.\n\nSubscriptions grew 18 % last year.")]);
    w.model.script(
        "Creative",
        [
            calls(&[(
                "c1",
                "render_ad_creatives",
                json!({"headline": "Fresh beans", "body": "Roasted to order.", "call_to_action": "Subscribe"}),
            )]),
            text("Rendered every size."),
        ],
    );
    w.model.script(
        "Automation",
        [
            calls(&[("a1", "create_landing_page", landing_args()), ("a2", "create_pdf_report", report_args())]),
            text("Page and report are stored."),
        ],
    );
}

#[tokio::test]
async fn the_orchestrator_drives_all_three_specialists_through_a_multi_step_campaign() {
    let s = setup().await;
    let w = world();
    cooperative_specialists(&w);
    w.model.script(
        "Orchestrator",
        [
            orchestrator_calls(&[ask("o1", "market_insights_agent", "Who buys fresh coffee by post?")]),
            orchestrator_calls(&[ask("o2", "ad_creative_agent", "Lead with freshness: roasted to order.")]),
            orchestrator_calls(&[ask("o3", "campaign_automation_agent", "Publish with a 40/35/25 split.")]),
            text("Insights, seven creatives, the landing page and the report are ready."),
        ],
    );
    let outcome = CampaignPipeline::new(s.workspace()).run(&w.context).await.unwrap();
    for path in ARTIFACTS {
        assert!(s.exists(path).await, "{path}");
    }
    assert_eq!(outcome.state.creatives.len(), 7);
    assert_eq!(outcome.state.completed_steps, vec!["market_insights", "ad_creatives", "publish", "save"]);

    // Each specialist got the brief's facts and the orchestrator's own words.
    let creative_query = &w.model.requests_of("Creative")[0].messages[1];
    let aae_models::Message::User { content } = creative_query else { panic!("a user message: {creative_query:?}") };
    assert!(content.contains("The campaign orchestrator asks: Lead with freshness"), "{content}");
    assert!(content.contains("Home brewers aged 28-45"), "the insights reached the creative step: {content}");

    // One interaction per specialist, then the orchestrator's, which saw each step's result.
    let agents: Vec<(&str, &str)> = outcome.interactions.iter().map(|i| (i.step.as_str(), i.agent.as_str())).collect();
    assert_eq!(
        agents,
        [
            ("market_insights", "market_insights_agent"),
            ("ad_creatives", "ad_creative_agent"),
            ("publish", "campaign_automation_agent"),
            ("orchestrate", "campaign_orchestrator"),
        ]
    );
    assert!(outcome.interactions.iter().all(|i| i.fallback.is_none() && i.error.is_none()));
    let orchestrator = &outcome.interactions[3];
    assert_eq!(orchestrator.turns, 4);
    assert_eq!((orchestrator.input_tokens, orchestrator.output_tokens), (400, 70), "its own calls only");
    let asked: Vec<&str> = orchestrator.tool_calls.iter().map(|c| c.tool.as_str()).collect();
    assert_eq!(asked, ["market_insights_agent", "ad_creative_agent", "campaign_automation_agent"]);
    let second_result = &w.model.requests_of("Orchestrator")[2].messages;
    let aae_models::Message::Tool { content, .. } = second_result.last().unwrap() else { panic!("a tool result") };
    let result: serde_json::Value = serde_json::from_str(content).unwrap();
    assert_eq!(result["step"], "ad_creatives");
    assert_eq!(result["produced"]["creatives"].as_array().map(Vec::len), Some(7));
    assert_eq!(result["answer"], "Rendered every size.");

    // The specialists' steps appear in the stream under their names, one level below the
    // orchestrator's.
    let events = w.events.lock().unwrap().clone();
    let depth_of = |name: &str| {
        events.iter().find_map(|e| match e {
            AgentEvent::AgentStarted { agent, depth } if agent == name => Some(*depth),
            _ => None,
        })
    };
    let orchestrator_depth = depth_of("campaign_orchestrator").unwrap();
    for agent in ["market_insights_agent", "ad_creative_agent", "campaign_automation_agent"] {
        assert_eq!(depth_of(agent), Some(orchestrator_depth + 1), "{agent}: the step tool runs it as a sub-agent");
    }
    let statuses: Vec<(&str, StepStatus)> = outcome.progress.iter().map(|e| (e.step.as_str(), e.status)).collect();
    assert_eq!(statuses.len(), 8, "{statuses:?}");
}

#[tokio::test]
async fn steps_the_orchestrator_never_asks_for_are_run_by_the_pipeline() {
    let s = setup().await;
    let w = world();
    cooperative_specialists(&w);
    // It asks for the insights only, then stops.
    w.model.script(
        "Orchestrator",
        [orchestrator_calls(&[ask("o1", "market_insights_agent", "Audience?")]), text("Done, I think.")],
    );
    let outcome = CampaignPipeline::new(s.workspace()).run(&w.context).await.unwrap();
    for path in ARTIFACTS {
        assert!(s.exists(path).await, "{path}");
    }
    let steps: Vec<&str> = outcome.interactions.iter().map(|i| i.step.as_str()).collect();
    assert_eq!(steps, ["market_insights", "orchestrate", "ad_creatives", "publish"]);
    let publish_query = &w.model.requests_of("Automation")[0].messages[1];
    let aae_models::Message::User { content } = publish_query else { panic!("a user message") };
    assert!(!content.contains("orchestrator asks"), "the pipeline asked on its own: {content}");
}

#[tokio::test]
async fn a_step_asked_for_twice_at_once_runs_once() {
    let s = setup().await;
    let w = world();
    cooperative_specialists(&w);
    w.model.script(
        "Orchestrator",
        [
            orchestrator_calls(&[
                ask("o1", "market_insights_agent", "Audience?"),
                ask("o2", "market_insights_agent", "Audience, again?"),
            ]),
            text("Done."),
        ],
    );
    let outcome = CampaignPipeline::new(s.workspace()).run(&w.context).await.unwrap();
    assert_eq!(w.model.requests_of("Insights").len(), 1, "the second call got the first one's result");
    let second = w.model.requests_of("Orchestrator")[1].messages.clone();
    let results: Vec<serde_json::Value> = second
        .iter()
        .filter_map(|m| match m {
            aae_models::Message::Tool { content, .. } => serde_json::from_str(content).ok(),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r["step"] == "market_insights" && r["status"] == "completed"), "{results:?}");
    assert_eq!(outcome.state.completed_steps, vec!["market_insights", "ad_creatives", "publish", "save"]);
}

#[tokio::test]
async fn an_orchestrated_campaign_that_fails_resumes_without_asking_again() {
    let s = setup().await;
    let w = world();
    w.model.script("Insights", [text("Home brewers.\n\nA growing market.")]);
    w.model.script(
        "Orchestrator",
        [
            orchestrator_calls(&[ask("o1", "market_insights_agent", "Audience?")]),
            orchestrator_calls(&[ask("o2", "ad_creative_agent", "Copy, please.")]),
            text("The creatives failed."),
        ],
    );
    // No Creative script: the creative specialist's model call fails, which fails its step; the
    // orchestrator is told and any further step is refused.
    let error = CampaignPipeline::new(s.workspace()).run(&w.context).await.unwrap_err();
    assert!(matches!(&error, CampaignError::Step { step: "ad_creatives", .. }), "{error}");
    let state = load_checkpoint(&s.workspace()).await.unwrap().expect("a checkpoint");
    assert_eq!(state.completed_steps, vec!["market_insights"]);

    cooperative_specialists(&w);
    w.model.script(
        "Orchestrator",
        [
            orchestrator_calls(&[ask("o3", "ad_creative_agent", "Copy, please.")]),
            orchestrator_calls(&[ask("o4", "campaign_automation_agent", "Publish.")]),
            text("Ready."),
        ],
    );
    let workspace = Arc::new(CampaignWorkspace::new(ID, s.storage.clone(), s.brief.clone()).unwrap().with_state(state));
    let outcome = CampaignPipeline::new(workspace).run(&w.context).await.unwrap();
    assert_eq!(outcome.resumed_from, Some("ad_creatives"));
    let resumed_query = &w.model.requests_of("Orchestrator")[3].messages[1];
    let aae_models::Message::User { content } = resumed_query else { panic!("a user message") };
    assert!(content.contains("already completed: market_insights"), "{content}");
    assert_eq!(w.model.requests_of("Insights").len(), 1, "insights were not asked for again");
    for path in ARTIFACTS {
        assert!(s.exists(path).await, "{path}");
    }
}
