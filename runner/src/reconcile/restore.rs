//! Brings back the live container of an app placed on this runner's host
//! that disappeared from the engine: the same deployment's image with the
//! app's current config. What happens goes to that deployment's log.

use slipway_core::model::App;
use slipway_core::redact::Redactor;

use crate::engine::images;
use crate::launch::launch;
use crate::runtime::Runtime;

pub async fn restore(rt: &Runtime, app: &App) -> Result<(), String> {
    let live = app
        .live_deployment_id
        .as_deref()
        .ok_or("the app has no live deployment")?;
    let d = rt
        .store
        .get_deployment(live)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the live deployment is gone")?;
    let tag = d
        .image_tag()
        .map(str::to_owned)
        .ok_or("the live deployment names no image")?;
    let credentials = rt.open_credentials(app).await?;
    let redactor = Redactor::new(credentials.values());
    let writer = rt.open_log(&d.id, redactor.clone()).await;
    let log = writer.log();
    log.line("The live container disappeared from its host; starting it again.");
    let repository = images::repository(&rt.config.registry, &app.id);
    let result = async {
        images::ensure_image(&rt.docker, &repository, &tag, &log)
            .await
            .map_err(|e| e.to_string())?;
        let image = format!("{repository}:{tag}");
        let url = launch(rt, app, &d.id, &credentials, &image, &log)
            .await
            .map_err(|e| e.to_string())?;
        if app.url.as_deref() != Some(url.as_str()) {
            rt.store
                .set_url(&app.id, live, &url)
                .await
                .map_err(|e| e.to_string())?;
        }
        log.line(format!("Live again at {url}"));
        Ok(())
    }
    .await
    .map_err(|e: String| redactor.redact(&e));
    if let Err(e) = &result {
        log.line(format!("Could not start it again: {e}"));
    }
    writer.close().await;
    result
}
