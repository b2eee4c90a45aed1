//! `POST /deploy` and `POST /apps/{id}/deploy`: record a queued deployment,
//! supersede older ones, send the job.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use slipway_core::api::Queued;
use slipway_core::deploy_request::{DeployRequest, RollbackRequest};
use slipway_core::ids::{self, AppId, DeploymentId, Owner};
use slipway_core::model::{App, AppConfig, Archive, Credentials, Deployment, Trigger};
use slipway_core::store::StoreError;
use slipway_core::upload;

use crate::auth::{Caller, PublicBase};
use crate::domains;
use crate::error::ApiError;
use crate::path_ids::AppPath;
use crate::queue;
use crate::sources;
use crate::state::AppState;
use crate::views;
use crate::webhook_secrets;

/// How often a deploy re-reads the app when a concurrent deploy of the same
/// app won the conditional write.
const ATTEMPTS: u64 = 8;

/// A random pause before attempt `n` again, growing with `n`, so concurrent
/// deploys of one app stop colliding.
async fn back_off(n: u64) {
    let millis = ids::random_below(5 * (n + 1)) + 1;
    tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
}

type Accepted = (StatusCode, Json<Queued>);

#[utoipa::path(
    post, path = "/deploy", tag = "apps",
    request_body = slipway_core::api::DeployBody,
    responses(
        (status = 202, description = "The app is created or updated and a build is queued; the answer shows the webhook with its secret", body = Queued),
        (status = 400, description = "A field is invalid (`field` names it), or the body is not a JSON object", body = slipway_core::api::ErrorBody),
        (status = 409, description = "An upload app has this name, the domain is taken, or the app is being changed by another request", body = slipway_core::api::ErrorBody),
        (status = 413, description = "The body is over 1 MiB", body = slipway_core::api::ErrorBody),
        (status = 503, description = "The job queue is unavailable; try again", body = slipway_core::api::ErrorBody),
    ),
)]
pub async fn deploy(
    State(state): State<AppState>,
    Caller(owner): Caller,
    PublicBase(base): PublicBase,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Accepted, ApiError> {
    let req = DeployRequest::parse(&body?, &state.config.rules)?;
    for attempt in 0..ATTEMPTS {
        let existing = match state
            .store
            .app_id_for_name(&owner, req.name.as_str())
            .await?
        {
            Some(id) => state.store.get_app(&id).await?,
            None => None,
        };
        let outcome = match existing {
            Some(app) => update_and_queue(&state, app, &req).await,
            None => create_and_queue(&state, &owner, &req).await,
        };
        match outcome {
            Ok((app, deployment, secret)) => {
                return enqueue(&state, &base, app, deployment, Some(&secret)).await
            }
            Err(Recorded::Raced) => back_off(attempt).await,
            Err(Recorded::Failed(e)) => return Err(e),
        }
    }
    Err(ApiError::busy())
}

#[utoipa::path(
    post, path = "/apps/{id}/deploy", tag = "deployments", params(("id" = String, Path, description = "The app's id")),
    responses(
        (status = 202, description = "A build is queued: a git app's branch head, or an upload app's newest archive", body = Queued),
        (status = 404, description = "No such app", body = slipway_core::api::ErrorBody),
        (status = 409, description = "An upload app has no archive yet, or the app is being changed by another request", body = slipway_core::api::ErrorBody),
        (status = 413, description = "The uploaded archive is over 500 MB", body = slipway_core::api::ErrorBody),
        (status = 503, description = "The job queue is unavailable; try again", body = slipway_core::api::ErrorBody),
    ),
)]
pub async fn deploy_app(
    State(state): State<AppState>,
    Caller(owner): Caller,
    PublicBase(base): PublicBase,
    AppPath(id): AppPath,
) -> Result<Accepted, ApiError> {
    queue_for_app(&state, &owner, &base, &id, Ask::Build).await
}

