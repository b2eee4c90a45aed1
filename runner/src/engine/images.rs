//! The engine's images: build a context with the app's last image from the
//! registry as cache (one retry without cache when a cached build fails),
//! push `:<tag>` and `:latest`, pull an image the registry holds.

use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateImageOptionsBuilder, PushImageOptionsBuilder,
    TagImageOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;

use crate::config::BuildLimits;
use crate::logs::BuildLog;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the build failed: {0}")]
    Failed(String),
    #[error("the Docker engine failed: {0}")]
    Engine(String),
    /// Trying again cannot help: the build host's registry login is wrong
    /// or missing, which its operator must fix.
    #[error("the registry refused the runner's login ({0}); the build host's SLIPWAY_REGISTRY_USERNAME and SLIPWAY_REGISTRY_PASSWORD must be fixed")]
    RegistryLogin(String),
}

/// Whether the registry's answer, in the engine's words, refuses the
/// runner's login: none given, a wrong one, or one without access.
fn login_refused(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ["unauthorized", "no basic auth credentials", "denied:"]
        .iter()
        .any(|word| message.contains(word))
}

/// The engine's reason a pull or push failed, as a [`BuildError`] when the
/// registry refused the login.
fn refused_login(reason: &str) -> Option<BuildError> {
    login_refused(reason).then(|| BuildError::RegistryLogin(reason.to_owned()))
}

/// What a build produced.
pub struct Built {
    pub image: String,
    pub cache_hit: bool,
}

/// The app's image repository in the registry.
pub fn repository(registry: &str, app_id: &str) -> String {
    format!("{registry}/slipway/{app_id}")
}

/// Why a pull's stream item failed, if it did.
fn pull_failure(
    item: Result<bollard::models::CreateImageInfo, bollard::errors::Error>,
) -> Option<String> {
    match item {
        Ok(info) => info.error_detail.map(|d| d.message.unwrap_or_default()),
        Err(bollard::errors::Error::DockerResponseServerError { message, .. }) => Some(message),
        Err(e) => Some(e.to_string()),
    }
}

/// Makes the app's `:latest` available locally so `cachefrom` can use it,
/// pulling it from the registry when this engine lacks it. No image yet (a
/// first build) is not an error; a refused login is.
pub async fn prepare_cache(
    docker: &Docker,
    repo: &str,
    credentials: Option<DockerCredentials>,
    log: &BuildLog,
) -> Result<Option<String>, BuildError> {
    let latest = format!("{repo}:latest");
    if docker.inspect_image(&latest).await.is_ok() {
        return Ok(Some(latest));
    }
    let options = CreateImageOptionsBuilder::default()
        .from_image(repo)
        .tag("latest")
        .build();
    let mut pull = docker.create_image(Some(options), None, credentials);
    while let Some(item) = pull.next().await {
        if let Some(reason) = pull_failure(item) {
            if let Some(refused) = refused_login(&reason) {
                return Err(refused);
            }
            log.line("No cached image of this app yet: building from scratch.");
            return Ok(None);
        }
    }
    log.line(format!(
        "Pulled {latest} from the registry for the layer cache."
    ));
    Ok(Some(latest))
}

/// Makes `repo:tag` available on this engine, from the registry if need be.
pub async fn ensure_image(
    docker: &Docker,
    repo: &str,
    tag: &str,
    credentials: Option<DockerCredentials>,
    log: &BuildLog,
) -> Result<(), BuildError> {
    if docker.inspect_image(&format!("{repo}:{tag}")).await.is_ok() {
        return Ok(());
    }
    log.line(format!("Pulling {repo}:{tag} from the registry"));
    let options = CreateImageOptionsBuilder::default()
        .from_image(repo)
        .tag(tag)
        .build();
    let mut pull = docker.create_image(Some(options), None, credentials);
    while let Some(item) = pull.next().await {
        if let Some(reason) = pull_failure(item) {
            if let Some(refused) = refused_login(&reason) {
                return Err(refused);
            }
            return Err(BuildError::Failed(format!(
                "the image of commit {tag} is not in the registry any more ({reason}); deploy the app to build it again"
            )));
        }
    }
    Ok(())
}

