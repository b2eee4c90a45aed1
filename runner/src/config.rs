//! The runner's configuration, read from the environment here only.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use slipway_core::fleet::Placement;
use slipway_core::registry_login::RegistryLogin;

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
    /// The login the runner gives that registry, when it asks for one.
    pub registry_login: Option<RegistryLogin>,
    /// Unset: bollard's default (`DOCKER_HOST` or the local socket).
    pub docker_socket: Option<String>,
    pub slots: usize,
    pub publish_host: IpAddr,
    pub port_range: RangeInclusive<u16>,
    pub runner_id: String,
    pub work_dir: PathBuf,
    pub drain_deadline: Duration,
    /// Whether SIGTERM also moves this host's apps to other runners.
    pub drain_apps: bool,
    /// Where new deployments' apps go (the same on every runner).
    pub placement: Placement,
    pub reconcile_every: Duration,
    /// How often the runner writes its record.
    pub announce_every: Duration,
    /// Not seen for this long, the runner counts as lost (it says so in
    /// its record).
    pub runner_deadline: Duration,
    /// How long a message stays invisible per heartbeat.
    pub visibility: Duration,
    pub cancel_poll: Duration,
    pub ready_timeout: Duration,
    /// How long one attempt of a deployment may run before it fails.
    pub build_timeout: Duration,
    /// How long a job's message waits after an internal failure before it
    /// is tried again (the queue's maxReceiveCount bounds the tries).
    pub retry_after: Duration,
    /// How many bytes an uploaded archive may expand to.
    pub max_source_bytes: u64,
    pub clone_limits: CloneLimits,
    /// How much of a deployment's log is kept.
    pub build_log_max_bytes: usize,
    pub edge: EdgeConfig,
    pub app_limits: AppLimits,
    pub build_limits: BuildLimits,
    pub firewall: Firewall,
    /// How many builds one owner may run at once across the fleet, and how
    /// long a job of an owner at that cap waits before it asks again.
    pub owner_builds: usize,
    pub owner_wait: Duration,
}

impl Config {
    /// What the engine hands the registry for this runner's pulls and pushes.
    pub fn registry_credentials(&self) -> Option<bollard::auth::DockerCredentials> {
        self.registry_login
            .as_ref()
            .map(|login| bollard::auth::DockerCredentials {
                username: Some(login.username.clone()),
                password: Some(login.password.clone()),
                serveraddress: Some(self.registry.clone()),
                ..Default::default()
            })
    }
}

/// Whether the runner keeps tenants' traffic in with its own iptables rules
/// (`SLIPWAY_FIREWALL=off` only where something else on the host does it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Firewall {
    /// The host's DNS resolvers, which containers may still ask.
    On {
        resolvers: Vec<Ipv4Addr>,
    },
    Off,
}

/// What every clone may take, the same for every tenant.
#[derive(Debug, Clone, Copy)]
pub struct CloneLimits {
    /// How many bytes a clone may receive.
    pub max_bytes: u64,
    /// How long the repository's server may send nothing, mid-clone.
    pub stall: Duration,
    /// The data memory (`RLIMIT_DATA`) of the clone process.
    pub memory_bytes: u64,
}

/// What every build's steps may use, the same for every tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildLimits {
    pub memory_mb: u32,
    pub millicpu: u32,
    /// Processes and threads a build's steps hold at once.
    pub pids: i64,
}

/// What every app container may use beyond its own cpu and memory settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppLimits {
    /// Processes and threads at once: a fork bomb stops here.
    pub pids: i64,
    /// Its output kept on the host: files of this many bytes, this many files.
    pub log_file_bytes: u64,
    pub log_files: u32,
}

/// The edge proxy (Caddy) on this build host, which the runner configures.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// Caddy's admin API, `host:port` on loopback: never reachable from a
    /// container.
    pub admin: String,
    /// Where the edge listens for HTTP and HTTPS (`:80`, `:443` in production).
    pub http_listen: String,
    pub https_listen: String,
    /// Where the runner answers Caddy's on-demand TLS `ask`, on loopback.
    pub ask_listen: SocketAddr,
    pub tls: EdgeTls,
    /// Whether plain HTTP is redirected to HTTPS (production) or served
    /// (locally, where the internal CA is trusted by no browser).
    pub redirect_http: bool,
    /// How often the routes' version is read, and how often all routes are
    /// read whatever it says.
    pub poll: Duration,
    pub resync: Duration,
    /// How long a replaced container keeps answering after its app went
    /// live elsewhere: longer than every edge takes to move on.
    pub drain: Duration,
    /// How long a replaced container has, once stopped, to finish its
    /// requests before it is killed (Docker's `stop -t`).
    pub stop_grace: Duration,
}

