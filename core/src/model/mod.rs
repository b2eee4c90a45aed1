//! What the table holds: apps and deployments as stored items.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::deploy_request::{DeployRequest, RunConfig, UploadAppRequest};
use crate::fields::{BranchName, FieldError, RelativePath, RepoUrl};
use crate::hostnames::{AppsDomain, Domain};
use crate::ids::{AppId, DeploymentId, Owner};
use crate::status::{AppStatus, DeploymentStatus};
use crate::upload::ArchiveFormat;
use crate::watch_paths::WatchPaths;

/// Where an app's source comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Source {
    Git {
        repo: RepoUrl,
        branch: BranchName,
        dockerfile: RelativePath,
        context: RelativePath,
    },
    /// Archives uploaded through presigned URLs (`POST /apps/{id}/source`).
    Upload {
        dockerfile: RelativePath,
        context: RelativePath,
    },
}

impl Source {
    pub fn is_upload(&self) -> bool {
        matches!(self, Source::Upload { .. })
    }
}

/// A source archive in the bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Archive {
    pub path: String,
    /// The size declared when its upload URL was made (S3 enforces it).
    pub size: u64,
    pub uploaded_at: String,
}

/// An upload URL handed out and not yet deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingUpload {
    pub path: String,
    pub format: ArchiveFormat,
    pub size: u64,
    pub expires_at: String,
}

/// Everything `POST /deploy` sets. Replaced as a whole on each deploy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppConfig {
    pub source: Source,
    pub port: u16,
    pub millicpu: u32,
    pub memory_mb: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Domain>,
    /// The container's root filesystem is read-only (`/tmp` stays writable).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    pub env: BTreeMap<String, String>,
    pub secret_names: Vec<String>,
    pub has_repo_token: bool,
    #[serde(default, skip_serializing_if = "WatchPaths::is_empty")]
    pub watch_paths: WatchPaths,
    /// [`Credentials`] as JSON, sealed with the app's envelope, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_credentials: Option<String>,
}

impl AppConfig {
    pub fn for_upload(req: &UploadAppRequest, sealed_credentials: Option<String>) -> Self {
        let source = Source::Upload {
            dockerfile: req.dockerfile.clone(),
            context: req.context.clone(),
        };
        Self::new(source, &req.run, &req.secrets, sealed_credentials)
    }

    pub fn from_request(req: &DeployRequest, sealed_credentials: Option<String>) -> Self {
        let source = Source::Git {
            repo: req.source.repo.clone(),
            branch: req.source.branch.clone(),
            dockerfile: req.source.dockerfile.clone(),
            context: req.source.context.clone(),
        };
        Self {
            has_repo_token: req.repo_token.is_some(),
            watch_paths: req.source.watch_paths.clone(),
            ..Self::new(source, &req.run, &req.secrets, sealed_credentials)
        }
    }

    fn new(
        source: Source,
        run: &RunConfig,
        secrets: &BTreeMap<String, String>,
        sealed_credentials: Option<String>,
    ) -> Self {
        Self {
            source,
            port: run.port,
            millicpu: run.millicpu,
            memory_mb: run.memory_mb,
            domain: run.domain.clone(),
            read_only: run.read_only,
            env: run.env.clone(),
            secret_names: secrets.keys().cloned().collect(),
            has_repo_token: false,
            watch_paths: WatchPaths::default(),
            sealed_credentials,
        }
    }
}

/// The most an app's sealed credentials may take. DynamoDB stores at most
/// 400 KB per item; the app item also holds its env (up to 128 KiB of
/// values and their names) and the rest of its configuration.
pub const MAX_SEALED_CREDENTIALS_BYTES: usize = 200 * 1024;

impl AppConfig {
    /// Refuses credentials the table could not store once sealed, naming
    /// `secrets`: values within their own limits can still grow past it, as
    /// a control character takes six bytes in the sealed JSON.
    pub fn check_size(&self) -> Result<(), FieldError> {
        let sealed = self.sealed_credentials.as_ref().map_or(0, String::len);
        if sealed > MAX_SEALED_CREDENTIALS_BYTES {
            return Err(FieldError::new(
                "secrets",
                format!(
                    "take {sealed} bytes once encrypted (a control character counts six, other non-ASCII characters up to four); at most {MAX_SEALED_CREDENTIALS_BYTES} can be stored: send fewer or shorter values, or keep a large one elsewhere and pass where it is"
                ),
            ));
        }
        Ok(())
    }
}

