//! The path of one deployment on a build host: claim, clone, build, publish,
//! run, go live. Every write carries the claim's attempt (fencing); a stop
//! (cancel, superseded, lost claim, shutdown) is checked during every phase.

mod archive;
mod build;
mod context;
mod run;
mod source;
mod watch;

pub use run::{containers_of, remove as remove_container, Managed};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use slipway_core::ids;
use slipway_core::job::JobMessage;
use slipway_core::model::{App, Archive, Credentials, Deployment, Phase, Source, Trigger};
use slipway_core::redact::Redactor;
use slipway_core::status::{DeploymentStatus, APP_DELETED};
use slipway_core::store::StoreError;
use slipway_core::upload::ArchiveFormat;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::logs::{BuildLog, LogWriter};
use crate::runtime::Runtime;
use watch::Stop;

/// Why a deployment ended, as its `error` says.
const CANCELLED: &str = "cancelled on request";
const REPLACED: &str = "a newer deployment of the app replaced it";

/// How long the presigned GET an archive is fetched through stays valid.
const FETCH_URL_LIFETIME: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The biggest build context sent to the engine.
const MAX_CONTEXT_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// What to do with the job's message.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The deployment reached a final state: delete the message.
    Done,
    /// Something on our side failed: let the message come back later.
    Retry(String),
    /// Shutting down: give the message back at once for another runner.
    HandBack,
    /// Another runner holds the deployment now: leave the message alone.
    LostClaim,
}

enum Failure {
    /// The user's build or app failed: the deployment ends `failed`.
    User(String),
    /// Our infrastructure failed: try again later.
    Infra(String),
    Stopped(Stop),
}

impl Failure {
    fn redacted(self, redactor: &Redactor) -> Self {
        match self {
            Failure::User(reason) => Failure::User(redactor.redact(&reason)),
            Failure::Infra(reason) => Failure::Infra(redactor.redact(&reason)),
            stopped => stopped,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Failure::Stopped(Stop::LostClaim),
            other => Failure::Infra(other.to_string()),
        }
    }
}

pub async fn run(
    rt: &Runtime,
    msg: JobMessage,
    receipt: Option<String>,
    shutdown: CancellationToken,
) -> Outcome {
    let span = tracing::info_span!("job", app_id = %msg.app_id, deployment_id = %msg.deployment_id);
    async {
        let outcome = match admit(rt, &msg).await {
            Ok(Some((app, d))) => {
                rt.in_flight.lock().await.insert(d.id.clone());
                let outcome = work(rt, app, d, receipt, shutdown).await;
                rt.in_flight.lock().await.remove(&msg.deployment_id);
                outcome
            }
            Ok(None) => Outcome::Done,
            Err(e) => Outcome::Retry(e),
        };
        tracing::info!(?outcome, "job ended");
        outcome
    }
    .instrument(span)
    .await
}

/// The lease a claim or heartbeat gives: shorter than the message's
/// invisibility, so when a dead runner's message comes back its lease has
/// run out and the next runner may take over.
pub fn lease_until(rt: &Runtime) -> u64 {
    ids::epoch_millis() + (rt.config.visibility.as_millis() as u64) * 3 / 4
}

