//! `create_pdf_report`: the campaign report, with the budget split across channels.

use std::sync::Arc;

use aae_creative::{BudgetLine, BudgetPlan, CampaignReport, Kpi, ReportCreative, campaign_report};
use aae_storage::layout::CampaignArtifact;
use async_trait::async_trait;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::workspace::{AssetKind, CampaignWorkspace};
use super::{blocking, parse_args};
use crate::agent::RunContext;
use crate::tool::{Tool, ToolError, ToolOutput};

/// Most creatives embedded in the report.
const MAX_REPORT_CREATIVES: usize = 4;
/// How far the budget shares may be from 100 %.
const SHARE_TOLERANCE: f64 = 0.5;

/// `create_pdf_report`: a multi-page PDF (brief, audience and market insights, strategy,
/// channel and budget plan, up to four stored creatives, KPIs) stored at
/// `pdf/campaign_report.pdf`. The model gives the budget as shares per channel; the amounts come
/// from the brief's budget.
#[derive(Debug, Clone)]
pub struct CreatePdfReport {
    workspace: Arc<CampaignWorkspace>,
}

impl CreatePdfReport {
    /// The tool over `workspace`.
    pub fn new(workspace: Arc<CampaignWorkspace>) -> Self {
        Self { workspace }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    audience_insights: String,
    market_insights: String,
    strategy: String,
    kpis: Vec<Kpi>,
    budget_split: Vec<Share>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Share {
    channel: String,
    share_percent: f64,
}

/// Paragraphs separated by blank lines.
fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

/// Splits `total_cents` by the shares (largest remainder), so the amounts add up exactly.
fn split(total_cents: i64, shares: &[Share]) -> Result<Vec<u64>, ToolError> {
    for (i, share) in shares.iter().enumerate() {
        if share.channel.trim().is_empty() {
            return Err(ToolError::InvalidArguments(format!("budget_split[{i}].channel is empty")));
        }
        if !share.share_percent.is_finite() || !(0.0..=100.0).contains(&share.share_percent) {
            return Err(ToolError::InvalidArguments(format!(
                "budget_split[{i}].share_percent is {}, expected a percentage between 0 and 100",
                share.share_percent
            )));
        }
    }
    let sum: f64 = shares.iter().map(|s| s.share_percent).sum();
    if shares.is_empty() || (sum - 100.0).abs() > SHARE_TOLERANCE {
        return Err(ToolError::InvalidArguments(format!(
            "budget_split: the shares add up to {sum:.1} %, they must add up to 100 % (±{SHARE_TOLERANCE})"
        )));
    }
    let total = u64::try_from(total_cents).unwrap_or(0);
    let exact: Vec<f64> = shares.iter().map(|s| total as f64 * s.share_percent / sum).collect();
    let mut amounts: Vec<u64> = exact.iter().map(|a| a.floor() as u64).collect();
    let mut left = total.saturating_sub(amounts.iter().sum());
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    for i in order.into_iter().cycle().take(shares.len() * 2) {
        if left == 0 {
            break;
        }
        amounts[i] += 1;
        left -= 1;
    }
    Ok(amounts)
}

fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

#[async_trait]
impl Tool for CreatePdfReport {
    fn name(&self) -> &str {
        "create_pdf_report"
    }

    fn description(&self) -> &str {
        "Creates the campaign report as a PDF: the brief, audience and market insights, the \
         strategy, the budget per channel (give shares in percent that add up to 100; amounts come \
         from the brief's budget), up to four of the creatives and the KPIs. Separate paragraphs \
         with a blank line."
    }

    fn parameters(&self) -> Value {
        let text = json!({"type": "string", "minLength": 1, "maxLength": 8000});
        let short = json!({"type": "string", "minLength": 1, "maxLength": 200});
        json!({
            "type": "object",
            "properties": {
                "audience_insights": text,
                "market_insights": text,
                "strategy": text,
                "kpis": {
                    "type": "array", "minItems": 1, "maxItems": 12,
                    "items": {
                        "type": "object",
                        "properties": {"name": short, "target": short, "measurement": short},
                        "required": ["name", "target", "measurement"],
                        "additionalProperties": false
                    }
                },
                "budget_split": {
                    "type": "array", "minItems": 1, "maxItems": 20,
                    "description": "Share of the budget per channel; the shares add up to 100.",
                    "items": {
                        "type": "object",
                        "properties": {
                            "channel": short,
                            "share_percent": {"type": "number", "minimum": 0, "maximum": 100}
                        },
                        "required": ["channel", "share_percent"],
                        "additionalProperties": false
                    }
                }
            },
            "required": ["audience_insights", "market_insights", "strategy", "kpis", "budget_split"],
            "additionalProperties": false
        })
    }

    async fn call(&self, _context: &RunContext, arguments: Value) -> Result<ToolOutput, ToolError> {
        let mut inputs = arguments.clone();
        let args: Args = parse_args(arguments)?;
        let ws = &self.workspace;
        let brief = ws.brief();
        let amounts = split(brief.budget.amount_cents, &args.budget_split)?;
        let lines: Vec<BudgetLine> = args
            .budget_split
            .iter()
            .zip(&amounts)
            .map(|(share, &amount_cents)| BudgetLine { channel: share.channel.clone(), amount_cents })
            .collect();
        let chosen = ws.update(|state| state.creatives.iter().take(MAX_REPORT_CREATIVES).cloned().collect::<Vec<_>>());
        let mut creatives = Vec::with_capacity(chosen.len());
        for creative in &chosen {
            let image = ws.download(&creative.key).await?;
            let caption = format!("{} ({}x{})", creative.name, creative.width, creative.height);
            creatives.push(ReportCreative { caption, image });
        }
        let mut insights = paragraphs(&args.audience_insights);
        insights.extend(paragraphs(&args.market_insights));
        let strategy = paragraphs(&args.strategy);
        let report = CampaignReport {
            campaign_name: brief.name.clone(),
            date: Utc::now().date_naive(),
            brief: aae_creative::CampaignBrief {
                product: brief.product.clone(),
                audience: brief.audience.clone(),
                goals: brief.goals.clone(),
            },
            insights: insights.clone(),
            strategy: strategy.clone(),
            budget: BudgetPlan { currency: brief.budget.currency.clone(), lines },
            creatives,
            kpis: args.kpis,
        };
        let pdf = blocking(move || campaign_report(&report)).await?;
        let key = ws.artifact_key(CampaignArtifact::Pdf)?;
        let stored = ws.store(&key, pdf, CampaignArtifact::Pdf.content_type(), "report").await?;
        let budget: Vec<Value> = args
            .budget_split
            .iter()
            .zip(&amounts)
            .map(|(share, &cents)| {
                json!({"channel": share.channel, "amount": money(cents), "currency": brief.budget.currency})
            })
            .collect();
        inputs["budget"] = json!(budget);
        inputs["creatives"] = json!(chosen.iter().map(|c| &c.key).collect::<Vec<_>>());
        ws.update(|state| {
            state.report = Some(key.clone());
            state.insights = insights;
            state.strategy = strategy;
        });
        ws.record(self.name(), vec![ws.provenance(&key, AssetKind::Report, inputs)]);
        Ok(json!({"key": key, "url": stored.url, "budget": budget, "creatives": chosen.len()}))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn shares(percents: &[f64]) -> Vec<Share> {
        percents.iter().enumerate().map(|(i, &p)| Share { channel: format!("c{i}"), share_percent: p }).collect()
    }

    #[test]
    fn amounts_add_up_to_the_budget_exactly() {
        assert_eq!(split(1000, &shares(&[33.3, 33.3, 33.4])).unwrap(), vec![333, 333, 334]);
        assert_eq!(split(100, &shares(&[33.33, 33.33, 33.34])).unwrap().iter().sum::<u64>(), 100);
        assert_eq!(split(500_050, &shares(&[60.0, 40.0])).unwrap(), vec![300_030, 200_020]);
        // Within the tolerance the shares are scaled to the whole budget.
        assert_eq!(split(1000, &shares(&[50.0, 49.6])).unwrap().iter().sum::<u64>(), 1000);
    }

    #[test]
    fn shares_that_do_not_add_up_name_the_field() {
        let error = split(1000, &shares(&[50.0, 40.0])).unwrap_err();
        assert_eq!(
            error,
            ToolError::InvalidArguments(
                "budget_split: the shares add up to 90.0 %, they must add up to 100 % (±0.5)".into()
            )
        );
        let error = split(1000, &shares(&[120.0, -20.0])).unwrap_err().to_string();
        assert!(error.contains("budget_split[0].share_percent is 120"), "{error}");
        assert!(split(1000, &[]).is_err());
    }
}
