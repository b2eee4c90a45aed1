//! The clients a function needs, built once per process (a Lambda cold start).

use std::sync::Arc;

use slipway_core::envelope::Envelope;
use slipway_core::store::Store;

use crate::config::Config;
use crate::registry::Registry;
use crate::webhook_secrets::SecretCache;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub envelope: Envelope,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub webhook_secrets: SecretCache,
    pub registry: Option<Registry>,
}

impl AppState {
    pub async fn from_env(config: Config) -> Self {
        let aws = aws_config::load_from_env().await;
        Self {
            store: Store::connect(&aws, config.table.clone()),
            envelope: Envelope::new(aws_sdk_kms::Client::new(&aws), config.kms_key_id.clone()),
            sqs: aws_sdk_sqs::Client::new(&aws),
            s3: slipway_core::aws_clients::s3(&aws),
            webhook_secrets: SecretCache::default(),
            registry: config.registry.as_deref().map(Registry::new),
            config: Arc::new(config),
        }
    }
}
