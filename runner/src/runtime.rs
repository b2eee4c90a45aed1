//! What every part of the runner shares: configuration and clients, built
//! once at start.

use std::collections::HashSet;
use std::sync::Arc;

use slipway_core::envelope::Envelope;
use slipway_core::store::Store;
use tokio::sync::Mutex;

use crate::config::Config;

#[derive(Clone)]
pub struct Runtime {
    pub config: Arc<Config>,
    pub store: Store,
    pub envelope: Envelope,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub docker: bollard::Docker,
    /// Deployments this runner is working on: reconcile leaves their
    /// containers alone.
    pub in_flight: Arc<Mutex<HashSet<String>>>,
}

impl Runtime {
    pub async fn connect(config: Config) -> anyhow::Result<Self> {
        let aws = aws_config::load_from_env().await;
        let docker = match &config.docker_socket {
            Some(socket) => {
                bollard::Docker::connect_with_unix(socket, 120, bollard::API_DEFAULT_VERSION)?
            }
            None => bollard::Docker::connect_with_local_defaults()?,
        };
        // The engine may be older than bollard's client API: speak its version.
        let docker = docker.negotiate_version().await?;
        Ok(Self {
            store: Store::new(aws_sdk_dynamodb::Client::new(&aws), config.table.clone()),
            envelope: Envelope::new(aws_sdk_kms::Client::new(&aws), config.kms_key_id.clone()),
            sqs: aws_sdk_sqs::Client::new(&aws),
            s3: slipway_core::aws_clients::s3(&aws),
            docker,
            in_flight: Arc::default(),
            config: Arc::new(config),
        })
    }
}
