//! `POST /webhooks/github/{appId}`: push-to-deploy. No bearer: the delivery
//! proves itself with the app's webhook secret. The handler only verifies,
//! records and enqueues; the push recorder and the runner do the rest.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use slipway_core::api::{HookAnswer, HookResult};
use slipway_core::error_chain::Chain;
use slipway_core::github::{self, PayloadError, SignatureError, Verdict};
use slipway_core::ids::{self, AppId};
use slipway_core::model::{App, Deployment, Source, Trigger};
use slipway_core::store::{Delivery, PushRecord};

use crate::error::ApiError;
use crate::queue;
use crate::state::AppState;
use crate::webhook_secrets;

/// How long a delivery id is remembered. GitHub redelivers on request, for
/// up to three days after the delivery.
const DELIVERY_TTL_SECONDS: u64 = 7 * 24 * 3600;

type Answer = (StatusCode, Json<HookAnswer>);

#[utoipa::path(
    post, path = "/webhooks/github/{id}", tag = "webhooks",
    params(
        ("id" = String, Path, description = "The app's id"),
        ("X-GitHub-Event" = String, Header, description = "`push` or `ping`"),
        ("X-GitHub-Delivery" = Option<String>, Header, description = "The delivery's id: a redelivery queues nothing new"),
    ),
    request_body(content = Object, content_type = "application/json", description = "GitHub's push or ping payload"),
    security(("github_signature" = [])),
    responses(
        (status = 200, description = "A ping, a push that does not deploy, or a delivery seen before", body = HookAnswer),
        (status = 202, description = "A deployment of the pushed commit is queued", body = HookAnswer),
        (status = 400, description = "The payload or a header is malformed", body = slipway_core::api::ErrorBody),
        (status = 401, description = "No signature, or one that does not match the app's webhook secret (also for an unknown app)", body = slipway_core::api::ErrorBody),
        (status = 413, description = "The payload is over GitHub's 25 MB", body = slipway_core::api::ErrorBody),
        (status = 415, description = "Not `application/json`: set the webhook's content type to application/json", body = slipway_core::api::ErrorBody),
        (status = 503, description = "The push queue is unavailable; GitHub redelivers", body = slipway_core::api::ErrorBody),
    ),
)]
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
    // A missing or malformed header is told apart before any read; past
    // this point an unknown app and a wrong signature answer the same.
    let digest =
        github::parse_signature(header("x-hub-signature-256")).map_err(|e| bad_signature(&e))?;
    // Read consistently for every delivery: a rotated secret stops
    // verifying at once, and a changed branch applies to the next push.
    let Some(app) = read_app(&state, &app_id).await? else {
        return Err(bad_signature(&SignatureError::Mismatch));
    };
    let secret = webhook_secrets::open(&state.envelope, &state.webhook_secrets, &app).await?;
    github::verify(secret.as_bytes(), &body, &digest).map_err(|e| bad_signature(&e))?;

    let content_type = header("content-type").unwrap_or_default();
    if !github::is_json(content_type) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "the payload is {content_type:?}; in GitHub's webhook settings choose Content type \"application/json\""
            ),
        ));
    }
    let event = header("x-github-event");
    let verdict = decide(&app, event, &body)?;
    match verdict {
        Verdict::Pong => Ok((
            StatusCode::OK,
            Json(HookAnswer {
                app_id: Some(app.id.to_string()),
                ..HookAnswer::new(HookResult::Pong)
            }),
        )),
        Verdict::Ignore(reason) => {
            tracing::info!(app_id = %app.id, %reason, "delivery ignored");
            Ok((
                StatusCode::OK,
                Json(HookAnswer {
                    reason: Some(reason.to_string()),
                    ..HookAnswer::new(HookResult::Ignored)
                }),
            ))
        }
        Verdict::Deploy { commit } => {
            let delivery =
                github::delivery_id(header("x-github-delivery")).map_err(payload_error)?;
            deploy(&state, app, commit, delivery).await
        }
    }
}

/// The app a delivery names, if it is a live git app.
async fn read_app(state: &AppState, app_id: &str) -> Result<Option<App>, ApiError> {
    Ok(match AppId::parse(app_id) {
        Some(id) => state.store.get_app(&id).await?,
        None => None,
    }
    .filter(|a| a.deleted_at.is_none() && !a.config.source.is_upload()))
}

fn decide(app: &App, event: Option<&str>, body: &[u8]) -> Result<Verdict, ApiError> {
    let Source::Git { branch, .. } = &app.config.source else {
        return Err(bad_signature(&SignatureError::Mismatch));
    };
    github::decide(event, body, branch.as_str(), &app.config.watch_paths).map_err(payload_error)
}

fn payload_error(e: PayloadError) -> ApiError {
    let code = match e {
        PayloadError::NoEvent => "missing_event",
        PayloadError::BadDelivery => "invalid_delivery",
        PayloadError::Malformed(_) => "invalid_payload",
    };
    ApiError::new(StatusCode::BAD_REQUEST, code, e.to_string())
}

fn bad_signature(e: &SignatureError) -> ApiError {
    let message = match e {
        SignatureError::Mismatch => "the X-Hub-Signature-256 signature does not match this app's webhook secret; copy the secret Slipway gave into the webhook's settings".to_owned(),
        other => format!("{other}; GitHub sends it when the webhook has a secret"),
    };
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", message)
}

/// Records a deployment of `commit` with the delivery that asked for it
/// (once per delivery id) and hands it to the push recorder.
async fn deploy(
    state: &AppState,
    app: App,
    commit: String,
    delivery_id: Option<&str>,
) -> Result<Answer, ApiError> {
    let delivery = delivery_id.map(|id| Delivery {
        id,
        expires_at: ids::epoch_millis() / 1000 + DELIVERY_TTL_SECONDS,
    });
    let mut deployment = Deployment::queued(&app, Trigger::Webhook);
    deployment.commit = Some(commit.clone());
    deployment.pushed_commit = Some(commit.clone());
    let answer = |result: HookResult, id: &str| HookAnswer {
        app_id: Some(app.id.to_string()),
        deployment_id: Some(id.to_owned()),
        commit: Some(commit.clone()),
        ..HookAnswer::new(result)
    };
    match state
        .store
        .record_push(&app.id, &deployment, delivery)
        .await?
    {
        PushRecord::Recorded => {
            if let Err(e) = queue::send_push(state, &app.id, &deployment.id).await {
                // GitHub's redelivery of it must not be taken for a duplicate.
                if let Some(id) = delivery_id {
                    if let Err(e) = state.store.forget_delivery(&app.id, id).await {
                        tracing::error!(app_id = %app.id, error = %Chain(&e), "could not forget the unqueued delivery");
                    }
                }
                return Err(e);
            }
            tracing::info!(app_id = %app.id, deployment_id = %deployment.id, "push recorded");
            Ok((
                StatusCode::ACCEPTED,
                Json(answer(HookResult::Queued, &deployment.id)),
            ))
        }
        PushRecord::Duplicate(earlier) => {
            let dup = HookAnswer {
                reason: Some("this delivery was already received; nothing new was queued".into()),
                ..answer(HookResult::Duplicate, &earlier)
            };
            Ok((StatusCode::OK, Json(dup)))
        }
    }
}
