//! The runner's configuration, read from the environment here only.

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    pub queue_url: String,
    /// Jobs that failed too often land here; the runner fails their deployments.
    pub dlq_url: Option<String>,
    /// Pushes the push recorder could not hand to the job queue land here;
    /// the runner fails their deployments too.
    pub push_dlq_url: Option<String>,
    pub table: String,
    pub bucket: String,
    pub kms_key_id: String,
    /// `host:port` of the registry images are pushed to and cached from.
    pub registry: String,
    /// Unset: bollard's default (`DOCKER_HOST` or the local socket).
    pub docker_socket: Option<String>,
    pub slots: usize,
    pub publish_host: IpAddr,
    pub port_range: RangeInclusive<u16>,
    pub runner_id: String,
    pub work_dir: PathBuf,
    pub drain_deadline: Duration,
    pub reconcile_every: Duration,
    /// How long a message stays invisible per heartbeat.
    pub visibility: Duration,
    pub cancel_poll: Duration,
    pub ready_timeout: Duration,
    /// How long a job's message waits after an internal failure before it
    /// is tried again (the queue's maxReceiveCount bounds the tries).
    pub retry_after: Duration,
    /// How many bytes an uploaded archive may expand to.
    pub max_source_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {0} is invalid: {1}")]
    Invalid(&'static str, String),
}

fn var(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    var(name).ok_or(ConfigError::Missing(name))
}

fn parsed<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|e: T::Err| ConfigError::Invalid(name, e.to_string())),
    }
}

fn seconds(name: &'static str, default: f64) -> Result<Duration, ConfigError> {
    let s: f64 = parsed(name, default)?;
    Duration::try_from_secs_f64(s).map_err(|e| ConfigError::Invalid(name, e.to_string()))
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let range = var("SLIPWAY_PORT_RANGE").unwrap_or_else(|| "20000-29999".into());
        let port_range = range
            .split_once('-')
            .and_then(|(a, b)| Some(a.trim().parse::<u16>().ok()?..=b.trim().parse::<u16>().ok()?))
            .filter(|r| !r.is_empty() && *r.start() > 0)
            .ok_or_else(|| {
                ConfigError::Invalid("SLIPWAY_PORT_RANGE", format!("{range:?} is not LOW-HIGH"))
            })?;
        let slots: usize = parsed("SLIPWAY_SLOTS", 1)?;
        if slots == 0 {
            return Err(ConfigError::Invalid(
                "SLIPWAY_SLOTS",
                "must be at least 1".into(),
            ));
        }
        let host = var("HOSTNAME")
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "runner".into());
        Ok(Self {
            queue_url: required("SLIPWAY_QUEUE_URL")?,
            dlq_url: var("SLIPWAY_DLQ_URL"),
            push_dlq_url: var("SLIPWAY_PUSH_DLQ_URL"),
            table: required("SLIPWAY_TABLE")?,
            bucket: required("SLIPWAY_BUCKET")?,
            kms_key_id: required("SLIPWAY_KMS_KEY_ID")?,
            registry: required("SLIPWAY_REGISTRY")?,
            docker_socket: var("SLIPWAY_DOCKER_SOCKET"),
            slots,
            publish_host: parsed("SLIPWAY_PUBLISH_HOST", IpAddr::from([127, 0, 0, 1]))?,
            port_range,
            // Stable across restarts, so a restarted runner finds the apps it placed.
            runner_id: var("SLIPWAY_RUNNER_ID").unwrap_or(host),
            work_dir: var("SLIPWAY_WORK_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("slipway-runner")),
            drain_deadline: seconds("SLIPWAY_DRAIN_SECONDS", 300.0)?,
            reconcile_every: seconds("SLIPWAY_RECONCILE_SECONDS", 30.0)?,
            visibility: seconds("SLIPWAY_VISIBILITY_SECONDS", 120.0)?,
            cancel_poll: seconds("SLIPWAY_CANCEL_POLL_SECONDS", 2.0)?,
            ready_timeout: seconds("SLIPWAY_READY_TIMEOUT_SECONDS", 60.0)?,
            retry_after: seconds("SLIPWAY_RETRY_SECONDS", 15.0)?,
            max_source_bytes: parsed("SLIPWAY_MAX_SOURCE_BYTES", 2 * 1024 * 1024 * 1024)?,
        })
    }
}
