//! What every part of the runner shares: configuration and clients, built
//! once at start.

use std::collections::HashSet;
use std::sync::Arc;

use slipway_core::envelope::{CredentialsError, Envelope};
use slipway_core::ids::DeploymentId;
use slipway_core::model::{App, Credentials};
use slipway_core::redact::Redactor;
use slipway_core::store::Store;
use tokio::sync::Mutex;

use crate::config::Config;
use crate::edge::Edge;
use crate::engine::build_cgroup::Hierarchy;
use crate::logs::LogWriter;

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
    pub in_flight: Arc<Mutex<HashSet<DeploymentId>>>,
    /// Replaced deployments whose containers still answer while the edges
    /// move on: reconcile leaves them alone too.
    pub retiring: Arc<Mutex<HashSet<DeploymentId>>>,
    pub edge: Arc<Edge>,
    /// Where each build's cgroup (its pids limit) is made.
    pub build_cgroups: Hierarchy,
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
        let info = docker.info().await?;
        let build_cgroups = Hierarchy::of_engine(
            info.cgroup_driver.map(|d| d.to_string()).as_deref(),
            info.cgroup_version.map(|v| v.to_string()).as_deref(),
            std::path::Path::new("/sys/fs/cgroup"),
        );
        let store = Store::connect(&aws, config.table.clone());
        Ok(Self {
            edge: Arc::new(Edge::new(store.clone(), config.edge.clone())),
            store,
            envelope: Envelope::new(aws_sdk_kms::Client::new(&aws), config.kms_key_id.clone()),
            sqs: aws_sdk_sqs::Client::new(&aws),
            s3: slipway_core::aws_clients::s3(&aws),
            docker,
            in_flight: Arc::default(),
            retiring: Arc::default(),
            build_cgroups,
            config: Arc::new(config),
        })
    }
}

impl Runtime {
    /// The app's repo token and secrets, opened with KMS.
    pub async fn open_credentials(&self, app: &App) -> Result<Credentials, CredentialsError> {
        self.envelope
            .open_credentials(&app.id, app.config.sealed_credentials.as_deref())
            .await
    }

    /// Whether reconcile must leave the container of `deployment_id` alone.
    pub async fn holds(&self, deployment_id: &DeploymentId) -> bool {
        self.in_flight.lock().await.contains(deployment_id)
            || self.retiring.lock().await.contains(deployment_id)
    }

    /// A deployment's build log, masking every credential of its app.
    pub async fn open_log(&self, deployment_id: &str, redactor: Redactor) -> LogWriter {
        LogWriter::start(
            self.s3.clone(),
            self.config.bucket.clone(),
            deployment_id.to_owned(),
            redactor,
            self.config.build_log_max_bytes,
        )
        .await
    }
}