/// `POST /apps/{id}/redeploy`: the live version's image again, with the
/// app's current configuration; nothing is built.
#[utoipa::path(
    post, path = "/apps/{id}/redeploy", tag = "deployments", params(("id" = String, Path, description = "The app's id")),
    responses(
        (status = 202, description = "The live version's image runs again with the current config; nothing is built", body = Queued),
        (status = 404, description = "No such app", body = slipway_core::api::ErrorBody),
        (status = 409, description = "An upload app, an app with no live version, or one being changed by another request", body = slipway_core::api::ErrorBody),
        (status = 503, description = "The job queue is unavailable; try again", body = slipway_core::api::ErrorBody),
    ),
)]
pub async fn redeploy(
    State(state): State<AppState>,
    Caller(owner): Caller,
    PublicBase(base): PublicBase,
    AppPath(id): AppPath,
) -> Result<Accepted, ApiError> {
    queue_for_app(&state, &owner, &base, &id, Ask::Redeploy).await
}

#[utoipa::path(
    post, path = "/apps/{id}/rollback", tag = "deployments", params(("id" = String, Path, description = "The app's id")),
    request_body = slipway_core::api::RollbackBody,
    responses(
        (status = 202, description = "The earlier version's image runs again with the current config, as a new deployment; nothing is built", body = Queued),
        (status = 400, description = "The body is not `{\"deploymentId\": \"…\"}`", body = slipway_core::api::ErrorBody),
        (status = 404, description = "No such app, or no such deployment of this app", body = slipway_core::api::ErrorBody),
        (status = 409, description = "That deployment never went live, its image is gone from the registry, the app is an upload app, or it is being changed by another request", body = slipway_core::api::ErrorBody),
        (status = 413, description = "The body is over 1 MiB", body = slipway_core::api::ErrorBody),
        (status = 503, description = "The job queue is unavailable; try again", body = slipway_core::api::ErrorBody),
    ),
)]
/// `POST /apps/{id}/rollback`: an earlier live version's image again, with
/// the app's current configuration, as a new deployment.
pub async fn rollback(
    State(state): State<AppState>,
    Caller(owner): Caller,
    PublicBase(base): PublicBase,
    AppPath(id): AppPath,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Accepted, ApiError> {
    let target = match RollbackRequest::parse(&body?)? {
        RollbackRequest::To(target) => target,
        RollbackRequest::Nothing => return Err(no_such_deployment()),
    };
    queue_for_app(&state, &owner, &base, &id, Ask::Rollback(&target)).await
}

/// What a deployment of an existing app runs.
#[derive(Clone, Copy)]
enum Ask<'a> {
    /// A new build: the branch head, or the newest archive.
    Build,
    /// The live version's image.
    Redeploy,
    /// This earlier live deployment's image.
    Rollback(&'a DeploymentId),
}

impl Ask<'_> {
    fn trigger(self) -> Trigger {
        match self {
            Ask::Build => Trigger::Api,
            Ask::Redeploy => Trigger::Redeploy,
            Ask::Rollback(_) => Trigger::Rollback,
        }
    }
}

