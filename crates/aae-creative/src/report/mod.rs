//! The campaign report: a multi-page A4 PDF with a title page, the brief, insights, strategy, the
//! channel and budget plan, the creatives and the KPIs, with page numbers on every page.
//!
//! Text is set in the standard Helvetica fonts with `WinAnsiEncoding`, so it is extractable (e.g.
//! by `pdftotext`) and the file embeds no font. Characters outside Windows-1252 (Latin-1 plus
//! `€`, curly quotes, dashes, `…`, `•`, `™`, …) are replaced: other dashes and the minus sign by
//! `-`, other whitespace by a space, anything else by `?`.

mod metrics;
mod text;
mod writer;

use chrono::NaiveDate;
use image::imageops::FilterType;
use serde::{Deserialize, Serialize};

use self::text::Face;
use self::writer::{Align, CONTENT_W, Column, Document, INK, Image, MUTED};
use crate::CreativeError;

/// Everything the report shows. All strings are plain text; `\n` starts a new line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignReport {
    /// Campaign name, shown on the title page and in every page footer.
    pub campaign_name: String,
    /// The report's date.
    pub date: NaiveDate,
    /// What the campaign is for.
    pub brief: CampaignBrief,
    /// Audience and market insights, one paragraph each.
    pub insights: Vec<String>,
    /// The strategy, one paragraph each.
    pub strategy: Vec<String>,
    /// Budget per channel.
    pub budget: BudgetPlan,
    /// Creatives to show, each scaled to fit the page.
    pub creatives: Vec<ReportCreative>,
    /// Key performance indicators.
    pub kpis: Vec<Kpi>,
}

/// The campaign brief.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignBrief {
    /// The product or service advertised.
    pub product: String,
    /// Who the campaign targets.
    pub audience: String,
    /// What the campaign should achieve.
    pub goals: Vec<String>,
}

/// How the budget is split across channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetPlan {
    /// ISO 4217 code, e.g. `USD`; amounts are shown with two decimals.
    pub currency: String,
    /// One line per channel; shares are computed from the amounts.
    pub lines: Vec<BudgetLine>,
}

/// One channel's budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetLine {
    /// Channel name, e.g. `Meta (Facebook, Instagram)`.
    pub channel: String,
    /// Amount in minor units (cents).
    pub amount_cents: u64,
}

/// One creative to embed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportCreative {
    /// Caption under the image.
    pub caption: String,
    /// PNG, JPEG or WebP bytes.
    pub image: Vec<u8>,
}

/// One key performance indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kpi {
    /// What is measured, e.g. `Click-through rate`.
    pub name: String,
    /// The goal, e.g. `1.5 %`.
    pub target: String,
    /// How and where it is measured.
    pub measurement: String,
}

/// Largest height, in points, a creative takes on the page.
const MAX_IMAGE_H: f32 = 300.0;

fn required(value: &str, field: &str) -> Result<(), CreativeError> {
    if value.trim().is_empty() {
        return Err(CreativeError::EmptyField { field: field.to_owned() });
    }
    Ok(())
}

/// `1234567` cents → `12,345.67`.
fn money(cents: u64) -> String {
    let units = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped}.{:02}", cents % 100)
}

/// `part / total` as a percentage with one decimal.
fn share(part: u64, total: u128) -> String {
    if total == 0 {
        return "0.0 %".to_owned();
    }
    let tenths = (u128::from(part) * 1000 + total / 2) / total;
    format!("{}.{} %", tenths / 10, tenths % 10)
}

fn validate(report: &CampaignReport) -> Result<(), CreativeError> {
    required(&report.campaign_name, "campaign_name")?;
    required(&report.brief.product, "brief.product")?;
    let currency = &report.budget.currency;
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(CreativeError::InvalidValue {
            field: "budget.currency".to_owned(),
            value: currency.clone(),
            expected: "an ISO 4217 currency code of three capital letters, such as \"USD\" or \"EUR\"".to_owned(),
        });
    }
    for (i, line) in report.budget.lines.iter().enumerate() {
        required(&line.channel, &format!("budget.lines[{i}].channel"))?;
    }
    for (i, kpi) in report.kpis.iter().enumerate() {
        required(&kpi.name, &format!("kpis[{i}].name"))?;
    }
    Ok(())
}