/// The values that are sealed before they are stored. Its `Debug` shows no
/// value, so it cannot leak through a log line.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_token: Option<String>,
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

impl Credentials {
    pub fn is_empty(&self) -> bool {
        self.repo_token.is_none() && self.secrets.is_empty()
    }

    /// Every value a log line must never show.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.repo_token
            .iter()
            .map(String::as_str)
            .chain(self.secrets.values().map(String::as_str))
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field(
                "repo_token",
                &self.repo_token.as_ref().map(|_| "<redacted>"),
            )
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    pub id: AppId,
    pub owner: Owner,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
    /// Bumped by every config change; updates are conditioned on it.
    pub version: u64,
    pub config: AppConfig,
    pub sealed_webhook_secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_deployment_id: Option<DeploymentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_deployment_id: Option<DeploymentId>,
    /// The runner whose host runs the live container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_runner_id: Option<String>,
    /// The app's own hostname under the apps domain, held for its life.
    pub hostname: String,
    /// Where users reach the app: its hostname's URL, given when it was
    /// created and never changed.
    pub url: String,
    #[serde(default)]
    pub stopped: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    /// An upload app's current archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<Archive>,
    /// An upload URL handed out since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<PendingUpload>,
}

impl App {
    /// A new app of `owner`, not yet deployed, with its hostname under `apps`.
    pub fn new(
        id: AppId,
        owner: &Owner,
        name: &str,
        config: AppConfig,
        sealed_webhook_secret: String,
        apps: &AppsDomain,
    ) -> Self {
        let now = crate::ids::now_rfc3339();
        let hostname = apps.hostname_for(name, &id);
        Self {
            url: apps.url(&hostname),
            hostname,
            id,
            owner: owner.clone(),
            name: name.to_owned(),
            created_at: now.clone(),
            updated_at: now,
            version: 1,
            config,
            sealed_webhook_secret,
            latest_deployment_id: None,
            live_deployment_id: None,
            live_runner_id: None,
            stopped: false,
            deleted_at: None,
            archive: None,
            upload: None,
        }
    }

    /// A new upload app `n` of owner `o` under [`Rules::for_tests`]: the
    /// app fixture of every crate's unit tests.
    ///
    /// [`Rules::for_tests`]: crate::deploy_request::Rules::for_tests
    pub fn for_tests() -> Self {
        let rules = crate::deploy_request::Rules::for_tests();
        let request = UploadAppRequest::parse(br#"{"name":"n"}"#, &rules).expect("a valid request");
        Self::new(
            AppId::new(),
            &Owner::new("o"),
            "n",
            AppConfig::for_upload(&request, None),
            String::new(),
            &rules.apps,
        )
    }
}

impl App {
    /// Where users reach the app at its custom domain: its URL with the
    /// domain for its own hostname.
    pub fn domain_url(&self) -> Option<String> {
        let domain = self.config.domain.as_ref()?;
        Some(self.url.replacen(&self.hostname, domain.as_str(), 1))
    }
}

/// How long one phase of a deployment took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Phase {
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub millis: Option<u64>,
}

