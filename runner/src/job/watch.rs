//! While a job runs: keep its message invisible (heartbeat), watch the
//! deployment for a cancel request, a newer deployment or a lost claim, and
//! end it when it runs past the stack's build timeout.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slipway_core::error_chain::Chain;
use slipway_core::ids::Owner;
use slipway_core::model::Deployment;
use slipway_core::status::DeploymentStatus;
use slipway_core::store::{Claim, StoreError};
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
    /// The job ran longer than the build timeout (given).
    TimedOut(Duration),
}

/// The lease a claim or heartbeat gives: shorter than the message's
/// invisibility, so when a dead runner's message comes back its lease has
/// run out and the next runner may take over.
pub(super) fn lease_until(rt: &Runtime) -> u64 {
    slipway_core::ids::epoch_millis() + (rt.config.visibility.as_millis() as u64) * 3 / 4
}

pub struct Watcher {
    token: CancellationToken,
    reason: Arc<Mutex<Option<Stop>>>,
    /// Set with the token, for blocking work (the clone) that polls a flag.
    pub interrupt: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Watcher {
    /// Watches the claimed job; `place_of` is the owner whose build place
    /// it holds (renewed with its lease), none when it builds nothing.
    pub fn start(
        rt: &Runtime,
        claim: &Claim,
        place_of: Option<&Owner>,
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
            claim.clone(),
            place_of.cloned(),
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
    claim: Claim,
    place_of: Option<Owner>,
    receipt: Option<String>,
    shutdown: CancellationToken,
    token: CancellationToken,
    stop: impl Fn(Stop),
) {
    let heartbeat_every = (rt.config.visibility / 3).max(Duration::from_secs(1));
    let mut heartbeat = tokio::time::interval(heartbeat_every);
    let mut poll = tokio::time::interval(rt.config.cancel_poll);
    let too_long = tokio::time::sleep(rt.config.build_timeout);
    tokio::pin!(too_long);
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = &mut too_long => {
                stop(Stop::TimedOut(rt.config.build_timeout));
                return;
            }
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
                    tracing::warn!(error = %Chain(&e), "heartbeat failed; stopping the job");
                    stop(Stop::LostMessage);
                    return;
                }
                match rt.store.renew_lease(&claim, lease_until(&rt)).await {
                    Ok(()) => {}
                    Err(StoreError::Conflict) => {
                        stop(Stop::LostClaim);
                        return;
                    }
                    Err(e) => tracing::warn!(error = %Chain(&e), "could not renew the lease"),
                }
                // A place lost (its lease ran out while the table could not
                // be reached) only lets the owner start one build more.
                if let Some(owner) = &place_of {
                    if let Err(e) = rt.store.renew_build(owner, &claim.deployment_id, lease_until(&rt)).await {
                        tracing::warn!(error = %Chain(&e), "could not renew the build's place");
                    }
                }
            }
            _ = poll.tick() => {
                let now = match rt.store.get_deployment(&claim.deployment_id).await {
                    Ok(now) => now,
                    Err(e) => { tracing::warn!(error = %Chain(&e), "could not read the deployment"); continue; }
                };
                if let Some(why) = stop_rule(&claim, now.as_ref()) {
                    stop(why);
                    return;
                }
            }
        }
    }
}

/// Whether a job holding `claim` must stop, given its deployment as read now.
fn stop_rule(claim: &Claim, now: Option<&Deployment>) -> Option<Stop> {
    let Some(now) = now else {
        return Some(Stop::AppDeleted);
    };
    if now.attempt != claim.attempt {
        Some(Stop::LostClaim)
    } else if now.cancel_requested {
        Some(Stop::Cancelled)
    } else if now.status == DeploymentStatus::Superseded {
        Some(Stop::Superseded)
    } else if now.status.is_terminal() {
        Some(Stop::LostClaim)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_core::model::Trigger;

    fn claimed() -> (Claim, Deployment) {
        let app = slipway_core::model::App::for_tests();
        let mut d = Deployment::queued(&app, Trigger::Api);
        d.status = DeploymentStatus::Building;
        d.attempt = 2;
        (Claim::of(&d), d)
    }

    #[test]
    fn a_deployment_going_well_goes_on() {
        let (claim, mut d) = claimed();
        for status in [
            DeploymentStatus::Building,
            DeploymentStatus::Deploying,
            DeploymentStatus::Running,
        ] {
            d.status = status;
            assert_eq!(stop_rule(&claim, Some(&d)), None, "{status}");
        }
    }

    #[test]
    fn a_deployment_gone_from_the_table_stops_as_deleted() {
        let (claim, _) = claimed();
        assert_eq!(stop_rule(&claim, None), Some(Stop::AppDeleted));
    }

    #[test]
    fn a_raised_attempt_is_a_lost_claim_whatever_else_changed() {
        let (claim, mut d) = claimed();
        d.attempt = 3;
        d.cancel_requested = true;
        d.status = DeploymentStatus::Superseded;
        assert_eq!(stop_rule(&claim, Some(&d)), Some(Stop::LostClaim));
    }

    #[test]
    fn a_cancel_request_stops_it() {
        let (claim, mut d) = claimed();
        d.cancel_requested = true;
        assert_eq!(stop_rule(&claim, Some(&d)), Some(Stop::Cancelled));
    }

    #[test]
    fn a_superseded_deployment_stops() {
        let (claim, mut d) = claimed();
        d.status = DeploymentStatus::Superseded;
        assert_eq!(stop_rule(&claim, Some(&d)), Some(Stop::Superseded));
    }

    #[test]
    fn one_ended_by_someone_else_is_no_longer_this_runners() {
        let (claim, mut d) = claimed();
        for status in [DeploymentStatus::Failed, DeploymentStatus::Cancelled] {
            d.status = status;
            assert_eq!(
                stop_rule(&claim, Some(&d)),
                Some(Stop::LostClaim),
                "{status}"
            );
        }
    }
}
