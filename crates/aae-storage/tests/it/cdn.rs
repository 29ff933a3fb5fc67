//! CloudFront signed URLs checked with `openssl`, and GCS V4 signed URLs.

use std::process::Command;
use std::time::Duration;

use aae_types::BucketPurpose;
use base64::Engine as _;

use crate::support::{Kind, fixture_with};

fn openssl(args: &[&str], dir: &std::path::Path) -> anyhow::Result<()> {
    let status = Command::new("openssl").args(args).current_dir(dir).status()?;
    anyhow::ensure!(status.success(), "openssl {args:?} failed");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudfront_signed_urls_verify_with_openssl() -> anyhow::Result<()> {
    let keys = tempfile::tempdir()?;
    openssl(&["genrsa", "-traditional", "-out", "cf.pem", "2048"], keys.path())?;
    openssl(&["rsa", "-in", "cf.pem", "-pubout", "-out", "cf.pub"], keys.path())?;
    let key_path = keys.path().join("cf.pem");
    let f = fixture_with(Kind::Memory, move |c| {
        c.storage.cdn.domain = Some("d111111abcdef8.cloudfront.net".into());
        c.storage.cdn.key_pair_id = Some("K2JCJMDEHXQW5F".into());
        c.storage.cdn.private_key_path = Some(key_path);
    })
    .await?;
    let key = "campaigns/c 1/pdf/campaign_report.pdf";
    let before = chrono::Utc::now().timestamp();
    let signed = f.storage.signed_cdn_url(BucketPurpose::CampaignOutputs, key, Duration::from_secs(3600))?;
    let resource = f.storage.cdn_url(BucketPurpose::CampaignOutputs, key)?;
    assert_eq!(resource, "https://d111111abcdef8.cloudfront.net/campaigns/c%201/pdf/campaign_report.pdf");
    let query = signed.strip_prefix(&format!("{resource}?")).ok_or_else(|| anyhow::anyhow!("{signed}"))?;
    let params: std::collections::HashMap<_, _> = query.split('&').filter_map(|p| p.split_once('=')).collect();
    let expires: i64 = params["Expires"].parse()?;
    assert!((before + 3600..=before + 3605).contains(&expires), "{expires}");
    assert_eq!(params["Key-Pair-Id"], "K2JCJMDEHXQW5F");
    // CloudFront's URL-safe base64: '-' for '+', '_' for '=', '~' for '/'.
    let standard: String = params["Signature"]
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '=',
            '~' => '/',
            c => c,
        })
        .collect();
    let signature = base64::engine::general_purpose::STANDARD.decode(standard)?;
    let policy = format!(
        r#"{{"Statement":[{{"Resource":"{resource}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
    );
    std::fs::write(keys.path().join("policy.json"), policy)?;
    std::fs::write(keys.path().join("sig.bin"), &signature)?;
    openssl(&["dgst", "-sha1", "-verify", "cf.pub", "-signature", "sig.bin", "policy.json"], keys.path())?;
    // Without a key pair, the error says which settings are missing.
    let plain = fixture_with(Kind::Memory, |c| c.storage.cdn.domain = Some("cdn.example.com".into())).await?;
    let err =
        plain.storage.signed_cdn_url(BucketPurpose::CampaignOutputs, key, Duration::from_secs(60)).expect_err("no key");
    assert!(err.to_string().contains("AAE__STORAGE__CDN__KEY_PAIR_ID"), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_v4_signed_urls_use_the_service_account() -> anyhow::Result<()> {
    let keys = tempfile::tempdir()?;
    openssl(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.pem"], keys.path())?;
    let pem = std::fs::read_to_string(keys.path().join("sa.pem"))?;
    let account = serde_json::json!({
        "type": "service_account",
        "project_id": "aae-test",
        "private_key_id": "abc123",
        "private_key": pem,
        "client_email": "aae@aae-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    });
    let path = keys.path().join("sa.json");
    std::fs::write(&path, account.to_string())?;
    let dir = tempfile::tempdir()?;
    let config = aae_config::Config {
        data_dir: dir.path().to_path_buf(),
        storage: aae_config::StorageConfig {
            backend: aae_config::StorageBackendKind::Gcs,
            gcs: aae_config::GcsConfig { service_account_path: Some(path) },
            ..Default::default()
        },
        ..Default::default()
    };
    let storage = crate::support::service_for(&config).await?;
    let request = storage
        .presigned_download_url(BucketPurpose::Exports, "reports/q1 final.pdf", Duration::from_secs(900))
        .await?;
    let url = url::Url::parse(&request.url)?;
    assert_eq!(url.host_str(), Some("storage.googleapis.com"));
    assert!(url.path().ends_with("/dev-aae-exports/reports/q1%20final.pdf"), "{url}");
    let params: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(params["X-Goog-Algorithm"], "GOOG4-RSA-SHA256");
    assert!(params["X-Goog-Credential"].starts_with("aae@aae-test.iam.gserviceaccount.com/"));
    assert_eq!(params["X-Goog-Expires"], "900");
    assert_eq!(params["X-Goog-Signature"].len(), 512, "hex RSA-2048 signature");
    let put =
        storage.presigned_upload_url(BucketPurpose::Uploads, "u/a.png", "image/png", Duration::from_secs(60)).await?;
    assert_eq!(put.method, "PUT");
    Ok(())
}
