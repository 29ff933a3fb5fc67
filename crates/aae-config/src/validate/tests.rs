#![allow(clippy::result_large_err)] // figment::Jail closures return figment::Error
use aae_types::{BucketPurpose, Environment};
use figment::Jail;

use crate::{Config, ConfigSources, SseKind, StorageBackendKind};

fn load_env() -> Result<Config, crate::ConfigError> {
    Config::load(&ConfigSources::default())
}

#[test]
fn defaults_are_embedded_and_valid() {
    let config = Config::load(&ConfigSources { ignore_env: true, ..Default::default() }).expect("defaults load");
    assert_eq!(config.storage.backend, StorageBackendKind::Local);
    assert_eq!(config.environment, Environment::Development);
    assert_eq!(config.data_dir, std::path::PathBuf::from("./aae-data"));
    assert_eq!(config.server.public_base_url(), "http://127.0.0.1:8080");
    let bucket = config.bucket(BucketPurpose::CampaignOutputs).expect("bucket");
    assert_eq!(bucket.name, "dev-aae-campaign-outputs");
    assert_eq!(bucket.prefix, "");
}

#[test]
fn layers_apply_in_order_file_env_flags() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "aae.toml",
            r#"
            environment = "staging"
            [server]
            port = 7000
            host = "0.0.0.0"
            [storage]
            backend = "s3"
            "#,
        )?;
        jail.set_env("AAE__SERVER__PORT", "7100");
        jail.set_env("AAE__STORAGE__S3__FORCE_PATH_STYLE", "true");
        jail.set_env("AAE__STORAGE__BUCKETS__CAMPAIGN_OUTPUTS", "outputs/campaigns-v2");
        let config = Config::load(&ConfigSources::default().set("server.port", "7200")).map_err(|e| e.to_string())?;
        assert_eq!(config.environment, Environment::Staging);
        assert_eq!(config.server.host, "0.0.0.0");
        assert_eq!(config.server.port, 7200, "flags win over env");
        assert!(config.storage.s3.force_path_style);
        assert_eq!(config.storage.backend, StorageBackendKind::S3);
        let outputs = config.bucket(BucketPurpose::CampaignOutputs).map_err(|e| e.to_string())?;
        assert_eq!((outputs.name.as_str(), outputs.prefix.as_str()), ("outputs", "campaigns-v2"));
        let videos = config.bucket(BucketPurpose::Videos).map_err(|e| e.to_string())?;
        assert_eq!(videos.name, "staging-aae-videos");
        let config = load_env().map_err(|e| e.to_string())?;
        assert_eq!(config.server.port, 7100, "env wins over file");
        Ok(())
    });
}

#[test]
fn aae_config_env_names_the_file() {
    Jail::expect_with(|jail| {
        jail.create_file("custom.toml", "data_dir = \"/tmp/aae-custom\"\n")?;
        jail.set_env("AAE_CONFIG", "custom.toml");
        let config = load_env().map_err(|e| e.to_string())?;
        assert_eq!(config.data_dir, std::path::PathBuf::from("/tmp/aae-custom"));
        jail.set_env("AAE_CONFIG", "missing.toml");
        let err = load_env().expect_err("missing file");
        assert!(err.to_string().contains("missing.toml does not exist"), "{err}");
        Ok(())
    });
}

