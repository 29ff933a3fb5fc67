//! The pipeline's queries to its specialists, and the content it falls back to when a specialist
//! answers without making its artifact: first the model asked for just that content as
//! schema-constrained JSON (which a small local model produces reliably, since decoding is
//! constrained), then, if that fails, content taken from the brief itself.

use aae_models::{ChatRequest, JsonSchemaFormat, Message, Usage};
use aae_types::CampaignBrief;
use serde_json::{Value, json};

use crate::agent::RunContext;
use crate::schema;
use crate::tools::{StoredCreative, WorkspaceState};

/// How a fallback's content was made.
pub(super) const FROM_MODEL: &str = "content from the model as constrained JSON";
/// How a fallback's content was made when the model could not.
pub(super) const FROM_BRIEF: &str = "content taken from the brief";

fn brief_lines(brief: &CampaignBrief) -> String {
    format!(
        "Campaign: {}\nProduct: {}\nAudience: {}\nGoals: {}\nChannels: {}\nTone: {}",
        brief.name,
        brief.product,
        brief.audience,
        brief.goals.join("; "),
        brief.channels.join(", "),
        brief.tone
    )
}

pub(super) fn insights_query(brief: &CampaignBrief) -> String {
    format!(
        "Give the audience and market insights for this campaign, as two short paragraphs \
         (audience first, then market).\n{}",
        brief_lines(brief)
    )
}

pub(super) fn creatives_query(brief: &CampaignBrief, insights: &[String]) -> String {
    format!(
        "Write the ad copy and render the ad creatives with render_ad_creatives.\n{}\nInsights:\n{}",
        brief_lines(brief),
        insights.join("\n")
    )
}

pub(super) fn publish_query(brief: &CampaignBrief, insights: &[String], creatives: &[StoredCreative]) -> String {
    let copy = if creatives.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = creatives.iter().map(|c| c.name.as_str()).collect();
        format!("\nCreatives rendered: {}.", names.join(", "))
    };
    format!(
        "Create the landing page with create_landing_page, then the PDF report with create_pdf_report \
         (budget shares per channel add up to 100).\n{}\nInsights:\n{}{copy}",
        brief_lines(brief),
        insights.join("\n")
    )
}

/// Non-empty paragraphs of an answer (blank-line separated; single lines when there are none).
pub(super) fn paragraphs(text: &str) -> Vec<String> {
    let by_blank: Vec<String> = text.split("\n\n").map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect();
    if by_blank.len() > 1 {
        return by_blank;
    }
    text.lines().map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()).collect()
}

pub(super) fn brief_insights(brief: &CampaignBrief) -> Vec<String> {
    vec![
        format!("Audience: {}. They are reached through {}.", brief.audience, brief.channels.join(", ")),
        format!("Market: {} is positioned on these goals: {}.", brief.product, brief.goals.join("; ")),
    ]
}

fn truncate(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => text[..at].trim_end().to_owned(),
        None => text.to_owned(),
    }
}

/// What a fallback's model call spent, added to its step's interaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Spent {
    /// The model that answered.
    pub model: Option<String>,
    /// Tokens.
    pub usage: Usage,
    /// Micro-credits.
    pub cost_micros: i64,
}

/// A fallback's tool arguments, how their content was made, and what making it spent.
#[derive(Debug, Clone)]
pub(super) struct Drafted {
    pub args: Value,
    pub how: &'static str,
    pub spent: Spent,
}

/// Asks the model for JSON matching `schema`; `None` when the call fails or the reply does not
/// match. What an answered call spent is reported either way.
async fn structured(context: &RunContext, name: &str, schema: Value, prompt: &str) -> (Option<Value>, Spent) {
    let request = ChatRequest {
        messages: vec![Message::user(prompt.to_owned())],
        response_format: Some(JsonSchemaFormat { name: name.to_owned(), schema: schema.clone() }),
        max_tokens: Some(1024),
        ..ChatRequest::default()
    };
    let reply = match context.router.chat(&context.call, &request).await {
        Ok(reply) => reply,
        Err(error) => {
            tracing::warn!(%error, schema = name, "structured fallback call failed");
            return (None, Spent::default());
        }
    };
    let spent = Spent { model: Some(reply.model.key()), usage: reply.value.usage, cost_micros: reply.cost_micros };
    let value = serde_json::from_str::<Value>(reply.value.content.trim())
        .ok()
        .filter(|value| schema::validate(&schema, value).is_ok());
    (value, spent)
}

/// `render_ad_creatives` arguments.
pub(super) async fn creative_copy(context: &RunContext, brief: &CampaignBrief, query: &str) -> Drafted {
    let text = |max: u32| json!({"type": "string", "minLength": 1, "maxLength": max});
    let schema = json!({
        "type": "object",
        "properties": {"headline": text(60), "body": text(140), "call_to_action": text(24)},
        "required": ["headline", "body", "call_to_action"],
        "additionalProperties": false
    });
    let prompt = format!("{query}\nAnswer only with the copy as JSON: headline, body, call_to_action.");
    let (value, spent) = structured(context, "ad_copy", schema, &prompt).await;
    if let Some(args) = value {
        return Drafted { args, how: FROM_MODEL, spent };
    }
    let body = brief.goals.first().map_or_else(|| brief.product.clone(), Clone::clone);
    let copy = json!({
        "headline": truncate(&brief.name, 60),
        "body": truncate(&body, 140),
        "call_to_action": "Learn more",
    });
    Drafted { args: copy, how: FROM_BRIEF, spent }
}

