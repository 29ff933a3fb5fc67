use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Deployment environment (seed 002 "Environment Separation"): each one prefixes the names of the
/// resources it creates so that development, staging and production never share a bucket or table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// `dev-` prefixed resources; the default.
    #[default]
    Development,
    /// `staging-` prefixed resources.
    Staging,
    /// `prod-` prefixed resources.
    Production,
}

impl Environment {
    /// Every environment, in the order the documentation lists them.
    pub const ALL: [Environment; 3] = [Self::Development, Self::Staging, Self::Production];

    /// The resource-name prefix of this environment, including its trailing dash.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Development => "dev-",
            Self::Staging => "staging-",
            Self::Production => "prod-",
        }
    }

    /// The configuration spelling of this environment.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The logical buckets of the design: seed 000 (creatives, landing pages, exports, user uploads),
/// seed 002 (videos, code, thumbnails, temp), seed 003 (campaign outputs) and seed 004 (documents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BucketPurpose {
    /// Rendered ad creatives (seed 000).
    Creatives,
    /// Published landing pages (seed 000).
    LandingPages,
    /// Exports such as reports and archives (seed 000).
    Exports,
    /// Files users upload (seed 000 `bucket_uploads`).
    Uploads,
    /// Generated videos, `users/{user}/jobs/{job}/videos/scene_{NNN}/` (seed 002).
    Videos,
    /// Generated code per scene (seed 002).
    Code,
    /// Thumbnails per scene (seed 002).
    Thumbnails,
    /// Short-lived files, `temp/{session}/{timestamp}/` (seed 002, 7-day lifecycle).
    Temp,
    /// Campaign artifacts: website, PDF, workflow state, metadata (seed 003).
    CampaignOutputs,
    /// Documents for the document assistant (seed 004).
    Documents,
}

impl BucketPurpose {
    /// Every logical bucket.
    pub const ALL: [BucketPurpose; 10] = [
        Self::Creatives,
        Self::LandingPages,
        Self::Exports,
        Self::Uploads,
        Self::Videos,
        Self::Code,
        Self::Thumbnails,
        Self::Temp,
        Self::CampaignOutputs,
        Self::Documents,
    ];

    /// The configuration spelling (`landing_pages`), as used in `AAE__STORAGE__BUCKETS__<PURPOSE>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creatives => "creatives",
            Self::LandingPages => "landing_pages",
            Self::Exports => "exports",
            Self::Uploads => "uploads",
            Self::Videos => "videos",
            Self::Code => "code",
            Self::Thumbnails => "thumbnails",
            Self::Temp => "temp",
            Self::CampaignOutputs => "campaign_outputs",
            Self::Documents => "documents",
        }
    }

    /// The default bucket name in `environment`: `{env-prefix}aae-{purpose}` with dashes, e.g.
    /// `dev-aae-landing-pages` (bucket names may not contain underscores).
    pub fn default_bucket_name(self, environment: Environment) -> String {
        format!("{}aae-{}", environment.prefix(), self.as_str().replace('_', "-"))
    }
}

impl fmt::Display for BucketPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown bucket purpose; it lists the allowed ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown bucket `{0}`: expected one of {list}", list = BucketPurpose::ALL.map(|p| p.as_str()).join(", "))]
pub struct UnknownBucket(pub String);

impl FromStr for BucketPurpose {
    type Err = UnknownBucket;

    /// Accepts the configuration spelling (`landing_pages`) and the dashed one (`landing-pages`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let normalized = s.trim().to_ascii_lowercase().replace('-', "_");
        Self::ALL.into_iter().find(|p| p.as_str() == normalized).ok_or_else(|| UnknownBucket(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_follow_environment_prefix() {
        assert_eq!(BucketPurpose::LandingPages.default_bucket_name(Environment::Development), "dev-aae-landing-pages");
        assert_eq!(
            BucketPurpose::CampaignOutputs.default_bucket_name(Environment::Production),
            "prod-aae-campaign-outputs"
        );
        assert_eq!(BucketPurpose::Temp.default_bucket_name(Environment::Staging), "staging-aae-temp");
    }

    #[test]
    fn purposes_parse_in_both_spellings_and_reject_unknown() {
        assert_eq!("landing-pages".parse::<BucketPurpose>(), Ok(BucketPurpose::LandingPages));
        assert_eq!("campaign_outputs".parse::<BucketPurpose>(), Ok(BucketPurpose::CampaignOutputs));
        let err = "pictures".parse::<BucketPurpose>().expect_err("unknown bucket");
        assert!(err.to_string().contains("expected one of creatives, landing_pages"), "{err}");
    }
}
