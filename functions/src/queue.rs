//! What the functions put on the queues: a build job for the runners, and a
//! verified push for the push recorder. Each message holds two ids, nothing
//! secret.

use axum::http::StatusCode;
use slipway_core::error_chain::{BoxError, Chain};
use slipway_core::ids::{AppId, DeploymentId};
use slipway_core::job::JobMessage;
use slipway_core::status::DeploymentStatus;
use tracing::Instrument;

use crate::error::ApiError;
use crate::state::AppState;

/// Supersedes `previous` (the deployment this one replaced as the app's
/// newest) while the job is sent. A job that cannot be sent fails its
/// deployment at once rather than leaving it queued forever.
pub async fn send_job(
    state: &AppState,
    app_id: &AppId,
    deployment_id: &DeploymentId,
    previous: Option<&DeploymentId>,
) -> Result<(), ApiError> {
    if let Err(e) = enqueue_job(state, app_id, deployment_id, previous).await {
        tracing::error!(%app_id, %deployment_id, error = %Chain(&*e), "could not queue the job");
        fail_unqueued(state, deployment_id).await;
        return Err(unavailable());
    }
    Ok(())
}

/// [`send_job`] for a caller that can try again (the push recorder): a job
/// that cannot be sent leaves the deployment as it is.
pub async fn enqueue_job(
    state: &AppState,
    app_id: &AppId,
    deployment_id: &DeploymentId,
    previous: Option<&DeploymentId>,
) -> Result<(), BoxError> {
    let span = tracing::info_span!("enqueue", %app_id, %deployment_id);
    async {
        let (superseded, sent) = tokio::join!(
            state.store.supersede_previous(previous, deployment_id),
            send(state, &state.config.queue_url, app_id, deployment_id)
        );
        if let Err(e) = superseded {
            tracing::warn!(error = %Chain(&e), "could not supersede older deployments");
        }
        if sent.is_ok() {
            tracing::info!("deployment queued");
        }
        sent
    }
    .instrument(span)
    .await
}

/// Hands a recorded push to the push recorder, which links it as the app's
/// newest and sends its job.
pub async fn send_push(
    state: &AppState,
    app_id: &AppId,
    deployment_id: &DeploymentId,
) -> Result<(), ApiError> {
    if let Err(e) = send(state, &state.config.push_queue_url, app_id, deployment_id).await {
        tracing::error!(%app_id, %deployment_id, error = %Chain(&*e), "could not queue the push");
        fail_unqueued(state, deployment_id).await;
        return Err(unavailable());
    }
    Ok(())
}

async fn send(
    state: &AppState,
    queue_url: &str,
    app_id: &AppId,
    deployment_id: &DeploymentId,
) -> Result<(), BoxError> {
    let message = JobMessage {
        deployment_id: deployment_id.clone(),
        app_id: app_id.clone(),
    };
    state
        .sqs
        .send_message()
        .queue_url(queue_url)
        .message_body(message.encode())
        .send()
        .await
        .map(|_| ())
        .map_err(Into::into)
}

async fn fail_unqueued(state: &AppState, deployment_id: &str) {
    let failed = state
        .store
        .set_status(
            deployment_id,
            DeploymentStatus::Failed,
            Some("the build queue was unavailable"),
        )
        .await;
    if let Err(e) = failed {
        tracing::error!(%deployment_id, error = %Chain(&e), "could not mark the unqueued deployment failed");
    }
}

fn unavailable() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "queue_unavailable",
        "the build queue is unavailable; nothing was deployed, try again",
    )
}
