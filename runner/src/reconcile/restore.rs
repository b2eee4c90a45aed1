//! Brings back the live container of an app placed on this runner's host
//! that disappeared from the engine: the same deployment's image with the
//! app's current config. What happens goes to that deployment's log.

use anyhow::{anyhow, Context};
use slipway_core::error_chain::Chain;
use slipway_core::model::App;
use slipway_core::redact::Redactor;

use crate::engine::images;
use crate::launch::launch;
use crate::runtime::Runtime;

/// Fails with why, in words that show no credential of the app.
#[tracing::instrument(skip_all, fields(app_id = %app.id, deployment_id = app.live_deployment_id.as_deref()))]
pub async fn restore(rt: &Runtime, app: &App) -> anyhow::Result<()> {
    let live = app
        .live_deployment_id
        .as_ref()
        .context("the app has no live deployment")?;
    let d = rt
        .store
        .get_deployment(live)
        .await?
        .context("the live deployment is gone")?;
    let tag = d
        .image_tag()
        .map(str::to_owned)
        .context("the live deployment names no image")?;
    let credentials = rt.open_credentials(app).await?;
    let redactor = Redactor::new(credentials.values());
    let writer = rt.open_log(&d.id, redactor.clone()).await;
    let log = writer.log();
    log.line("The live container disappeared from its host; starting it again.");
    let repository = images::repository(&rt.config.registry, &app.id);
    let result: anyhow::Result<()> = async {
        let login = rt.config.registry_credentials();
        images::ensure_image(&rt.docker, &repository, &tag, login, &log).await?;
        let image = format!("{repository}:{tag}");
        let upstream = launch(rt, app, &d.id, &credentials, &image, &log).await?;
        rt.store.set_upstream(&app.id, live, &upstream).await?;
        if let Err(e) = rt.edge.sync().await {
            tracing::warn!(error = %Chain(&e), "could not update this host's edge");
        }
        log.line(format!("Live again at {}", app.url));
        Ok(())
    }
    .await;
    let result = result.map_err(|e| anyhow!(redactor.redact(&Chain(e.as_ref()).to_string())));
    if let Err(e) = &result {
        log.line(format!("Could not start it again: {e}"));
    }
    writer.close().await;
    result
}
