//! Starts a deployment's container with its app's current configuration
//! and waits until it answers: the last step of a deployment, and how the
//! reconcile loop brings back a live container that disappeared.

use std::net::SocketAddr;

use slipway_core::model::{App, Credentials};

use crate::engine::containers::{self, RunError, Spec};
use crate::logs::BuildLog;
use crate::runtime::Runtime;

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The app's own doing: it exited or never listened.
    #[error("{0}")]
    App(String),
    #[error(transparent)]
    Engine(RunError),
}

/// Starts `image` as the container of `deployment_id`; returns the
/// `host:port` it answers on, the edge's upstream. A container that never
/// answers is removed, its last output in the log.
pub async fn launch(
    rt: &Runtime,
    app: &App,
    deployment_id: &str,
    credentials: &Credentials,
    image: &str,
    log: &BuildLog,
) -> Result<String, LaunchError> {
    let c = &app.config;
    let mut env: Vec<String> = c.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    env.extend(credentials.secrets.iter().map(|(k, v)| format!("{k}={v}")));
    env.push(format!("PORT={}", c.port));
    let spec = Spec {
        stack: &rt.config.table,
        app_id: &app.id,
        deployment_id,
        runner_id: &rt.config.runner_id,
        image,
        port: c.port,
        env,
        memory_mb: c.memory_mb,
        millicpu: c.millicpu,
        read_only: c.read_only,
        publish_host: rt.config.publish_host,
        port_range: &rt.config.port_range,
        limits: &rt.config.app_limits,
    };
    log.line(format!(
        "Starting the container (port {}, {} MB, {} CPU)",
        c.port,
        c.memory_mb,
        f64::from(c.millicpu) / 1000.0
    ));
    let host_port = containers::start(&rt.docker, &spec)
        .await
        .map_err(|e| match e {
            RunError::CannotStart(_) => LaunchError::App(e.to_string()),
            other => LaunchError::Engine(other),
        })?;
    if let Err(e) =
        containers::wait_ready(&rt.docker, deployment_id, c.port, rt.config.ready_timeout).await
    {
        let output = containers::tail(&rt.docker, deployment_id).await;
        if !output.is_empty() {
            log.line("--- the container's last output ---");
            log.text(output);
        }
        containers::remove(&rt.docker, &containers::container_name(deployment_id)).await;
        return Err(match e {
            RunError::NeverReady(reason) => LaunchError::App(reason),
            other => LaunchError::Engine(other),
        });
    }
    Ok(SocketAddr::new(rt.config.publish_host, host_port).to_string())
}
