//! The engine's containers: start one on a free host port with the app's
//! limits (cpu, memory, pids, log size, capabilities) and labels, wait
//! until it accepts connections, read its last output, stop and remove it,
//! list the stack's containers by label.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use slipway_core::ids::{AppId, DeploymentId};

use crate::config::AppLimits;

pub const LABEL_APP: &str = "slipway.app";
pub const LABEL_DEPLOYMENT: &str = "slipway.deployment";
pub const LABEL_RUNNER: &str = "slipway.runner";
/// The table the app lives in: one engine can serve two stacks (staging and
/// production, or parallel test stacks) without one removing the other's.
pub const LABEL_STACK: &str = "slipway.stack";

/// The capabilities an app keeps; every other one is dropped (NET_RAW among
/// them: no raw sockets, no spoofing). Enough for what web servers do as
/// root at start: listen below 1024 (NET_BIND_SERVICE), drop to their own
/// user (SETUID, SETGID) and own or write the files they set up (CHOWN,
/// FOWNER, DAC_OVERRIDE).
pub const APP_CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "NET_BIND_SERVICE",
    "SETGID",
    "SETUID",
];

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    NeverReady(String),
    /// The engine could not start the app's process: a missing executable,
    /// a bad working directory. The app's mistake, not the engine's.
    #[error("the container could not start: {0}")]
    CannotStart(String),
    #[error("the Docker engine failed: {0}")]
    Engine(String),
    #[error("no free host port in {0}")]
    NoPort(String),
}

fn engine(e: bollard::errors::Error) -> RunError {
    RunError::Engine(e.to_string())
}

pub struct Spec<'a> {
    pub stack: &'a str,
    pub app_id: &'a str,
    pub deployment_id: &'a str,
    pub runner_id: &'a str,
    pub image: &'a str,
    pub port: u16,
    pub env: Vec<String>,
    pub memory_mb: u32,
    pub millicpu: u32,
    /// A read-only root filesystem, with a `/tmp` in memory (counted in
    /// the container's memory).
    pub read_only: bool,
    pub publish_host: IpAddr,
    pub port_range: &'a std::ops::RangeInclusive<u16>,
    pub limits: &'a AppLimits,
}

pub fn container_name(deployment_id: &str) -> String {
    format!("slipway-{deployment_id}")
}