/// A client whose build requests name the cgroup parent of the build's
/// steps: the engine reads `cgroupparent` from the build's query (every
/// version since 1.x), but bollard's build options have no field for it.
fn with_cgroup_parent(docker: &Docker, parent: &str) -> Docker {
    let query = format!("cgroupparent={parent}");
    docker.clone().with_request_modifier(move |mut request| {
        if request.uri().path().ends_with("/build") {
            let uri = request.uri().to_string();
            let joint = if uri.contains('?') { '&' } else { '?' };
            if let Ok(with_parent) = format!("{uri}{joint}{query}").parse() {
                *request.uri_mut() = with_parent;
            }
        }
        request
    })
}

/// One `docker build`. Returns whether any step came from the cache, and on
/// failure the engine's reason plus whether the cache was in use.
async fn build_once(
    docker: &Docker,
    tar: &std::path::Path,
    dockerfile: &str,
    tag: &str,
    cache_from: Option<&str>,
    limits: &Limits<'_>,
    log: &BuildLog,
) -> Result<bool, (BuildError, bool)> {
    let Limits {
        stack: limits,
        cgroup_parent,
    } = limits;
    let memory = i32::try_from(u64::from(limits.memory_mb) * 1024 * 1024).unwrap_or(i32::MAX);
    let mut options = BuildImageOptionsBuilder::default()
        .dockerfile(dockerfile)
        .t(tag)
        .pull("false")
        .rm(true)
        .forcerm(true)
        .nocache(cache_from.is_none())
        .networkmode(super::network::NETWORK)
        .memory(memory)
        .memswap(memory)
        .cpuperiod(100_000)
        .cpuquota(i32::try_from(limits.millicpu * 100).unwrap_or(i32::MAX));
    if let Some(cache) = cache_from {
        options = options.cachefrom(&vec![cache.to_owned()]);
    }
    let docker = match cgroup_parent {
        Some(parent) => &with_cgroup_parent(docker, parent),
        None => docker,
    };
    let file = tokio::fs::File::open(tar).await.map_err(|e| {
        (
            BuildError::Engine(format!("reading the context: {e}")),
            false,
        )
    })?;
    let body = bollard::body_try_stream(tokio_util::io::ReaderStream::new(file));
    let mut stream = docker.build_image(options.build(), None, Some(body));
    let mut cache_hit = false;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(text) = info.stream {
                    cache_hit |= text.contains("Using cache");
                    log.text(text);
                }
                if let Some(detail) = info.error_detail {
                    let message = detail.message.unwrap_or_else(|| "unknown error".into());
                    log.line(format!("ERROR: {message}"));
                    return Err((BuildError::Failed(message), cache_hit));
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                log.line(format!("ERROR: {error}"));
                return Err((BuildError::Failed(error), cache_hit));
            }
            Err(e) => {
                return Err(match refused(&e) {
                    Some(message) => {
                        log.line(format!("ERROR: {message}"));
                        (BuildError::Failed(message), cache_hit)
                    }
                    None => (BuildError::Engine(e.to_string()), cache_hit),
                })
            }
        }
    }
    Ok(cache_hit)
}

/// Why the engine refused a build it was asked for, when the request's
/// content is at fault: any 4xx, and the Dockerfile it could not find in
/// the context (which the engine answers with a 500).
fn refused(e: &bollard::errors::Error) -> Option<String> {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } if (400..500).contains(status_code)
            || message.starts_with("Cannot locate specified Dockerfile") =>
        {
            Some(message.clone())
        }
        _ => None,
    }
}

/// What one build's steps may use: the stack's limits, and the cgroup
/// holding the build's pids limit where the engine can take one.
pub struct Limits<'a> {
    pub stack: &'a BuildLimits,
    pub cgroup_parent: Option<&'a str>,
}

