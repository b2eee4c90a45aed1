//! Reading apps and deployments, deleting apps, cancelling deployments.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use slipway_core::api::{AppList, AppStatus, AppView, Deleted, DeploymentList, DeploymentView};
use slipway_core::ids::{DeploymentId, Owner};
use slipway_core::model::Deployment;
use slipway_core::store::CancelOutcome;

use crate::auth::{Caller, PublicBase};
use crate::error::ApiError;
use crate::path_ids::{AppPath, DeploymentPath};
use crate::state::AppState;
use crate::views;
use crate::webhook_secrets;

/// How many deployments `GET /apps/{id}` shows.
const RECENT: i32 = 20;
const HISTORY: i32 = 100;

#[utoipa::path(
    get, path = "/apps", tag = "apps",
    responses((status = 200, description = "Your apps", body = AppList)),
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(owner): Caller,
    PublicBase(base): PublicBase,
) -> Result<Json<AppList>, ApiError> {
    let apps = state.store.list_apps(&owner).await?;
    let latest_ids: Vec<&str> = apps
        .iter()
        .filter_map(|a| a.latest_deployment_id.as_deref())
        .collect();
    let latest = state.store.get_deployments(&latest_ids).await?;
    let views: Vec<AppView> = apps
        .iter()
        .map(|a| {
            let l = latest
                .iter()
                .find(|d| Some(d.id.as_str()) == a.latest_deployment_id.as_deref());
            views::app(&base, a, l, None, None)
        })
        .collect();
    Ok(Json(AppList { apps: views }))
}

#[utoipa::path(
    get, path = "/apps/{id}", tag = "apps", params(("id" = String, Path, description = "The app's id")),
    responses(
        (status = 200, description = "The app with its 20 newest deployments and its webhook, secret included", body = AppView),
        (status = 404, description = "No such app", body = slipway_core::api::ErrorBody),
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    Caller(owner): Caller,
    PublicBase(base): PublicBase,
    AppPath(id): AppPath,
) -> Result<Json<AppView>, ApiError> {
    let app = state
        .store
        .get_owned_app(&owner, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("app"))?;
    let recent = state.store.list_deployments(&app.id, Some(RECENT)).await?;
    let latest = recent
        .iter()
        .find(|d| Some(&d.id) == app.latest_deployment_id.as_ref());
    // Its owner may fetch the webhook again, secret included: this function
    // may open webhook secrets, and only those (template.yaml).
    let secret = match app.config.source.is_upload() {
        true => None,
        false => Some(webhook_secrets::open(&state.envelope, &state.webhook_secrets, &app).await?),
    };
    Ok(Json(views::app(
        &base,
        &app,
        latest,
        Some(&recent),
        secret.as_deref(),
    )))
}

/// Marks the app deleted and frees its name; work still queued or building
/// is cancelled, an upload app's archives deleted. Runners remove its
/// container when they next reconcile.
#[utoipa::path(
    delete, path = "/apps/{id}", tag = "apps", params(("id" = String, Path, description = "The app's id")),
    responses(
        (status = 202, description = "The app is deleted; its container stops within a reconcile", body = Deleted),
        (status = 404, description = "No such app", body = slipway_core::api::ErrorBody),
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    Caller(owner): Caller,
    AppPath(id): AppPath,
) -> Result<(StatusCode, Json<Deleted>), ApiError> {
    let app = state
        .store
        .get_owned_app(&owner, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("app"))?;
    state.store.delete_app(&app).await.map_err(|e| match e {
        slipway_core::store::StoreError::Conflict => ApiError::not_found("app"),
        other => other.into(),
    })?;
    for d in state.store.list_deployments(&app.id, None).await? {
        if d.status.is_in_progress() {
            state.store.request_cancel(&d).await?;
        }
    }
    // An upload app's source goes with it.
    let archives = app.archive.iter().map(|a| &a.path);
    for key in archives.chain(app.upload.iter().map(|u| &u.path)) {
        crate::sources::delete(&state, &app.id, key).await;
    }
    tracing::info!(app_id = %app.id, "app deleted");
    Ok((
        StatusCode::ACCEPTED,
        Json(Deleted {
            id: app.id.to_string(),
            status: AppStatus::Deleted,
        }),
    ))
}

#[utoipa::path(
    get, path = "/apps/{id}/deployments", tag = "deployments", params(("id" = String, Path, description = "The app's id")),
    responses(
        (status = 200, description = "The app's 100 newest deployments, newest first", body = DeploymentList),
        (status = 404, description = "No such app", body = slipway_core::api::ErrorBody),
    ),
)]
pub async fn deployments(
    State(state): State<AppState>,
    Caller(owner): Caller,
    AppPath(id): AppPath,
) -> Result<Json<DeploymentList>, ApiError> {
    let app = state
        .store
        .get_owned_app(&owner, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("app"))?;
    let list = state.store.list_deployments(&app.id, Some(HISTORY)).await?;
    Ok(Json(DeploymentList {
        deployments: list.iter().map(views::deployment).collect(),
    }))
}

pub(crate) async fn owned_deployment(
    state: &AppState,
    owner: &Owner,
    id: &DeploymentId,
) -> Result<Deployment, ApiError> {
    let d = state
        .store
        .get_deployment(id)
        .await?
        .filter(|d| d.owner == *owner)
        .ok_or_else(|| ApiError::not_found("deployment"))?;
    // A deleted app's deployments go with it.
    state
        .store
        .get_owned_app(owner, &d.app_id)
        .await?
        .ok_or_else(|| ApiError::not_found("deployment"))?;
    Ok(d)
}

#[utoipa::path(
    get, path = "/deployments/{id}", tag = "deployments", params(("id" = String, Path, description = "The deployment's id")),
    responses(
        (status = 200, description = "The deployment", body = DeploymentView),
        (status = 404, description = "No such deployment", body = slipway_core::api::ErrorBody),
    ),
)]
pub async fn show_deployment(
    State(state): State<AppState>,
    Caller(owner): Caller,
    DeploymentPath(id): DeploymentPath,
) -> Result<Json<DeploymentView>, ApiError> {
    let d = owned_deployment(&state, &owner, &id).await?;
    Ok(Json(views::deployment(&d)))
}

#[utoipa::path(
    post, path = "/deployments/{id}/cancel", tag = "deployments", params(("id" = String, Path, description = "The deployment's id")),
    responses(
        (status = 200, description = "Cancelled (it was queued)", body = DeploymentView),
        (status = 202, description = "Cancel requested: the runner stops the build", body = DeploymentView),
        (status = 404, description = "No such deployment", body = slipway_core::api::ErrorBody),
        (status = 409, description = "It has already finished", body = slipway_core::api::ErrorBody),
    ),
)]
pub async fn cancel(
    State(state): State<AppState>,
    Caller(owner): Caller,
    DeploymentPath(id): DeploymentPath,
) -> Result<(StatusCode, Json<DeploymentView>), ApiError> {
    let d = owned_deployment(&state, &owner, &id).await?;
    let outcome = state.store.request_cancel(&d).await?;
    let now = state
        .store
        .get_deployment(&d.id)
        .await?
        .ok_or_else(|| ApiError::not_found("deployment"))?;
    match outcome {
        CancelOutcome::Cancelled => Ok((StatusCode::OK, Json(views::deployment(&now)))),
        CancelOutcome::Requested => Ok((StatusCode::ACCEPTED, Json(views::deployment(&now)))),
        CancelOutcome::AlreadyFinished(status) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_finished",
            format!("deployment {} is {status}; only queued, building or deploying deployments can be cancelled", d.id),
        )),
    }
}
