//! A custom domain is served for one app in the whole stack: asking for one
//! another app holds is refused before anything is written (the store's
//! host guard settles a race between two askers).

use axum::http::StatusCode;
use slipway_core::ids::AppId;
use slipway_core::model::AppConfig;

use crate::error::ApiError;
use crate::state::AppState;

/// 409 naming `domain` when an app other than `app_id` holds the domain
/// `config` asks for.
pub async fn check_free(
    state: &AppState,
    config: &AppConfig,
    app_id: Option<&AppId>,
) -> Result<(), ApiError> {
    let Some(domain) = &config.domain else {
        return Ok(());
    };
    match state.store.host_holder(domain.as_str()).await? {
        Some(holder) if Some(&holder) != app_id => Err(ApiError {
            field: Some("domain".into()),
            ..ApiError::new(
                StatusCode::CONFLICT,
                "domain_taken",
                format!(
                    "domain: {domain} is already served by another app; remove it there first, or choose another domain"
                ),
            )
        }),
        _ => Ok(()),
    }
}
