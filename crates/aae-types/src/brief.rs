//! The campaign brief (issue 5): what a campaign is for, given as TOML or JSON text.
//!
//! The keys are `name`, `product`, `audience`, `goals` (list), `budget` (an amount such as `5000`
//! or `5000.50`) and `currency` (ISO 4217), `channels` (list, from [`CHANNELS`]), `tone`,
//! `brand_colors` (list of `#rrggbb`), optional `logo` (a path) and optional `documents` (paths).
//! [`CampaignBrief::from_toml`] and [`CampaignBrief::from_json`] parse the text and check it
//! with [`CampaignBrief::validate`]; every [`BriefError`] names the key (`goals[2]`,
//! `brand_colors[1]`) and says what a valid value looks like. Unknown keys are errors that list
//! the allowed ones.
//!
//! Money is kept in minor units ([`Budget::amount_cents`]) so no float ever carries it; input
//! amounts may have at most two decimals. Parsing reads text only: reading the file (and the
//! logo and documents it names) is the caller's job, [`BriefFormat::from_path`] only looks at the
//! file name.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The advertising channels a brief may name, in the order error messages list them.
pub const CHANNELS: &[&str] = &[
    "search",
    "social",
    "display",
    "video",
    "email",
    "instagram",
    "facebook",
    "tiktok",
    "linkedin",
    "youtube",
    "x",
    "pinterest",
    "snapchat",
    "reddit",
    "google_ads",
];

/// Longest campaign name, in characters.
pub const MAX_NAME_CHARS: usize = 120;
/// Longest product description, in characters.
pub const MAX_PRODUCT_CHARS: usize = 300;
/// Longest audience description, in characters.
pub const MAX_AUDIENCE_CHARS: usize = 1000;
/// Longest tone description, in characters.
pub const MAX_TONE_CHARS: usize = 200;
/// Longest single goal, in characters.
pub const MAX_GOAL_CHARS: usize = 300;
/// Most goals.
pub const MAX_GOALS: usize = 10;
/// Most brand colours (what the creatives and the landing page use).
pub const MAX_BRAND_COLORS: usize = 5;
/// Most documents.
pub const MAX_DOCUMENTS: usize = 20;
/// Largest budget, in minor units (one billion in major units).
pub const MAX_BUDGET_CENTS: i64 = 100_000_000_000;

/// Every key of a brief, with what it expects (used in error messages).
const KEYS: &[(&str, &str)] = &[
    ("name", "the campaign's name as text, e.g. \"Spring launch\""),
    ("product", "the product or service advertised, as text"),
    ("audience", "who the campaign targets, as text"),
    ("goals", "a list of goals, e.g. [\"1,000 sign-ups\"]"),
    ("budget", "the total budget as a number, e.g. 5000 or 5000.50"),
    ("currency", "an ISO 4217 code of three capital letters, e.g. \"USD\""),
    ("channels", "a list of channels, e.g. [\"social\", \"search\"]"),
    ("tone", "the voice of the copy, e.g. \"warm and witty\""),
    ("brand_colors", "a list of #rrggbb colours, e.g. [\"#0b3d91\"]"),
    ("logo", "a path to the logo image"),
    ("documents", "a list of paths to supporting documents"),
];

/// A text format a brief may be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BriefFormat {
    /// TOML (`.toml`).
    Toml,
    /// JSON (`.json`).
    Json,
}

impl BriefFormat {
    /// The format a file's extension (`.toml` or `.json`, any case) says it has. Reads nothing.
    pub fn from_path(path: &Path) -> Result<Self, BriefError> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("toml") => Ok(Self::Toml),
            Some("json") => Ok(Self::Json),
            _ => Err(BriefError::UnsupportedFormat { path: path.to_path_buf() }),
        }
    }
}

impl fmt::Display for BriefFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Toml => "TOML",
            Self::Json => "JSON",
        })
    }
}

