//! The campaign report: a valid multi-page PDF whose text `pdftotext` can extract.

use std::process::Command;

use aae_creative::{
    BudgetLine, BudgetPlan, CampaignBrief, CampaignReport, CreativeSize, Kpi, ReportCreative, campaign_report,
    render_ad_creatives,
};

use crate::support::spec;

const LONG: &str = "Trail runners between twenty-five and forty-five buy about two pairs of shoes a year and \
    research heavily before buying: they read long reviews, compare lug depth and drop on forums, and watch \
    short video comparisons filmed on real trails. They distrust glossy studio shots, respond to honest \
    durability claims backed by mileage, and share gear finds with their running clubs. Price matters less \
    than fit, grip on wet rock and how the shoe feels after thirty kilometres.";

fn report() -> CampaignReport {
    let mut s = spec();
    s.sizes = vec![CreativeSize::MediumRectangle, CreativeSize::Leaderboard];
    let creatives = render_ad_creatives(&s).unwrap();
    CampaignReport {
        campaign_name: "Trailhead Summer Sale 2025".to_owned(),
        date: chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
        brief: CampaignBrief {
            product: "Trailhead Ridge 3 trail running shoe".to_owned(),
            audience: "Recreational trail runners in the UK and Germany".to_owned(),
            goals: vec!["Sell 4,000 pairs".to_owned(), "Grow the newsletter by 10 %".to_owned()],
        },
        insights: vec![LONG.to_owned(), "Competitors discount in July, so June is open.".to_owned()],
        strategy: vec!["Lead with grip on wet rock; retarget forum readers with durability proof.".to_owned()],
        budget: BudgetPlan {
            currency: "EUR".to_owned(),
            lines: vec![
                BudgetLine { channel: "Meta (Facebook, Instagram)".to_owned(), amount_cents: 1_250_000 },
                BudgetLine { channel: "Google Search".to_owned(), amount_cents: 800_000 },
                BudgetLine { channel: "YouTube".to_owned(), amount_cents: 450_000 },
            ],
        },
        creatives: creatives
            .iter()
            .map(|c| ReportCreative { caption: format!("Creative {}", c.name), image: c.png.clone() })
            .collect(),
        kpis: vec![
            Kpi { name: "Click-through rate".to_owned(), target: "1.5 %".to_owned(), measurement: "Weekly".to_owned() },
            Kpi { name: "Cost per acquisition".to_owned(), target: "EUR 18".to_owned(), measurement: "UTM".to_owned() },
        ],
    }
}