/// Decides whether the deployment is still to be done, and claims it.
async fn admit(rt: &Runtime, msg: &JobMessage) -> Result<Option<(App, Deployment)>, String> {
    let Some(d) = rt
        .store
        .get_deployment(&msg.deployment_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    if !d.status.is_in_progress() {
        return Ok(None);
    }
    let end = |to: DeploymentStatus, why: &'static str| {
        let id = d.id.clone();
        async move {
            match rt.store.set_status(&id, to, None, Some(why)).await {
                Ok(_) | Err(StoreError::Conflict) => Ok(None),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    let app = match rt
        .store
        .get_app(&d.app_id)
        .await
        .map_err(|e| e.to_string())?
    {
        Some(app) if app.deleted_at.is_none() => app,
        _ => return end(DeploymentStatus::Cancelled, APP_DELETED).await,
    };
    if d.cancel_requested {
        return end(DeploymentStatus::Cancelled, CANCELLED).await;
    }
    if app.latest_deployment_id.as_deref() != Some(d.id.as_str()) {
        return end(DeploymentStatus::Superseded, REPLACED).await;
    }
    match rt
        .store
        .claim(&d, &rt.config.runner_id, lease_until(rt))
        .await
    {
        Ok(claimed) => Ok(Some((app, claimed))),
        Err(StoreError::Conflict) => match rt.store.get_deployment(&d.id).await {
            // A duplicate delivery while another runner works: its message
            // must live on, so this copy waits and comes back later.
            Ok(Some(now)) if now.is_leased() => Err(format!(
                "runner {} holds the deployment",
                now.runner_id.unwrap_or_default()
            )),
            _ => Ok(None),
        },
        Err(e) => Err(e.to_string()),
    }
}

async fn work(
    rt: &Runtime,
    app: App,
    d: Deployment,
    receipt: Option<String>,
    shutdown: CancellationToken,
) -> Outcome {
    let credentials = match open_credentials(rt, &app).await {
        Ok(c) => c,
        Err(e) => return Outcome::Retry(e),
    };
    let redactor = Redactor::new(credentials.values());
    let writer = open_log(rt, &d, redactor.clone()).await;
    let log = writer.log();
    if d.attempt > 1 {
        log.line(format!(
            "Attempt {} (an earlier runner stopped before finishing).",
            d.attempt
        ));
    }
    let watcher = watch::Watcher::start(rt, &d, receipt, shutdown);
    let dir = work_dir(&rt.config.work_dir, &d);
    let result = tokio::select! {
        r = deploy(rt, &app, &d, &credentials, &dir, &log, &watcher.interrupt) => r,
        stop = watcher.stopped() => Err(Failure::Stopped(stop)),
    };
    let result = match result {
        Err(Failure::Stopped(_)) => result,
        other => match watcher.stop_reason() {
            Some(stop) if other.is_err() => Err(Failure::Stopped(stop)),
            _ => other,
        },
    };
    watcher.finish().await;
    // A reason quotes Docker or git, which may quote the user's own input:
    // it is masked like the log before it is stored, shown or logged.
    let result = result.map_err(|f| f.redacted(&redactor));
    let outcome = settle(rt, &d, result, &log).await;
    writer.close().await;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    outcome
}

/// Writes the final status the outcome calls for.
async fn settle(
    rt: &Runtime,
    d: &Deployment,
    result: Result<(), Failure>,
    log: &BuildLog,
) -> Outcome {
    let end = |to: DeploymentStatus, why: String| async move {
        match rt
            .store
            .set_status(&d.id, to, Some(d.attempt), Some(&why))
            .await
        {
            Ok(_) => Outcome::Done,
            Err(StoreError::Conflict) => Outcome::LostClaim,
            Err(e) => Outcome::Retry(e.to_string()),
        }
    };
    match result {
        Ok(()) => Outcome::Done,
        Err(Failure::User(reason)) => {
            log.line(format!("Deployment failed: {reason}"));
            tracing::info!(%reason, "deployment failed");
            end(DeploymentStatus::Failed, reason).await
        }
        Err(Failure::Infra(reason)) => {
            log.line(format!(
                "Slipway hit an internal problem and will retry: {reason}"
            ));
            tracing::warn!(%reason, "job will be retried");
            remove_new_container(rt, d).await;
            release(rt, d).await;
            Outcome::Retry(reason)
        }
        Err(Failure::Stopped(stop)) => {
            remove_new_container(rt, d).await;
            match stop {
                Stop::Cancelled => {
                    log.line("Cancelled on request; the running version is unchanged.");
                    end(DeploymentStatus::Cancelled, CANCELLED.into()).await
                }
                Stop::Superseded => {
                    log.line("A newer deployment replaced this one.");
                    end(DeploymentStatus::Superseded, REPLACED.into()).await
                }
                Stop::AppDeleted => end(DeploymentStatus::Cancelled, APP_DELETED.into()).await,
                Stop::Shutdown => {
                    log.line("This build host is shutting down; another runner takes the deployment over.");
                    release(rt, d).await;
                    Outcome::HandBack
                }
                Stop::LostClaim | Stop::LostMessage => Outcome::LostClaim,
            }
        }
    }
}

/// Gives up the lease, so the next delivery of the job may claim it at once.
async fn release(rt: &Runtime, d: &Deployment) {
    let expired = AttributeValue::N("0".into());
    if let Err(e) = rt
        .store
        .record(&d.id, d.attempt, &[("leaseUntil", expired)])
        .await
    {
        tracing::debug!(error = %e, "the lease was not released");
    }
}

async fn remove_new_container(rt: &Runtime, d: &Deployment) {
    let live = rt
        .store
        .get_app(&d.app_id)
        .await
        .ok()
        .flatten()
        .and_then(|a| a.live_deployment_id);
    if live.as_deref() != Some(d.id.as_str()) {
        run::remove(&rt.docker, &run::container_name(&d.id)).await;
    }
}

/// The deployment's build log, masking every credential of the app.
async fn open_log(rt: &Runtime, d: &Deployment, redactor: Redactor) -> LogWriter {
    LogWriter::start(
        rt.s3.clone(),
        rt.config.bucket.clone(),
        d.id.clone(),
        redactor,
    )
    .await
}

async fn open_credentials(rt: &Runtime, app: &App) -> Result<Credentials, String> {
    let Some(sealed) = &app.config.sealed_credentials else {
        return Ok(Credentials::default());
    };
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .map_err(|e| format!("sealed credentials are malformed: {e}"))?;
    let plain = rt
        .envelope
        .open(&app.id, &sealed)
        .await
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&plain).map_err(|e| format!("sealed credentials are malformed: {e}"))
}

/// The image a deployment runs, and the tags to push when it is new.
struct Image {
    name: String,
    publish: Option<(String, String)>,
}

/// Times one phase and records it on the deployment.
struct PhaseClock<'a> {
    rt: &'a Runtime,
    d: &'a Deployment,
    name: &'static str,
    started_at: String,
    started: Instant,
}

impl<'a> PhaseClock<'a> {
    fn start(rt: &'a Runtime, d: &'a Deployment, name: &'static str) -> Self {
        Self {
            rt,
            d,
            name,
            started_at: ids::now_rfc3339(),
            started: Instant::now(),
        }
    }

    fn stop(self) -> Phase {
        Phase {
            started_at: self.started_at,
            finished_at: Some(ids::now_rfc3339()),
            millis: Some(self.started.elapsed().as_millis() as u64),
        }
    }

    async fn done(self) -> Result<(), Failure> {
        let (rt, d, name) = (self.rt, self.d, self.name);
        rt.store
            .record_phase(&d.id, d.attempt, name, &self.stop())
            .await?;
        Ok(())
    }
}

/// The deployment itself, top to bottom: an image (built from a Git clone
/// or an uploaded archive, or for a redeploy the one already built), then
/// the switch.
async fn deploy(
    rt: &Runtime,
    app: &App,
    d: &Deployment,
    credentials: &Credentials,
    dir: &std::path::Path,
    log: &BuildLog,
    interrupt: &Arc<AtomicBool>,
) -> Result<(), Failure> {
    let image = match (d.trigger, &app.config.source) {
        (Trigger::Redeploy, _) => reuse_image(rt, app, d, log).await?,
        (_, Source::Upload { .. }) => build_from_archive(rt, app, d, dir, log).await?,
        (Trigger::Api | Trigger::Webhook, Source::Git { .. }) => {
            build_from_source(rt, app, d, credentials, dir, log, interrupt).await?
        }
    };

    rt.store
        .set_status(&d.id, DeploymentStatus::Deploying, Some(d.attempt), None)
        .await?;
    // The container starts while the new tags are pushed; it goes live
    // once both are done.
    let clock = PhaseClock::start(rt, d, "start");
    let (pushed, started) = tokio::join!(
        publish(rt, d, &image, log),
        start_container(rt, app, d, credentials, &image.name, log)
    );
    pushed?;
    let url = started.map_err(|f| match f {
        Failure::User(reason) => {
            Failure::User(format!("{reason}; the previous version keeps serving"))
        }
        other => other,
    })?;
    // The start phase is written with the status, so a running deployment
    // always shows all its timings.
    match rt
        .store
        .go_live(d, &rt.config.runner_id, &url, &clock.stop())
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            let now = rt.store.get_deployment(&d.id).await?;
            return Err(match now {
                Some(now) if now.attempt != d.attempt => Failure::Stopped(Stop::LostClaim),
                _ => Failure::Stopped(Stop::Superseded),
            });
        }
        Err(e) => return Err(e.into()),
    }
    log.line(format!("Live at {url}"));
    tracing::info!(%url, "deployment live");
    retire_previous(rt, app, d).await;
    Ok(())
}

