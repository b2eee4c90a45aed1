//! The image registry the runners push to, as far as the API looks at it:
//! whether an image a rollback would run is still there.

use crate::error::ApiError;
use slipway_core::registry_login::RegistryLogin;

/// What a manifest may be: Docker's and OCI's, single or multi-platform.
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

#[derive(Clone)]
pub struct Registry {
    http: reqwest::Client,
    base: String,
    login: Option<RegistryLogin>,
}

impl Registry {
    /// `host[:port]` as the runners name it. Like Docker, a loopback
    /// registry is spoken to over plain HTTP, any other over HTTPS.
    pub fn new(address: &str, login: Option<RegistryLogin>) -> Self {
        let host = address.split(':').next().unwrap_or_default();
        let loopback = host == "localhost"
            || host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback());
        let scheme = if loopback { "http" } else { "https" };
        Self {
            http: reqwest::Client::new(),
            base: format!("{scheme}://{address}"),
            login,
        }
    }

    /// Whether `slipway/<app>:<tag>` is in the registry.
    pub async fn has_image(&self, app_id: &str, tag: &str) -> Result<bool, ApiError> {
        let url = format!("{}/v2/slipway/{app_id}/manifests/{tag}", self.base);
        let mut request = self
            .http
            .head(&url)
            .header(reqwest::header::ACCEPT, MANIFEST_TYPES);
        if let Some(login) = &self.login {
            request = request.basic_auth(&login.username, Some(&login.password));
        }
        let answer = request
            .send()
            .await
            .map_err(|e| ApiError::internal("asking the registry", e))?;
        match answer.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            other => {
                tracing::error!(status = other, %url, "the registry answered a manifest HEAD");
                Err(ApiError::internal(
                    "asking the registry",
                    std::io::Error::other(format!("status {other}")),
                ))
            }
        }
    }
}