/// `create_landing_page` arguments.
pub(super) async fn landing_page(context: &RunContext, brief: &CampaignBrief, query: &str) -> Drafted {
    let text = |max: u32| json!({"type": "string", "minLength": 1, "maxLength": max});
    let schema = json!({
        "type": "object",
        "properties": {
            "headline": text(80),
            "subheadline": text(200),
            "value_propositions": {
                "type": "array", "minItems": 2, "maxItems": 4,
                "items": {
                    "type": "object",
                    "properties": {"title": text(60), "text": text(200)},
                    "required": ["title", "text"],
                    "additionalProperties": false
                }
            },
            "call_to_action": text(30)
        },
        "required": ["headline", "subheadline", "value_propositions", "call_to_action"],
        "additionalProperties": false
    });
    let prompt = format!(
        "{query}\nAnswer only with the landing page's copy as JSON: headline, subheadline, \
         value_propositions (title and text each), call_to_action."
    );
    let (value, spent) = structured(context, "landing_page", schema, &prompt).await;
    let (content, how) = match value {
        Some(value) => (value, FROM_MODEL),
        None => {
            let propositions: Vec<Value> = brief
                .goals
                .iter()
                .take(4)
                .map(|goal| json!({"title": truncate(goal, 60), "text": format!("{} for {}.", brief.product, brief.audience)}))
                .collect();
            let content = json!({
                "headline": truncate(&brief.name, 80),
                "subheadline": truncate(&brief.product, 200),
                "value_propositions": propositions,
                "call_to_action": "Get started",
            });
            (content, FROM_BRIEF)
        }
    };
    let args = json!({
        "headline": content["headline"],
        "subheadline": content["subheadline"],
        "value_propositions": content["value_propositions"],
        "call_to_action": {"label": content["call_to_action"], "url": "#get-started"},
    });
    Drafted { args, how, spent }
}

/// `create_pdf_report` arguments from the brief and the insights: the channels share the
/// budget equally; one KPI per goal.
pub(super) fn report(brief: &CampaignBrief, insights: &[String]) -> Value {
    let audience = insights.first().cloned().unwrap_or_else(|| brief.audience.clone());
    let market =
        if insights.len() > 1 { insights[1..].join("\n\n") } else { format!("{} in its market.", brief.product) };
    let strategy = format!(
        "Reach {} through {} with a {} voice, working towards: {}.",
        brief.audience,
        brief.channels.join(", "),
        brief.tone,
        brief.goals.join("; ")
    );
    let kpis: Vec<Value> = brief
        .goals
        .iter()
        .take(12)
        .map(|goal| json!({"name": truncate(goal, 200), "target": "as stated in the brief", "measurement": "channel analytics, reviewed weekly"}))
        .collect();
    json!({
        "audience_insights": truncate(&audience, 8000),
        "market_insights": truncate(&market, 8000),
        "strategy": truncate(&strategy, 8000),
        "kpis": kpis,
        "budget_split": equal_shares(&brief.channels),
    })
}

/// Shares of 100 % over `channels`, as equal as two decimals allow, adding up to exactly 100.
fn equal_shares(channels: &[String]) -> Vec<Value> {
    let n = channels.len().max(1) as i64;
    let (each, rest) = (10_000 / n, 10_000 % n);
    channels
        .iter()
        .enumerate()
        .map(|(i, channel)| {
            let hundredths = each + i64::from((i as i64) < rest);
            json!({"channel": channel, "share_percent": hundredths as f64 / 100.0})
        })
        .collect()
}

/// The saved summary when no agent wrote one.
pub(super) fn summary(brief: &CampaignBrief, state: &WorkspaceState) -> String {
    format!(
        "Campaign \"{}\" for {}: {} creatives, {}, {}.",
        brief.name,
        brief.audience,
        state.creatives.len(),
        if state.landing_page.is_some() { "a landing page" } else { "no landing page" },
        if state.report.is_some() { "a PDF report" } else { "no PDF report" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_shares_add_up_to_exactly_100() {
        for n in 1..=9 {
            let channels: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
            let shares = equal_shares(&channels);
            let total: f64 = shares.iter().map(|s| s["share_percent"].as_f64().expect("number")).sum();
            assert!((total - 100.0).abs() < 1e-9, "{n} channels: {total}");
        }
    }

    #[test]
    fn paragraphs_split_on_blank_lines_then_lines() {
        assert_eq!(paragraphs("a\n\nb\n"), vec!["a", "b"]);
        assert_eq!(paragraphs("one\ntwo"), vec!["one", "two"]);
        assert!(paragraphs("  \n ").is_empty());
    }

    #[test]
    fn truncate_counts_characters() {
        assert_eq!(truncate("héllo wörld", 5), "héllo");
        assert_eq!(truncate("short", 50), "short");
    }
}
