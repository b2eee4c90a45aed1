//! Configuration of the API functions, read from the environment here only.

use slipway_core::deploy_request::Rules;
use slipway_core::fields::RepoPolicy;
use slipway_core::hostnames::AppsDomain;
use slipway_core::registry_login::RegistryLogin;

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
    /// Which repos may be cloned and where apps are served.
    pub rules: Rules,
    /// The registry the runners push to (`host[:port]`), when the API can
    /// reach it: a rollback checks its image is still there. Unset, the
    /// runner finds out and fails the rollback saying so.
    pub registry: Option<String>,
    /// Its login (`SLIPWAY_REGISTRY_USERNAME`, `SLIPWAY_REGISTRY_PASSWORD`),
    /// when it asks for one.
    pub registry_login: Option<RegistryLogin>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {0} is invalid: {1}")]
    Invalid(&'static str, String),
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    var(name).ok_or(ConfigError::Missing(name))
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let port = var("SLIPWAY_APPS_URL_PORT")
            .map(|p| {
                p.parse::<u16>()
                    .map_err(|e| ConfigError::Invalid("SLIPWAY_APPS_URL_PORT", e.to_string()))
            })
            .transpose()?;
        let apps = AppsDomain::parse(
            &required("SLIPWAY_APPS_DOMAIN")?,
            &var("SLIPWAY_APPS_URL_SCHEME").unwrap_or_else(|| "https".into()),
            port,
        )
        .map_err(|e| ConfigError::Invalid("SLIPWAY_APPS_DOMAIN", e.to_string()))?;
        Ok(Self {
            table: required("SLIPWAY_TABLE")?,
            queue_url: required("SLIPWAY_QUEUE_URL")?,
            push_queue_url: required("SLIPWAY_PUSH_QUEUE_URL")?,
            kms_key_id: required("SLIPWAY_KMS_KEY_ID")?,
            bucket: required("SLIPWAY_BUCKET")?,
            registry: var("SLIPWAY_REGISTRY"),
            registry_login: RegistryLogin::from_vars(var).map_err(ConfigError::Missing)?,
            public_api_url: var("SLIPWAY_PUBLIC_API_URL")
                .map(|v| v.trim_end_matches('/').to_owned()),
            rules: Rules {
                repos: RepoPolicy {
                    allow_loopback: var("SLIPWAY_ALLOW_LOOPBACK_REPOS")
                        .is_some_and(|v| v == "true"),
                },
                apps,
            },
        })
    }
}