/// Why a brief was refused. Every variant about a value names its key (with the list index,
/// e.g. `goals[2]`) and says what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BriefError {
    /// The text is not valid TOML or JSON.
    #[error("the brief is not valid {format}: {message}")]
    Syntax {
        /// The format tried.
        format: BriefFormat,
        /// The parser's message, with the line and column.
        message: String,
    },
    /// The document is not a table of keys.
    #[error("the brief must be a table of keys (a JSON object), got {found}")]
    NotATable {
        /// What it was instead.
        found: String,
    },
    /// A key the brief does not have.
    #[error("unknown key `{key}`; allowed keys: {allowed}")]
    UnknownKey {
        /// The key as written.
        key: String,
        /// Every allowed key, comma-separated.
        allowed: String,
    },
    /// A required key is absent.
    #[error("missing required key `{key}`: expected {expected}")]
    MissingKey {
        /// The key.
        key: String,
        /// What it should hold.
        expected: String,
    },
    /// A value of the wrong type.
    #[error("{key}: expected {expected}, got {found}")]
    WrongType {
        /// The key, e.g. `goals[1]`.
        key: String,
        /// The type expected.
        expected: String,
        /// What was given, e.g. `integer 5`.
        found: String,
    },
    /// A required text or list is empty.
    #[error("{key} is empty: expected {expected}")]
    Empty {
        /// The key.
        key: String,
        /// What it should hold.
        expected: String,
    },
    /// A text longer than allowed.
    #[error("{key} has {actual} characters, at most {max} are allowed")]
    TooLong {
        /// The key.
        key: String,
        /// Most characters.
        max: usize,
        /// Characters given.
        actual: usize,
    },
    /// A list with too many entries.
    #[error("{key} has {actual} entries, at most {max} are allowed")]
    TooMany {
        /// The key.
        key: String,
        /// Most entries.
        max: usize,
        /// Entries given.
        actual: usize,
    },
    /// A value outside what the key accepts.
    #[error("{key}: {value} is not {expected}")]
    Invalid {
        /// The key, e.g. `brand_colors[1]`.
        key: String,
        /// The value as written (strings quoted).
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// The file name has neither a `.toml` nor a `.json` extension.
    #[error("{}: a brief file must end in .toml or .json", path.display())]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
    },
    /// The file could not be read (reported by callers that read it; this crate does no IO).
    #[error("cannot read the brief {}: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        message: String,
    },
}

/// The campaign's budget.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Budget {
    /// The total in minor units (cents), above 0 and at most [`MAX_BUDGET_CENTS`].
    pub amount_cents: i64,
    /// ISO 4217 code, three capital letters (`USD`).
    pub currency: String,
}

impl Budget {
    /// The amount in major units with two decimals, e.g. `5000.50`.
    pub fn amount(&self) -> String {
        let sign = if self.amount_cents < 0 { "-" } else { "" };
        let cents = self.amount_cents.unsigned_abs();
        format!("{sign}{}.{:02}", cents / 100, cents % 100)
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount(), self.currency)
    }
}

/// A campaign brief. Parse it with [`from_toml`](Self::from_toml) or
/// [`from_json`](Self::from_json); a brief built in code is checked with
/// [`validate`](Self::validate). It serializes to the same flat keys it is read from (`budget`
/// as a number, `currency` next to it), and deserializing it (e.g. inside a stored record)
/// validates it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "BriefFile")]
pub struct CampaignBrief {
    /// The campaign's name, 1 to [`MAX_NAME_CHARS`] characters on one line.
    pub name: String,
    /// The product or service advertised.
    pub product: String,
    /// Who the campaign targets.
    pub audience: String,
    /// What it should achieve, 1 to [`MAX_GOALS`] entries.
    pub goals: Vec<String>,
    /// The total budget.
    pub budget: Budget,
    /// Where it runs, 1 or more distinct entries of [`CHANNELS`].
    pub channels: Vec<String>,
    /// The voice of the copy.
    pub tone: String,
    /// 1 to [`MAX_BRAND_COLORS`] colours as `#rrggbb`; the first is the primary colour.
    pub brand_colors: Vec<String>,
    /// The logo image file.
    pub logo: Option<PathBuf>,
    /// Supporting documents (product sheets, research), up to [`MAX_DOCUMENTS`].
    pub documents: Vec<PathBuf>,
}

impl CampaignBrief {
    /// Parses and validates a brief written in `format`.
    pub fn parse(text: &str, format: BriefFormat) -> Result<Self, BriefError> {
        match format {
            BriefFormat::Toml => Self::from_toml(text),
            BriefFormat::Json => Self::from_json(text),
        }
    }