/// A redeploy runs the image of the commit it names (recorded when it was
/// queued) with the app's current configuration; nothing is built.
async fn reuse_image(
    rt: &Runtime,
    app: &App,
    d: &Deployment,
    log: &BuildLog,
) -> Result<Image, Failure> {
    let sha = d.commit.as_deref().ok_or_else(|| {
        Failure::User("the redeploy names no commit; deploy the app instead".into())
    })?;
    let repository = build::repository(&rt.config.registry, &app.id);
    log.line(format!(
        "Redeploying commit {sha} with the current configuration; nothing is built."
    ));
    let clock = PhaseClock::start(rt, d, "pull");
    build::ensure_image(&rt.docker, &repository, sha, log)
        .await
        .map_err(|e| match e {
            build::BuildError::Failed(reason) => Failure::User(reason),
            build::BuildError::Engine(reason) => Failure::Infra(reason),
        })?;
    clock.done().await?;
    Ok(Image {
        name: format!("{repository}:{sha}"),
        publish: None,
    })
}

/// Clone and build with the registry's cache; returns the image to push.
async fn build_from_source(
    rt: &Runtime,
    app: &App,
    d: &Deployment,
    credentials: &Credentials,
    dir: &std::path::Path,
    log: &BuildLog,
    interrupt: &Arc<AtomicBool>,
) -> Result<Image, Failure> {
    let Source::Git {
        repo,
        branch,
        dockerfile,
        context,
        ..
    } = &app.config.source
    else {
        return Err(Failure::Infra("not a Git app".into()));
    };

    log.line(format!("Cloning {repo} (branch {branch})"));
    let clock = PhaseClock::start(rt, d, "clone");
    let checkout = dir.join("src");
    let _ = tokio::fs::remove_dir_all(dir).await;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| Failure::Infra(format!("work dir: {e}")))?;
    let repository = build::repository(&rt.config.registry, &app.id);
    let clone = {
        let (repo, branch, token, checkout, interrupt) = (
            repo.clone(),
            branch.clone(),
            credentials.repo_token.clone(),
            checkout.clone(),
            interrupt.clone(),
        );
        tokio::task::spawn_blocking(move || {
            source::shallow_clone(&repo, &branch, token.as_deref(), &checkout, interrupt)
        })
    };
    // The registry cache is fetched while the clone runs.
    let (cloned, cache) = tokio::join!(clone, build::prepare_cache(&rt.docker, &repository, log));
    let sha = cloned
        .map_err(|e| Failure::Infra(e.to_string()))?
        .map_err(|e| Failure::User(e.to_string()))?;
    match &d.pushed_commit {
        Some(pushed) if *pushed != sha => log.line(format!(
            "Branch {branch} has moved on since the push of {pushed}: building its head, {sha}"
        )),
        _ => log.line(format!("Checked out commit {sha}")),
    }
    rt.store
        .record(
            &d.id,
            d.attempt,
            &[("commit", AttributeValue::S(sha.clone()))],
        )
        .await?;
    clock.done().await?;

    build_image(
        rt,
        d,
        Tree {
            root: &checkout,
            context,
            dockerfile,
            work: dir,
        },
        &repository,
        &sha,
        cache.as_deref(),
        log,
    )
    .await
}

