//! The path of one deployment on a build host: admit and claim it, make its
//! image (from a Git clone, an uploaded archive, or for a redeploy the one
//! already built), go live, settle the outcome. Every write goes through
//! the claim (fencing); a stop (cancel, superseded, lost claim, shutdown)
//! is watched for during every phase.
//!
//! | file             | what                                               |
//! |------------------|----------------------------------------------------|
//! | `mod.rs`         | admission, the [`Job`] the phases share, the story |
//! | `from_git.rs`    | clone and build with the registry's cache          |
//! | `clone_process.rs` | the clone, in a process of its own             |
//! | `source.rs`      | what that process does: a shallow clone with gix   |
//! | `from_upload.rs` | fetch, check, convert and unpack an archive, build |
//! | `image.rs`       | pack a context and build it; reuse a built image   |
//! | `go_live.rs`     | push, start, switch, retire the older containers   |
//! | `outcome.rs`     | what an ending means for the deployment and its message |
//! | `settle.rs`      | writing that ending                                |
//! | `watch.rs`       | heartbeat, lease and the stop rules                |

mod archive;
pub mod clone_process;
mod context;
mod from_git;
mod from_upload;
mod go_live;
mod image;
mod outcome;
mod settle;
mod source;
mod watch;

pub use outcome::Outcome;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use slipway_core::error_chain::Chain;
use slipway_core::fleet::{decide, Decision, Placement};
use slipway_core::ids;
use slipway_core::job::JobMessage;
use slipway_core::model::{App, Credentials, Deployment, Phase, Source};
use slipway_core::redact::Redactor;
use slipway_core::status::{DeploymentStatus, APP_DELETED};
use slipway_core::store::{BuildPlace, Claim, StoreError};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::logs::BuildLog;
use crate::runtime::Runtime;
use outcome::{Failure, CANCELLED, REPLACED};
use watch::lease_until;

pub async fn run(
    rt: &Runtime,
    msg: JobMessage,
    receipt: Option<String>,
    shutdown: CancellationToken,
) -> Outcome {
    let span = tracing::info_span!("job", app_id = %msg.app_id, deployment_id = %msg.deployment_id);
    async {
        let outcome = match admit(rt, &msg).await {
            Ok(Admitted::Work(app, d)) => {
                rt.in_flight.lock().await.insert(d.id.clone());
                let owner = app.owner.clone();
                let builds = d.builds();
                let outcome = work(rt, *app, *d, receipt, shutdown).await;
                rt.in_flight.lock().await.remove(&msg.deployment_id);
                // A lost claim's place is its new runner's now.
                if builds && outcome != Outcome::LostClaim {
                    if let Err(e) = rt.store.release_build(&owner, &msg.deployment_id).await {
                        tracing::warn!(error = %Chain(&e), "could not give the build's place back; its lease frees it");
                    }
                }
                outcome
            }
            Ok(Admitted::Nothing) => Outcome::Done,
            Ok(Admitted::Wait { running }) => {
                tracing::info!(running, "the owner runs as many builds as it may; waiting");
                Outcome::Requeue(rt.config.owner_wait)
            }
            Ok(Admitted::LeaveTo(runner)) => {
                tracing::info!(%runner, "the job is another runner's to run; leaving it");
                Outcome::Requeue(LEAVE_DELAY)
            }
            Err(e) => Outcome::Retry(Chain(e.as_ref()).to_string()),
        };
        match &outcome {
            Outcome::Retry(reason) => tracing::warn!(%reason, "job ended; it will be retried"),
            other => tracing::info!(outcome = ?other, "job ended"),
        }
        outcome
    }
    .instrument(span)
    .await
}