/// Where the edge's certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeTls {
    /// Caddy's own local CA (the local stack, tests).
    Internal,
    /// A public ACME CA (Let's Encrypt), with this contact address if given.
    Acme { email: Option<String> },
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
        let build_memory_mb = parsed::<u32>("SLIPWAY_BUILD_MEMORY_MB", 2047)?.min(2047);
        let slots: usize = parsed("SLIPWAY_SLOTS", host_slots(build_memory_mb))?;
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
            registry_login: RegistryLogin::from_vars(var).map_err(ConfigError::Missing)?,
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
            drain_apps: parsed("SLIPWAY_DRAIN_APPS", false)?,
            placement: parsed("SLIPWAY_PLACEMENT", Placement::Builder)?,
            reconcile_every: seconds("SLIPWAY_RECONCILE_SECONDS", 30.0)?,
            announce_every: seconds("SLIPWAY_ANNOUNCE_SECONDS", 5.0)?,
            runner_deadline: seconds("SLIPWAY_RUNNER_DEADLINE_SECONDS", 30.0)?,
            visibility: seconds("SLIPWAY_VISIBILITY_SECONDS", 120.0)?,
            cancel_poll: seconds("SLIPWAY_CANCEL_POLL_SECONDS", 2.0)?,
            ready_timeout: seconds("SLIPWAY_READY_TIMEOUT_SECONDS", 60.0)?,
            build_timeout: seconds("SLIPWAY_BUILD_TIMEOUT_SECONDS", 1800.0)?,
            retry_after: seconds("SLIPWAY_RETRY_SECONDS", 15.0)?,
            max_source_bytes: parsed("SLIPWAY_MAX_SOURCE_BYTES", 2 * 1024 * 1024 * 1024)?,
            clone_limits: CloneLimits {
                max_bytes: parsed("SLIPWAY_MAX_CLONE_BYTES", 2 * 1024 * 1024 * 1024)?,
                stall: seconds("SLIPWAY_CLONE_STALL_SECONDS", 60.0)?,
                memory_bytes: parsed("SLIPWAY_CLONE_MEMORY_BYTES", 512 * 1024 * 1024)?,
            },
            build_log_max_bytes: parsed("SLIPWAY_BUILD_LOG_MAX_BYTES", 10 * 1024 * 1024)?,
            edge: EdgeConfig::from_env()?,
            build_limits: BuildLimits {
                // The engine API's build memory is an i32 of bytes.
                memory_mb: build_memory_mb,
                millicpu: (parsed::<f64>("SLIPWAY_BUILD_CPUS", 1.0)? * 1000.0).round() as u32,
                pids: parsed("SLIPWAY_BUILD_PIDS_LIMIT", 2048)?,
            },
            app_limits: AppLimits {
                pids: parsed("SLIPWAY_APP_PIDS_LIMIT", 512)?,
                log_file_bytes: parsed("SLIPWAY_APP_LOG_FILE_BYTES", 10 * 1024 * 1024)?,
                log_files: parsed("SLIPWAY_APP_LOG_FILES", 3)?,
            },
            owner_builds: parsed("SLIPWAY_OWNER_BUILDS", 2)?,
            owner_wait: owner_wait()?,
            firewall: match var("SLIPWAY_FIREWALL").as_deref().unwrap_or("on") {
                "on" => Firewall::On {
                    resolvers: resolvers(),
                },
                "off" => Firewall::Off,
                other => {
                    return Err(ConfigError::Invalid(
                        "SLIPWAY_FIREWALL",
                        format!("{other:?} is neither on nor off"),
                    ))
                }
            },
        })
    }
}

/// As many builds as the host has cores, and memory for at their limit
/// beside a gigabyte kept for the apps and the runner; at least one.
fn host_slots(build_memory_mb: u32) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let memory_mb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024);
    slots_for(cores, memory_mb, build_memory_mb)
}