/// Creates and starts the container on a free host port; returns the port.
/// A container left by an earlier attempt of the same deployment is removed
/// first, so a deployment never has two.
pub async fn start(docker: &Docker, spec: &Spec<'_>) -> Result<u16, RunError> {
    let name = container_name(spec.deployment_id);
    remove(docker, &name).await;
    let span = (*spec.port_range.end() - *spec.port_range.start()) as u32 + 1;
    let offset =
        u32::from_str_radix(&spec.deployment_id.replace('-', "")[24..32], 16).unwrap_or(0) % span;
    for i in 0..span.min(20) {
        let host_port = *spec.port_range.start() + ((offset + i * 7919) % span) as u16;
        if std::net::TcpListener::bind((spec.publish_host, host_port)).is_err() {
            continue;
        }
        let container_port = format!("{}/tcp", spec.port);
        let body = ContainerCreateBody {
            image: Some(spec.image.to_owned()),
            env: Some(spec.env.clone()),
            exposed_ports: Some(vec![container_port.clone()]),
            labels: Some(HashMap::from([
                (LABEL_APP.to_owned(), spec.app_id.to_owned()),
                (LABEL_DEPLOYMENT.to_owned(), spec.deployment_id.to_owned()),
                (LABEL_RUNNER.to_owned(), spec.runner_id.to_owned()),
                (LABEL_STACK.to_owned(), spec.stack.to_owned()),
            ])),
            host_config: Some(HostConfig {
                memory: Some(i64::from(spec.memory_mb) * 1024 * 1024),
                nano_cpus: Some(i64::from(spec.millicpu) * 1_000_000),
                pids_limit: Some(spec.limits.pids),
                log_config: Some(HostConfigLogConfig {
                    typ: Some("json-file".into()),
                    config: Some(HashMap::from([
                        ("max-size".into(), spec.limits.log_file_bytes.to_string()),
                        ("max-file".into(), spec.limits.log_files.to_string()),
                    ])),
                }),
                cap_drop: Some(vec!["ALL".into()]),
                cap_add: Some(APP_CAPABILITIES.iter().map(|c| c.to_string()).collect()),
                security_opt: Some(vec!["no-new-privileges".into()]),
                network_mode: Some(super::network::NETWORK.into()),
                readonly_rootfs: Some(spec.read_only),
                tmpfs: spec
                    .read_only
                    .then(|| HashMap::from([("/tmp".to_owned(), "rw,nosuid,size=64m".to_owned())])),
                port_bindings: Some(HashMap::from([(
                    container_port,
                    Some(vec![PortBinding {
                        host_ip: Some(spec.publish_host.to_string()),
                        host_port: Some(host_port.to_string()),
                    }]),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        };
        docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                body,
            )
            .await
            .map_err(engine)?;
        match docker.start_container(&name, None).await {
            Ok(()) => return Ok(host_port),
            // The port was taken between the check and the start: try another.
            Err(e)
                if e.to_string().contains("port is already allocated")
                    || e.to_string().contains("address already in use") =>
            {
                remove(docker, &name).await;
            }
            Err(e) => {
                remove(docker, &name).await;
                return Err(match process_failure(&e) {
                    Some(why) => RunError::CannotStart(why),
                    None => engine(e),
                });
            }
        }
    }
    Err(RunError::NoPort(format!("{:?}", spec.port_range)))
}

/// Why the engine could not start the app's process, when that is the
/// app's doing: the OCI runtime's reason (runc's "unable to start container
/// process: …", or "starting container process caused: …" before runc
/// 1.1), which names the executable or directory at fault.
fn process_failure(e: &bollard::errors::Error) -> Option<String> {
    let bollard::errors::Error::DockerResponseServerError { message, .. } = e else {
        return None;
    };
    let why = [
        "unable to start container process: ",
        "starting container process caused: ",
    ]
    .iter()
    .find_map(|marker| message.split_once(marker).map(|(_, why)| why))?;
    Some(why.trim_end_matches(": unknown").to_owned())
}

/// Waits until the app accepts connections on its port. The probe goes to
/// the container's own address, not the published port: an engine with
/// Docker's userland proxy accepts there on the app's behalf whether or not
/// anything listens, where the container itself refuses at once.
pub async fn wait_ready(
    docker: &Docker,
    deployment_id: &str,
    container_port: u16,
    timeout: Duration,
) -> Result<(), RunError> {
    let name = container_name(deployment_id);
    let deadline = Instant::now() + timeout;
    loop {
        let inspected = docker
            .inspect_container(&name, None)
            .await
            .map_err(engine)?;
        let state = inspected.state.unwrap_or_default();
        if state.running != Some(true) {
            return Err(RunError::NeverReady(format!(
                "the container exited (code {}) before it listened on port {container_port}; its output is in the log",
                state.exit_code.unwrap_or_default()
            )));
        }
        let ip = inspected
            .network_settings
            .and_then(|n| n.networks)
            .into_iter()
            .flat_map(|networks| networks.into_values())
            .find_map(|n| n.ip_address.filter(|ip| !ip.is_empty()))
            .and_then(|ip| ip.parse::<IpAddr>().ok())
            .ok_or_else(|| RunError::Engine(format!("the container {name} has no address")))?;
        let probe = tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect((ip, container_port)),
        );
        if let Ok(Ok(_)) = probe.await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(RunError::NeverReady(format!(
                "the app did not accept connections on port {container_port} within {}s; make sure it listens on 0.0.0.0:{container_port}",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The last lines the container printed, for the build log.
pub async fn tail(docker: &Docker, deployment_id: &str) -> String {
    let options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail("50")
        .build();
    let mut out = String::new();
    let mut logs = docker.logs(&container_name(deployment_id), Some(options));
    while let Some(Ok(chunk)) = logs.next().await {
        out.push_str(&chunk.to_string());
    }
    out
}

/// Stops the container as `docker stop` does (SIGTERM, then SIGKILL after
/// `grace`), so requests it is answering finish; then removes it.
pub async fn retire(docker: &Docker, name: &str, grace: Duration) {
    let options = StopContainerOptionsBuilder::default()
        .t(grace.as_secs() as i32)
        .build();
    let _ = docker.stop_container(name, Some(options)).await;
    remove(docker, name).await;
}

pub async fn remove(docker: &Docker, name: &str) {
    let _ = docker
        .remove_container(
            name,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await;
}

/// The stack's containers on this engine, or one app's.
pub async fn containers_of(
    docker: &Docker,
    stack: &str,
    app_id: Option<&str>,
) -> Result<Vec<Managed>, RunError> {
    let app_label = match app_id {
        Some(app) => format!("{LABEL_APP}={app}"),
        None => LABEL_APP.to_owned(),
    };
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&HashMap::from([(
            "label".to_owned(),
            vec![format!("{LABEL_STACK}={stack}"), app_label],
        )]))
        .build();
    let list = docker
        .list_containers(Some(options))
        .await
        .map_err(engine)?;
    Ok(list
        .into_iter()
        .filter_map(|c| {
            let labels = c.labels.unwrap_or_default();
            Some(Managed {
                name: c.names?.first()?.trim_start_matches('/').to_owned(),
                app_id: AppId::parse(labels.get(LABEL_APP)?)?,
                deployment_id: DeploymentId::parse(labels.get(LABEL_DEPLOYMENT)?)?,
                running: c.state.map(|s| s.to_string() == "running").unwrap_or(false),
            })
        })
        .collect())
}

#[derive(Debug, Clone)]
pub struct Managed {
    pub name: String,
    pub app_id: AppId,
    pub deployment_id: DeploymentId,
    pub running: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(message: &str) -> bollard::errors::Error {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 400,
            message: message.into(),
        }
    }

    #[test]
    fn a_process_that_cannot_start_is_the_apps_doing_and_says_why() {
        for message in [
            "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"/no-such-binary\": stat /no-such-binary: no such file or directory: unknown",
            "OCI runtime create failed: container_linux.go:380: starting container process caused: exec: \"/no-such-binary\": stat /no-such-binary: no such file or directory: unknown",
        ] {
            assert_eq!(
                process_failure(&server_error(message)).as_deref(),
                Some("exec: \"/no-such-binary\": stat /no-such-binary: no such file or directory")
            );
        }
        assert_eq!(
            process_failure(&server_error(
                "driver failed programming external connectivity"
            )),
            None
        );
        assert_eq!(
            process_failure(&bollard::errors::Error::RequestTimeoutError),
            None
        );
    }
}