/// What to do with a job, judged from its deployment and app as read.
#[derive(Debug, PartialEq)]
enum Admission {
    /// Nothing left to do.
    Skip,
    /// It must not be built: end it so.
    End(DeploymentStatus, &'static str),
    /// Claim it and build this app.
    Claim(Box<App>),
}

fn admission(d: &Deployment, app: Option<App>) -> Admission {
    if !d.status.is_in_progress() {
        return Admission::Skip;
    }
    let Some(app) = app.filter(|a| a.deleted_at.is_none()) else {
        return Admission::End(DeploymentStatus::Cancelled, APP_DELETED);
    };
    if d.cancel_requested {
        return Admission::End(DeploymentStatus::Cancelled, CANCELLED);
    }
    if app.latest_deployment_id.as_ref() != Some(&d.id) {
        return Admission::End(DeploymentStatus::Superseded, REPLACED);
    }
    Admission::Claim(Box::new(app))
}

/// What a received job comes to before any work.
enum Admitted {
    /// Claimed: build it.
    Work(Box<App>, Box<Deployment>),
    /// Nothing to do (any more).
    Nothing,
    /// Its owner already runs `running` builds, its share.
    Wait { running: usize },
    /// Another runner should run it (the placement).
    LeaveTo(String),
}

/// When a job left to another runner is seen again.
const LEAVE_DELAY: Duration = Duration::from_secs(1);

/// Whether this runner runs the deployment or leaves it to another: the
/// one it is meant for, or under the spread placement one with fewer apps
/// (an app that already lives here does not count against this runner).
async fn placement(rt: &Runtime, d: &Deployment, app: &App) -> anyhow::Result<Decision> {
    if d.meant_for.is_none() && rt.config.placement == Placement::Builder {
        return Ok(Decision::Take);
    }
    let me = rt.config.runner_id.as_str();
    let mut fleet = rt.store.runners().await?;
    if app.live_runner_id.as_deref() == Some(me) {
        if let Some(mine) = fleet.iter_mut().find(|r| r.id == me) {
            mine.apps = mine.apps.saturating_sub(1);
        }
    }
    let waited = ids::parse_rfc3339(&d.created_at)
        .and_then(|at| at.elapsed().ok())
        .unwrap_or_default();
    Ok(decide(
        &fleet,
        me,
        SystemTime::now(),
        rt.config.placement,
        d.meant_for.as_deref(),
        waited,
    ))
}

/// Decides whether the deployment is still to be done, takes one of its
/// owner's places in the fleet's builds, and claims it.
async fn admit(rt: &Runtime, msg: &JobMessage) -> anyhow::Result<Admitted> {
    let Some(d) = rt.store.get_deployment(&msg.deployment_id).await? else {
        return Ok(Admitted::Nothing);
    };
    // A finished deployment's redelivered job needs no read of the app.
    let app = if d.status.is_in_progress() {
        rt.store.get_app(&d.app_id).await?
    } else {
        None
    };
    let app = match admission(&d, app) {
        Admission::Skip => return Ok(Admitted::Nothing),
        Admission::End(to, why) => {
            return match rt.store.set_status(&d.id, to, Some(why)).await {
                Ok(_) | Err(StoreError::Conflict) => Ok(Admitted::Nothing),
                Err(e) => Err(e.into()),
            }
        }
        Admission::Claim(app) => app,
    };
    if let Decision::LeaveTo(runner) = placement(rt, &d, &app).await? {
        return Ok(Admitted::LeaveTo(runner));
    }
    // Only a build takes one of its owner's places.
    let fresh = if d.builds() {
        let place = rt
            .store
            .hold_build(
                &app.owner,
                &d.id,
                rt.config.owner_builds,
                ids::epoch_millis(),
                lease_until(rt),
            )
            .await?;
        match place {
            BuildPlace::Full { running } => return Ok(Admitted::Wait { running }),
            BuildPlace::Held { fresh } => fresh,
        }
    } else {
        false
    };
    let claimed = rt
        .store
        .claim(&d, &rt.config.runner_id, lease_until(rt))
        .await;
    if claimed.is_err() && fresh {
        rt.store.release_build(&app.owner, &d.id).await?;
    }
    match claimed {
        Ok(claimed) => Ok(Admitted::Work(app, Box::new(claimed))),
        Err(StoreError::Conflict) => match rt.store.get_deployment(&d.id).await {
            // A duplicate delivery while another runner works: its message
            // must live on, so this copy waits and comes back later.
            Ok(Some(now)) if now.is_leased(ids::epoch_millis()) => Err(anyhow::anyhow!(
                "runner {} holds the deployment",
                now.runner_id.unwrap_or_default()
            )),
            _ => Ok(Admitted::Nothing),
        },
        Err(e) => Err(e.into()),
    }
}

/// What every phase of one claimed deployment shares.
struct Job<'a> {
    rt: &'a Runtime,
    app: App,
    /// The deployment as claimed.
    d: Deployment,
    claim: Claim,
    credentials: Credentials,
    /// This attempt's work directory (checkout, archive, context).
    dir: PathBuf,
    log: BuildLog,
    /// Set when the job must stop, for blocking work (the clone) that polls it.
    interrupt: Arc<AtomicBool>,
}

async fn work(
    rt: &Runtime,
    app: App,
    d: Deployment,
    receipt: Option<String>,
    shutdown: CancellationToken,
) -> Outcome {
    let credentials = match rt.open_credentials(&app).await {
        Ok(c) => c,
        Err(e) => return Outcome::Retry(Chain(&e).to_string()),
    };
    let redactor = Redactor::new(credentials.values());
    let writer = rt.open_log(&d.id, redactor.clone()).await;
    if d.attempt > 1 {
        writer.log().line(format!(
            "Attempt {} (an earlier runner stopped before finishing).",
            d.attempt
        ));
    }
    let claim = Claim::of(&d);
    let place_of = d.builds().then_some(&app.owner);
    let watcher = watch::Watcher::start(rt, &claim, place_of, receipt, shutdown);
    let job = Job {
        rt,
        app,
        dir: work_dir(&rt.config.work_dir, &d),
        d,
        claim,
        credentials,
        log: writer.log(),
        interrupt: watcher.interrupt.clone(),
    };
    let result = tokio::select! {
        r = job.deploy() => r,
        stop = watcher.stopped() => Err(Failure::Stopped(stop)),
    };
    let result = outcome::prefer_stop(result, watcher.stop_reason());
    watcher.finish().await;
    let outcome = job.settle(result, &redactor).await;
    writer.close().await;
    let _ = tokio::fs::remove_dir_all(&job.dir).await;
    outcome
}

