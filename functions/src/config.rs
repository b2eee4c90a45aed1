//! Configuration of the API functions, read from the environment here only.

use slipway_core::fields::RepoPolicy;

#[derive(Debug, Clone)]
pub struct Config {
    pub table: String,
    pub queue_url: String,
    /// Pushes verified by the webhook, waiting to be linked and queued.
    pub push_queue_url: String,
    pub kms_key_id: String,
    pub bucket: String,
    /// Base URL users reach the API at, for webhook URLs. Unset on Lambda,
    /// where it is taken from the request (domain and stage).
    pub public_api_url: Option<String>,
    pub repo_policy: RepoPolicy,
}

#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} is required")]
pub struct MissingVar(&'static str);

fn required(name: &'static str) -> Result<String, MissingVar> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(MissingVar(name))
}

impl Config {
    pub fn from_env() -> Result<Self, MissingVar> {
        Ok(Self {
            table: required("SLIPWAY_TABLE")?,
            queue_url: required("SLIPWAY_QUEUE_URL")?,
            push_queue_url: required("SLIPWAY_PUSH_QUEUE_URL")?,
            kms_key_id: required("SLIPWAY_KMS_KEY_ID")?,
            bucket: required("SLIPWAY_BUCKET")?,
            public_api_url: std::env::var("SLIPWAY_PUBLIC_API_URL")
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| v.trim_end_matches('/').to_owned()),
            repo_policy: RepoPolicy {
                allow_loopback: std::env::var("SLIPWAY_ALLOW_LOOPBACK_REPOS")
                    .is_ok_and(|v| v == "true"),
            },
        })
    }
}