    /// Parses and validates a TOML brief.
    pub fn from_toml(text: &str) -> Result<Self, BriefError> {
        let value: Value = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|span| line_col(text, span.start)).unwrap_or_default();
            BriefError::Syntax { format: BriefFormat::Toml, message: format!("{at}{}", e.message().trim_end()) }
        })?;
        Self::from_value(value)
    }

    /// Parses and validates a JSON brief.
    pub fn from_json(text: &str) -> Result<Self, BriefError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| BriefError::Syntax { format: BriefFormat::Json, message: e.to_string() })?;
        Self::from_value(value)
    }

    /// Reads a brief from an already parsed document (TOML or JSON) and validates it.
    pub fn from_value(value: Value) -> Result<Self, BriefError> {
        let Value::Object(map) = value else { return Err(BriefError::NotATable { found: describe(&value) }) };
        if let Some(key) = map.keys().find(|key| !KEYS.iter().any(|(known, _)| known == key)) {
            let allowed: Vec<&str> = KEYS.iter().map(|(known, _)| *known).collect();
            return Err(BriefError::UnknownKey { key: key.clone(), allowed: allowed.join(", ") });
        }
        let keys = Keys(map);
        let brief = CampaignBrief {
            name: keys.string("name")?,
            product: keys.string("product")?,
            audience: keys.string("audience")?,
            goals: keys.strings("goals")?,
            budget: Budget { amount_cents: keys.amount("budget")?, currency: keys.string("currency")? },
            channels: keys.strings("channels")?,
            tone: keys.string("tone")?,
            brand_colors: keys.strings("brand_colors")?,
            logo: keys.optional_string("logo")?.map(PathBuf::from),
            documents: keys.optional_strings("documents")?.into_iter().map(PathBuf::from).collect(),
        };
        brief.validate()?;
        Ok(brief)
    }

    /// The brief as TOML, in the form [`from_toml`](Self::from_toml) reads.
    pub fn to_toml(&self) -> Result<String, BriefError> {
        toml::to_string(self).map_err(|e| BriefError::Syntax { format: BriefFormat::Toml, message: e.to_string() })
    }

    /// The brief as pretty-printed JSON, in the form [`from_json`](Self::from_json) reads.
    pub fn to_json(&self) -> Result<String, BriefError> {
        serde_json::to_string_pretty(self)
            .map_err(|e| BriefError::Syntax { format: BriefFormat::Json, message: e.to_string() })
    }

    /// Checks every rule: texts present and within their lengths, at least one goal and one
    /// channel, a positive budget with an ISO 4217 currency, known and distinct channels,
    /// `#rrggbb` colours, non-empty paths.
    pub fn validate(&self) -> Result<(), BriefError> {
        line(&self.name, "name", MAX_NAME_CHARS)?;
        text(&self.product, "product", MAX_PRODUCT_CHARS)?;
        text(&self.audience, "audience", MAX_AUDIENCE_CHARS)?;
        list(&self.goals, "goals", MAX_GOALS)?;
        for (i, goal) in self.goals.iter().enumerate() {
            text(goal, &format!("goals[{i}]"), MAX_GOAL_CHARS)?;
        }
        self.validate_budget()?;
        list(&self.channels, "channels", CHANNELS.len())?;
        for (i, channel) in self.channels.iter().enumerate() {
            let key = format!("channels[{i}]");
            if !CHANNELS.contains(&channel.as_str()) {
                let expected = format!("a known channel (one of: {})", CHANNELS.join(", "));
                return Err(invalid(&key, &Value::from(channel.as_str()), expected));
            }
            if let Some(first) = self.channels[..i].iter().position(|c| c == channel) {
                let expected = format!("listed only once (it is also channels[{first}])");
                return Err(invalid(&key, &Value::from(channel.as_str()), expected));
            }
        }
        line(&self.tone, "tone", MAX_TONE_CHARS)?;
        list(&self.brand_colors, "brand_colors", MAX_BRAND_COLORS)?;
        for (i, color) in self.brand_colors.iter().enumerate() {
            if !is_hex_color(color) {
                return Err(invalid(&format!("brand_colors[{i}]"), &Value::from(color.as_str()), "a #rrggbb colour"));
            }
        }
        if let Some(logo) = &self.logo {
            path(logo, "logo")?;
        }
        if self.documents.len() > MAX_DOCUMENTS {
            return Err(BriefError::TooMany {
                key: "documents".into(),
                max: MAX_DOCUMENTS,
                actual: self.documents.len(),
            });
        }
        for (i, document) in self.documents.iter().enumerate() {
            path(document, &format!("documents[{i}]"))?;
        }
        Ok(())
    }

    fn validate_budget(&self) -> Result<(), BriefError> {
        let budget = &self.budget;
        if budget.amount_cents <= 0 || budget.amount_cents > MAX_BUDGET_CENTS {
            let max = Budget { amount_cents: MAX_BUDGET_CENTS, currency: String::new() };
            return Err(BriefError::Invalid {
                key: "budget".into(),
                value: budget.amount(),
                expected: format!("a positive amount of at most {}", max.amount()),
            });
        }
        let currency = &budget.currency;
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            let expected = "an ISO 4217 currency code of three capital letters, e.g. \"USD\" or \"EUR\"";
            return Err(invalid("currency", &Value::from(currency.as_str()), expected));
        }
        Ok(())
    }
}

