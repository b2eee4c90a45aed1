//! The HTTP API's bodies: what every route takes and answers. The server
//! fills these, the CLI, the dashboard's tests and the end-to-end tests
//! read them, and the OpenAPI document is generated from them (feature
//! `openapi`), so a renamed field breaks the build, not a client.
//!
//! Request bodies are checked field by field by [`crate::deploy_request`]
//! and [`crate::upload`], which name the field at fault; the request types
//! here are what a client sends and what the document describes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::model::Trigger;
pub use crate::status::AppStatus;
use crate::status::DeploymentStatus;

/// Every refusal: `{"error":{"code","message","field"?}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorDetail {
    /// Stable, for programs: `invalid_field`, `not_found`, `unauthorized`, …
    pub code: String,
    /// For people: what is wrong and what to do.
    pub message: String,
    /// The request field at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `POST /deploy`: create the app `name` or update it, and build it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeployBody {
    /// A DNS label: 1-63 lowercase letters, digits or `-`.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", example = "my-app")
    )]
    pub name: String,
    /// An `https://` Git URL (no credentials in it; use `repoToken`).
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "https://github.com/acme/shop.git",
            pattern = r"^https://[^/@#\s]+/[^#\s]*$"
        )
    )]
    pub repo: String,
    #[serde(flatten)]
    pub config: ConfigBody,
    /// Defaults to `main`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// A token for a private repo; stored encrypted, never shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(write_only, max_length = 4096))]
    pub repo_token: Option<String>,
    /// Globs of repo paths; a push touching none of them does not deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_paths: Option<Vec<String>>,
}

/// `POST /apps`: an app built from uploaded archives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UploadAppBody {
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", example = "my-app")
    )]
    pub name: String,
    #[serde(flatten)]
    pub config: ConfigBody,
}

/// What both kinds of app are configured with; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConfigBody {
    /// Relative to the repo or archive root; defaults to `Dockerfile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1024))]
    pub dockerfile: Option<String>,
    /// The build context, relative to the root; defaults to `.`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1024))]
    pub context: Option<String>,
    /// The port the container listens on; defaults to 80.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 65535))]
    pub port: Option<u16>,
    /// CPUs, from 0.1 to 8; defaults to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0.1, maximum = 8))]
    pub cpu: Option<f64>,
    /// Megabytes, from 64 to 16384; defaults to 512.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 64, maximum = 16384))]
    pub memory: Option<u32>,
    /// A custom domain, outside the stack's apps domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The container's root filesystem is read-only (`/tmp` stays writable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Plain environment variables, shown back as set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = openapi::env))]
    pub env: Option<BTreeMap<String, String>>,
    /// Secret environment variables: stored encrypted, only their names are
    /// ever shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = openapi::secrets))]
    pub secrets: Option<BTreeMap<String, String>>,
}

/// `PATCH /apps/{id}`: the settings to change; the rest are kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SettingsBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 65535))]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0.1, maximum = 8))]
    pub cpu: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 64, maximum = 16384))]
    pub memory: Option<u32>,
    /// A custom domain; `null` removes it. It routes at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Replaces the whole environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = openapi::env))]
    pub env: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1024))]
    pub dockerfile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1024))]
    pub context: Option<String>,
    /// Git apps only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Git apps only; `null` or `[]`: every push deploys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_paths: Option<Vec<String>>,
    /// Secrets to set, or with `null` to remove; the others are kept.
    /// Stored encrypted; only their names are ever shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(write_only))]
    pub secrets: Option<BTreeMap<String, Option<String>>>,
    /// Git apps only: a new repo token, or `null` to remove it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(write_only, max_length = 4096))]
    pub repo_token: Option<Option<String>>,
}

/// `POST /apps/{id}/source`: the archive about to be uploaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SourceBody {
    pub format: ArchiveKind,
    /// Its exact size in bytes, signed into the upload URL.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 524288000))]
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum ArchiveKind {
    #[serde(rename = "tar.gz")]
    TarGz,
    #[serde(rename = "zip")]
    Zip,
}

/// `POST /apps/{id}/rollback`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RollbackBody {
    /// An earlier deployment of the app that went live.
    pub deployment_id: String,
}

