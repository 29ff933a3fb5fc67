#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use serde_json::json;

use super::*;

fn good() -> Value {
    json!({
        "name": "Spring launch",
        "product": "Cold brew cans",
        "audience": "Commuters aged 25-40",
        "goals": ["10,000 cans sold", "5 % click-through"],
        "budget": 5000.5,
        "currency": "EUR",
        "channels": ["social", "search"],
        "tone": "Bright and friendly",
        "brand_colors": ["#0b3d91", "#FFCC00"],
        "logo": "assets/logo.png",
        "documents": ["docs/research.pdf"]
    })
}

/// `good()` with `key` set to `value` (or removed when `value` is `None`), parsed.
fn with(key: &str, value: Option<Value>) -> Result<CampaignBrief, BriefError> {
    let mut doc = good();
    let map = doc.as_object_mut().unwrap();
    match value {
        Some(value) => map.insert(key.to_owned(), value),
        None => map.remove(key),
    };
    CampaignBrief::from_json(&doc.to_string())
}

fn message(result: Result<CampaignBrief, BriefError>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn a_good_brief_parses_with_the_budget_in_cents() {
    let brief = CampaignBrief::from_value(good()).unwrap();
    assert_eq!(brief.name, "Spring launch");
    assert_eq!(brief.budget, Budget { amount_cents: 500_050, currency: "EUR".into() });
    assert_eq!(brief.budget.to_string(), "5000.50 EUR");
    assert_eq!(brief.logo, Some(PathBuf::from("assets/logo.png")));
    assert_eq!(brief.documents, vec![PathBuf::from("docs/research.pdf")]);
    // Optional keys may be absent or null.
    let bare = with("logo", None).unwrap();
    assert_eq!(bare.logo, None);
    assert!(with("documents", Some(Value::Null)).unwrap().documents.is_empty());
    // Whole amounts and amounts with a float representation error are exact cents.
    assert_eq!(with("budget", Some(json!(5000))).unwrap().budget.amount_cents, 500_000);
    assert_eq!(with("budget", Some(json!(0.1))).unwrap().budget.amount_cents, 10);
    assert_eq!(with("budget", Some(json!(19.99))).unwrap().budget.amount_cents, 1999);
}

#[test]
fn round_trips_through_toml_and_json() {
    let brief = CampaignBrief::from_value(good()).unwrap();
    let toml_text = brief.to_toml().unwrap();
    assert!(toml_text.contains("budget = 5000.5\ncurrency = \"EUR\""), "{toml_text}");
    assert_eq!(CampaignBrief::from_toml(&toml_text).unwrap(), brief);
    assert_eq!(CampaignBrief::from_json(&brief.to_json().unwrap()).unwrap(), brief);
    // As a field of another document it serializes flat and deserializing validates it.
    let whole = CampaignBrief { budget: Budget { amount_cents: 700_000, ..brief.budget.clone() }, ..brief.clone() };
    let value = serde_json::to_value(&whole).unwrap();
    assert_eq!(value["budget"], json!(7000));
    assert_eq!(serde_json::from_value::<CampaignBrief>(value).unwrap(), whole);
    let mut bad = serde_json::to_value(&brief).unwrap();
    bad["channels"] = json!(["radio"]);
    let error = serde_json::from_value::<CampaignBrief>(bad).unwrap_err().to_string();
    assert!(error.starts_with("channels[0]: \"radio\" is not a known channel"), "{error}");
}

#[test]
fn the_example_briefs_parse() {
    let briefs = [
        CampaignBrief::from_toml(include_str!("../../../../examples/briefs/coffee_subscription.toml")),
        CampaignBrief::from_toml(include_str!("../../../../examples/briefs/fitness_app_launch.toml")),
        CampaignBrief::from_json(include_str!("../../../../examples/briefs/eco_sneakers.json")),
    ];
    let briefs: Vec<CampaignBrief> = briefs.into_iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(briefs[0].budget.to_string(), "15000.00 GBP");
    assert_eq!(briefs[1].budget.amount_cents, 4_850_050);
    assert_eq!(briefs[2].channels.len(), 5);
}

#[test]
fn syntax_errors_say_the_format_and_where() {
    let error = message(CampaignBrief::from_toml("name = \"x\"\ngoals = [\n"));
    assert!(error.starts_with("the brief is not valid TOML: line "), "{error}");
    let error = message(CampaignBrief::from_json("{\"name\": }"));
    assert!(error.starts_with("the brief is not valid JSON: ") && error.contains("line 1 column"), "{error}");
    assert_eq!(
        message(CampaignBrief::from_json("[1, 2]")),
        "the brief must be a table of keys (a JSON object), got a list"
    );
}

#[test]
fn unknown_keys_are_named_with_the_allowed_ones() {
    let error = message(with("colour", Some(json!("red"))));
    assert_eq!(
        error,
        "unknown key `colour`; allowed keys: name, product, audience, goals, budget, currency, channels, tone, \
         brand_colors, logo, documents"
    );
}

#[test]
fn missing_keys_are_named_with_what_they_hold() {
    assert_eq!(
        message(with("product", None)),
        "missing required key `product`: expected the product or service advertised, as text"
    );
    assert!(message(with("currency", None)).starts_with("missing required key `currency`: expected an ISO 4217"));
    assert!(message(with("goals", None)).starts_with("missing required key `goals`"));
}

#[test]
fn values_of_the_wrong_type_are_named_with_their_index() {
    assert_eq!(
        message(with("goals", Some(json!("sell cans")))),
        "goals: expected a list of strings, got string \"sell cans\""
    );
    assert_eq!(message(with("goals", Some(json!(["a", 5])))), "goals[1]: expected a string, got integer 5");
    assert_eq!(message(with("name", Some(Value::Null))), "name: expected a string, got null");
    assert_eq!(
        message(with("budget", Some(json!("5000")))),
        "budget: expected a number such as 5000 or 5000.50, got string \"5000\""
    );
    let error = message(CampaignBrief::from_toml(&good_toml().replace("tone = \"Bright\"", "tone = 1979-05-27")));
    assert_eq!(error, "tone: expected a string, got a date");
}

fn good_toml() -> String {
    let mut brief = CampaignBrief::from_value(good()).unwrap();
    brief.tone = "Bright".into();
    brief.to_toml().unwrap()
}

#[test]
fn empty_texts_and_lists_are_refused() {
    assert_eq!(
        message(with("name", Some(json!("  ")))),
        "name is empty: expected the campaign's name as text, e.g. \"Spring launch\""
    );
    assert!(message(with("product", Some(json!("")))).starts_with("product is empty"));
    assert!(message(with("goals", Some(json!([])))).starts_with("goals is empty: expected at least one entry"));
    assert_eq!(message(with("goals", Some(json!(["ok", " "])))), "goals[1] is empty: expected some text");
    assert!(message(with("channels", Some(json!([])))).starts_with("channels is empty: expected at least one entry"));
    assert!(message(with("brand_colors", Some(json!([])))).starts_with("brand_colors is empty"));
    assert_eq!(message(with("logo", Some(json!("")))), "logo is empty: expected a file path");
    assert_eq!(message(with("documents", Some(json!(["a.pdf", ""])))), "documents[1] is empty: expected a file path");
}

#[test]
fn lengths_and_counts_are_bounded() {
    let long = "n".repeat(MAX_NAME_CHARS + 1);
    assert_eq!(message(with("name", Some(json!(long)))), "name has 121 characters, at most 120 are allowed");
    let goals: Vec<String> = (0..=MAX_GOALS).map(|i| format!("goal {i}")).collect();
    assert_eq!(message(with("goals", Some(json!(goals)))), "goals has 11 entries, at most 10 are allowed");
    let colors = vec!["#000000"; MAX_BRAND_COLORS + 1];
    assert_eq!(message(with("brand_colors", Some(json!(colors)))), "brand_colors has 6 entries, at most 5 are allowed");
    let documents = vec!["a.pdf"; MAX_DOCUMENTS + 1];
    assert!(message(with("documents", Some(json!(documents)))).starts_with("documents has 21 entries"));
    assert!(
        message(with("audience", Some(json!("a".repeat(MAX_AUDIENCE_CHARS + 1))))).starts_with("audience has 1001")
    );
    assert!(
        message(with("name", Some(json!("two\nlines")))).starts_with("name: \"two\\nlines\" is not one line of text")
    );
    // Longer texts may span lines.
    assert!(with("audience", Some(json!("Commuters\nand students"))).is_ok());
}

#[test]
fn budgets_must_be_positive_amounts_in_cents() {
    let max = "a positive amount of at most 1000000000.00";
    assert_eq!(message(with("budget", Some(json!(0)))), format!("budget: 0.00 is not {max}"));
    assert_eq!(message(with("budget", Some(json!(-250.5)))), format!("budget: -250.50 is not {max}"));
    assert_eq!(message(with("budget", Some(json!(1e12)))), format!("budget: 1000000000000.0 is not {max}"));
    assert_eq!(message(with("budget", Some(json!(1e30)))), format!("budget: 1e+30 is not {max}"));
    assert_eq!(
        message(with("budget", Some(json!(10.005)))),
        "budget: 10.005 is not an amount with at most two decimals (whole cents)"
    );
    let brief = CampaignBrief::from_value(good()).unwrap();
    let built = CampaignBrief { budget: Budget { amount_cents: -1, currency: "EUR".into() }, ..brief };
    assert!(built.validate().unwrap_err().to_string().starts_with("budget: -0.01 is not"));
}

#[test]
fn currencies_are_three_capital_letters() {
    for bad in ["eur", "EURO", "E1R", ""] {
        let error = message(with("currency", Some(json!(bad))));
        assert_eq!(
            error,
            format!(
                "currency: \"{bad}\" is not an ISO 4217 currency code of three capital letters, e.g. \"USD\" or \"EUR\""
            )
        );
    }
}

#[test]
fn colours_must_be_rrggbb() {
    assert_eq!(
        message(with("brand_colors", Some(json!(["#0b3d91", "#12g456"])))),
        "brand_colors[1]: \"#12g456\" is not a #rrggbb colour"
    );
    for bad in ["0b3d91", "#0b3d9", "#0b3d911", "#fff"] {
        assert!(message(with("brand_colors", Some(json!([bad])))).starts_with("brand_colors[0]: "), "{bad}");
    }
}

#[test]
fn channels_come_from_the_closed_list_once_each() {
    let error = message(with("channels", Some(json!(["social", "tv"]))));
    assert_eq!(error, format!("channels[1]: \"tv\" is not a known channel (one of: {})", CHANNELS.join(", ")));
    assert!(error.contains("search, social, display, video, email, instagram"), "{error}");
    assert_eq!(
        message(with("channels", Some(json!(["social", "search", "social"])))),
        "channels[2]: \"social\" is not listed only once (it is also channels[0])"
    );
    assert!(message(with("channels", Some(json!(["Social"])))).contains("is not a known channel"));
}

#[test]
fn the_format_comes_from_the_file_extension() {
    assert_eq!(BriefFormat::from_path(Path::new("briefs/a.toml")).unwrap(), BriefFormat::Toml);
    assert_eq!(BriefFormat::from_path(Path::new("A.JSON")).unwrap(), BriefFormat::Json);
    for bad in ["brief.yaml", "brief", "toml"] {
        let error = BriefFormat::from_path(Path::new(bad)).unwrap_err().to_string();
        assert_eq!(error, format!("{bad}: a brief file must end in .toml or .json"));
    }
    let text = include_str!("../../../../examples/briefs/eco_sneakers.json");
    assert!(CampaignBrief::parse(text, BriefFormat::Json).is_ok());
    assert!(CampaignBrief::parse(text, BriefFormat::Toml).is_err());
}