impl Job<'_> {
    /// The deployment itself, top to bottom: an image, then the switch.
    async fn deploy(&self) -> Result<(), Failure> {
        let image = match (self.d.trigger, &self.app.config.source) {
            (t, _) if t.reuses_image() => self.reuse_image().await?,
            (_, Source::Upload { .. }) => self.build_from_archive().await?,
            (_, Source::Git { .. }) => self.build_from_source().await?,
        };
        self.go_live(image).await
    }

    /// Starts timing one phase.
    fn clock(&self, name: &'static str) -> PhaseClock<'_> {
        PhaseClock {
            job: self,
            name,
            started_at: ids::now_rfc3339(),
            started: Instant::now(),
        }
    }

    /// An empty work directory for this attempt.
    async fn fresh_dir(&self, inner: &str) -> Result<(), Failure> {
        let _ = tokio::fs::remove_dir_all(&self.dir).await;
        tokio::fs::create_dir_all(self.dir.join(inner))
            .await
            .map_err(Failure::infra("making the work dir"))
    }
}

/// Times one phase and records it on the deployment.
struct PhaseClock<'a> {
    job: &'a Job<'a>,
    name: &'static str,
    started_at: String,
    started: Instant,
}

impl PhaseClock<'_> {
    fn stop(self) -> Phase {
        Phase {
            started_at: self.started_at,
            finished_at: Some(ids::now_rfc3339()),
            millis: Some(self.started.elapsed().as_millis() as u64),
        }
    }

    async fn done(self) -> Result<(), Failure> {
        let (job, name) = (self.job, self.name);
        job.rt
            .store
            .record_phase(&job.claim, name, &self.stop())
            .await?;
        Ok(())
    }
}

/// The work directory of one attempt.
fn work_dir(root: &Path, d: &Deployment) -> PathBuf {
    root.join(format!("{}-{}", d.id, d.attempt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_core::model::Trigger;

    fn newest(app: &mut App) -> Deployment {
        let d = Deployment::queued(app, Trigger::Api);
        app.latest_deployment_id = Some(d.id.clone());
        d
    }

    #[test]
    fn the_apps_newest_deployment_in_progress_is_claimed() {
        let mut app = App::for_tests();
        let mut d = newest(&mut app);
        assert_eq!(
            admission(&d, Some(app.clone())),
            Admission::Claim(Box::new(app.clone()))
        );
        // Taken over from a runner that died while building or deploying.
        for status in [DeploymentStatus::Building, DeploymentStatus::Deploying] {
            d.status = status;
            assert_eq!(
                admission(&d, Some(app.clone())),
                Admission::Claim(Box::new(app.clone()))
            );
        }
    }

    #[test]
    fn a_finished_deployment_is_skipped() {
        let mut app = App::for_tests();
        let mut d = newest(&mut app);
        for status in [
            DeploymentStatus::Running,
            DeploymentStatus::Failed,
            DeploymentStatus::Cancelled,
            DeploymentStatus::Superseded,
        ] {
            d.status = status;
            assert_eq!(
                admission(&d, Some(app.clone())),
                Admission::Skip,
                "{status}"
            );
        }
    }

    #[test]
    fn a_deployment_of_a_gone_app_is_cancelled() {
        let mut app = App::for_tests();
        let d = newest(&mut app);
        let cancelled = Admission::End(DeploymentStatus::Cancelled, APP_DELETED);
        assert_eq!(admission(&d, None), cancelled);
        app.deleted_at = Some(ids::now_rfc3339());
        assert_eq!(admission(&d, Some(app.clone())), cancelled);
    }

    #[test]
    fn a_cancel_requested_before_the_claim_ends_it_cancelled() {
        let mut app = App::for_tests();
        let mut d = newest(&mut app);
        d.cancel_requested = true;
        assert_eq!(
            admission(&d, Some(app.clone())),
            Admission::End(DeploymentStatus::Cancelled, CANCELLED)
        );
    }

    #[test]
    fn a_deployment_that_is_not_the_apps_newest_is_superseded() {
        let mut app = App::for_tests();
        let d = newest(&mut app);
        newest(&mut app);
        assert_eq!(
            admission(&d, Some(app.clone())),
            Admission::End(DeploymentStatus::Superseded, REPLACED)
        );
    }
}
