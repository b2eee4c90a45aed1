//! A runner's hold on a deployment. [`Store::claim`] raises `attempt`, the
//! fencing token; every later write of that runner goes through its
//! [`Claim`] and is conditioned on it, so a runner that lost its claim (it
//! was presumed dead) cannot write over its successor.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::error::StoreError;
use super::item::{attr, attribute, from_item, n, s, Key};
use super::table::Store;
use super::update::Update;
use crate::ids::{AppId, DeploymentId};
use crate::model::{Archive, Deployment, Phase};
use crate::status::DeploymentStatus;

/// The hold a runner has on one deployment: its writes name the attempt
/// it claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub app_id: AppId,
    pub deployment_id: DeploymentId,
    pub attempt: u32,
}

impl Claim {
    /// The claim `d` (as [`Store::claim`] returned it) was taken under.
    pub fn of(d: &Deployment) -> Self {
        Self {
            app_id: d.app_id.clone(),
            deployment_id: d.id.clone(),
            attempt: d.attempt,
        }
    }

    /// An update of the deployment that holds only under this claim.
    fn update(&self) -> Update {
        Update::new(Key::deployment(&self.deployment_id))
            .when(format!("#{} = :attempt", attr::ATTEMPT))
            .value(":attempt", n(self.attempt))
    }
}

impl Store {
    /// Takes a deployment for a runner. A queued deployment becomes
    /// `building`; one taken over from a dead runner keeps its status and is
    /// done again from the start.
    ///
    /// The claim holds a lease until `lease_until` (epoch ms), which the
    /// runner renews while it works; a claim held under a live lease is not
    /// taken (a duplicate delivery of the job must not steal a build that is
    /// going well).
    pub async fn claim(
        &self,
        d: &Deployment,
        runner_id: &str,
        lease_until: u64,
    ) -> Result<Deployment, StoreError> {
        use attr::*;
        let to = if d.status == DeploymentStatus::Queued {
            DeploymentStatus::Building
        } else {
            d.status
        };
        let out = Update::new(Key::deployment(&d.id))
            .set(STATUS, s(to.as_str()))
            .set(ATTEMPT, n(d.attempt + 1))
            .set(RUNNER_ID, s(runner_id))
            .set(LEASE_UNTIL, n(lease_until))
            .set(ERROR, AttributeValue::Null(true))
            .when(format!(
                "#{STATUS} = :seen AND #{ATTEMPT} = :claimed AND #{CANCEL_REQUESTED} = :f \
                 AND (attribute_not_exists(#{LEASE_UNTIL}) OR #{LEASE_UNTIL} < :nowms)"
            ))
            .value(":seen", s(d.status.as_str()))
            .value(":claimed", n(d.attempt))
            .value(":f", AttributeValue::Bool(false))
            .value(":nowms", n(crate::ids::epoch_millis()))
            .returning(ReturnValue::AllNew)
            .send(self)
            .await?;
        from_item(out.unwrap_or_default())
    }

    /// Moves the claimed deployment to `to` (from one of its predecessors, or
    /// again to `to`: a runner's step may run twice), recording why when
    /// `error` is given.
    pub async fn advance(
        &self,
        claim: &Claim,
        to: DeploymentStatus,
        error: Option<&str>,
    ) -> Result<Deployment, StoreError> {
        self.transition(
            &claim.deployment_id,
            to.predecessors(),
            to,
            Some(claim.attempt),
            error,
        )
        .await
    }

    /// Keeps the claim alive until `until` (epoch ms).
    pub async fn renew_lease(&self, claim: &Claim, until: u64) -> Result<(), StoreError> {
        claim
            .update()
            .set(attr::LEASE_UNTIL, n(until))
            .send(self)
            .await?;
        Ok(())
    }

    /// Gives the lease up, so the next delivery of the job may claim the
    /// deployment at once.
    pub async fn release_lease(&self, claim: &Claim) -> Result<(), StoreError> {
        self.renew_lease(claim, 0).await
    }

    /// The commit the deployment builds.
    pub async fn record_commit(&self, claim: &Claim, sha: &str) -> Result<(), StoreError> {
        claim.update().set(attr::COMMIT, s(sha)).send(self).await?;
        Ok(())
    }

    /// Whether the build took layers from the cache.
    pub async fn record_cache_hit(&self, claim: &Claim, hit: bool) -> Result<(), StoreError> {
        claim
            .update()
            .set(attr::CACHE_HIT, AttributeValue::Bool(hit))
            .send(self)
            .await?;
        Ok(())
    }

    /// Records that the deployment builds `archive` now (its `.zip` stored
    /// back as `.tar.gz`), so a runner taking over fetches that one.
    pub async fn record_archive(&self, claim: &Claim, archive: &Archive) -> Result<(), StoreError> {
        claim
            .update()
            .set(attr::ARCHIVE, attribute(archive)?)
            .send(self)
            .await?;
        Ok(())
    }

    /// Records how long one phase took.
    pub async fn record_phase(
        &self,
        claim: &Claim,
        name: &str,
        phase: &Phase,
    ) -> Result<(), StoreError> {
        debug_assert!(name.bytes().all(|b| b.is_ascii_lowercase()));
        claim
            .update()
            .set_expr(format!("#{}.#{name} = :phase", attr::PHASES))
            .value(":phase", attribute(phase)?)
            .send(self)
            .await?;
        Ok(())
    }

    /// Makes the claimed deployment its app's live one, in one transaction
    /// with its `running` status, its route's upstream and the runner's
    /// placement. Refused
    /// (`Conflict`) when a newer deployment is already live, the app was
    /// deleted, or the claim was lost: an older commit never goes live after
    /// a newer one.
    pub async fn go_live(
        &self,
        claim: &Claim,
        runner_id: &str,
        upstream: &str,
        start: &Phase,
    ) -> Result<(), StoreError> {
        use attr::*;
        let app = Update::new(Key::app(&claim.app_id))
            .set(LIVE_DEPLOYMENT_ID, s(&claim.deployment_id))
            .set(LIVE_RUNNER_ID, s(runner_id))
            .set(STOPPED, AttributeValue::Bool(false))
            .when(format!(
                "attribute_exists(#{PK}) AND attribute_not_exists(#{DELETED_AT}) \
                 AND (attribute_not_exists(#{LIVE_DEPLOYMENT_ID}) OR #{LIVE_DEPLOYMENT_ID} <= :{LIVE_DEPLOYMENT_ID})"
            ));
        let dep = claim
            .update()
            .set(STATUS, s(DeploymentStatus::Running.as_str()))
            .set(UPSTREAM, s(upstream))
            .set_expr(format!("#{PHASES}.#start = :start"))
            .value(":start", attribute(start)?)
            .when(format!("#{STATUS} IN (:deploying, :{STATUS})"))
            .value(":deploying", s(DeploymentStatus::Deploying.as_str()));
        let route = Update::new(Key::route(&claim.app_id))
            .set(UPSTREAM, s(upstream))
            .set(DEPLOYMENT_ID, s(&claim.deployment_id))
            .when(format!("attribute_exists(#{PK})"));
        self.transact(vec![
            app.in_transaction(&self.table)?,
            dep.in_transaction(&self.table)?,
            route.in_transaction(&self.table)?,
            self.placement(runner_id, &claim.app_id)?,
        ])
        .await?;
        self.routes_changed().await;
        Ok(())
    }
}