/// Queues a deployment of an existing app; when a concurrent change of the
/// app wins the conditional write, reads it again.
async fn queue_for_app(
    state: &AppState,
    owner: &Owner,
    base: &str,
    id: &AppId,
    ask: Ask<'_>,
) -> Result<Accepted, ApiError> {
    let trigger = ask.trigger();
    for attempt in 0..ATTEMPTS {
        let app = state
            .store
            .get_owned_app(owner, id)
            .await?
            .ok_or_else(|| ApiError::not_found("app"))?;
        let mut deployment = Deployment::queued(&app, trigger);
        if app.config.source.is_upload() {
            if trigger.reuses_image() {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "upload_app",
                    format!(
                        "app {} is built from uploaded archives and runs no image again without a build; deploy it (POST /apps/{}/deploy)",
                        app.name, app.id
                    ),
                ));
            }
            let archive = archive_to_build(state, &app).await?;
            deployment.archive = Some(archive.clone());
            match state
                .store
                .add_archive_deployment(&app, &archive, &deployment)
                .await
            {
                Ok(()) => {
                    forget_replaced_archive(state, &app, &archive).await;
                    return enqueue(state, base, app, deployment, None).await;
                }
                Err(StoreError::Conflict) => {
                    back_off(attempt).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        match ask {
            Ask::Build => {}
            Ask::Redeploy => deployment.commit = Some(live_commit(state, &app).await?),
            Ask::Rollback(target) => {
                let target = rollback_target(state, &app, target).await?;
                deployment.commit = target.commit;
                deployment.rolled_back_from = Some(target.id);
            }
        }
        match state.store.add_deployment(&app, None, &deployment).await {
            Ok(()) => {
                let secret = webhook_secret(state, &app).await?;
                return enqueue(state, base, app, deployment, Some(&secret)).await;
            }
            Err(StoreError::Conflict) => back_off(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::busy())
}

/// The commit the app runs now: what a redeploy runs again.
async fn live_commit(state: &AppState, app: &App) -> Result<String, ApiError> {
    let live = match &app.live_deployment_id {
        Some(live) => state.store.get_deployment(live).await?,
        None => None,
    };
    live.and_then(|d| d.commit).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "nothing_to_redeploy",
            format!(
                "app {} has no running version to redeploy; deploy it first (POST /apps/{}/deploy)",
                app.id, app.id
            ),
        )
    })
}

/// The deployment a rollback runs the image of: one of this app's that went
/// live, whose image the registry still holds.
async fn rollback_target(
    state: &AppState,
    app: &App,
    id: &DeploymentId,
) -> Result<Deployment, ApiError> {
    let target = state
        .store
        .get_deployment(id)
        .await?
        .filter(|d| d.app_id == app.id)
        .ok_or_else(no_such_deployment)?;
    let Some(commit) = target.commit.as_deref().filter(|_| target.went_live()) else {
        return Err(ApiError {
            field: Some("deploymentId".into()),
            ..ApiError::new(
                StatusCode::CONFLICT,
                "never_live",
                format!(
                    "deployment {} of app {} never went live (it is {}); roll back to one that ran",
                    target.id, app.name, target.status
                ),
            )
        });
    };
    if let Some(registry) = &state.registry {
        if !registry.has_image(&app.id, commit).await? {
            return Err(ApiError {
                field: Some("deploymentId".into()),
                ..ApiError::new(
                    StatusCode::CONFLICT,
                    "image_gone",
                    format!(
                        "the image of deployment {} (commit {commit}) is not in the registry any more; deploy that commit again instead",
                        target.id
                    ),
                )
            });
        }
    }
    Ok(target)
}

fn no_such_deployment() -> ApiError {
    ApiError {
        field: Some("deploymentId".into()),
        ..ApiError::not_found("deployment of this app")
    }
}

/// Why a new deployment was not recorded: a concurrent change of the same
/// app won (read again), or something failed.
enum Recorded {
    Raced,
    Failed(ApiError),
}

impl<E: Into<ApiError>> From<E> for Recorded {
    fn from(e: E) -> Self {
        Recorded::Failed(e.into())
    }
}

fn raced_or(e: StoreError) -> Recorded {
    match e {
        StoreError::Conflict => Recorded::Raced,
        other => Recorded::Failed(other.into()),
    }
}

fn credentials_of(req: &DeployRequest) -> Credentials {
    Credentials {
        repo_token: req.repo_token.clone(),
        secrets: req.secrets.clone(),
    }
}

async fn webhook_secret(state: &AppState, app: &App) -> Result<String, ApiError> {
    webhook_secrets::open(&state.envelope, &state.webhook_secrets, app).await
}