/// A source tree on disk, where in it the build happens, and the work dir
/// the context is packed into.
struct Tree<'a> {
    root: &'a std::path::Path,
    context: &'a str,
    dockerfile: &'a str,
    work: &'a std::path::Path,
}

/// Packs the context of `tree` and builds `repository:tag` from it, with
/// the layers of `cache` when given.
async fn build_image(
    rt: &Runtime,
    d: &Deployment,
    tree: Tree<'_>,
    repository: &str,
    tag: &str,
    cache: Option<&str>,
    log: &BuildLog,
) -> Result<Image, Failure> {
    let clock = PhaseClock::start(rt, d, "build");
    let packed = {
        let (root, context, dockerfile, out) = (
            tree.root.to_owned(),
            tree.context.to_owned(),
            tree.dockerfile.to_owned(),
            tree.work.join("context.tar"),
        );
        tokio::task::spawn_blocking(move || {
            context::pack(&root, &context, &dockerfile, MAX_CONTEXT_BYTES, &out)
        })
        .await
        .map_err(|e| Failure::Infra(e.to_string()))?
        .map_err(|e| Failure::User(e.to_string()))?
    };
    log.line(format!(
        "Building {repository}:{tag} ({} bytes of context)",
        packed.bytes
    ));
    let built = build::build(
        &rt.docker,
        &packed.tar,
        &packed.dockerfile,
        repository,
        tag,
        cache,
        log,
    )
    .await
    .map_err(|e| match e {
        build::BuildError::Failed(reason) => Failure::User(format!("the build failed: {reason}")),
        build::BuildError::Engine(reason) => Failure::Infra(reason),
    })?;
    rt.store
        .record(
            &d.id,
            d.attempt,
            &[("cacheHit", AttributeValue::Bool(built.cache_hit))],
        )
        .await?;
    clock.done().await?;
    Ok(Image {
        name: built.image,
        publish: Some((repository.to_owned(), tag.to_owned())),
    })
}

