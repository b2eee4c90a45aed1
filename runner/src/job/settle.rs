//! Carries out a job's [`Settlement`]: the log line, the half-started
//! container removed, the final status written under the claim or the
//! lease given up.

use slipway_core::error_chain::Chain;
use slipway_core::redact::Redactor;
use slipway_core::status::DeploymentStatus;
use slipway_core::store::StoreError;

use super::outcome::{settlement, Failure, Outcome, Settlement, Then};
use super::Job;
use crate::engine::containers;

impl Job<'_> {
    /// Writes what the result calls for; says what becomes of the message.
    pub(super) async fn settle(&self, result: Result<(), Failure>, redactor: &Redactor) -> Outcome {
        let Settlement {
            say,
            remove_container,
            then,
        } = settlement(result, redactor);
        if let Some(say) = say {
            self.log.line(say);
        }
        // Whole before the final status, which a follower stops at.
        self.log.flush().await;
        if remove_container {
            self.remove_new_container().await;
        }
        match then {
            Then::Nothing => Outcome::Done,
            Then::End(to, why) => {
                if to == DeploymentStatus::Failed {
                    tracing::info!(reason = %why, "deployment failed");
                }
                match self.rt.store.advance(&self.claim, to, Some(&why)).await {
                    Ok(_) => Outcome::Done,
                    Err(StoreError::Conflict) => Outcome::LostClaim,
                    Err(e) => Outcome::Retry(Chain(&e).to_string()),
                }
            }
            Then::Release(outcome) => {
                if let Err(e) = self.rt.store.release_lease(&self.claim).await {
                    tracing::debug!(error = %Chain(&e), "the lease was not released");
                }
                outcome
            }
            Then::Leave => Outcome::LostClaim,
        }
    }

    async fn remove_new_container(&self) {
        let live = self
            .rt
            .store
            .get_app(&self.app.id)
            .await
            .ok()
            .flatten()
            .and_then(|a| a.live_deployment_id);
        if live.as_deref() != Some(self.d.id.as_str()) {
            containers::remove(&self.rt.docker, &containers::container_name(&self.d.id)).await;
        }
    }
}