impl TryFrom<Value> for CampaignBrief {
    type Error = BriefError;

    fn try_from(value: Value) -> Result<Self, BriefError> {
        Self::from_value(value)
    }
}

/// The serialized form: the brief's flat keys, the budget as a number of major units.
#[derive(Serialize)]
struct BriefFile {
    name: String,
    product: String,
    audience: String,
    goals: Vec<String>,
    budget: Amount,
    currency: String,
    channels: Vec<String>,
    tone: String,
    brand_colors: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logo: Option<PathBuf>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    documents: Vec<PathBuf>,
}

/// A whole amount is written as an integer (`5000`), any other as a decimal (`5000.5`).
#[derive(Serialize)]
#[serde(untagged)]
enum Amount {
    Whole(i64),
    Decimal(f64),
}

impl From<CampaignBrief> for BriefFile {
    fn from(brief: CampaignBrief) -> Self {
        let cents = brief.budget.amount_cents;
        let budget = if cents % 100 == 0 { Amount::Whole(cents / 100) } else { Amount::Decimal(cents as f64 / 100.0) };
        BriefFile {
            name: brief.name,
            product: brief.product,
            audience: brief.audience,
            goals: brief.goals,
            budget,
            currency: brief.budget.currency,
            channels: brief.channels,
            tone: brief.tone,
            brand_colors: brief.brand_colors,
            logo: brief.logo,
            documents: brief.documents,
        }
    }
}

/// The document's keys, read with errors that name the key.
struct Keys(Map<String, Value>);

impl Keys {
    fn required(&self, key: &str) -> Result<&Value, BriefError> {
        self.0.get(key).ok_or_else(|| {
            let expected = KEYS.iter().find(|(known, _)| *known == key).map_or("a value", |(_, expected)| expected);
            BriefError::MissingKey { key: key.to_owned(), expected: expected.to_owned() }
        })
    }

    fn optional(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|value| !value.is_null())
    }

    fn string(&self, key: &str) -> Result<String, BriefError> {
        as_string(self.required(key)?, key)
    }

    fn strings(&self, key: &str) -> Result<Vec<String>, BriefError> {
        as_strings(self.required(key)?, key)
    }

    fn optional_string(&self, key: &str) -> Result<Option<String>, BriefError> {
        self.optional(key).map(|value| as_string(value, key)).transpose()
    }

    fn optional_strings(&self, key: &str) -> Result<Vec<String>, BriefError> {
        self.optional(key).map_or(Ok(Vec::new()), |value| as_strings(value, key))
    }

    /// A number of major units with at most two decimals, as minor units.
    fn amount(&self, key: &str) -> Result<i64, BriefError> {
        let value = self.required(key)?;
        let expected = "a number such as 5000 or 5000.50";
        let Value::Number(number) = value else { return Err(wrong_type(key, expected, value)) };
        if let Some(units) = number.as_i64() {
            return units.checked_mul(100).ok_or_else(|| too_large(key, value));
        }
        let units = number.as_f64().filter(|u| u.is_finite()).ok_or_else(|| too_large(key, value))?;
        let cents = units * 100.0;
        if cents.abs() > MAX_BUDGET_CENTS as f64 * 10.0 {
            return Err(too_large(key, value));
        }
        let rounded = cents.round();
        if (cents - rounded).abs() > 1e-3 {
            return Err(invalid(key, value, "an amount with at most two decimals (whole cents)"));
        }
        Ok(rounded as i64)
    }
}