/// Decodes a creative and scales it to its size on the page (points) and at most 2 px per point.
fn prepare_image(bytes: &[u8], field: &str) -> Result<(Image, f32, f32), CreativeError> {
    let img = image::load_from_memory(bytes)
        .map_err(|e| CreativeError::InvalidImage { field: field.to_owned(), reason: e.to_string() })?;
    let (pw, ph) = (img.width().max(1) as f32, img.height().max(1) as f32);
    let fit = (CONTENT_W / pw).min(MAX_IMAGE_H / ph);
    let (w, h) = (pw * fit, ph * fit);
    let (tw, th) = ((w * 2.0).ceil() as u32, (h * 2.0).ceil() as u32);
    let img = if tw < img.width() && th < img.height() { img.resize(tw, th, FilterType::Triangle) } else { img };
    let rgb = img.to_rgb8();
    Ok((Image { width: rgb.width(), height: rgb.height(), rgb: rgb.into_raw() }, w, h))
}

/// Renders the campaign report as PDF bytes.
///
/// Sections without content (no insights, no creatives, …) are left out; the title page, brief
/// and budget are always there. Fails with a [`CreativeError`] naming the field when a required
/// text is empty, the currency is not a three-letter code, or a creative image cannot be decoded.
pub fn campaign_report(report: &CampaignReport) -> Result<Vec<u8>, CreativeError> {
    validate(report)?;
    let images = report
        .creatives
        .iter()
        .enumerate()
        .map(|(i, c)| prepare_image(&c.image, &format!("creatives[{i}].image")))
        .collect::<Result<Vec<_>, _>>()?;

    let mut doc = Document::new();
    doc.space(200.0);
    doc.paragraph("Campaign report", Face::Bold, 14.0, MUTED, 0.0);
    doc.space(6.0);
    doc.paragraph(&report.campaign_name, Face::Bold, 32.0, INK, 0.0);
    doc.space(10.0);
    doc.paragraph(&report.date.format("%-d %B %Y").to_string(), Face::Regular, 14.0, INK, 0.0);
    doc.paragraph(&report.brief.product, Face::Regular, 12.0, MUTED, 0.0);

    doc.new_page();
    doc.heading("Brief");
    doc.labelled("Product", &report.brief.product);
    if !report.brief.audience.trim().is_empty() {
        doc.labelled("Audience", &report.brief.audience);
    }
    if !report.brief.goals.is_empty() {
        doc.paragraph("Goals", Face::Bold, 11.0, INK, 0.0);
        doc.bullets(&report.brief.goals);
    }

    for (title, paragraphs) in [("Audience and market insights", &report.insights), ("Strategy", &report.strategy)] {
        if paragraphs.is_empty() {
            continue;
        }
        doc.heading(title);
        for p in paragraphs {
            doc.paragraph(p, Face::Regular, 11.0, INK, 0.0);
            doc.space(6.0);
        }
    }

    doc.heading("Channel and budget plan");
    let currency = &report.budget.currency;
    let total: u128 = report.budget.lines.iter().map(|l| u128::from(l.amount_cents)).sum();
    let mut rows: Vec<Vec<String>> = report
        .budget
        .lines
        .iter()
        .map(|l| vec![l.channel.clone(), share(l.amount_cents, total), format!("{currency} {}", money(l.amount_cents))])
        .collect();
    let total_cents = u64::try_from(total).unwrap_or(u64::MAX);
    rows.push(vec!["Total".to_owned(), share(total_cents, total), format!("{currency} {}", money(total_cents))]);
    let columns = [
        Column { header: "Channel", share: 0.5, align: Align::Left },
        Column { header: "Share", share: 0.2, align: Align::Right },
        Column { header: "Amount", share: 0.3, align: Align::Right },
    ];
    doc.table(&columns, &rows, true);

    if !images.is_empty() {
        doc.heading("Creatives");
        for ((image, w, h), creative) in images.into_iter().zip(&report.creatives) {
            doc.image(image, w, h, &creative.caption);
        }
    }

    if !report.kpis.is_empty() {
        doc.heading("KPIs");
        let rows: Vec<Vec<String>> =
            report.kpis.iter().map(|k| vec![k.name.clone(), k.target.clone(), k.measurement.clone()]).collect();
        let columns = [
            Column { header: "KPI", share: 0.3, align: Align::Left },
            Column { header: "Target", share: 0.2, align: Align::Left },
            Column { header: "How it is measured", share: 0.5, align: Align::Left },
        ];
        doc.table(&columns, &rows, false);
    }

    let mut footer = text::encode(&report.campaign_name);
    while text::width(&footer, Face::Regular, 9.0) > CONTENT_W - 90.0 {
        footer.pop();
    }
    doc.finish(&report.campaign_name, &footer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_shares() {
        assert_eq!(money(0), "0.00");
        assert_eq!(money(5), "0.05");
        assert_eq!(money(1_250_000), "12,500.00");
        assert_eq!(money(12_345_678_901), "123,456,789.01");
        assert_eq!(share(1, 3), "33.3 %");
        assert_eq!(share(2, 3), "66.7 %");
        assert_eq!(share(0, 0), "0.0 %");
    }
}
