//! `GET /deployments/{id}/logs?after=N`: the build log chunks after
//! sequence number N, already redacted by the runner that wrote them.

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use slipway_core::s3_keys;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::path_ids::DeploymentPath;
use crate::routes::apps::owned_deployment;
use crate::state::AppState;

/// Chunks per answer; a client asks again with `after` = the answer's `next`.
const PAGE: i32 = 100;

#[derive(Deserialize)]
pub struct After {
    after: Option<u64>,
}

pub async fn logs(
    State(state): State<AppState>,
    Caller(owner): Caller,
    DeploymentPath(id): DeploymentPath,
    q: Result<Query<After>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|_| {
        slipway_core::fields::FieldError::new(
            "after",
            "must be the sequence number of a log chunk (the \"next\" of the last answer)",
        )
    })?;
    let d = owned_deployment(&state, &owner, &id).await?;
    let prefix = s3_keys::log_prefix(&d.id);
    let start_after = q.after.map(|n| s3_keys::log_chunk(&d.id, n));
    let listed = state
        .s3
        .list_objects_v2()
        .bucket(&state.config.bucket)
        .prefix(&prefix)
        .set_start_after(start_after)
        .max_keys(PAGE)
        .send()
        .await
        .map_err(|e| ApiError::internal("reading the log", e))?;
    let mut chunks = Vec::new();
    for object in listed.contents() {
        let Some(key) = object.key() else { continue };
        let Some(seq) = s3_keys::log_seq(key) else {
            continue;
        };
        let body = state
            .s3
            .get_object()
            .bucket(&state.config.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| ApiError::internal("reading the log", e))?
            .body
            .collect()
            .await
            .map_err(|e| ApiError::internal("reading the log", e))?;
        chunks.push(json!({"seq": seq, "text": String::from_utf8_lossy(&body.into_bytes())}));
    }
    let next = chunks
        .last()
        .map(|c| c["seq"].clone())
        .unwrap_or_else(|| json!(q.after));
    Ok(Json(json!({
        "deploymentId": d.id,
        "status": d.status,
        "chunks": chunks,
        "next": next,
        "more": listed.is_truncated().unwrap_or(false),
        "done": !d.status.is_in_progress(),
    })))
}