/// Fetch the upload, store a `.zip` back as `.tar.gz`, check and unpack it,
/// then build it in full: an upload never builds from cache.
async fn build_from_archive(
    rt: &Runtime,
    app: &App,
    d: &Deployment,
    dir: &std::path::Path,
    log: &BuildLog,
) -> Result<Image, Failure> {
    let Source::Upload {
        dockerfile,
        context,
    } = &app.config.source
    else {
        return Err(Failure::Infra("not an upload app".into()));
    };
    let refused = |e: archive::UnpackError| match e {
        archive::UnpackError::Refused(reason) => Failure::User(reason),
        archive::UnpackError::Io(reason) => Failure::Infra(reason),
    };
    let stored = d.archive.as_ref().ok_or_else(|| {
        Failure::User("the deployment names no archive; deploy the app again".into())
    })?;
    let format = ArchiveFormat::of_key(&stored.path)
        .ok_or_else(|| Failure::User(format!("{} is neither .tar.gz nor .zip", stored.path)))?;
    let _ = tokio::fs::remove_dir_all(dir).await;
    tokio::fs::create_dir_all(dir.join("src"))
        .await
        .map_err(|e| Failure::Infra(format!("work dir: {e}")))?;

    let clock = PhaseClock::start(rt, d, "fetch");
    log.line(format!("Fetching {} ({} bytes)", stored.path, stored.size));
    let url = rt
        .s3
        .get_object()
        .bucket(&rt.config.bucket)
        .key(&stored.path)
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(FETCH_URL_LIFETIME)
                .map_err(|e| Failure::Infra(e.to_string()))?,
        )
        .await
        .map_err(|e| Failure::Infra(format!("presigning the archive: {e}")))?;
    let fetched = dir.join(format!("archive.{}", format.extension()));
    let step = Instant::now();
    archive::fetch(url.uri(), stored.size, &fetched)
        .await
        .map_err(refused)?;
    log.line(format!("Fetched in {:.1} s", step.elapsed().as_secs_f64()));
    let name = stored
        .path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    archive::check_format(&fetched, format, &name).map_err(refused)?;
    let limit = rt.config.max_source_bytes;
    let tar_gz = match format {
        ArchiveFormat::TarGz => fetched,
        ArchiveFormat::Zip => {
            log.line("Converting the .zip to .tar.gz");
            let step = Instant::now();
            let out = dir.join("archive.tar.gz");
            let size = {
                let (zip, out) = (fetched.clone(), out.clone());
                tokio::task::spawn_blocking(move || archive::zip_to_tar_gz(&zip, &out, limit))
                    .await
                    .map_err(|e| Failure::Infra(e.to_string()))?
                    .map_err(refused)?
            };
            log.line(format!(
                "Converted in {:.1} s",
                step.elapsed().as_secs_f64()
            ));
            let _ = tokio::fs::remove_file(&fetched).await;
            store_converted(rt, app, d, &out, size, log).await?;
            out
        }
    };
    let step = Instant::now();
    {
        let (tar_gz, tree) = (tar_gz.clone(), dir.join("src"));
        tokio::task::spawn_blocking(move || archive::unpack_tar_gz(&tar_gz, &tree, limit))
            .await
            .map_err(|e| Failure::Infra(e.to_string()))?
            .map_err(refused)?;
    }
    let _ = tokio::fs::remove_file(&tar_gz).await;
    clock.done().await?;
    log.line(format!(
        "Checked every entry and unpacked in {:.1} s; building without cache (an upload is always built in full)",
        step.elapsed().as_secs_f64()
    ));
    build_image(
        rt,
        d,
        Tree {
            root: &dir.join("src"),
            context,
            dockerfile,
            work: dir,
        },
        &build::repository(&rt.config.registry, &app.id),
        &d.id,
        None,
        log,
    )
    .await
}