fn too_large(key: &str, value: &Value) -> BriefError {
    let max = Budget { amount_cents: MAX_BUDGET_CENTS, currency: String::new() };
    invalid(key, value, format!("a positive amount of at most {}", max.amount()))
}

fn as_string(value: &Value, key: &str) -> Result<String, BriefError> {
    value.as_str().map(str::to_owned).ok_or_else(|| wrong_type(key, "a string", value))
}

fn as_strings(value: &Value, key: &str) -> Result<Vec<String>, BriefError> {
    let Value::Array(items) = value else { return Err(wrong_type(key, "a list of strings", value)) };
    items.iter().enumerate().map(|(i, item)| as_string(item, &format!("{key}[{i}]"))).collect()
}

fn wrong_type(key: &str, expected: &str, value: &Value) -> BriefError {
    BriefError::WrongType { key: key.to_owned(), expected: expected.to_owned(), found: describe(value) }
}

fn invalid(key: &str, value: &Value, expected: impl Into<String>) -> BriefError {
    BriefError::Invalid { key: key.to_owned(), value: value.to_string(), expected: expected.into() }
}

/// `integer 5`, `string "x"`, `a list`, … for error messages.
fn describe(value: &Value) -> String {
    let shown = |kind: &str| {
        let text = value.to_string();
        let short: String = text.chars().take(40).collect();
        let ellipsis = if short.len() < text.len() { "…" } else { "" };
        format!("{kind} {short}{ellipsis}")
    };
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(_) => shown("boolean"),
        Value::Number(n) if n.is_i64() || n.is_u64() => shown("integer"),
        Value::Number(_) => shown("number"),
        Value::String(_) => shown("string"),
        Value::Array(_) => "a list".to_owned(),
        // TOML dates arrive as a one-key table.
        Value::Object(map) if map.keys().any(|k| k.contains("toml_private_datetime")) => "a date".to_owned(),
        Value::Object(_) => "a table".to_owned(),
    }
}

fn chars(value: &str, key: &str, max: usize) -> Result<(), BriefError> {
    if value.trim().is_empty() {
        let expected = KEYS.iter().find(|(known, _)| *known == key).map_or("some text", |(_, e)| e);
        return Err(BriefError::Empty { key: key.to_owned(), expected: expected.to_owned() });
    }
    let actual = value.chars().count();
    if actual > max {
        return Err(BriefError::TooLong { key: key.to_owned(), max, actual });
    }
    Ok(())
}

/// Text that may span lines.
fn text(value: &str, key: &str, max: usize) -> Result<(), BriefError> {
    chars(value, key, max)?;
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
        return Err(invalid(key, &Value::from(value), "text without control characters"));
    }
    Ok(())
}

/// Text on one line.
fn line(value: &str, key: &str, max: usize) -> Result<(), BriefError> {
    chars(value, key, max)?;
    if value.chars().any(char::is_control) {
        return Err(invalid(key, &Value::from(value), "one line of text without control characters"));
    }
    Ok(())
}

fn list(items: &[String], key: &str, max: usize) -> Result<(), BriefError> {
    if items.is_empty() {
        let expected = KEYS.iter().find(|(known, _)| *known == key).map_or("at least one entry", |(_, e)| e);
        return Err(BriefError::Empty { key: key.to_owned(), expected: format!("at least one entry, {expected}") });
    }
    if items.len() > max {
        return Err(BriefError::TooMany { key: key.to_owned(), max, actual: items.len() });
    }
    Ok(())
}

fn path(path: &Path, key: &str) -> Result<(), BriefError> {
    if path.as_os_str().is_empty() {
        return Err(BriefError::Empty { key: key.to_owned(), expected: "a file path".to_owned() });
    }
    Ok(())
}

fn is_hex_color(value: &str) -> bool {
    value.len() == 7 && value.starts_with('#') && value[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// `line 3, column 7: ` for a byte offset of `text`.
fn line_col(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}: ")
}

#[cfg(test)]
mod tests;
