//! The push recorder: links each push the webhook recorded as its app's
//! newest deployment, supersedes the one it replaces and sends the build job.
//! The webhook answers GitHub as soon as the push is recorded and handed
//! over; this runs right after, on the push queue (the `slipway-pushes`
//! Lambda on AWS, [`consume`] inside `local-api`). Every step is safe to
//! repeat, so a message delivered twice does no harm.

use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use slipway_core::error_chain::{BoxError, Chain};
use slipway_core::job::JobMessage;
use slipway_core::store::{PushLink, StoreError};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::queue;
use crate::state::AppState;

/// Why a push message is to be tried again.
#[derive(Debug, thiserror::Error)]
pub enum Retry {
    #[error("could not link the push")]
    Link(#[from] StoreError),
    #[error("could not send the job")]
    Queue(#[source] BoxError),
}

/// Handles one message of the push queue.
pub async fn handle(state: &AppState, body: &str) -> Result<(), Retry> {
    let msg = match JobMessage::decode(body) {
        Ok(m) => m,
        Err(e) => {
            // It would fail the same way every time: it is dropped, not retried.
            tracing::error!(error = %e, "a push message that is not one; dropped");
            return Ok(());
        }
    };
    let span =
        tracing::info_span!("push", app_id = %msg.app_id, deployment_id = %msg.deployment_id);
    async {
        let previous = match state
            .store
            .link_push(&msg.app_id, &msg.deployment_id)
            .await?
        {
            PushLink::Newest { previous } => previous,
            PushLink::AlreadyNewest => None,
            PushLink::Outdated => {
                tracing::info!("a newer deployment was recorded first; superseded");
                return Ok(());
            }
            PushLink::AppGone => {
                tracing::info!("the app was deleted; cancelled");
                return Ok(());
            }
        };
        // Linked: the next attempt finds it the newest and sends the job.
        queue::enqueue_job(state, &msg.app_id, &msg.deployment_id, previous.as_ref())
            .await
            .map_err(Retry::Queue)
    }
    .instrument(span)
    .await
}

/// One Lambda invocation: the messages that failed go back to the queue.
pub async fn handle_batch(state: &AppState, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.unwrap_or_default();
        if let Err(e) = handle(state, record.body.as_deref().unwrap_or_default()).await {
            tracing::warn!(message_id = %id, error = %Chain(&e), "push left for a retry");
            response.add_failure(id);
        }
    }
    response
}

/// The push queue's consumer inside `local-api`, as the Lambda event source
/// would be on AWS: long-polls, handles, deletes what was handled. Once
/// `shutdown` fires it receives nothing more and returns when the pushes
/// it holds are handled.
pub async fn consume(state: AppState, shutdown: CancellationToken) {
    let queue_url = state.config.push_queue_url.clone();
    loop {
        let received = tokio::select! {
            r = state
                .sqs
                .receive_message()
                .queue_url(&queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(20)
                .send() => r,
            _ = shutdown.cancelled() => return,
        };
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %Chain(&e), "could not read the push queue");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for m in messages {
            if let Err(e) = handle(&state, m.body().unwrap_or_default()).await {
                tracing::warn!(error = %Chain(&e), "push left for a retry");
                continue;
            }
            let deleted = state
                .sqs
                .delete_message()
                .queue_url(&queue_url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await;
            if let Err(e) = deleted {
                tracing::warn!(error = %Chain(&e), "could not delete a handled push");
            }
        }
    }
}