async fn create_and_queue(
    state: &AppState,
    owner: &Owner,
    req: &DeployRequest,
) -> Result<(App, Deployment, String), Recorded> {
    let id = AppId::new();
    let config = AppConfig::from_request(
        req,
        state
            .envelope
            .seal_credentials(&id, &credentials_of(req))
            .await?,
    );
    config.check_size()?;
    domains::check_free(state, &config, None).await?;
    let (secret, sealed_secret) = webhook_secrets::new_secret(&state.envelope, &id).await?;
    let mut app = App::new(
        id.clone(),
        owner,
        req.name.as_str(),
        config,
        sealed_secret,
        &state.config.rules.apps,
    );
    let deployment = Deployment::queued(&app, Trigger::Api);
    app.latest_deployment_id = Some(deployment.id.clone());
    state
        .store
        .create_app(&app, Some(&deployment))
        .await
        .map_err(raced_or)?;
    tracing::info!(app_id = %app.id, deployment_id = %deployment.id, "app created");
    Ok((app, deployment, secret))
}

async fn update_and_queue(
    state: &AppState,
    app: App,
    req: &DeployRequest,
) -> Result<(App, Deployment, String), Recorded> {
    if app.config.source.is_upload() {
        return Err(Recorded::Failed(ApiError::new(
            StatusCode::CONFLICT,
            "upload_app",
            format!(
                "app {} is built from uploaded archives, not a repo; upload one (POST /apps/{}/source) and deploy it (POST /apps/{}/deploy)",
                app.name, app.id, app.id
            ),
        )));
    }
    let config = AppConfig::from_request(
        req,
        state
            .envelope
            .seal_credentials(&app.id, &credentials_of(req))
            .await?,
    );
    config.check_size()?;
    domains::check_free(state, &config, Some(&app.id)).await?;
    let deployment = Deployment::queued(&app, Trigger::Api);
    state
        .store
        .add_deployment(&app, Some(&config), &deployment)
        .await
        .map_err(raced_or)?;
    let secret = webhook_secret(state, &app).await?;
    let app = App { config, ..app };
    Ok((app, deployment, secret))
}

/// Sends the job and answers 202 with the app's webhook.
async fn enqueue(
    state: &AppState,
    base: &str,
    app: App,
    deployment: Deployment,
    webhook_secret: Option<&str>,
) -> Result<Accepted, ApiError> {
    queue::send_job(
        state,
        &app.id,
        &deployment.id,
        app.latest_deployment_id.as_ref(),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(views::queued(base, &app, &deployment, webhook_secret)),
    ))
}

/// The archive an upload app's deployment builds: the one uploaded since
/// the last deploy, else the current one. Its real size is checked here
/// (S3 enforces the signed size; the emulator does not).
async fn archive_to_build(state: &AppState, app: &App) -> Result<Archive, ApiError> {
    if let Some(pending) = &app.upload {
        if let Some((size, modified)) = sources::stored_size(state, &pending.path).await? {
            upload::check_size(size)?;
            return Ok(Archive {
                path: pending.path.clone(),
                size: pending.size,
                uploaded_at: modified,
            });
        }
    }
    let missing = || {
        ApiError::new(
            StatusCode::CONFLICT,
            "no_archive",
            format!(
                "app {} has no uploaded archive yet: get an upload URL (POST /apps/{}/source), PUT the .tar.gz or .zip to it, then deploy",
                app.name, app.id
            ),
        )
    };
    let current = app.archive.clone().ok_or_else(missing)?;
    match sources::stored_size(state, &current.path).await? {
        Some(_) => Ok(current),
        None => Err(missing()),
    }
}

/// Only one archive per app is kept: the one a new upload replaced goes.
async fn forget_replaced_archive(state: &AppState, app: &App, now: &Archive) {
    if let Some(old) = app.archive.as_ref().filter(|old| old.path != now.path) {
        sources::delete(state, &app.id, &old.path).await;
    }
}
