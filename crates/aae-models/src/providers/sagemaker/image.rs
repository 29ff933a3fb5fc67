//! Qwen-Image on a real-time endpoint: one `InvokeEndpoint` per image.
//!
//! Request: `Content-Type: application/json`, `Accept: image/png, application/json`, body
//! `{"prompt", "negative_prompt", "width", "height", "seed", "steps"}`; `prompt`, `width` and
//! `height` are always sent, the optional fields only when set (the container's defaults apply
//! otherwise, so no `null` reaches it).
//!
//! Reply: either the image itself with an `image/*` content type, or JSON `{"images":
//! ["<base64>", …]}` (the first image is taken). Either way the bytes must decode as an image of
//! exactly the requested size (Property 8, `checks.rs`); the returned content type is the one of
//! the decoded format, whatever the endpoint claimed.

use aws_sdk_sagemakerruntime::Client;
use aws_sdk_sagemakerruntime::primitives::Blob;
use serde::{Deserialize, Serialize};

use super::checks::check_image;
use super::errors::invoke_error;
use super::{NAME, invalid};
use crate::error::{ModelError, ModelErrorKind, ModelResult};
use crate::types::{ImageOutput, ImageRequest};

/// The request body.
#[derive(Debug, Serialize)]
struct ImageBody<'a> {
    prompt: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    negative_prompt: Option<&'a str>,
    width: u32,
    height: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    steps: Option<u32>,
}

/// The JSON reply shape.
#[derive(Debug, Deserialize)]
struct ImagesReply {
    #[serde(default)]
    images: Vec<String>,
}

/// The body sent for `request`.
pub(super) fn body(request: &ImageRequest) -> ModelResult<Vec<u8>> {
    let body = ImageBody {
        prompt: &request.prompt,
        negative_prompt: request.negative_prompt.as_deref(),
        width: request.width,
        height: request.height,
        seed: request.seed,
        steps: request.steps,
    };
    serde_json::to_vec(&body).map_err(|e| {
        ModelError::new(ModelErrorKind::InvalidRequest, NAME, "", format!("image request not serializable: {e}"))
    })
}

/// Generates one image on `endpoint` and checks it.
pub(super) async fn generate(client: &Client, endpoint: &str, request: &ImageRequest) -> ModelResult<ImageOutput> {
    if request.width == 0 || request.height == 0 {
        return Err(ModelError::new(
            ModelErrorKind::InvalidRequest,
            NAME,
            endpoint,
            format!("image size {}x{} is empty", request.width, request.height),
        ));
    }
    let reply = client
        .invoke_endpoint()
        .endpoint_name(endpoint)
        .content_type("application/json")
        .accept("image/png, application/json")
        .body(Blob::new(body(request)?))
        .send()
        .await
        .map_err(|e| invoke_error(endpoint, e))?;
    let content_type = reply.content_type().unwrap_or("").to_ascii_lowercase();
    let bytes = reply.body().map(|b| b.as_ref().to_vec()).unwrap_or_default();
    let image = if content_type.starts_with("application/json") || bytes.first() == Some(&b'{') {
        first_image(endpoint, &bytes)?
    } else {
        bytes
    };
    let (width, height) = (request.width, request.height);
    let (image, checked) = tokio::task::spawn_blocking(move || {
        let checked = check_image(&image, width, height);
        (image, checked)
    })
    .await
    .map_err(|e| invalid(endpoint, format!("image check did not finish: {e}")))?;
    let checked = checked.map_err(|message| invalid(endpoint, message))?;
    Ok(ImageOutput { bytes: image, content_type: checked.content_type.to_owned() })
}

/// The first image of a JSON `{"images": ["<base64>"]}` reply.
fn first_image(endpoint: &str, bytes: &[u8]) -> ModelResult<Vec<u8>> {
    let reply: ImagesReply = serde_json::from_slice(bytes)
        .map_err(|e| invalid(endpoint, format!("reply is not an image nor {{\"images\": [...]}} json: {e}")))?;
    let first = reply.images.first().ok_or_else(|| invalid(endpoint, "reply has no images".to_owned()))?;
    aws_smithy_types::base64::decode(first.trim())
        .map_err(|e| invalid(endpoint, format!("reply image is not base64: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_fields_are_omitted_not_null() {
        let request = ImageRequest {
            prompt: "a red bicycle".into(),
            negative_prompt: None,
            width: 1024,
            height: 768,
            seed: Some(7),
            steps: None,
        };
        let sent: serde_json::Value = serde_json::from_slice(&body(&request).expect("body")).expect("json");
        assert_eq!(sent, serde_json::json!({"prompt": "a red bicycle", "width": 1024, "height": 768, "seed": 7}));
    }

    #[test]
    fn json_replies_give_their_first_image() {
        let reply = br#"{"images": ["aGVsbG8=", "d29ybGQ="]}"#;
        assert_eq!(first_image("e", reply).expect("decoded"), b"hello");
        let none = first_image("e", br#"{"images": []}"#).expect_err("empty");
        assert!(none.message.contains("no images"), "{none}");
        let bad = first_image("e", br#"{"images": ["%%%"]}"#).expect_err("not base64");
        assert!(bad.message.contains("not base64"), "{bad}");
    }
}
