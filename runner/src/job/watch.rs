//! While a job runs: keep its message invisible (heartbeat) and watch the
//! deployment for a cancel request, a newer deployment or a lost claim.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use slipway_core::model::Deployment;
use slipway_core::status::DeploymentStatus;
use slipway_core::store::StoreError;
use tokio_util::sync::CancellationToken;

use crate::runtime::Runtime;

/// Why a job stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Cancelled,
    Superseded,
    AppDeleted,
    /// Another runner raised the attempt: it owns the deployment now.
    LostClaim,
    /// The heartbeat failed: the message may already be another runner's.
    LostMessage,
    /// This runner is shutting down and its drain deadline passed.
    Shutdown,
}

pub struct Watcher {
    token: CancellationToken,
    reason: Arc<Mutex<Option<Stop>>>,
    /// Set with the token, for blocking work (the clone) that polls a flag.
    pub interrupt: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Watcher {
    pub fn start(
        rt: &Runtime,
        d: &Deployment,
        receipt: Option<String>,
        shutdown: CancellationToken,
    ) -> Self {
        let token = CancellationToken::new();
        let reason = Arc::new(Mutex::new(None));
        let interrupt = Arc::new(AtomicBool::new(false));
        let stop = {
            let (token, reason, interrupt) = (token.clone(), reason.clone(), interrupt.clone());
            move |why: Stop| {
                reason.lock().expect("not poisoned").get_or_insert(why);
                interrupt.store(true, Ordering::Relaxed);
                token.cancel();
            }
        };
        let task = tokio::spawn(watch(
            rt.clone(),
            d.clone(),
            receipt,
            shutdown,
            token.clone(),
            stop,
        ));
        Self {
            token,
            reason,
            interrupt,
            task,
        }
    }

    /// Resolves when the job must stop, with why.
    pub async fn stopped(&self) -> Stop {
        self.token.cancelled().await;
        self.stop_reason().unwrap_or(Stop::Shutdown)
    }

    pub fn stop_reason(&self) -> Option<Stop> {
        *self.reason.lock().expect("not poisoned")
    }

    pub async fn finish(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn watch(
    rt: Runtime,
    d: Deployment,
    receipt: Option<String>,
    shutdown: CancellationToken,
    token: CancellationToken,
    stop: impl Fn(Stop),
) {
    let heartbeat_every = (rt.config.visibility / 3).max(Duration::from_secs(1));
    let mut heartbeat = tokio::time::interval(heartbeat_every);
    let mut poll = tokio::time::interval(rt.config.cancel_poll);
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = shutdown.cancelled() => {
                stop(Stop::Shutdown);
                return;
            }
            _ = heartbeat.tick() => {
                let Some(receipt) = &receipt else { continue };
                let extended = rt
                    .sqs
                    .change_message_visibility()
                    .queue_url(&rt.config.queue_url)
                    .receipt_handle(receipt)
                    .visibility_timeout(rt.config.visibility.as_secs() as i32)
                    .send()
                    .await;
                if let Err(e) = extended {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "heartbeat failed; stopping the job");
                    stop(Stop::LostMessage);
                    return;
                }
                let lease = AttributeValue::N(super::lease_until(&rt).to_string());
                match rt.store.record(&d.id, d.attempt, &[("leaseUntil", lease)]).await {
                    Ok(()) => {}
                    Err(StoreError::Conflict) => {
                        stop(Stop::LostClaim);
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "could not renew the lease"),
                }
            }
            _ = poll.tick() => {
                let now = match rt.store.get_deployment(&d.id).await {
                    Ok(Some(now)) => now,
                    Ok(None) => { stop(Stop::AppDeleted); return; }
                    Err(e) => { tracing::warn!(error = %e, "could not read the deployment"); continue; }
                };
                let why = if now.attempt != d.attempt {
                    Some(Stop::LostClaim)
                } else if now.cancel_requested {
                    Some(Stop::Cancelled)
                } else if now.status == DeploymentStatus::Superseded {
                    Some(Stop::Superseded)
                } else if now.status.is_terminal() {
                    Some(Stop::LostClaim)
                } else {
                    None
                };
                if let Some(why) = why {
                    stop(why);
                    return;
                }
            }
        }
    }
}
