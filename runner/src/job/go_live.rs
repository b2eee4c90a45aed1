//! Going live: the new image's tags are pushed while its container starts;
//! once both are done the deployment becomes the app's live one (refused if
//! a newer one is), its route moves to the new container (this host's edge
//! at once, the others within their poll), and the app's older containers
//! are stopped once every edge can have moved on.

use slipway_core::error_chain::Chain;
use slipway_core::ids::DeploymentId;
use slipway_core::model::Phase;
use slipway_core::status::DeploymentStatus;
use slipway_core::store::StoreError;
use tracing::Instrument;

use super::image::Image;
use super::outcome::Failure;
use super::watch::Stop;
use super::Job;
use crate::engine::containers::{self, Managed};
use crate::engine::images;
use crate::launch::{launch, LaunchError};

impl Job<'_> {
    #[tracing::instrument(name = "go_live", skip_all)]
    pub(super) async fn go_live(&self, image: Image) -> Result<(), Failure> {
        let (rt, d) = (self.rt, &self.d);
        rt.store
            .advance(&self.claim, DeploymentStatus::Deploying, None)
            .await?;
        let (pushed, started) = tokio::join!(self.publish(&image), self.start(&image.name));
        pushed?;
        let (upstream, start) = started?;
        // The containers this one replaces keep answering until every edge
        // has moved on: from now on reconcile must leave them be.
        let replaced = self.older_containers().await;
        rt.retiring
            .lock()
            .await
            .extend(replaced.iter().map(|c| c.deployment_id.clone()));
        // The log is whole before the status a follower stops at.
        self.log.line(format!("Going live at {}", self.app.url));
        self.log.flush().await;
        // The start phase is written with the status, so a running deployment
        // always shows all its timings.
        let live = rt
            .store
            .go_live(&self.claim, &rt.config.runner_id, &upstream, &start)
            .await;
        if live.is_err() {
            let mut retiring = rt.retiring.lock().await;
            for c in &replaced {
                retiring.remove(&c.deployment_id);
            }
        }
        match live {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                let now = rt.store.get_deployment(&d.id).await?;
                return Err(match now {
                    Some(now) if now.attempt != d.attempt => Failure::Stopped(Stop::LostClaim),
                    _ => Failure::Stopped(Stop::Superseded),
                });
            }
            Err(e) => return Err(e.into()),
        }
        if let Err(e) = rt.edge.sync().await {
            // The route is in the table: this edge catches up at its next poll.
            tracing::warn!(error = %Chain(&e), "could not update this host's edge");
        }
        tracing::info!(url = %self.app.url, %upstream, "deployment live");
        self.retire_previous(replaced).await;
        Ok(())
    }

    /// Pushes a new build's tags; a reused image is in the registry already.
    async fn publish(&self, image: &Image) -> Result<(), Failure> {
        let Some((repository, tag)) = &image.publish else {
            return Ok(());
        };
        let clock = self.clock("push");
        images::publish(
            &self.rt.docker,
            repository,
            tag,
            self.rt.config.registry_credentials(),
            &self.log,
        )
        .await
        .map_err(super::image::build_failure)?;
        clock.done().await
    }

    /// Starts the new container next to the live one; returns its address
    /// and how long it took to answer (the push runs meanwhile, timed apart).
    async fn start(&self, image: &str) -> Result<(String, Phase), Failure> {
        let clock = self.clock("start");
        let upstream = launch(
            self.rt,
            &self.app,
            &self.d.id,
            &self.credentials,
            image,
            &self.log,
        )
        .await
        .map_err(|e| match e {
            LaunchError::App(reason) => {
                let serving = match self.app.live_deployment_id {
                    Some(_) => "; the previous version keeps serving",
                    None => "",
                };
                Failure::User(format!("{reason}{serving}"))
            }
            LaunchError::Engine(e) => Failure::Infra(e.into()),
        })?;
        Ok((upstream, clock.stop()))
    }

    /// The app's containers on this engine older than this deployment's.
    async fn older_containers(&self) -> Vec<Managed> {
        let rt = self.rt;
        match containers::containers_of(&rt.docker, &rt.config.table, Some(&self.app.id)).await {
            Ok(found) => found
                .into_iter()
                .filter(|c| c.deployment_id < self.d.id)
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "could not list the app's older containers");
                Vec::new()
            }
        }
    }

    /// Marks the deployments this one replaced superseded (the one live
    /// before, and those of `replaced`), and stops their containers after
    /// the edges' drain time. A newer deployment's container, starting while
    /// this one went live, is that deployment's: it replaces this one in turn.
    async fn retire_previous(&self, replaced: Vec<Managed>) {
        let (rt, d) = (self.rt, &self.d);
        // `app` was read when this job began: an older deployment may have gone
        // live since, on this engine, and is found by its container.
        let mut superseded: Vec<DeploymentId> = self
            .app
            .live_deployment_id
            .iter()
            .filter(|p| **p < d.id)
            .cloned()
            .chain(replaced.iter().map(|c| c.deployment_id.clone()))
            .collect();
        superseded.sort();
        superseded.dedup();
        let why = format!("replaced by deployment {}", d.id);
        for previous in superseded {
            if let Err(e) = rt
                .store
                .set_status(&previous, DeploymentStatus::Superseded, Some(&why))
                .await
            {
                tracing::debug!(deployment_id = %previous, error = %Chain(&e), "the older deployment was not running");
            }
        }
        if replaced.is_empty() {
            return;
        }
        let rt = rt.clone();
        let (drain, grace) = (rt.config.edge.drain, rt.config.edge.stop_grace);
        tokio::spawn(
            async move {
                tokio::time::sleep(drain).await;
                for c in replaced {
                    containers::retire(&rt.docker, &c.name, grace).await;
                    rt.retiring.lock().await.remove(&c.deployment_id);
                }
            }
            .in_current_span(),
        );
    }
}
