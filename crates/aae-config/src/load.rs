//! Layering: defaults < `aae.toml` < `AAE__…` environment variables < flags.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

use crate::model::Config;
use crate::validate::ConfigError;

/// The file read when neither `--config` nor `AAE_CONFIG` names one (only if it exists).
pub const DEFAULT_CONFIG_FILE: &str = "aae.toml";

/// Where a configuration comes from.
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    /// `--config`; else `AAE_CONFIG`; else `./aae.toml` when it exists.
    pub config_file: Option<PathBuf>,
    /// Flag overrides as dotted keys, e.g. `("server.port", "9000")`; values are parsed like
    /// environment values (numbers, booleans, strings).
    pub overrides: Vec<(String, String)>,
    /// Ignore the process environment (tests).
    pub ignore_env: bool,
}

impl ConfigSources {
    /// Sources with only the given file.
    pub fn with_file(path: impl Into<PathBuf>) -> Self {
        Self { config_file: Some(path.into()), ..Self::default() }
    }

    /// Adds a flag override.
    pub fn set(mut self, key: &str, value: impl Into<String>) -> Self {
        self.overrides.push((key.to_owned(), value.into()));
        self
    }

    fn resolve_file(&self) -> Result<Option<PathBuf>, ConfigError> {
        if let Some(path) = &self.config_file {
            return require_file(path).map(Some);
        }
        if !self.ignore_env
            && let Some(path) = std::env::var_os("AAE_CONFIG").filter(|p| !p.is_empty())
        {
            return require_file(Path::new(&path)).map(Some);
        }
        let default = PathBuf::from(DEFAULT_CONFIG_FILE);
        Ok(default.is_file().then_some(default))
    }
}

fn require_file(path: &Path) -> Result<PathBuf, ConfigError> {
    if path.is_file() {
        Ok(path.to_path_buf())
    } else {
        Err(ConfigError::Invalid {
            key: "config".into(),
            message: format!(
                "config file {} does not exist; pass an existing file with --config or AAE_CONFIG",
                path.display()
            ),
        })
    }
}

impl Config {
    /// Loads and validates the configuration from `sources`.
    pub fn load(sources: &ConfigSources) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = sources.resolve_file()? {
            figment = figment.merge(Toml::file_exact(file));
        }
        if !sources.ignore_env {
            figment = figment.merge(Env::prefixed("AAE__").split("__"));
        }
        for (key, value) in &sources.overrides {
            let parsed: figment::value::Value =
                value.parse().unwrap_or_else(|_| figment::value::Value::from(value.clone()));
            figment = figment.merge(Serialized::default(key, parsed));
        }
        let config: Config = figment.extract().map_err(ConfigError::from_figment)?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration with secrets replaced by `[redacted]`, as TOML.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }

    /// The configuration with secrets replaced by `[redacted]`, as JSON.
    pub fn to_redacted_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