fn slots_for(cores: usize, memory_mb: u64, build_memory_mb: u32) -> usize {
    let by_memory = memory_mb.saturating_sub(1024) / u64::from(build_memory_mb.max(1));
    cores.min(by_memory as usize).max(1)
}

fn owner_wait() -> Result<Duration, ConfigError> {
    wait_within(seconds("SLIPWAY_OWNER_WAIT_SECONDS", 10.0)?)
}

/// SQS delays a message in whole seconds, 15 minutes at most; under one
/// second a waiting job would come back as fast as runners receive it.
fn wait_within(wait: Duration) -> Result<Duration, ConfigError> {
    if wait < Duration::from_secs(1) || wait > Duration::from_secs(900) {
        return Err(ConfigError::Invalid(
            "SLIPWAY_OWNER_WAIT_SECONDS",
            "must be from 1 to 900".into(),
        ));
    }
    Ok(wait)
}

/// The IPv4 resolvers Docker hands containers: the host's own, or behind a
/// local stub (systemd-resolved's 127.0.0.53) the ones it forwards to.
fn resolvers() -> Vec<Ipv4Addr> {
    let mut found: Vec<Ipv4Addr> = ["/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|l| l.trim().strip_prefix("nameserver"))
                .filter_map(|ip| ip.trim().parse::<Ipv4Addr>().ok())
                .filter(|ip| !ip.is_loopback())
                .collect::<Vec<_>>()
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

impl EdgeConfig {
    fn from_env() -> Result<Self, ConfigError> {
        let tls = match var("SLIPWAY_EDGE_TLS").as_deref().unwrap_or("acme") {
            "internal" => EdgeTls::Internal,
            "acme" => EdgeTls::Acme {
                email: var("SLIPWAY_EDGE_ACME_EMAIL"),
            },
            other => {
                return Err(ConfigError::Invalid(
                    "SLIPWAY_EDGE_TLS",
                    format!("{other:?} is neither acme nor internal"),
                ))
            }
        };
        let poll = seconds("SLIPWAY_EDGE_POLL_SECONDS", 1.0)?;
        let drain = seconds("SLIPWAY_EDGE_DRAIN_SECONDS", 5.0)?;
        if drain <= poll * 2 {
            return Err(ConfigError::Invalid(
                "SLIPWAY_EDGE_DRAIN_SECONDS",
                "must exceed twice SLIPWAY_EDGE_POLL_SECONDS, or other edges could still send to a stopped container".into(),
            ));
        }
        Ok(Self {
            admin: var("SLIPWAY_EDGE_ADMIN").unwrap_or_else(|| "127.0.0.1:2019".into()),
            http_listen: var("SLIPWAY_EDGE_HTTP").unwrap_or_else(|| ":80".into()),
            https_listen: var("SLIPWAY_EDGE_HTTPS").unwrap_or_else(|| ":443".into()),
            ask_listen: parsed("SLIPWAY_EDGE_ASK", SocketAddr::from(([127, 0, 0, 1], 2020)))?,
            tls,
            redirect_http: parsed("SLIPWAY_EDGE_REDIRECT_HTTP", true)?,
            poll,
            resync: seconds("SLIPWAY_EDGE_RESYNC_SECONDS", 30.0)?,
            drain,
            stop_grace: seconds("SLIPWAY_STOP_GRACE_SECONDS", 10.0)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{slots_for, wait_within};
    use std::time::Duration;

    #[test]
    fn an_owners_wait_is_whole_seconds_the_queue_can_delay() {
        assert!(wait_within(Duration::from_secs(1)).is_ok());
        assert!(wait_within(Duration::from_secs(900)).is_ok());
        assert!(wait_within(Duration::from_millis(999)).is_err());
        assert!(wait_within(Duration::from_secs(901)).is_err());
    }

    #[test]
    fn slots_follow_the_scarcer_of_cores_and_memory_and_never_reach_zero() {
        assert_eq!(slots_for(2, 24 * 1024, 2047), 2);
        assert_eq!(slots_for(16, 8 * 1024, 2047), 3);
        assert_eq!(slots_for(4, 1024 + 2047 * 4, 2047), 4);
        assert_eq!(slots_for(4, 1024 + 2047 * 4 - 1, 2047), 3);
        assert_eq!(slots_for(8, 512, 2047), 1);
    }
}