fn run(tool: &str, pdf: &[u8], args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, pdf).unwrap();
    let output = Command::new(tool).args(args).arg(&path).arg("-").output().unwrap_or_else(|e| {
        panic!("cannot run {tool} ({e}): install poppler-utils (apt-get install -y poppler-utils) to run the PDF tests")
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stderr.trim().is_empty(), "{tool} failed: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

fn pdftotext(pdf: &[u8]) -> String {
    run("pdftotext", pdf, &["-enc", "UTF-8"])
}

fn pdfinfo_pages(pdf: &[u8]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, pdf).unwrap();
    let output = Command::new("pdfinfo").arg(&path).output().unwrap_or_else(|e| {
        panic!(
            "cannot run pdfinfo ({e}): install poppler-utils (apt-get install -y poppler-utils) to run the PDF tests"
        )
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stderr.trim().is_empty(), "pdfinfo failed: {stderr}");
    let info = String::from_utf8(output.stdout).unwrap();
    let line = info.lines().find(|l| l.starts_with("Pages:")).unwrap();
    line["Pages:".len()..].trim().parse().unwrap()
}

/// Every word `pdftotext -bbox` finds lies inside the A4 page, above the bottom edge's margin.
fn assert_text_stays_on_the_page(pdf: &[u8]) {
    let html = run("pdftotext", pdf, &["-bbox"]);
    let mut words = 0;
    for word in html.split("<word ").skip(1) {
        let coord = |name: &str| -> f32 {
            let start = word.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            word[start..].split('"').next().unwrap().parse().unwrap()
        };
        let (x_max, y_max) = (coord("xMax"), coord("yMax"));
        assert!(x_max <= 595.3 - 40.0 && y_max <= 841.9 - 20.0, "word off the page: {word}");
        words += 1;
    }
    assert!(words > 100);
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn report_is_a_valid_pdf_with_extractable_text() {
    let pdf = campaign_report(&report()).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"));
    let text = pdftotext(&pdf);
    for expected in [
        "Trailhead Summer Sale 2025",
        "1 June 2025",
        "Brief",
        "Audience and market insights",
        "Strategy",
        "Channel and budget plan",
        "Meta (Facebook, Instagram)",
        "EUR 12,500.00",
        "50.0 %",
        "EUR 25,000.00",
        "Creative medium_rectangle_300x250",
        "Creative leaderboard_728x90",
        "KPIs",
        "Cost per acquisition",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    assert!(squash(&text).contains(&squash(LONG)), "the long paragraph did not survive wrapping:\n{text}");
    let pages = pdfinfo_pages(&pdf);
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(text.matches('\u{c}').count(), pages);
    for i in 1..=pages {
        assert!(text.contains(&format!("Page {i} of {pages}")), "page number {i}");
    }
    let images = pdf.windows(b"/Subtype /Image".len()).filter(|w| w == b"/Subtype /Image").count();
    assert_eq!(images, 2, "both creatives embedded");
    assert_text_stays_on_the_page(&pdf);
}

#[test]
fn long_content_flows_onto_more_pages() {
    let mut r = report();
    let short_pages = pdfinfo_pages(&campaign_report(&r).unwrap());
    r.strategy = vec![LONG.to_owned(); 25];
    r.budget.lines =
        (0..60).map(|i| BudgetLine { channel: format!("Channel {i}"), amount_cents: 10_000 + i }).collect();
    let pdf = campaign_report(&r).unwrap();
    let pages = pdfinfo_pages(&pdf);
    assert!(pages >= short_pages + 3, "{pages} pages vs {short_pages}");
    let text = pdftotext(&pdf);
    assert_eq!(text.matches('\u{c}').count(), pages);
    assert!(text.contains("Channel 59") && text.contains("Channel 0"));
    assert!(text.matches("Amount").count() >= 2, "table header repeated on the next page");

    // A single table cell longer than a page is cut with an ellipsis instead of running off it.
    r.kpis[0].measurement = LONG.repeat(20);
    let pdf = campaign_report(&r).unwrap();
    assert_eq!(pdftotext(&pdf).matches('\u{c}').count(), pdfinfo_pages(&pdf));
    assert_text_stays_on_the_page(&pdf);
}

#[test]
fn string_delimiters_and_non_latin1_text_do_not_corrupt_the_file() {
    let mut r = report();
    r.campaign_name = r"Sale (final) \ 50% – “best” € Ωmega 日本".to_owned();
    r.insights = vec!["Unbalanced ) paren ( and a backslash \\ here".to_owned()];
    let pdf = campaign_report(&r).unwrap();
    let text = pdftotext(&pdf);
    assert!(text.contains(r"Sale (final) \ 50% – “best” € ?mega ??"), "{text}");
    assert!(text.contains(r"Unbalanced ) paren ( and a backslash \ here"), "{text}");
}

#[test]
fn report_is_deterministic() {
    assert_eq!(campaign_report(&report()).unwrap(), campaign_report(&report()).unwrap());
}

#[test]
fn invalid_inputs_are_rejected_with_the_field_named() {
    let mut r = report();
    r.budget.currency = "euro".to_owned();
    let msg = campaign_report(&r).unwrap_err().to_string();
    assert!(msg.starts_with("budget.currency is \"euro\", expected an ISO 4217 currency code"), "{msg}");
    let mut r = report();
    r.campaign_name = " ".to_owned();
    assert_eq!(campaign_report(&r).unwrap_err().to_string(), "campaign_name is empty, give it some visible text");
    let mut r = report();
    r.creatives[1].image = b"garbage".to_vec();
    assert!(campaign_report(&r).unwrap_err().to_string().starts_with("creatives[1].image could not be decoded"));
}