#[test]
fn unknown_keys_name_the_key_and_the_allowed_keys() {
    Jail::expect_with(|jail| {
        jail.set_env("AAE__STORAGE__BAKEND", "s3");
        let err = load_env().expect_err("unknown key").to_string();
        assert!(err.contains("unknown key `bakend`"), "{err}");
        assert!(err.contains("backend"), "lists allowed keys: {err}");
        assert!(err.contains("AAE__STORAGE__BAKEND"), "names the variable: {err}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.create_file("aae.toml", "[server]\nprot = 1\n")?;
        let err = load_env().expect_err("unknown key").to_string();
        assert!(err.contains("server") && err.contains("unknown key `prot`") && err.contains("aae.toml"), "{err}");
        Ok(())
    });
}

#[test]
fn invalid_values_list_allowed_values() {
    Jail::expect_with(|jail| {
        jail.set_env("AAE__STORAGE__BACKEND", "azure");
        let err = load_env().expect_err("bad backend").to_string();
        assert!(err.contains("storage.backend") && err.contains("`azure`"), "{err}");
        assert!(err.contains("local, s3, gcs, memory"), "{err}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("AAE__ENVIRONMENT", "qa");
        let err = load_env().expect_err("bad env").to_string();
        assert!(err.contains("development, staging, production"), "{err}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("AAE__STORAGE__S3__SSE", "aws:kms");
        let err = load_env().expect_err("kms without key").to_string();
        assert!(err.contains("storage.s3.kms_key_id"), "{err}");
        jail.set_env("AAE__STORAGE__S3__KMS_KEY_ID", "alias/aae");
        let config = load_env().map_err(|e| e.to_string())?;
        assert_eq!(config.storage.s3.sse, Some(SseKind::AwsKms));
        jail.set_env("AAE__STORAGE__S3__SSE", "DES");
        let err = load_env().expect_err("bad sse").to_string();
        assert!(err.contains("AES256, aws:kms"), "{err}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("AAE__SERVER__PORT", "http");
        let err = load_env().expect_err("bad port").to_string();
        assert!(err.contains("server.port"), "{err}");
        Ok(())
    });
}

#[test]
fn bucket_overrides_are_checked() {
    Jail::expect_with(|jail| {
        jail.set_env("AAE__STORAGE__BUCKETS__VIDEOS", "Bad_Name");
        let err = load_env().expect_err("bad bucket").to_string();
        assert!(err.contains("storage.buckets.videos") && err.contains("lowercase"), "{err}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("AAE__STORAGE__BUCKETS__PICTURES", "x");
        let err = load_env().expect_err("unknown purpose").to_string();
        assert!(err.contains("unknown key `pictures`") && err.contains("campaign_outputs"), "{err}");
        Ok(())
    });
}

#[test]
fn cdn_signing_needs_its_pair() {
    Jail::expect_with(|jail| {
        jail.set_env("AAE__STORAGE__CDN__KEY_PAIR_ID", "K2JCJMDEHXQW5F");
        let err = load_env().expect_err("pair").to_string();
        assert!(err.contains("storage.cdn.private_key_path"), "{err}");
        jail.set_env("AAE__STORAGE__CDN__PRIVATE_KEY_PATH", "/tmp/k.pem");
        let err = load_env().expect_err("domain").to_string();
        assert!(err.contains("storage.cdn.domain"), "{err}");
        jail.set_env("AAE__STORAGE__CDN__DOMAIN", "https://d1.cloudfront.net");
        let err = load_env().expect_err("bare host").to_string();
        assert!(err.contains("bare host"), "{err}");
        Ok(())
    });
}

#[test]
fn secrets_are_redacted_when_printed() {
    Jail::expect_with(|jail| {
        jail.set_env("AAE__SERVER__URL_SIGNING_SECRET", "super-secret-value");
        let config = load_env().map_err(|e| e.to_string())?;
        let toml = config.to_redacted_toml();
        assert!(!toml.contains("super-secret-value"), "{toml}");
        assert!(toml.contains("[redacted]"), "{toml}");
        assert!(!format!("{config:?}").contains("super-secret-value"));
        Ok(())
    });
}

#[test]
fn example_file_lists_the_defaults() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../aae.example.toml");
    let example = Config::load(&ConfigSources { config_file: Some(path), ignore_env: true, ..Default::default() })
        .expect("aae.example.toml loads");
    let defaults = Config::load(&ConfigSources { ignore_env: true, ..Default::default() }).expect("defaults");
    assert_eq!(example.to_redacted_toml(), defaults.to_redacted_toml());
}

#[test]
fn database_url_selects_the_engine_and_stays_secret() {
    Jail::expect_with(|jail| {
        let config = load_env().map_err(|e| e.to_string())?;
        assert_eq!(config.database.kind(), Ok(crate::DatabaseKind::Sqlite));
        assert_eq!(config.database.max_connections, 10);
        assert!(config.database.pre_ping);
        jail.set_env("AAE__DATABASE__URL", "postgres://aae:hunter2-password@db.internal:5432/aae");
        let config = load_env().map_err(|e| e.to_string())?;
        assert_eq!(config.database.kind(), Ok(crate::DatabaseKind::Postgres));
        let toml = config.to_redacted_toml();
        assert!(!toml.contains("hunter2-password") && toml.contains("url = \"[redacted]\""), "{toml}");
        assert!(!format!("{config:?}").contains("hunter2-password"));
        jail.set_env("AAE__DATABASE__URL", "mysql://root:hunter2-password@db/aae");
        let err = load_env().expect_err("mysql").to_string();
        assert!(
            err.contains("database.url") && err.contains("`mysql`") && err.contains("postgres://, postgresql://"),
            "{err}"
        );
        assert!(!err.contains("hunter2-password"), "{err}");
        jail.set_env("AAE__DATABASE__URL", "aae.db");
        let err = load_env().expect_err("no scheme").to_string();
        assert!(err.contains("no scheme"), "{err}");
        Ok(())
    });
}

#[test]
fn database_pool_limits_are_checked() {
    Jail::expect_with(|jail| {
        jail.set_env("AAE__DATABASE__MAX_CONNECTIONS", "0");
        let err = load_env().expect_err("zero pool").to_string();
        assert!(err.contains("database.max_connections"), "{err}");
        jail.set_env("AAE__DATABASE__MAX_CONNECTIONS", "4");
        jail.set_env("AAE__DATABASE__MIN_CONNECTIONS", "5");
        let err = load_env().expect_err("min above max").to_string();
        assert!(err.contains("database.min_connections"), "{err}");
        jail.set_env("AAE__DATABASE__MIN_CONNECTIONS", "1");
        jail.set_env("AAE__DATABASE__PRE_PING", "false");
        let config = load_env().map_err(|e| e.to_string())?;
        assert!(!config.database.pre_ping);
        jail.set_env("AAE__DATABASE__POOL_SIZE", "5");
        let err = load_env().expect_err("unknown key").to_string();
        assert!(err.contains("unknown key `pool_size`") && err.contains("max_connections"), "{err}");
        Ok(())
    });
}

#[test]
fn campaigns_redis_and_jobs_sections_are_checked() {
    Jail::expect_with(|jail| {
        let config = load_env().map_err(|e| e.to_string())?;
        assert_eq!(config.campaigns.backend, crate::CampaignBackendKind::Sql);
        assert_eq!(config.campaigns_table(), "dev-aae-campaigns");
        assert!(!config.redis.enabled());
        jail.set_env("AAE__ENVIRONMENT", "production");
        jail.set_env("AAE__CAMPAIGNS__BACKEND", "dynamodb");
        let config = load_env().map_err(|e| e.to_string())?;
        assert_eq!(
            (config.campaigns.backend, config.campaigns_table()),
            (crate::CampaignBackendKind::Dynamodb, "prod-aae-campaigns".to_owned())
        );
        jail.set_env("AAE__CAMPAIGNS__BACKEND", "mongo");
        let err = load_env().expect_err("unknown backend").to_string();
        assert!(err.contains("campaigns.backend") && err.contains("dynamodb"), "{err}");
        jail.set_env("AAE__CAMPAIGNS__BACKEND", "sql");
        jail.set_env("AAE__CAMPAIGNS__TABLE", "bad table!");
        let err = load_env().expect_err("bad table").to_string();
        assert!(err.contains("campaigns.table") && err.contains("letters, digits"), "{err}");
        jail.set_env("AAE__CAMPAIGNS__TABLE", "team-campaigns");
        assert_eq!(load_env().map_err(|e| e.to_string())?.campaigns.credit_hold, 1.0);
        jail.set_env("AAE__CAMPAIGNS__CREDIT_HOLD", "-2");
        let err = load_env().expect_err("negative hold").to_string();
        assert!(err.contains("campaigns.credit_hold") && err.contains("from 0"), "{err}");
        jail.set_env("AAE__CAMPAIGNS__CREDIT_HOLD", "2.5");
        assert_eq!(load_env().map_err(|e| e.to_string())?.campaigns.credit_hold, 2.5);

        jail.set_env("AAE__REDIS__URL", "redis://:hunter2-password@cache.internal:6379/0");
        let config = load_env().map_err(|e| e.to_string())?;
        assert!(config.redis.enabled());
        assert!(!config.to_redacted_toml().contains("hunter2-password"));
        jail.set_env("AAE__REDIS__URL", "memcached://:hunter2-password@cache:11211");
        let err = load_env().expect_err("memcached").to_string();
        assert!(err.contains("redis.url") && err.contains("`memcached`") && !err.contains("hunter2"), "{err}");
        jail.set_env("AAE__REDIS__URL", "");

        jail.set_env("AAE__JOBS__HEARTBEAT_SECS", "60");
        let err = load_env().expect_err("heartbeat not below lease").to_string();
        assert!(err.contains("jobs.heartbeat_secs") && err.contains("jobs.lease_secs (60)"), "{err}");
        jail.set_env("AAE__JOBS__HEARTBEAT_SECS", "10");
        jail.set_env("AAE__JOBS__MAX_ATTEMPTS", "0");
        let err = load_env().expect_err("no attempts").to_string();
        assert!(err.contains("jobs.max_attempts"), "{err}");
        Ok(())
    });
}

#[test]
fn model_sections_load_from_env_and_are_checked() {
    Jail::expect_with(|jail| {
        jail.set_env("AAE__PROVIDERS__OPENAI_COMPATIBLE__BASE_URL", "http://127.0.0.1:11434/v1");
        jail.set_env("AAE__PROVIDERS__OPENAI_COMPATIBLE__MODELS", "qwen2.5:7b, llama3.2");
        jail.set_env("AAE__PROVIDERS__OPENAI_COMPATIBLE__API_KEY", "sk-very-secret");
        let config = load_env().map_err(|e| e.to_string())?;
        assert_eq!(config.providers.openai_compatible.models, ["qwen2.5:7b", "llama3.2"]);
        let preference = config.default_model_preference();
        assert_eq!(preference.conversational_provider, "openai_compatible");
        assert_eq!(preference.conversational_model, "qwen2.5:7b");
        assert!(!config.to_redacted_toml().contains("sk-very-secret"));
        assert_eq!(config.models_dir(), std::path::PathBuf::from("./aae-data/models"));
        jail.set_env("AAE__PROVIDERS__GEMINI__API_KEY", "g-key");
        let config = load_env().map_err(|e| e.to_string())?;
        assert_eq!(config.default_model_preference().conversational_model, "gemini-2.5-flash");
        Ok(())
    });
    let defaults = Config::load(&ConfigSources { ignore_env: true, ..Default::default() }).expect("defaults");
    assert_eq!(defaults.default_model_preference().conversational_provider, "local", "no cloud: the local model");
    let with = |key: &str, value: &str| {
        Config::load(&ConfigSources { ignore_env: true, ..Default::default() }.set(key, value))
            .expect_err(key)
            .to_string()
    };
    let err = with("providers.openai_compatible.base_url", "http://127.0.0.1:1/v1");
    assert!(err.contains("providers.openai_compatible.models"), "{err}");
    let err = with("router.retry.max_backoff_ms", "1");
    assert!(err.contains("router.retry.max_backoff_ms"), "{err}");
    let err = with("router.request_timeout_secs", "0");
    assert!(err.contains("router.request_timeout_secs"), "{err}");
    Jail::expect_with(|jail| {
        jail.create_file("aae.toml", "[router.fallbacks]\n\"bedrock/claude-4.5-sonnet\" = [\"bedrock/gpt-5\"]\n")?;
        let err = load_env().expect_err("unknown fallback").to_string();
        assert!(err.contains("router.fallbacks.\"bedrock/claude-4.5-sonnet\""), "{err}");
        assert!(err.contains("allowed models: claude-4.5-sonnet, qwen3, nova-2-lite"), "{err}");
        jail.create_file("aae.toml", "[prices.\"nobody/nothing\"]\nper_image = 1.0\n")?;
        let err = load_env().expect_err("unknown price key").to_string();
        assert!(err.contains("prices.\"nobody/nothing\"") && err.contains("unknown model provider"), "{err}");
        jail.create_file("aae.toml", "[providers.gemini]\nkey = \"x\"\n")?;
        let err = load_env().expect_err("unknown key").to_string();
        assert!(err.contains("unknown key `key`") && err.contains("api_key"), "{err}");
        Ok(())
    });
}

#[test]
fn gateway_section_is_checked() {
    Jail::expect_with(|jail| {
        let config = load_env().map_err(|e| e.to_string())?;
        assert_eq!(config.gateway.settle_idle_secs, 5);
        assert_eq!(config.rate_limits.limit("gateway").requests_per_minute, 600);
        for (key, value, named) in [
            ("AAE__GATEWAY__CREDIT_BLOCK", "0", "gateway.credit_block"),
            ("AAE__GATEWAY__SETTLE_IDLE_SECS", "0", "gateway.settle_idle_secs"),
            ("AAE__GATEWAY__DEFAULT_MAX_TOKENS", "0", "gateway.default_max_tokens"),
            ("AAE__GATEWAY__KEY_CACHE_SECS", "301", "gateway.key_cache_secs"),
        ] {
            jail.set_env(key, value);
            let err = load_env().expect_err(key).to_string();
            assert!(err.contains(named), "{err}");
            jail.clear_env();
        }
        jail.set_env("AAE__GATEWAY__CREDIT_BLOCK", "2.5");
        jail.set_env("AAE__RATE_LIMITS__ROUTES__GATEWAY__REQUESTS_PER_MINUTE", "60000");
        jail.set_env("AAE__RATE_LIMITS__ROUTES__GATEWAY__BURST", "5000");
        let config = load_env().map_err(|e| e.to_string())?;
        assert_eq!(config.gateway.credit_block, 2.5);
        assert_eq!(config.rate_limits.limit("gateway").burst, 5000);
        Ok(())
    });
}
