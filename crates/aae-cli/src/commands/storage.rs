//! `aae storage …`: put, get, ls, rm, presign, cdn-url (and migrate).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use aae_config::Config;
use aae_storage::{ObjectMetadata, StorageService, UploadOptions};
use aae_types::BucketPurpose;
use anyhow::Context;
use futures::StreamExt;

use crate::cli::{MethodArg, StorageCommand};

fn purpose(bucket: &str) -> anyhow::Result<BucketPurpose> {
    Ok(bucket.parse::<BucketPurpose>()?)
}

pub async fn run(command: StorageCommand, config: Config) -> anyhow::Result<ExitCode> {
    // Migration addresses stores by URL; it needs no storage service.
    if let StorageCommand::Migrate(args) = command {
        return super::migrate::run(args, &config).await;
    }
    let storage = StorageService::from_config(&config).await?;
    match command {
        StorageCommand::Put { bucket, key, file, content_type, meta } => {
            let bucket = purpose(&bucket)?;
            let mut metadata = ObjectMetadata::default();
            for (k, v) in meta {
                metadata.set(&k, v);
            }
            let content_type = content_type
                .or_else(|| aae_storage::migrate::guess_content_type(&file.to_string_lossy()).map(str::to_owned));
            let options = UploadOptions { content_type, metadata };
            let bar = progress_bar(std::fs::metadata(&file).map(|m| m.len()).ok());
            let report = |p: aae_storage::Progress| {
                if let Some(bar) = &bar {
                    bar.set_position(p.bytes_done);
                }
            };
            let result = storage.upload_file(bucket, &key, &file, &options, Some(&report)).await?;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            println!("{}", serde_json::to_string(&result)?);
        }
        StorageCommand::Get { bucket, key, output } => {
            let bucket = purpose(&bucket)?;
            match output {
                Some(path) => {
                    storage.download_to_file(bucket, &key, &path, None).await?;
                }
                None => {
                    let (_, mut stream) = storage.download(bucket, &key).await?;
                    let mut stdout = std::io::stdout().lock();
                    while let Some(chunk) = stream.next().await {
                        stdout.write_all(&chunk?).context("writing to stdout")?;
                    }
                    stdout.flush()?;
                }
            }
        }
        StorageCommand::Ls { bucket, prefix, max, json } => {
            let objects = storage.list(purpose(&bucket)?, &prefix, max).await?;
            if json {
                let rows: Vec<_> = objects
                    .iter()
                    .map(|o| {
                        serde_json::json!({ "key": o.key, "size": o.size, "last_modified": o.last_modified, "etag": o.etag })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for o in objects {
                    println!("{}  {:>12}  {}", o.last_modified.format("%Y-%m-%d %H:%M:%S"), o.size, o.key);
                }
            }
        }
        StorageCommand::Rm { bucket, key } => storage.delete(purpose(&bucket)?, &key).await?,
        StorageCommand::Presign { bucket, key, method, expires, content_type } => {
            let bucket = purpose(&bucket)?;
            let expires = Duration::from_secs(expires);
            let request = match method {
                MethodArg::Get => storage.presigned_download_url(bucket, &key, expires).await?,
                MethodArg::Put => {
                    let content_type = content_type.as_deref().unwrap_or("application/octet-stream");
                    storage.presigned_upload_url(bucket, &key, content_type, expires).await?
                }
            };
            println!("{}", request.url);
        }
        StorageCommand::CdnUrl { bucket, key } => println!("{}", storage.cdn_url(purpose(&bucket)?, &key)?),
        StorageCommand::Migrate(_) => unreachable!("migrate returns before the storage service is built"),
    }
    Ok(ExitCode::SUCCESS)
}

/// A byte progress bar on a terminal, nothing otherwise.
pub fn progress_bar(total: Option<u64>) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total.unwrap_or(0));
    let style = indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}
