//! The one Docker network every build step and app container joins: a
//! bridge with a fixed interface name (the firewall's rules name it) whose
//! containers cannot talk to each other (`enable_icc=false`). One network
//! for all apps rather than one per app: Docker's default address pools
//! hold about thirty bridge networks, far fewer than a host's apps.

use std::collections::HashMap;

use bollard::models::NetworkCreateRequest;
use bollard::Docker;

pub const NETWORK: &str = "slipway";
pub const BRIDGE: &str = "slipway0";

const ICC: &str = "com.docker.network.bridge.enable_icc";
const BRIDGE_NAME: &str = "com.docker.network.bridge.name";

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("the Docker engine failed: {0}")]
    Engine(#[from] bollard::errors::Error),
    #[error(
        "the Docker network {NETWORK:?} exists with other options ({0}); \
         remove it (`docker network rm {NETWORK}`) and start the runner again"
    )]
    Mismatch(String),
    #[error("taking the network lock: {0}")]
    Lock(std::io::Error),
}

fn wanted() -> HashMap<String, String> {
    HashMap::from([
        (BRIDGE_NAME.to_owned(), BRIDGE.to_owned()),
        (ICC.to_owned(), "false".to_owned()),
    ])
}

/// Makes the network if the engine has none, and checks one found (made by
/// another runner on this engine, or by hand) isolates as ours does. An
/// engine older than API 1.44 makes a second network of the same name when
/// asked, so runners on one host take turns through a lock file.
pub async fn ensure(docker: &Docker) -> Result<(), NetworkError> {
    let lock = tokio::task::spawn_blocking(|| {
        let file = std::fs::File::create(std::env::temp_dir().join("slipway-network.lock"))?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(|e| NetworkError::Lock(std::io::Error::other(e)))?
    .map_err(NetworkError::Lock)?;
    let outcome = match docker.inspect_network(NETWORK, None).await {
        Ok(found) => {
            let options = found.options.unwrap_or_default();
            let differs: Vec<String> = wanted()
                .into_iter()
                .filter(|(k, v)| options.get(k) != Some(v))
                .map(|(k, v)| format!("{k} is not {v}"))
                .collect();
            if differs.is_empty() {
                Ok(())
            } else {
                Err(NetworkError::Mismatch(differs.join(", ")))
            }
        }
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => docker
            .create_network(NetworkCreateRequest {
                name: NETWORK.to_owned(),
                driver: Some("bridge".into()),
                options: Some(wanted()),
                labels: Some(HashMap::from([("slipway.network".into(), "apps".into())])),
                ..Default::default()
            })
            .await
            .map(|_| ())
            .map_err(NetworkError::from),
        Err(e) => Err(e.into()),
    };
    drop(lock);
    outcome
}