/// Where GitHub should send pushes; `null` for an upload app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub url: String,
    /// Always `application/json`.
    pub content_type: String,
    /// Always `["push"]`.
    pub events: Vec<String>,
    /// Shown to the app's owner by the deploy routes, `GET /apps/{id}` and
    /// the rotate route; never in the list of apps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// 202 of the deploy routes: the deployment is queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Queued {
    pub app_id: String,
    pub deployment_id: String,
    pub status: DeploymentStatus,
    pub url: String,
    pub webhook: Option<Webhook>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ArchiveView {
    pub path: String,
    pub size: u64,
    pub uploaded_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PendingUploadView {
    pub path: String,
    pub size: u64,
    pub expires_at: String,
}

/// How long one phase (clone, build, push, start, …) took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PhaseView {
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub millis: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeploymentView {
    pub id: String,
    pub app_id: String,
    pub status: DeploymentStatus,
    pub trigger: Trigger,
    /// The commit built, or run again.
    pub commit: Option<String>,
    /// The commit a webhook push asked for.
    pub pushed_commit: Option<String>,
    /// The archive an upload app's deployment builds.
    pub archive: Option<ArchiveView>,
    pub cache_hit: Option<bool>,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub cancel_requested: bool,
    /// How many times a runner has taken it on.
    pub attempt: u32,
    /// `host:port` of its container, once it runs.
    pub upstream: Option<String>,
    pub phases: BTreeMap<String, PhaseView>,
    /// The deployment a rollback runs the image of.
    pub rolled_back_from: Option<String>,
    /// For a failover: the build host the app moved off.
    pub failover: Option<FailoverView>,
}

/// The build host a failover moved an app off, and what ran there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FailoverView {
    /// The runner whose host was lost or retired.
    pub from_runner_id: String,
    /// The deployment that ran there, whose image this one runs.
    pub of_deployment_id: String,
}

/// Where an app's source comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SourceView {
    #[serde(rename_all = "camelCase")]
    Git {
        repo: String,
        branch: String,
        dockerfile: String,
        context: String,
        watch_paths: Vec<String>,
        has_repo_token: bool,
    },
    #[serde(rename_all = "camelCase")]
    Upload {
        dockerfile: String,
        context: String,
        archive: Option<ArchiveView>,
        pending_upload: Option<PendingUploadView>,
    },
}

/// One app: config, status, URL, webhook; never a repo token or a secret value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AppView {
    pub id: String,
    pub name: String,
    pub source: SourceView,
    pub port: u16,
    pub cpu: f64,
    /// Megabytes.
    pub memory: u32,
    pub hostname: String,
    pub domain: Option<String>,
    /// The app's URL at its custom domain.
    pub domain_url: Option<String>,
    pub read_only: bool,
    pub env: BTreeMap<String, String>,
    pub secret_names: Vec<String>,
    pub status: AppStatus,
    /// Where users reach the app; it never changes.
    pub url: String,
    pub webhook: Option<Webhook>,
    pub latest_deployment_id: Option<String>,
    pub live_deployment_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The newest deployments, newest first (`GET /apps/{id}` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployments: Option<Vec<DeploymentView>>,
}

/// `GET /apps`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AppList {
    pub apps: Vec<AppView>,
}

/// `GET /apps/{id}/deployments`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeploymentList {
    pub deployments: Vec<DeploymentView>,
}

/// 202 of `DELETE /apps/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Deleted {
    pub id: String,
    pub status: AppStatus,
}

/// `POST /apps/{id}/source`: where and how to PUT the archive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UploadTicket {
    pub upload_url: String,
    /// Always `PUT`.
    pub method: String,
    /// Send exactly these headers with the PUT.
    pub headers: BTreeMap<String, String>,
    pub expires_at: String,
    pub max_bytes: u64,
    pub source_archive_path: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LogChunk {
    pub seq: u64,
    pub text: String,
}

/// `GET /deployments/{id}/logs`: the chunks after `after`, redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LogPage {
    pub deployment_id: String,
    pub status: DeploymentStatus,
    pub chunks: Vec<LogChunk>,
    /// Ask again with `?after=` this.
    pub next: Option<u64>,
    /// More chunks are there now: ask again at once.
    pub more: bool,
    /// The deployment has ended; no chunk will be added.
    pub done: bool,
}

/// What the webhook did with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum HookResult {
    /// A `ping`: the hook is set up right.
    Pong,
    /// Not a push that deploys (another branch, a tag, no watched path, …).
    Ignored,
    /// A deployment is queued.
    Queued,
    /// This delivery was seen before; the deployment it queued is named.
    Duplicate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HookAnswer {
    pub result: HookResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Why a delivery was ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(feature = "openapi")]
mod openapi {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::openapi::{RefOr, Schema};

    use crate::fields::{MAX_VARS, MAX_VAR_VALUE_BYTES};

    pub fn env() -> impl Into<RefOr<Schema>> {
        vars().description(Some("Plain environment variables, shown back as set."))
    }

    pub fn secrets() -> impl Into<RefOr<Schema>> {
        vars().write_only(Some(true)).description(Some(
            "Secret environment variables: stored encrypted, only their names are ever shown.",
        ))
    }

    /// `env` and `secrets`: names as a shell takes them, string values.
    fn vars() -> ObjectBuilder {
        let value = ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(MAX_VAR_VALUE_BYTES));
        let name = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[A-Za-z_][A-Za-z0-9_]{0,255}$"));
        ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                Type::Object,
                Type::Null,
            ]))
            .additional_properties(Some(value))
            .property_names(Some(name))
            .max_properties(Some(MAX_VARS))
    }
}

impl HookAnswer {
    pub fn new(result: HookResult) -> Self {
        Self {
            result,
            app_id: None,
            deployment_id: None,
            commit: None,
            reason: None,
        }
    }
}

#[cfg(test)]
mod tests;
