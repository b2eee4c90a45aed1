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
    /// Where the browser PUTs uploads (`scheme://host[:port]`): the one
    /// origin besides its own the dashboard's page may reach.
    pub upload_origin: String,
}

impl AppState {
    pub async fn from_env(config: Config) -> Self {
        Self::new(Arc::new(config), &aws_config::load_from_env().await).await
    }

    /// The clients of one principal (`aws`'s credentials).
    pub async fn new(config: Arc<Config>, aws: &aws_config::SdkConfig) -> Self {
        let s3 = slipway_core::aws_clients::s3(aws);
        Self {
            upload_origin: upload_origin(&s3, &config.bucket).await,
            store: Store::connect(aws, config.table.clone()),
            envelope: Envelope::new(aws_sdk_kms::Client::new(aws), config.kms_key_id.clone()),
            sqs: aws_sdk_sqs::Client::new(aws),
            s3,
            webhook_secrets: SecretCache::default(),
            registry: config
                .registry
                .as_deref()
                .map(|address| Registry::new(address, config.registry_login.clone())),
            config,
        }
    }
}

/// The origin of the bucket's presigned URLs, read off one made locally
/// (signing needs no request).
async fn upload_origin(s3: &aws_sdk_s3::Client, bucket: &str) -> String {
    let config =
        aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(60));
    let presigned = match config {
        Ok(config) => {
            s3.put_object()
                .bucket(bucket)
                .key("probe")
                .presigned(config)
                .await
        }
        Err(e) => {
            tracing::warn!(error = %e, "no presigning config");
            return String::new();
        }
    };
    match presigned {
        Ok(p) => origin_of(p.uri()),
        Err(e) => {
            tracing::warn!(error = %slipway_core::error_chain::Chain(&e), "could not presign");
            String::new()
        }
    }
}

fn origin_of(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return String::new();
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_origin_is_scheme_host_and_port() {
        assert_eq!(
            super::origin_of("https://b.s3.eu-west-1.amazonaws.com/sources/x?X-Amz=1"),
            "https://b.s3.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            super::origin_of("http://127.0.0.1:4566/b/probe?X=1"),
            "http://127.0.0.1:4566"
        );
        assert_eq!(super::origin_of("nonsense"), "");
    }
}
