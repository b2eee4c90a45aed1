//! The SQS loop: receive no more jobs than there are free slots, run each,
//! then delete, retry or hand back its message. On shutdown: stop
//! receiving, let jobs finish until the drain deadline, hand back the rest.

use std::sync::Arc;
use std::time::Duration;

use slipway_core::error_chain::{BoxError, Chain};
use slipway_core::job::JobMessage;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::job::{self, Outcome};
use crate::runtime::Runtime;

pub async fn run(rt: Runtime, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(rt.config.slots));
    let hand_back = CancellationToken::new();
    let mut jobs = JoinSet::new();
    loop {
        let first = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("never closed"),
            _ = shutdown.cancelled() => break,
        };
        let free = slots.available_permits() + 1;
        let received = tokio::select! {
            r = rt
                .sqs
                .receive_message()
                .queue_url(&rt.config.queue_url)
                .max_number_of_messages(free.min(10) as i32)
                .wait_time_seconds(20)
                .visibility_timeout(rt.config.visibility.as_secs() as i32)
                .send() => r,
            _ = shutdown.cancelled() => break,
        };
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %Chain(&e), "receiving jobs failed");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        let mut permit = Some(first);
        for m in messages {
            let permit = match permit.take() {
                Some(p) => p,
                None => slots.clone().acquire_owned().await.expect("never closed"),
            };
            let (rt, hand_back) = (rt.clone(), hand_back.clone());
            jobs.spawn(async move {
                handle(&rt, m, hand_back).await;
                drop(permit);
            });
        }
        while jobs.try_join_next().is_some() {}
    }
    tracing::info!(in_flight = jobs.len(), "no longer receiving jobs; draining");
    let drained = tokio::time::timeout(rt.config.drain_deadline, async {
        while jobs.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!("drain deadline passed; handing the remaining jobs back");
        hand_back.cancel();
        while jobs.join_next().await.is_some() {}
    }
}

async fn handle(rt: &Runtime, m: aws_sdk_sqs::types::Message, hand_back: CancellationToken) {
    let Some(receipt) = m.receipt_handle.clone() else {
        return;
    };
    let body = m.body.as_deref().unwrap_or_default();
    let outcome = match JobMessage::decode(body) {
        Ok(msg) => job::run(rt, msg, Some(receipt.clone()), hand_back).await,
        Err(e) => {
            tracing::error!(error = %Chain(&e), "dropping a message that is not a job");
            Outcome::Done
        }
    };
    let queue = &rt.config.queue_url;
    let result = match outcome {
        Outcome::Done => rt
            .sqs
            .delete_message()
            .queue_url(queue)
            .receipt_handle(&receipt)
            .send()
            .await
            .map(|_| ())
            .map_err(Into::into),
        Outcome::Retry(_) => visibility(rt, &receipt, rt.config.retry_after).await,
        Outcome::HandBack => visibility(rt, &receipt, Duration::ZERO).await,
        Outcome::Requeue(after) => requeue(rt, body, &receipt, after).await,
        Outcome::LostClaim => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!(error = %Chain(&*e), "could not settle the message");
    }
}

/// The same job as a new message, seen again `after` from now, and the
/// received one deleted (a copy left by a crash in between is a duplicate
/// delivery, which the claim makes harmless).
async fn requeue(rt: &Runtime, body: &str, receipt: &str, after: Duration) -> Result<(), BoxError> {
    let queue = &rt.config.queue_url;
    rt.sqs
        .send_message()
        .queue_url(queue)
        .message_body(body)
        .delay_seconds(after.as_secs() as i32)
        .send()
        .await?;
    rt.sqs
        .delete_message()
        .queue_url(queue)
        .receipt_handle(receipt)
        .send()
        .await?;
    Ok(())
}

async fn visibility(rt: &Runtime, receipt: &str, after: Duration) -> Result<(), BoxError> {
    rt.sqs
        .change_message_visibility()
        .queue_url(&rt.config.queue_url)
        .receipt_handle(receipt)
        .visibility_timeout(after.as_secs() as i32)
        .send()
        .await
        .map(|_| ())
        .map_err(Into::into)
}
