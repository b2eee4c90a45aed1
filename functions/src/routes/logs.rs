//! `GET /deployments/{id}/logs?after=N`: the build log chunks after
//! sequence number N, already redacted by the runner that wrote them.

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use slipway_core::api::{LogChunk, LogPage};
use slipway_core::s3_keys;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::path_ids::DeploymentPath;
use crate::routes::apps::owned_deployment;
use crate::state::AppState;

/// Chunks listed per answer; a client asks again with `after` = the
/// answer's `next`.
const PAGE: i32 = 100;

/// About how many bytes of chunk text (as JSON) one answer carries, well
/// inside Lambda's 6 MB response; it always carries at least one chunk
/// (the runner writes them at most 128 KiB each).
const PAGE_BYTES: usize = 1024 * 1024;

#[derive(Deserialize)]
pub struct After {
    after: Option<u64>,
}

#[utoipa::path(
    get, path = "/deployments/{id}/logs", tag = "deployments",
    params(
        ("id" = String, Path, description = "The deployment's id"),
        ("after" = Option<u64>, Query, description = "The `next` of the last answer: only chunks after it"),
    ),
    responses(
        (status = 200, description = "The build log's chunks after `after`, redacted", body = LogPage),
        (status = 400, description = "`after` is not a chunk number", body = slipway_core::api::ErrorBody),
        (status = 404, description = "No such deployment", body = slipway_core::api::ErrorBody),
    ),
)]
pub async fn logs(
    State(state): State<AppState>,
    Caller(owner): Caller,
    DeploymentPath(id): DeploymentPath,
    q: Result<Query<After>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<LogPage>, ApiError> {
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
    let mut bytes = 0;
    let mut cut_short = false;
    for object in listed.contents() {
        let Some(key) = object.key() else { continue };
        let Some(seq) = s3_keys::log_seq(key) else {
            continue;
        };
        let size = usize::try_from(object.size().unwrap_or_default()).unwrap_or(usize::MAX);
        if !chunks.is_empty() && bytes + size > PAGE_BYTES {
            cut_short = true;
            break;
        }
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
        let text = String::from_utf8_lossy(&body.into_bytes()).into_owned();
        let escaped = serde_json::to_string(&text).map_or(text.len(), |t| t.len());
        if !chunks.is_empty() && bytes + escaped > PAGE_BYTES {
            cut_short = true;
            break;
        }
        bytes += escaped;
        chunks.push(LogChunk { seq, text });
    }
    Ok(Json(LogPage {
        deployment_id: d.id.to_string(),
        status: d.status,
        next: chunks.last().map(|c| c.seq).or(q.after),
        chunks,
        more: cut_short || listed.is_truncated().unwrap_or(false),
        done: !d.status.is_in_progress(),
    }))
}
