//! Reading apps and deployments, deleting apps, cancelling deployments.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use slipway_core::ids::{DeploymentId, Owner};
use slipway_core::model::Deployment;
use slipway_core::store::CancelOutcome;

use crate::auth::{Caller, PublicBase};
use crate::error::ApiError;
use crate::path_ids::{AppPath, DeploymentPath};
use crate::state::AppState;
use crate::views;

/// How many deployments `GET /apps/{id}` shows.
const RECENT: i32 = 20;
const HISTORY: i32 = 100;

pub async fn list(
    State(state): State<AppState>,
    Caller(owner): Caller,
    PublicBase(base): PublicBase,
) -> Result<Json<Value>, ApiError> {
    let apps = state.store.list_apps(&owner).await?;
    let latest_ids: Vec<&str> = apps
        .iter()
        .filter_map(|a| a.latest_deployment_id.as_deref())
        .collect();
    let latest = state.store.get_deployments(&latest_ids).await?;
    let views: Vec<Value> = apps
        .iter()
        .map(|a| {
            let l = latest
                .iter()
                .find(|d| Some(d.id.as_str()) == a.latest_deployment_id.as_deref());
            views::app(&base, a, l, None)
        })
        .collect();
    Ok(Json(json!({ "apps": views })))
}

pub async fn show(
    State(state): State<AppState>,
    Caller(owner): Caller,
    PublicBase(base): PublicBase,
    AppPath(id): AppPath,
) -> Result<Json<Value>, ApiError> {
    let app = state
        .store
        .get_owned_app(&owner, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("app"))?;
    let recent = state.store.list_deployments(&app.id, Some(RECENT)).await?;
    let latest = recent
        .iter()
        .find(|d| Some(&d.id) == app.latest_deployment_id.as_ref());
    Ok(Json(views::app(&base, &app, latest, Some(&recent))))
}

/// Marks the app deleted and frees its name; work still queued or building
/// is cancelled, an upload app's archives deleted. Runners remove its
/// container when they next reconcile.
pub async fn delete(
    State(state): State<AppState>,
    Caller(owner): Caller,
    AppPath(id): AppPath,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
        Json(json!({ "id": app.id, "status": "deleted" })),
    ))
}

pub async fn deployments(
    State(state): State<AppState>,
    Caller(owner): Caller,
    AppPath(id): AppPath,
) -> Result<Json<Value>, ApiError> {
    let app = state
        .store
        .get_owned_app(&owner, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("app"))?;
    let list = state.store.list_deployments(&app.id, Some(HISTORY)).await?;
    Ok(Json(
        json!({ "deployments": list.iter().map(views::deployment).collect::<Vec<_>>() }),
    ))
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

pub async fn show_deployment(
    State(state): State<AppState>,
    Caller(owner): Caller,
    DeploymentPath(id): DeploymentPath,
) -> Result<Json<Value>, ApiError> {
    let d = owned_deployment(&state, &owner, &id).await?;
    Ok(Json(views::deployment(&d)))
}

pub async fn cancel(
    State(state): State<AppState>,
    Caller(owner): Caller,
    DeploymentPath(id): DeploymentPath,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