/// What started a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Api,
    Webhook,
    /// The live version's image again, with the current config.
    Redeploy,
    /// An earlier live version's image, with the current config.
    Rollback,
    /// The live version's image started on another build host, because the
    /// one it ran on was lost or retired.
    Failover,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Api => "api",
            Trigger::Webhook => "webhook",
            Trigger::Redeploy => "redeploy",
            Trigger::Rollback => "rollback",
            Trigger::Failover => "failover",
        }
    }

    /// Whether it runs an image built before instead of building one.
    pub fn reuses_image(self) -> bool {
        matches!(
            self,
            Trigger::Redeploy | Trigger::Rollback | Trigger::Failover
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub id: DeploymentId,
    pub app_id: AppId,
    pub owner: Owner,
    pub status: DeploymentStatus,
    pub trigger: Trigger,
    pub created_at: String,
    pub updated_at: String,
    /// The commit built (or, for a redeploy, run again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The commit a webhook push asked for; the runner builds the branch's
    /// head, which is this commit unless the branch has moved on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_hit: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub phases: BTreeMap<String, Phase>,
    #[serde(default)]
    pub cancel_requested: bool,
    /// Raised by each runner that claims the deployment; a runner's writes
    /// are conditioned on the attempt it claimed (fencing).
    #[serde(default)]
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_id: Option<String>,
    /// Until when (epoch ms) the claiming runner is known to be alive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<u64>,
    /// `host:port` where its container answers: what the edge proxies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// The archive an upload deployment builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<Archive>,
    /// The earlier deployment whose image a rollback runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_from: Option<DeploymentId>,
    /// For a failover: the host it moves the app off, and what ran there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<Failover>,
    /// The runner meant to run it; others leave its job to that runner
    /// while it is live and has room (see `fleet::decide`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meant_for: Option<String>,
}

/// What a failover deployment moves, and from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failover {
    /// The runner whose host was lost (or is retiring).
    pub from_runner_id: String,
    /// The live deployment that ran there, whose image it starts again.
    pub of_deployment_id: DeploymentId,
    pub image_tag: String,
}

impl Deployment {
    /// The tag of the image this deployment runs: its commit for a Git
    /// build, its own id for an upload (which has no commit).
    pub fn image_tag(&self) -> Option<&str> {
        match &self.archive {
            Some(_) => Some(&self.id),
            None => self.commit.as_deref(),
        }
    }

    /// Whether it ever went live: its upstream is written in the same
    /// transaction as its `running` status, and never removed.
    pub fn went_live(&self) -> bool {
        self.upstream.is_some()
    }

    /// Whether a runner holds this deployment under a lease that has not run
    /// out at `now` (Unix milliseconds).
    pub fn is_leased(&self, now: u64) -> bool {
        self.status.is_in_progress() && self.lease_until.is_some_and(|l| l > now)
    }
}

impl Deployment {
    pub fn queued(app: &App, trigger: Trigger) -> Self {
        let now = crate::ids::now_rfc3339();
        Self {
            id: DeploymentId::new(),
            app_id: app.id.clone(),
            owner: app.owner.clone(),
            status: DeploymentStatus::Queued,
            trigger,
            created_at: now.clone(),
            updated_at: now,
            commit: None,
            pushed_commit: None,
            cache_hit: None,
            error: None,
            phases: BTreeMap::new(),
            cancel_requested: false,
            attempt: 0,
            runner_id: None,
            lease_until: None,
            upstream: None,
            archive: None,
            rolled_back_from: None,
            failover: None,
            meant_for: None,
        }
    }

    /// A deployment that starts `live`'s image (the app's live deployment,
    /// run by `from_runner_id`) on another host; `None` when it names no
    /// image.
    pub fn failover(app: &App, live: &Deployment, from_runner_id: &str) -> Option<Self> {
        let image_tag = live.image_tag()?.to_owned();
        Some(Self {
            commit: live.commit.clone(),
            failover: Some(Failover {
                from_runner_id: from_runner_id.to_owned(),
                of_deployment_id: live.id.clone(),
                image_tag,
            }),
            ..Self::queued(app, Trigger::Failover)
        })
    }

    /// Whether its job builds an image, and so takes one of its owner's
    /// build places while it runs: a redeploy, rollback or failover starts
    /// an image built before.
    pub fn builds(&self) -> bool {
        !self.trigger.reuses_image()
    }

    /// The image tag a deployment that builds nothing runs: a failover's
    /// recorded one, else the commit it names.
    pub fn reused_image_tag(&self) -> Option<&str> {
        match &self.failover {
            Some(f) => Some(&f.image_tag),
            None => self.commit.as_deref(),
        }
    }
}

/// What a user sees as the app's state, derived from its live deployment and
/// its newest one.
pub fn app_status(app: &App, latest: Option<&Deployment>) -> AppStatus {
    if app.deleted_at.is_some() {
        AppStatus::Deleted
    } else if app.live_deployment_id.is_some() {
        if app.stopped {
            AppStatus::Stopped
        } else {
            AppStatus::Running
        }
    } else {
        latest.map_or(AppStatus::New, |d| d.status.into())
    }
}

#[cfg(test)]
mod tests;
