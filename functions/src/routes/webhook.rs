//! `POST /webhooks/github/{appId}`: push-to-deploy. No bearer: the delivery
//! proves itself with the app's webhook secret. The handler only verifies,
//! records and enqueues; the runner does the rest.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::json;
use slipway_core::github::{self, PayloadError, SignatureError, Verdict};
use slipway_core::ids;
use slipway_core::model::{App, Deployment, Source, Trigger};
use slipway_core::store::{Delivery, StoreError};

use super::deploy::{busy, send_job, ATTEMPTS};
use crate::error::ApiError;
use crate::state::AppState;
use crate::webhook_secrets;

/// How long a delivery id is remembered. GitHub redelivers on request, for
/// up to three days after the delivery.
const DELIVERY_TTL_SECONDS: u64 = 7 * 24 * 3600;

type Answer = (StatusCode, Json<serde_json::Value>);

pub async fn github(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Answer, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "webhook payloads are accepted up to {} bytes",
                    github::MAX_PAYLOAD_BYTES
                ),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text())
        }
    })?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signature = header("x-hub-signature-256");
    // A missing or malformed header is told apart before any read; past
    // this point an unknown app and a wrong signature answer the same.
    if let Err(e @ (SignatureError::Missing | SignatureError::Malformed)) =
        github::verify_signature(b"", b"", signature)
    {
        return Err(bad_signature(&e));
    }
    let app = match ids::is_id(&app_id) {
        true => state.store.get_app(&app_id).await?,
        false => None,
    }
    .filter(|a| a.deleted_at.is_none());
    let Some(app) = app else {
        return Err(bad_signature(&SignatureError::Mismatch));
    };
    let secret = webhook_secrets::open(&state.envelope, &state.webhook_secrets, &app).await?;
    github::verify_signature(secret.as_bytes(), &body, signature).map_err(|e| bad_signature(&e))?;

    let content_type = header("content-type").unwrap_or_default();
    if !is_json(content_type) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "the payload is {content_type:?}; in GitHub's webhook settings choose Content type \"application/json\""
            ),
        ));
    }
    let Source::Git { branch, .. } = &app.config.source;
    let verdict = github::decide(
        header("x-github-event"),
        &body,
        branch,
        &app.config.watch_paths,
    )
    .map_err(|e| {
        let code = match e {
            PayloadError::NoEvent => "missing_event",
            PayloadError::Malformed(_) => "invalid_payload",
        };
        ApiError::new(StatusCode::BAD_REQUEST, code, e.to_string())
    })?;
    match verdict {
        Verdict::Pong => Ok((
            StatusCode::OK,
            Json(json!({"result": "pong", "appId": app.id})),
        )),
        Verdict::Ignore(reason) => {
            tracing::info!(app_id = %app.id, %reason, "delivery ignored");
            Ok((
                StatusCode::OK,
                Json(json!({"result": "ignored", "reason": reason})),
            ))
        }
        Verdict::Deploy { commit } => {
            let delivery = delivery_id(header("x-github-delivery"))?;
            deploy(&state, app, commit, delivery).await
        }
    }
}

fn bad_signature(e: &SignatureError) -> ApiError {
    let message = match e {
        SignatureError::Mismatch => "the X-Hub-Signature-256 signature does not match this app's webhook secret; copy the secret Slipway gave into the webhook's settings".to_owned(),
        other => format!("{other}; GitHub sends it when the webhook has a secret"),
    };
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", message)
}

fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// `X-GitHub-Delivery` is a GUID; anything else is refused rather than
/// stored as a key.
fn delivery_id(header: Option<&str>) -> Result<Option<&str>, ApiError> {
    match header {
        None => Ok(None),
        Some(id)
            if (1..=100).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            Ok(Some(id))
        }
        Some(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_delivery",
            "the X-GitHub-Delivery header is not a delivery id",
        )),
    }
}

fn duplicate(deployment_id: String) -> Answer {
    (
        StatusCode::OK,
        Json(json!({
            "result": "duplicate",
            "deploymentId": deployment_id,
            "reason": "this delivery was already received; nothing new was queued",
        })),
    )
}

/// Records a deployment of `commit` with the delivery that asked for it
/// (once per delivery id) and sends the job.
async fn deploy(
    state: &AppState,
    mut app: App,
    commit: String,
    delivery_id: Option<&str>,
) -> Result<Answer, ApiError> {
    if let Some(id) = delivery_id {
        if let Some(done) = state.store.delivery_deployment(&app.id, id).await? {
            return Ok(duplicate(done));
        }
    }
    let delivery = delivery_id.map(|id| Delivery {
        id,
        expires_at: ids::epoch_millis() / 1000 + DELIVERY_TTL_SECONDS,
    });
    for _ in 0..ATTEMPTS {
        let mut deployment = Deployment::queued(&app, Trigger::Webhook);
        deployment.commit = Some(commit.clone());
        deployment.pushed_commit = Some(commit.clone());
        match state
            .store
            .add_deployment(&app, None, &deployment, delivery)
            .await
        {
            Ok(()) => {
                send_job(state, &app, &deployment).await?;
                return Ok((
                    StatusCode::ACCEPTED,
                    Json(json!({
                        "result": "queued",
                        "appId": app.id,
                        "deploymentId": deployment.id,
                        "commit": commit,
                    })),
                ));
            }
            Err(StoreError::Conflict) => {
                if let Some(id) = delivery_id {
                    if let Some(done) = state.store.delivery_deployment(&app.id, id).await? {
                        return Ok(duplicate(done));
                    }
                }
                app = state
                    .store
                    .get_app(&app.id)
                    .await?
                    .filter(|a| a.deleted_at.is_none())
                    .ok_or_else(|| ApiError::not_found("app"))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(busy())
}
