//! Writes sample artifacts to a folder so a person can look at them:
//! `cargo run -p aae-creative --example samples -- /tmp/aae-samples`.

use std::time::Instant;

use aae_creative::{
    BudgetLine, BudgetPlan, CallToAction, CampaignBrief, CampaignReport, CreativeSize, CreativeSpec, GalleryImage, Kpi,
    LandingPage, ReportCreative, ValueProposition, campaign_report, landing_page, png_data_uri, render_ad_creatives,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).unwrap_or_else(|| "aae-samples".to_owned());
    std::fs::create_dir_all(&out)?;
    let mut spec = CreativeSpec::new(
        "Summer sale: 40% off every trail running shoe",
        "Lightweight, grippy and built for long days on rough ground. Free returns for 60 days.",
        "Shop now",
        vec!["#0b3d91".to_owned(), "#ffb703".to_owned()],
    );
    let logo = image::RgbaImage::from_fn(64, 64, |x, y| {
        let inside = (x as i32 - 32).pow(2) + (y as i32 - 32).pow(2) < 900;
        if inside { image::Rgba([255, 183, 3, 255]) } else { image::Rgba([0, 0, 0, 0]) }
    });
    let mut logo_png = std::io::Cursor::new(Vec::new());
    logo.write_to(&mut logo_png, image::ImageFormat::Png)?;
    spec.logo = Some(logo_png.into_inner());
    for size in CreativeSize::ALL {
        let one = CreativeSpec { sizes: vec![size], ..spec.clone() };
        let started = Instant::now();
        render_ad_creatives(&one)?;
        println!("{}: {:?}", size.name(), started.elapsed());
    }
    let started = Instant::now();
    let creatives = render_ad_creatives(&spec)?;
    println!("rendered {} creatives in {:?}", creatives.len(), started.elapsed());
    for c in &creatives {
        std::fs::write(format!("{out}/{}.png", c.name), &c.png)?;
        println!("{}: {}", c.name, serde_json::to_string(&c.layout)?);
    }
    let gallery = creatives
        .iter()
        .take(3)
        .map(|c| GalleryImage {
            src: png_data_uri(&c.png),
            alt: format!("{} ad: {}", c.name, spec.headline),
            width: c.size.width(),
            height: c.size.height(),
        })
        .collect();
    let page = LandingPage {
        lang: "en".to_owned(),
        title: "Trailhead Running: summer sale".to_owned(),
        headline: spec.headline.clone(),
        subheadline: spec.body.clone(),
        value_propositions: vec![
            ValueProposition {
                title: "Grip that holds".to_owned(),
                text: "Deep lugs for mud, scree and wet rock.".to_owned(),
            },
            ValueProposition { title: "Light on the foot".to_owned(), text: "Under 280 g in a men's 9.".to_owned() },
            ValueProposition {
                title: "60-day returns".to_owned(),
                text: "Run in them. Send them back if they don't suit you.".to_owned(),
            },
        ],
        call_to_action: CallToAction { label: "Shop the sale".to_owned(), url: "https://shop.example/sale".to_owned() },
        creatives: gallery,
        brand_colors: spec.brand_colors.clone(),
        footer: "© 2025 Trailhead Running".to_owned(),
    };
    std::fs::write(format!("{out}/index.html"), landing_page(&page)?)?;
    let paragraph = "Trail runners aged 25 to 45 buy two pairs a year on average and research heavily before buying: reviews, forum threads and short video comparisons. ".repeat(4);
    let report = CampaignReport {
        campaign_name: "Trailhead summer sale 2025".to_owned(),
        date: chrono::NaiveDate::from_ymd_opt(2025, 6, 1).ok_or("bad date")?,
        brief: CampaignBrief {
            product: "Trailhead Ridge 3 trail running shoe".to_owned(),
            audience: "Recreational trail runners in the UK and Germany, 25-45".to_owned(),
            goals: vec!["Sell 4,000 pairs during the sale".to_owned(), "Grow the newsletter by 10 %".to_owned()],
        },
        insights: vec![paragraph.clone(), "Competitors discount in July; June is open.".to_owned()],
        strategy: vec![paragraph],
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
            .take(3)
            .map(|c| ReportCreative {
                caption: format!("{} ({}x{})", c.name, c.size.width(), c.size.height()),
                image: c.png.clone(),
            })
            .collect(),
        kpis: vec![
            Kpi {
                name: "Click-through rate".to_owned(),
                target: "1.5 %".to_owned(),
                measurement: "Platform reporting, weekly".to_owned(),
            },
            Kpi {
                name: "Cost per acquisition".to_owned(),
                target: "EUR 18".to_owned(),
                measurement: "Shop orders attributed by UTM, last click".to_owned(),
            },
        ],
    };
    let started = Instant::now();
    let pdf = campaign_report(&report)?;
    println!("report: {} bytes in {:?}", pdf.len(), started.elapsed());
    std::fs::write(format!("{out}/campaign_report.pdf"), pdf)?;
    Ok(())
}
