//! Going live: the new image's tags are pushed while its container starts;
//! once both are done the deployment becomes the app's live one (refused if
//! a newer one is), then the app's older containers are retired.

use slipway_core::error_chain::Chain;
use slipway_core::ids::DeploymentId;
use slipway_core::status::DeploymentStatus;
use slipway_core::store::StoreError;

use super::image::Image;
use super::outcome::Failure;
use super::watch::Stop;
use super::Job;
use crate::engine::{containers, images};
use crate::launch::{launch, LaunchError};

impl Job<'_> {
    #[tracing::instrument(name = "go_live", skip_all)]
    pub(super) async fn go_live(&self, image: Image) -> Result<(), Failure> {
        let (rt, d) = (self.rt, &self.d);
        rt.store
            .advance(&self.claim, DeploymentStatus::Deploying, None)
            .await?;
        let clock = self.clock("start");
        let (pushed, started) = tokio::join!(self.publish(&image), self.start(&image.name));
        pushed?;
        let url = started?;
        // The start phase is written with the status, so a running deployment
        // always shows all its timings.
        match rt
            .store
            .go_live(&self.claim, &rt.config.runner_id, &url, &clock.stop())
            .await
        {
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
        self.log.line(format!("Live at {url}"));
        tracing::info!(%url, "deployment live");
        self.retire_previous().await;
        Ok(())
    }

    /// Pushes a new build's tags; a reused image is in the registry already.
    async fn publish(&self, image: &Image) -> Result<(), Failure> {
        let Some((repository, tag)) = &image.publish else {
            return Ok(());
        };
        let clock = self.clock("push");
        images::publish(&self.rt.docker, repository, tag, &self.log)
            .await
            .map_err(Failure::infra("pushing the image"))?;
        clock.done().await
    }

    /// Starts the new container next to the live one; returns its URL.
    async fn start(&self, image: &str) -> Result<String, Failure> {
        launch(
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
                Failure::User(format!("{reason}; the previous version keeps serving"))
            }
            LaunchError::Engine(e) => Failure::Infra(e.into()),
        })
    }

    /// Stops the app's older containers and marks their deployments, and the
    /// one that was live before, superseded. A newer deployment's container,
    /// starting while this one went live, is that deployment's: it replaces
    /// this one in turn.
    async fn retire_previous(&self) {
        let (rt, d) = (self.rt, &self.d);
        // `app` was read when this job began: an older deployment may have gone
        // live since, on this engine, and is found by its container.
        let mut replaced: Vec<DeploymentId> = self
            .app
            .live_deployment_id
            .iter()
            .filter(|p| **p < d.id)
            .cloned()
            .collect();
        if let Ok(found) =
            containers::containers_of(&rt.docker, &rt.config.table, Some(&self.app.id)).await
        {
            for c in found.into_iter().filter(|c| c.deployment_id < d.id) {
                containers::remove(&rt.docker, &c.name).await;
                replaced.push(c.deployment_id);
            }
        }
        replaced.sort();
        replaced.dedup();
        let why = format!("replaced by deployment {}", d.id);
        for previous in replaced {
            if let Err(e) = rt
                .store
                .set_status(&previous, DeploymentStatus::Superseded, Some(&why))
                .await
            {
                tracing::debug!(deployment_id = %previous, error = %Chain(&e), "the older deployment was not running");
            }
        }
    }
}
