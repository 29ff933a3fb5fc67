//! `create_landing_page`: the campaign's landing page, showing the stored creatives.

use std::sync::Arc;

use aae_creative::{CallToAction, GalleryImage, LandingPage, ValueProposition, landing_page};
use aae_storage::layout::{CampaignArtifact, campaign_prefix};
use async_trait::async_trait;
use chrono::{Datelike, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::workspace::{AssetKind, CampaignWorkspace};
use super::{creative_error, parse_args, storage_error};
use crate::agent::RunContext;
use crate::tool::{Tool, ToolError, ToolOutput};

/// `create_landing_page`: a self-contained responsive HTML page (hero, value propositions, the
/// campaign's creatives as a gallery, call to action) in the brief's colours, stored at
/// `website/index.html`. The creatives are linked as `../creatives/{file}`, relative to the
/// page, with alt texts.
#[derive(Debug, Clone)]
pub struct CreateLandingPage {
    workspace: Arc<CampaignWorkspace>,
}

impl CreateLandingPage {
    /// The tool over `workspace`.
    pub fn new(workspace: Arc<CampaignWorkspace>) -> Self {
        Self { workspace }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    headline: String,
    subheadline: String,
    value_propositions: Vec<ValueProposition>,
    call_to_action: CallToAction,
    #[serde(default = "english")]
    lang: String,
    #[serde(default)]
    title: Option<String>,
}

fn english() -> String {
    "en".to_owned()
}

#[async_trait]
impl Tool for CreateLandingPage {
    fn name(&self) -> &str {
        "create_landing_page"
    }

    fn description(&self) -> &str {
        "Creates the campaign's landing page: a responsive HTML page with a hero (headline, \
         subheadline, call-to-action button), the value propositions, a gallery of the creatives \
         made so far and a closing call to action, in the brand's colours. Call it after \
         render_ad_creatives so the creatives appear."
    }

    fn parameters(&self) -> Value {
        let text = |max: u32| json!({"type": "string", "minLength": 1, "maxLength": max});
        json!({
            "type": "object",
            "properties": {
                "headline": text(120),
                "subheadline": {"type": "string", "maxLength": 400},
                "value_propositions": {
                    "type": "array", "minItems": 1, "maxItems": 6,
                    "items": {
                        "type": "object",
                        "properties": {"title": text(80), "text": {"type": "string", "maxLength": 400}},
                        "required": ["title", "text"],
                        "additionalProperties": false
                    }
                },
                "call_to_action": {
                    "type": "object",
                    "properties": {
                        "label": text(40),
                        "url": {"type": "string", "minLength": 1, "maxLength": 2000,
                                "description": "https://…, mailto:… or a relative URL."}
                    },
                    "required": ["label", "url"],
                    "additionalProperties": false
                },
                "lang": {"type": "string", "minLength": 2, "maxLength": 35,
                         "description": "BCP 47 language tag of the page's text, e.g. en, de, pt-BR (default en)."},
                "title": {"type": "string", "maxLength": 120, "description": "Browser title (default: the campaign name)."}
            },
            "required": ["headline", "subheadline", "value_propositions", "call_to_action"],
            "additionalProperties": false
        })
    }

    async fn call(&self, _context: &RunContext, arguments: Value) -> Result<ToolOutput, ToolError> {
        let inputs = arguments.clone();
        let args: Args = parse_args(arguments)?;
        let ws = &self.workspace;
        let brief = ws.brief();
        let prefix = campaign_prefix(ws.campaign_id()).map_err(storage_error)?;
        let creatives: Vec<GalleryImage> = ws.update(|state| {
            state
                .creatives
                .iter()
                .filter_map(|c| {
                    let relative = c.key.strip_prefix(&prefix)?;
                    Some(GalleryImage {
                        src: format!("../{relative}"),
                        alt: c.alt.clone(),
                        width: c.width,
                        height: c.height,
                    })
                })
                .collect()
        });
        let page = LandingPage {
            lang: args.lang,
            title: args.title.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| brief.name.clone()),
            headline: args.headline,
            subheadline: args.subheadline,
            value_propositions: args.value_propositions,
            call_to_action: args.call_to_action,
            creatives,
            brand_colors: brief.brand_colors.clone(),
            footer: format!("© {} {}", Utc::now().year(), brief.name),
        };
        let html = landing_page(&page).map_err(creative_error)?;
        let key = ws.artifact_key(CampaignArtifact::Website)?;
        let stored =
            ws.store(&key, html.into_bytes(), CampaignArtifact::Website.content_type(), "landing_page").await?;
        ws.update(|state| state.landing_page = Some(key.clone()));
        ws.record(self.name(), vec![ws.provenance(&key, AssetKind::LandingPage, inputs)]);
        Ok(json!({"key": key, "url": stored.url, "creatives": page.creatives.len()}))
    }
}
