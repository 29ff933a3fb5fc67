//! The campaign orchestrator and its three specialists (seed 000 §3, "agents as tools"):
//!
//! | agent | tools | produces |
//! | --- | --- | --- |
//! | `market_insights_agent` | `read_brief` | audience and market insights, as text |
//! | `ad_creative_agent` | `read_brief`, `render_ad_creatives`, `generate_image`, `generate_video` | the creatives |
//! | `campaign_automation_agent` | `read_brief`, `create_landing_page`, `create_pdf_report`, `save_campaign` | the landing page, the report, the saved state |
//! | orchestrator | the three agents above | the plan, and the final summary |
//!
//! Every agent works on one [`CampaignWorkspace`], so what one stores the next can use, and the
//! brief (brand colours, budget, logo) comes from the workspace rather than from a model's
//! retelling of it. Specialists start fresh on each call; the orchestrator passes them what they
//! need in its query.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::agent::{Agent, RunContext};
use crate::agent_tool::AgentTool;
use crate::tool::{Tool, ToolError, ToolOutput};
use crate::tools::{
    CampaignWorkspace, CreateLandingPage, CreatePdfReport, GenerateImage, GenerateVideo, RenderAdCreatives,
    SaveCampaign,
};

/// The orchestrator's name in events.
pub const ORCHESTRATOR: &str = "campaign_orchestrator";
/// The market insights specialist.
pub const MARKET_INSIGHTS_AGENT: &str = "market_insights_agent";
/// The ad creative specialist.
pub const AD_CREATIVE_AGENT: &str = "ad_creative_agent";
/// The campaign automation specialist.
pub const CAMPAIGN_AUTOMATION_AGENT: &str = "campaign_automation_agent";

pub(crate) const ORCHESTRATOR_PROMPT: &str = "Orchestrator: you run an advertising campaign from brief to published \
artifacts. Work in this order: 1) ask market_insights_agent for the audience and market insights; \
2) ask ad_creative_agent for the ad creatives (headline, body, call to action) with those insights; \
3) ask campaign_automation_agent to create the landing page and the PDF report from the insights, the \
strategy, the channel budget split and the KPIs, and to save the campaign. Give each agent a complete, \
self-contained query. Finish with a short summary of what was produced.";

const INSIGHTS_PROMPT: &str = "Insights: you are a market analyst. Read the brief with read_brief, then \
answer with concise audience insights (who, needs, objections, where they spend time) and market \
insights (competitors, positioning, seasonality). Plain text, no more than 200 words.";

const CREATIVE_PROMPT: &str = "Creative: you are an ad copywriter and art director. Read the brief with \
read_brief, write a headline (at most 8 words), a body line (at most 20 words) and a call to action (at \
most 3 words) in the brief's tone, then call render_ad_creatives with them. Use generate_image or \
generate_video only when asked for AI imagery or video. Answer with the copy and the creatives made.";

const AUTOMATION_PROMPT: &str = "Automation: you publish campaigns. Read the brief with read_brief, then \
call create_landing_page, then create_pdf_report (budget shares per channel must sum to 100), then \
save_campaign with a one-paragraph summary. Answer with what was stored.";

/// A tool answering the campaign's brief as JSON.
#[derive(Debug)]
pub struct ReadBrief {
    workspace: Arc<CampaignWorkspace>,
}

impl ReadBrief {
    /// The tool over `workspace`.
    pub fn new(workspace: Arc<CampaignWorkspace>) -> Self {
        Self { workspace }
    }
}

#[async_trait]
impl Tool for ReadBrief {
    fn name(&self) -> &str {
        "read_brief"
    }

    fn description(&self) -> &str {
        "The campaign brief: name, product, audience, goals, budget and currency, channels, tone, brand colours."
    }

    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {}, "additionalProperties": false})
    }

    async fn call(&self, _context: &RunContext, _arguments: Value) -> Result<ToolOutput, ToolError> {
        serde_json::to_value(self.workspace.brief()).map_err(|e| ToolError::Failed(format!("brief: {e}")))
    }
}

/// The market insights specialist.
pub fn market_insights_agent(workspace: &Arc<CampaignWorkspace>) -> Agent {
    Agent::new(MARKET_INSIGHTS_AGENT, INSIGHTS_PROMPT)
        .with_description("Researches the brief's audience and market; answers with insights in text.")
        .with_tool(ReadBrief::new(workspace.clone()))
}

/// The ad creative specialist.
pub fn ad_creative_agent(workspace: &Arc<CampaignWorkspace>) -> Agent {
    Agent::new(AD_CREATIVE_AGENT, CREATIVE_PROMPT)
        .with_description("Writes the ad copy and renders the creatives in every standard size.")
        .with_tool(ReadBrief::new(workspace.clone()))
        .with_tool(RenderAdCreatives::new(workspace.clone()))
        .with_tool(GenerateImage::new(workspace.clone()))
        .with_tool(GenerateVideo::new(workspace.clone()))
}

/// The campaign automation specialist.
pub fn campaign_automation_agent(workspace: &Arc<CampaignWorkspace>) -> Agent {
    Agent::new(CAMPAIGN_AUTOMATION_AGENT, AUTOMATION_PROMPT)
        .with_description("Creates the landing page and the PDF report, then saves the campaign.")
        .with_tool(ReadBrief::new(workspace.clone()))
        .with_tool(CreateLandingPage::new(workspace.clone()))
        .with_tool(CreatePdfReport::new(workspace.clone()))
        .with_tool(SaveCampaign::new(workspace.clone()))
}

/// The orchestrator, with the three specialists as its tools.
pub fn campaign_orchestrator(workspace: &Arc<CampaignWorkspace>) -> Agent {
    Agent::new(ORCHESTRATOR, ORCHESTRATOR_PROMPT)
        .with_description("Plans and produces an advertising campaign from its brief.")
        .with_tool(AgentTool::new(market_insights_agent(workspace)))
        .with_tool(AgentTool::new(ad_creative_agent(workspace)))
        .with_tool(AgentTool::new(campaign_automation_agent(workspace)))
}

/// The orchestrator's first message for a campaign: the brief, in full.
pub fn campaign_request(workspace: &CampaignWorkspace) -> String {
    let brief = serde_json::to_string_pretty(workspace.brief()).unwrap_or_default();
    format!("Run the campaign \"{}\" from this brief:\n{brief}", workspace.brief().name)
}