/// Stores a converted `.zip` back as the app's `.tar.gz` archive (and as
/// what the deployment builds, should another runner take it over) and
/// drops the `.zip`, unless a newer upload has replaced it meanwhile.
async fn store_converted(
    rt: &Runtime,
    app: &App,
    d: &Deployment,
    tar_gz: &std::path::Path,
    size: u64,
    log: &BuildLog,
) -> Result<(), Failure> {
    let key = slipway_core::upload::archive_key(&app.id, ids::epoch_millis(), ArchiveFormat::TarGz);
    let body = aws_sdk_s3::primitives::ByteStream::from_path(tar_gz)
        .await
        .map_err(|e| Failure::Infra(format!("reading the converted archive: {e}")))?;
    rt.s3
        .put_object()
        .bucket(&rt.config.bucket)
        .key(&key)
        .content_length(size as i64)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            Failure::Infra(format!(
                "storing the converted archive: {}",
                aws_sdk_s3::error::DisplayErrorContext(e)
            ))
        })?;
    let converted = Archive {
        path: key.clone(),
        size,
        uploaded_at: ids::now_rfc3339(),
    };
    let Some(zip) = &d.archive else {
        return Err(Failure::Infra("the deployment names no archive".into()));
    };
    let drop_key = match rt
        .store
        .replace_archive(&app.id, &zip.path, &converted)
        .await
    {
        Ok(()) => {
            rt.store
                .record_archive(&d.id, d.attempt, &converted)
                .await?;
            log.line(format!(
                "Stored as {key} ({size} bytes); the .zip is removed"
            ));
            &zip.path
        }
        Err(StoreError::Conflict) => &key,
        Err(e) => return Err(e.into()),
    };
    if let Err(e) = rt
        .s3
        .delete_object()
        .bucket(&rt.config.bucket)
        .key(drop_key)
        .send()
        .await
    {
        tracing::warn!(error = %aws_sdk_s3::error::DisplayErrorContext(e), "could not delete {drop_key}");
    }
    Ok(())
}

/// Pushes a new build's tags; a reused image is in the registry already.
async fn publish(
    rt: &Runtime,
    d: &Deployment,
    image: &Image,
    log: &BuildLog,
) -> Result<(), Failure> {
    let Some((repository, sha)) = &image.publish else {
        return Ok(());
    };
    let clock = PhaseClock::start(rt, d, "push");
    build::publish(&rt.docker, repository, sha, log)
        .await
        .map_err(|e| Failure::Infra(e.to_string()))?;
    clock.done().await
}

