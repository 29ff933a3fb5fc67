//! `aae generate image|video`: one Qwen-Image image or one Wan2.2 video through the model router
//! (SageMaker when `providers.sagemaker.enabled`), checked (Property 8) and written to a file.

use std::path::PathBuf;
use std::process::ExitCode;

use aae_config::Config;
use aae_models::{CallContext, ImageRequest, ModelRouter, VideoRequest};
use anyhow::Context;

use crate::cli::{GenerateCommand, ImageArgs, VideoArgs};

pub async fn run(config: &Config, command: GenerateCommand) -> anyhow::Result<ExitCode> {
    let router = ModelRouter::from_config(config).await?;
    match command {
        GenerateCommand::Image(args) => image(&router, args).await,
        GenerateCommand::Video(args) => video(&router, args).await,
    }
}

/// `WxH` → (width, height), each 64..=4096.
pub fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let error = || format!("size {text:?} must be WIDTHxHEIGHT with each side from 64 to 4096, e.g. 1024x1024");
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(error)?;
    let w: u32 = w.trim().parse().map_err(|_| error())?;
    let h: u32 = h.trim().parse().map_err(|_| error())?;
    if !(64..=4096).contains(&w) || !(64..=4096).contains(&h) {
        return Err(error());
    }
    Ok((w, h))
}

fn default_path(kind: &str, extension: &str) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    PathBuf::from(format!("aae-{kind}-{stamp}.{extension}"))
}

async fn image(router: &ModelRouter, args: ImageArgs) -> anyhow::Result<ExitCode> {
    let (width, height) = args.size;
    let request = ImageRequest {
        prompt: args.prompt,
        negative_prompt: args.negative_prompt,
        width,
        height,
        seed: args.seed,
        steps: args.steps,
    };
    let routed = router.generate_image(&CallContext::default(), &request).await?;
    let extension = match routed.value.content_type.as_str() {
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        _ => "png",
    };
    let path = args.out.unwrap_or_else(|| default_path("image", extension));
    std::fs::write(&path, &routed.value.bytes).with_context(|| format!("cannot write {}", path.display()))?;
    report(
        args.json,
        serde_json::json!({
            "path": path,
            "content_type": routed.value.content_type,
            "width": width,
            "height": height,
            "bytes": routed.value.bytes.len(),
            "model": routed.model.key(),
            "cost_micros": routed.cost_micros,
        }),
        &format!("{width}x{height} {} image", routed.value.content_type),
        &path,
    )
}

async fn video(router: &ModelRouter, args: VideoArgs) -> anyhow::Result<ExitCode> {
    let request = VideoRequest { prompt: args.prompt, seconds: args.seconds };
    if !args.json {
        eprintln!("starting the video job; it is polled until done (router.video_timeout_secs)");
    }
    let routed = router.generate_video(&CallContext::default(), &request).await?;
    let path = args.out.unwrap_or_else(|| default_path("video", "mp4"));
    std::fs::write(&path, &routed.value.bytes).with_context(|| format!("cannot write {}", path.display()))?;
    report(
        args.json,
        serde_json::json!({
            "path": path,
            "content_type": routed.value.content_type,
            "seconds": routed.value.seconds,
            "bytes": routed.value.bytes.len(),
            "model": routed.model.key(),
            "cost_micros": routed.cost_micros,
        }),
        &format!("{:.1} s {} video", routed.value.seconds, routed.value.content_type),
        &path,
    )
}

fn report(json: bool, body: serde_json::Value, what: &str, path: &std::path::Path) -> anyhow::Result<ExitCode> {
    if json {
        println!("{body}");
    } else {
        let cost = body["cost_micros"].as_i64().unwrap_or(0) as f64 / 1e6;
        println!(
            "wrote {} ({what}, {} bytes) from {}, cost {cost} credits",
            path.display(),
            body["bytes"],
            body["model"]
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_bad_ones_say_the_format() {
        assert_eq!(parse_size("1024x768"), Ok((1024, 768)));
        assert_eq!(parse_size("512X512"), Ok((512, 512)));
        for bad in ["1024", "10x10", "axb", "5000x100"] {
            assert!(parse_size(bad).unwrap_err().contains("WIDTHxHEIGHT"), "{bad}");
        }
    }
}
