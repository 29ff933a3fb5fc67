//! `aae storage migrate`: progress bar on a terminal, summary (or one JSON object) at the end,
//! exit code 1 when any object failed.

use std::io::IsTerminal;
use std::process::ExitCode;

use aae_config::Config;
use aae_storage::BackendOptions;
use aae_storage::migrate::{MigrateOptions, MigrateProgress, migrate};

use crate::cli::MigrateArgs;

pub async fn run(args: MigrateArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let options = MigrateOptions {
        from: args.from,
        to: args.to,
        from_endpoint: args.from_endpoint,
        to_endpoint: args.to_endpoint,
        concurrency: args.concurrency,
        dry_run: args.dry_run,
        create_bucket: config.storage.create_buckets,
        part_size: (config.storage.multipart.part_size_mib << 20) as usize,
        multipart_threshold: (config.storage.multipart.threshold_mib << 20) as usize,
    };
    // Migration talks to explicit URLs; the local URL-signing secret is not needed.
    let base = BackendOptions::from_config(config, vec![0u8; 32]);
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        let style = indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} objects  {msg}  {binary_bytes_per_sec}  eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    });
    let report = |p: MigrateProgress| {
        if let Some(bar) = &bar {
            bar.set_length(p.objects_total);
            bar.set_position(p.objects_done);
            bar.set_message(format!(
                "{}{}/{} MiB (copied {}, skipped {}, failed {})",
                if p.listed { "" } else { "listing, " },
                p.bytes_done >> 20,
                p.bytes_total >> 20,
                p.copied,
                p.skipped,
                p.failed
            ));
        }
    };
    let summary = migrate(&options, &base, &report).await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if args.json {
        println!("{}", summary.to_json());
    } else {
        let verb = if options.dry_run { "would copy" } else { "copied" };
        println!(
            "{verb} {} objects ({} bytes), skipped {} identical, {} failed, in {:.1} s",
            summary.copied, summary.bytes, summary.skipped, summary.failed, summary.seconds
        );
    }
    for failure in &summary.failures {
        eprintln!("failed: {}: {}", failure.key, failure.error);
    }
    Ok(if summary.is_success() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