async fn start_container(
    rt: &Runtime,
    app: &App,
    d: &Deployment,
    credentials: &Credentials,
    image: &str,
    log: &BuildLog,
) -> Result<String, Failure> {
    let c = &app.config;
    let mut env: Vec<String> = c.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    env.extend(credentials.secrets.iter().map(|(k, v)| format!("{k}={v}")));
    env.push(format!("PORT={}", c.port));
    let spec = run::Spec {
        stack: &rt.config.table,
        app_id: &app.id,
        deployment_id: &d.id,
        runner_id: &rt.config.runner_id,
        image,
        port: c.port,
        env,
        memory_mb: c.memory_mb,
        millicpu: c.millicpu,
        publish_host: rt.config.publish_host,
        port_range: &rt.config.port_range,
    };
    log.line(format!(
        "Starting the container (port {}, {} MB, {} CPU)",
        c.port,
        c.memory_mb,
        f64::from(c.millicpu) / 1000.0
    ));
    let host_port = run::start(&rt.docker, &spec)
        .await
        .map_err(|e| Failure::Infra(e.to_string()))?;
    let addr = SocketAddr::new(rt.config.publish_host, host_port);
    if let Err(e) = run::wait_ready(&rt.docker, &d.id, addr, c.port, rt.config.ready_timeout).await
    {
        let output = run::tail(&rt.docker, &d.id).await;
        if !output.is_empty() {
            log.line("--- the container's last output ---");
            log.text(output);
        }
        run::remove(&rt.docker, &run::container_name(&d.id)).await;
        return Err(match e {
            run::RunError::NeverReady(reason) => Failure::User(reason),
            other => Failure::Infra(other.to_string()),
        });
    }
    Ok(format!("http://{addr}"))
}

/// Brings back the live container of an app placed on this runner's host
/// that disappeared from the engine: the same deployment's image with the
/// app's current config. What happens goes to that deployment's log.
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
    let sha = d
        .image_tag()
        .map(str::to_owned)
        .ok_or("the live deployment names no image")?;
    let credentials = open_credentials(rt, app).await?;
    let redactor = Redactor::new(credentials.values());
    let writer = open_log(rt, &d, redactor.clone()).await;
    let log = writer.log();
    log.line("The live container disappeared from its host; starting it again.");
    let repository = build::repository(&rt.config.registry, &app.id);
    let result = async {
        build::ensure_image(&rt.docker, &repository, &sha, &log)
            .await
            .map_err(|e| e.to_string())?;
        let image = format!("{repository}:{sha}");
        let url = start_container(rt, app, &d, &credentials, &image, &log)
            .await
            .map_err(|f| match f {
                Failure::User(reason) | Failure::Infra(reason) => reason,
                Failure::Stopped(stop) => format!("{stop:?}"),
            })?;
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

/// Stops the app's older containers and marks their deployments, and the
/// one that was live before, superseded. A newer deployment's container,
/// starting while this one went live, is that deployment's: it replaces
/// this one in turn.
async fn retire_previous(rt: &Runtime, app: &App, d: &Deployment) {
    // `app` was read when this job began: an older deployment may have gone
    // live since, on this engine, and is found by its container.
    let mut replaced: Vec<String> = app
        .live_deployment_id
        .iter()
        .filter(|p| **p < d.id)
        .cloned()
        .collect();
    if let Ok(containers) = run::containers_of(&rt.docker, &rt.config.table, Some(&app.id)).await {
        for c in containers.into_iter().filter(|c| c.deployment_id < d.id) {
            run::remove(&rt.docker, &c.name).await;
            replaced.push(c.deployment_id);
        }
    }
    replaced.sort();
    replaced.dedup();
    let why = format!("replaced by deployment {}", d.id);
    for previous in replaced {
        if let Err(e) = rt
            .store
            .set_status(&previous, DeploymentStatus::Superseded, None, Some(&why))
            .await
        {
            tracing::debug!(deployment_id = %previous, error = %e, "the older deployment was not running");
        }
    }
}

/// The work directory of one attempt.
fn work_dir(root: &std::path::Path, d: &Deployment) -> PathBuf {
    root.join(format!("{}-{}", d.id, d.attempt))
}