/// Builds `image` within `limits`; a build that fails while using cached
/// layers is tried once more without any cache.
pub async fn build(
    docker: &Docker,
    tar: &std::path::Path,
    dockerfile: &str,
    image: &str,
    cache_from: Option<&str>,
    limits: &Limits<'_>,
    log: &BuildLog,
) -> Result<Built, BuildError> {
    let image = image.to_owned();
    match build_once(docker, tar, dockerfile, &image, cache_from, limits, log).await {
        Ok(cache_hit) => Ok(Built { image, cache_hit }),
        Err((BuildError::Failed(reason), true)) => {
            log.line(format!(
                "The build failed while using cached layers ({reason}); retrying once without the cache."
            ));
            build_once(docker, tar, dockerfile, &image, None, limits, log)
                .await
                .map(|_| Built {
                    image,
                    cache_hit: false,
                })
                .map_err(|(e, _)| e)
        }
        Err((e, _)) => Err(e),
    }
}

/// Tags `:latest` and pushes both tags.
pub async fn publish(
    docker: &Docker,
    repo: &str,
    sha: &str,
    credentials: Option<DockerCredentials>,
    log: &BuildLog,
) -> Result<(), BuildError> {
    docker
        .tag_image(
            &format!("{repo}:{sha}"),
            Some(
                TagImageOptionsBuilder::default()
                    .repo(repo)
                    .tag("latest")
                    .build(),
            ),
        )
        .await
        .map_err(|e| BuildError::Engine(e.to_string()))?;
    for tag in [sha, "latest"] {
        log.line(format!("Pushing {repo}:{tag}"));
        let mut push = docker.push_image(
            repo,
            Some(PushImageOptionsBuilder::default().tag(tag).build()),
            credentials.clone(),
        );
        while let Some(item) = push.next().await {
            let failed = match item {
                Ok(info) => info.error_detail.map(|d| d.message.unwrap_or_default()),
                Err(bollard::errors::Error::DockerResponseServerError { message, .. }) => {
                    Some(message)
                }
                Err(e) => Some(e.to_string()),
            };
            if let Some(reason) = failed {
                return Err(refused_login(&reason).unwrap_or_else(|| {
                    BuildError::Engine(format!("pushing {repo}:{tag}: {reason}"))
                }));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(status_code: u16, message: &str) -> bollard::errors::Error {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message: message.into(),
        }
    }

    #[test]
    fn what_the_engine_refuses_for_the_requests_content_is_the_authors() {
        assert_eq!(
            refused(&server_error(
                500,
                "Cannot locate specified Dockerfile: sub/Dockerfile"
            ))
            .as_deref(),
            Some("Cannot locate specified Dockerfile: sub/Dockerfile")
        );
        assert_eq!(
            refused(&server_error(400, "dockerfile parse error line 1")).as_deref(),
            Some("dockerfile parse error line 1")
        );
        assert_eq!(refused(&server_error(500, "no space left on device")), None);
        assert_eq!(refused(&bollard::errors::Error::RequestTimeoutError), None);
    }

    #[test]
    fn a_registry_refusing_the_login_is_told_from_a_missing_image() {
        // What the engine says for distribution's htpasswd, no login and a
        // wrong one; ECR's expired token; Docker Hub's push without access.
        for refusal in [
            "unauthorized: authentication required",
            "Head \"http://127.0.0.1:5001/v2/slipway/x/manifests/latest\": no basic auth credentials",
            "denied: Your authorization token has expired. Reauthenticate and try again.",
            "denied: requested access to the resource is denied",
        ] {
            assert!(
                matches!(refused_login(refusal), Some(BuildError::RegistryLogin(r)) if r == refusal),
                "{refusal}"
            );
        }
        for other in [
            "manifest for 127.0.0.1:5000/slipway/a:latest not found: manifest unknown: manifest unknown",
            "Get \"http://127.0.0.1:9/v2/\": dial tcp 127.0.0.1:9: connect: connection refused",
        ] {
            assert!(refused_login(other).is_none(), "{other}");
        }
    }
}
