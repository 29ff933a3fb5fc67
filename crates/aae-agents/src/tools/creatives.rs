//! `render_ad_creatives`: every standard ad size from the model's copy and the brief's brand.

use std::sync::Arc;

use aae_creative::{
    CreativeSize, CreativeSpec, MAX_BODY_CHARS, MAX_CALL_TO_ACTION_CHARS, MAX_HEADLINE_CHARS, render_ad_creatives,
};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::workspace::{AssetKind, CampaignWorkspace, CreativeSource, StoredCreative};
use super::{blocking, parse_args};
use crate::agent::RunContext;
use crate::tool::{Tool, ToolError, ToolOutput};

/// `render_ad_creatives`: draws the headline, body and call to action in the brief's colours
/// (with its logo, and optionally the latest generated image as background) at every standard
/// size, or the sizes asked for, and stores each PNG at `creatives/{size}.png`.
#[derive(Debug, Clone)]
pub struct RenderAdCreatives {
    workspace: Arc<CampaignWorkspace>,
}

impl RenderAdCreatives {
    /// The tool over `workspace`.
    pub fn new(workspace: Arc<CampaignWorkspace>) -> Self {
        Self { workspace }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    headline: String,
    body: String,
    call_to_action: String,
    #[serde(default)]
    sizes: Option<Vec<String>>,
    #[serde(default)]
    use_background_image: bool,
}

fn size_names() -> Vec<&'static str> {
    CreativeSize::ALL.iter().map(|s| s.name()).collect()
}

fn sizes(names: Option<&[String]>) -> Result<Vec<CreativeSize>, ToolError> {
    let Some(names) = names else { return Ok(CreativeSize::ALL.to_vec()) };
    let mut sizes = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let size = CreativeSize::ALL.into_iter().find(|s| s.name() == name).ok_or_else(|| {
            ToolError::InvalidArguments(format!(
                "sizes[{i}]: unknown size {name:?}; sizes: {}",
                size_names().join(", ")
            ))
        })?;
        if !sizes.contains(&size) {
            sizes.push(size);
        }
    }
    Ok(sizes)
}

#[async_trait]
impl Tool for RenderAdCreatives {
    fn name(&self) -> &str {
        "render_ad_creatives"
    }

    fn description(&self) -> &str {
        "Renders the ad creatives as PNG images in every standard size (1080x1080, 1080x1920, \
         1200x628, 300x250, 728x90, 160x600, 320x50) in the brand's colours with its logo; text is \
         wrapped and shrunk to fit and kept legible. Returns each creative's storage key and notes \
         on any compromise (shortened text, dropped body on banners)."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "headline": {"type": "string", "minLength": 1, "maxLength": MAX_HEADLINE_CHARS,
                             "description": "The headline; short (under 40 characters) reads best on banners."},
                "body": {"type": "string", "maxLength": MAX_BODY_CHARS,
                         "description": "One supporting sentence; may be empty."},
                "call_to_action": {"type": "string", "minLength": 1, "maxLength": MAX_CALL_TO_ACTION_CHARS,
                                   "description": "The button label, e.g. \"Start free trial\"."},
                "sizes": {"type": "array", "minItems": 1, "maxItems": 7,
                          "items": {"type": "string", "enum": size_names()},
                          "description": "Only these sizes (default: all)."},
                "use_background_image": {"type": "boolean",
                                         "description": "Use the latest image from generate_image as the background."}
            },
            "required": ["headline", "body", "call_to_action"],
            "additionalProperties": false
        })
    }

    async fn call(&self, _context: &RunContext, arguments: Value) -> Result<ToolOutput, ToolError> {
        let args: Args = parse_args(arguments)?;
        let ws = &self.workspace;
        let sizes = sizes(args.sizes.as_deref())?;
        let logo = ws.logo().await?;
        let background_key = if args.use_background_image {
            let latest = ws.update(|s| {
                s.creatives.iter().rev().find(|c| c.source == CreativeSource::Generated).map(|c| c.key.clone())
            });
            Some(latest.ok_or_else(|| {
                ToolError::InvalidArguments(
                    "use_background_image: no image was generated yet; call generate_image first or set it to false"
                        .into(),
                )
            })?)
        } else {
            None
        };
        let background = match &background_key {
            Some(key) => Some(ws.download(key).await?),
            None => None,
        };
        let brief = ws.brief();
        let inputs = json!({
            "headline": args.headline,
            "body": args.body,
            "call_to_action": args.call_to_action,
            "brand_colors": brief.brand_colors,
            "logo": brief.logo,
            "background": background_key,
        });
        let alt = |width: u32, height: u32| {
            format!("{} ad, {width}x{height}: {} {} ({})", brief.name, args.headline, args.body, args.call_to_action)
                .replace("  ", " ")
        };
        let spec = CreativeSpec {
            headline: args.headline.clone(),
            body: args.body.clone(),
            call_to_action: args.call_to_action.clone(),
            brand_colors: brief.brand_colors.clone(),
            logo,
            background,
            sizes,
        };
        let rendered = blocking(move || render_ad_creatives(&spec)).await?;

        let mut stored = Vec::with_capacity(rendered.len());
        let mut uploads = Vec::with_capacity(rendered.len());
        for creative in rendered {
            let key = ws.creative_key(&format!("{}.png", creative.name))?;
            let (width, height) = creative.size.dimensions();
            let contrast_min = creative.layout.texts.iter().map(|t| t.contrast_ratio).reduce(f64::min);
            let notes: Vec<String> =
                creative.layout.notes.iter().map(|note| format!("{}: {note}", creative.name)).collect();
            uploads.push((key.clone(), creative.png));
            let entry = StoredCreative {
                name: creative.name,
                key,
                width,
                height,
                alt: alt(width, height),
                source: CreativeSource::Rendered,
                contrast_min: contrast_min.map(|c| (c * 100.0).round() / 100.0),
            };
            stored.push((entry, notes));
        }
        let results = futures::future::try_join_all(
            uploads.into_iter().map(|(key, png)| async move { ws.store(&key, png, "image/png", "creative").await }),
        )
        .await?;

        let mut provenance = Vec::with_capacity(stored.len());
        let mut creatives = Vec::with_capacity(stored.len());
        let mut all_notes = Vec::new();
        for ((entry, notes), upload) in stored.into_iter().zip(results) {
            let mut asset_inputs = inputs.clone();
            asset_inputs["size"] = json!({"width": entry.width, "height": entry.height});
            provenance.push(ws.provenance(&entry.key, AssetKind::Creative, asset_inputs));
            creatives.push(json!({
                "name": entry.name,
                "key": entry.key,
                "url": upload.url,
                "width": entry.width,
                "height": entry.height,
                "contrast_min": entry.contrast_min,
            }));
            all_notes.extend(notes);
            ws.put_creative(entry);
        }
        ws.record(self.name(), provenance);
        Ok(json!({"creatives": creatives, "notes": all_notes}))
    }
}
