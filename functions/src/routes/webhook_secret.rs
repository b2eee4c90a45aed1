//! `POST /apps/{id}/webhook/rotate`: a new webhook secret for a git app;
//! the old one stops verifying at once (the webhook reads the app
//! consistently for every delivery).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use slipway_core::api::Webhook;
use slipway_core::store::StoreError;

use crate::auth::{Caller, PublicBase};
use crate::error::ApiError;
use crate::path_ids::AppPath;
use crate::state::AppState;
use crate::views;
use crate::webhook_secrets;

/// How often a rotation re-reads the app when a concurrent change won.
const ATTEMPTS: usize = 8;

#[utoipa::path(
    post, path = "/apps/{id}/webhook/rotate", tag = "webhooks",
    params(("id" = String, Path, description = "The app's id")),
    responses(
        (status = 200, description = "The webhook with its new secret; put it in GitHub's webhook settings", body = Webhook),
        (status = 404, description = "No such app", body = slipway_core::api::ErrorBody),
        (status = 409, description = "An upload app, which has no webhook, or one being changed by another request", body = slipway_core::api::ErrorBody),
    ),
)]
pub async fn rotate(
    State(state): State<AppState>,
    Caller(owner): Caller,
    PublicBase(base): PublicBase,
    AppPath(id): AppPath,
) -> Result<Json<Webhook>, ApiError> {
    for _ in 0..ATTEMPTS {
        let app = state
            .store
            .get_owned_app(&owner, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("app"))?;
        if app.config.source.is_upload() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "upload_app",
                format!(
                    "app {} is built from uploaded archives and has no webhook",
                    app.name
                ),
            ));
        }
        let (secret, sealed) = webhook_secrets::new_secret(&state.envelope, &app.id).await?;
        match state.store.set_webhook_secret(&app, &sealed).await {
            Ok(()) => {
                tracing::info!(app_id = %app.id, "webhook secret rotated");
                let hook = views::webhook(&base, &app, Some(&secret));
                return hook.map(Json).ok_or_else(|| ApiError::not_found("webhook"));
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::busy())
}
