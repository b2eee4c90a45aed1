//! Source archives in the bucket, as the API functions touch them.

use slipway_core::error_chain::Chain;

use crate::error::ApiError;
use crate::state::AppState;

/// Deletes an archive the app no longer needs. Best effort: a leftover
/// object is logged, never a reason to fail the request.
pub async fn delete(state: &AppState, app_id: &str, key: &str) {
    let deleted = state
        .s3
        .delete_object()
        .bucket(&state.config.bucket)
        .key(key)
        .send()
        .await;
    if let Err(e) = deleted {
        tracing::warn!(%app_id, error = %Chain(&e), "could not delete {key}");
    }
}

/// The size and upload time of an archive, `None` when there is none.
pub async fn stored_size(state: &AppState, key: &str) -> Result<Option<(u64, String)>, ApiError> {
    match state
        .s3
        .head_object()
        .bucket(&state.config.bucket)
        .key(key)
        .send()
        .await
    {
        Ok(head) => {
            let modified = head
                .last_modified()
                .and_then(|t| t.fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime).ok())
                .unwrap_or_else(slipway_core::ids::now_rfc3339);
            Ok(Some((
                head.content_length().unwrap_or_default().max(0) as u64,
                modified,
            )))
        }
        Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => Ok(None),
        Err(e) => Err(ApiError::internal("reading the archive", e)),
    }
}
