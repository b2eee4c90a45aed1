//! `PATCH /apps/{id}`: change some of an app's settings without sending
//! them all again. Served by the deploy function, which may hold and free
//! a custom domain, and open and seal an app's secrets (which it receives
//! in plain text from `POST /deploy` anyway).

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use slipway_core::api::AppView;
use slipway_core::config_patch;
use slipway_core::model::App;
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
        (status = 200, description = "The app with its new settings: a domain routes at once, the rest (secrets too) applies from the next deployment", body = AppView),
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
        let patched = config_patch::apply(&body, &state.config.rules, &app.config)?;
        let mut config = patched.config;
        if let Some(change) = &patched.credentials {
            let current = state
                .envelope
                .open_credentials(&app.id, app.config.sealed_credentials.as_deref())
                .await?;
            let next = change.apply(current)?;
            config_patch::check_distinct(&config.env, &next)?;
            config.secret_names = next.secrets.keys().cloned().collect();
            config.has_repo_token = next.repo_token.is_some();
            config.sealed_credentials = state.envelope.seal_credentials(&app.id, &next).await?;
            config.check_size()?;
        }
        domains::check_free(&state, &config, Some(&app.id)).await?;
        match state.store.set_config(&app, &config).await {
            Ok(()) => {
                tracing::info!(app_id = %app.id, "settings changed");
                let app = App { config, ..app };
                let latest = match &app.latest_deployment_id {
                    Some(id) => state.store.get_deployment(id).await?,
                    None => None,
                };
                return Ok(Json(views::app(&base, &app, latest.as_ref(), None, None)));
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::busy())
}
