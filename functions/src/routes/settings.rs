//! `PATCH /apps/{id}`: change some of an app's settings without sending
//! them all again. Served by the deploy function, which may hold and free
//! a custom domain.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use slipway_core::api::AppView;
use slipway_core::config_patch;
use slipway_core::store::StoreError;

use crate::auth::{Caller, PublicBase};
use crate::domains;
use crate::error::ApiError;
use crate::path_ids::AppPath;
use crate::state::AppState;
use crate::views;

/// How often a change re-reads the app when a concurrent change won.
const ATTEMPTS: usize = 8;

#[utoipa::path(
    patch, path = "/apps/{id}", tag = "apps",
    params(("id" = String, Path, description = "The app's id")),
    request_body = slipway_core::api::SettingsBody,
    responses(
        (status = 200, description = "The app with its new settings: a domain routes at once, the rest applies from the next deployment", body = AppView),
        (status = 400, description = "A field is invalid (`field` names it), or is not one this route changes", body = slipway_core::api::ErrorBody),
        (status = 404, description = "No such app", body = slipway_core::api::ErrorBody),
        (status = 409, description = "The domain is another app's, or the app is being changed by another request", body = slipway_core::api::ErrorBody),
        (status = 413, description = "The body is over 1 MiB", body = slipway_core::api::ErrorBody),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    Caller(owner): Caller,
    PublicBase(base): PublicBase,
    AppPath(id): AppPath,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<AppView>, ApiError> {
    let body = body?;
    for _ in 0..ATTEMPTS {
        let app = state
            .store
            .get_owned_app(&owner, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("app"))?;
        let config = config_patch::apply(&body, &state.config.rules, &app.config)?;
        domains::check_free(&state, &config, Some(&app.id)).await?;
        match state.store.set_config(&app, &config).await {
            Ok(()) => {
                tracing::info!(app_id = %app.id, "settings changed");
                let app = slipway_core::model::App { config, ..app };
                return Ok(Json(views::app(&base, &app, None, None, None)));
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "conflict",
        "the app is being changed by another request; try again",
    ))
}
