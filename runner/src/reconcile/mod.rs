//! Every so often: compare the containers this engine holds (found by label,
//! so a restarted runner picks up where it was) with the desired state in
//! the table; restart the live one if it died, remove the rest. Also fail
//! the deployments whose jobs or pushes ended in a dead-letter queue.

mod restore;

use std::collections::{BTreeMap, HashSet};

use slipway_core::error_chain::Chain;
use slipway_core::ids::{parse_rfc3339, AppId, DeploymentId};
use slipway_core::job::JobMessage;
use slipway_core::model::App;
use slipway_core::status::DeploymentStatus;
use tokio_util::sync::CancellationToken;

use crate::engine::containers::{containers_of, remove as remove_container, Managed};
use crate::engine::network::BRIDGE;
use crate::runtime::Runtime;

pub async fn run(rt: Runtime, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(rt.config.reconcile_every);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        if let Err(e) = firewall(&rt).await {
            tracing::error!(error = %Chain(&e), "the tenants' firewall rules could not be put back");
        }
        if let Err(e) = containers(&rt).await {
            tracing::warn!(error = %Chain(e.as_ref()), "reconcile failed");
        }
        if let Err(e) = missing(&rt).await {
            tracing::warn!(error = %Chain(e.as_ref()), "restoring missing containers failed");
        }
        if let Err(e) = dead_letters(&rt).await {
            tracing::warn!(error = %Chain(e.as_ref()), "reading the dead-letter queue failed");
        }
    }
}

/// Puts the firewall's rules back if something removed them (a restarted
/// engine, the host's firewall service).
async fn firewall(rt: &Runtime) -> Result<(), crate::firewall::FirewallError> {
    let crate::config::Firewall::On { resolvers } = &rt.config.firewall else {
        return Ok(());
    };
    if crate::firewall::in_place(BRIDGE).await? {
        return Ok(());
    }
    tracing::warn!("the tenants' firewall rules were gone; installing them again");
    crate::firewall::install(BRIDGE, resolvers).await
}

pub async fn containers(rt: &Runtime) -> anyhow::Result<()> {
    let mut by_app: BTreeMap<AppId, Vec<Managed>> = BTreeMap::new();
    for c in containers_of(&rt.docker, &rt.config.table, None).await? {
        by_app.entry(c.app_id.clone()).or_default().push(c);
    }
    for (app_id, list) in by_app {
        let app = rt.store.get_app(&app_id).await?;
        let live = app
            .as_ref()
            .filter(|a| a.deleted_at.is_none())
            .and_then(|a| a.live_deployment_id.clone());
        // Moments after a switch, the containers the app moved off still
        // answer edges that have not moved on.
        let switching = app.as_ref().is_some_and(|a| changed_lately(rt, a));
        for c in list {
            if rt.holds(&c.deployment_id).await {
                continue;
            }
            if Some(&c.deployment_id) != live.as_ref() {
                if switching || still_wanted(rt, &app_id, &c.deployment_id).await? {
                    continue;
                }
                tracing::info!(%app_id,
                    container = c.name,
                    "removing a container that is no longer wanted"
                );
                remove_container(&rt.docker, &c.name).await;
                continue;
            }
            if c.running {
                continue;
            }
            tracing::info!(%app_id,
                container = c.name,
                "the live container is down; restarting it"
            );
            let restarted = rt.docker.start_container(&c.name, None).await;
            let stopped = restarted.is_err();
            if let Err(e) = restarted {
                tracing::warn!(%app_id, error = %Chain(&e), "could not restart the live container");
            }
            if let Err(e) = rt
                .store
                .set_stopped(&app_id, &c.deployment_id, stopped)
                .await
            {
                tracing::debug!(%app_id, error = %Chain(&e), "the app changed meanwhile");
            }
        }
    }
    Ok(())
}

/// Whether the container of `deployment_id`, not its app's live one when
/// the app was read, is wanted after all: a deployment still in progress
/// owns its container, whichever runner (on this engine) works on it; and
/// one found `running` may have gone live since the app was read, so the
/// app is read again (its go-live writes both at once).
async fn still_wanted(
    rt: &Runtime,
    app_id: &AppId,
    deployment_id: &DeploymentId,
) -> anyhow::Result<bool> {
    let Some(d) = rt.store.get_deployment(deployment_id).await? else {
        return Ok(false);
    };
    if d.status.is_in_progress() {
        return Ok(true);
    }
    if d.status != DeploymentStatus::Running {
        return Ok(false);
    }
    Ok(rt.store.get_app(app_id).await?.is_some_and(|a| {
        a.deleted_at.is_none()
            && (a.live_deployment_id.as_ref() == Some(deployment_id) || changed_lately(rt, &a))
    }))
}

/// Whether the app changed (a new live container, say) less than the
/// edges' drain time ago: the containers it replaced must keep answering
/// until then (the runner that replaced them stops them after that time).
fn changed_lately(rt: &Runtime, app: &App) -> bool {
    parse_rfc3339(&app.updated_at)
        .and_then(|at| at.elapsed().ok())
        .is_some_and(|since| since < rt.config.edge.drain)
}

/// Live containers this runner placed that are gone from the engine (removed
/// by hand, lost with the engine's storage) are started again.
async fn missing(rt: &Runtime) -> anyhow::Result<()> {
    let present: HashSet<DeploymentId> = containers_of(&rt.docker, &rt.config.table, None)
        .await?
        .into_iter()
        .map(|c| c.deployment_id)
        .collect();
    for app_id in rt.store.placements(&rt.config.runner_id).await? {
        let app = rt.store.get_app(&app_id).await?;
        let Some(app) = app.filter(|a| {
            a.deleted_at.is_none()
                && a.live_runner_id.as_deref() == Some(rt.config.runner_id.as_str())
        }) else {
            rt.store
                .drop_placement(&rt.config.runner_id, &app_id)
                .await?;
            continue;
        };
        let Some(live) = app.live_deployment_id.clone() else {
            continue;
        };
        if present.contains(&live) || rt.holds(&live).await {
            continue;
        }
        tracing::info!(%app_id,
            deployment_id = %live,
            "the live container is missing; starting it again"
        );
        let restored = restore::restore(rt, &app).await;
        if let Err(e) = &restored {
            tracing::warn!(%app_id, error = %e, "could not start the live container again");
        }
        if let Err(e) = rt
            .store
            .set_stopped(&app_id, &live, restored.is_err())
            .await
        {
            tracing::debug!(%app_id, error = %Chain(&e), "the app changed meanwhile");
        }
    }
    Ok(())
}

/// Why a deployment whose job ended in the job queue's dead-letter queue failed.
const JOB_GAVE_UP: &str =
    "the build was attempted several times and never finished; see the log, then deploy again";
/// Why a deployment whose push ended in the push queue's dead-letter queue failed.
const PUSH_GAVE_UP: &str = "the push could not be handed to a build after several attempts; push again or deploy from the API";

/// A job that failed `maxReceiveCount` times lands in the job DLQ with its
/// deployment still in progress, a push the recorder could not link or
/// queue in the push DLQ with its deployment `queued`: either ends `failed`
/// here instead of hanging. A push's deployment past `queued` got its job
/// after all, and one a runner holds under a live lease is being worked on:
/// both are left alone.
async fn dead_letters(rt: &Runtime) -> anyhow::Result<()> {
    if let Some(dlq) = &rt.config.dlq_url {
        fail_dead_letters(rt, dlq, JOB_GAVE_UP, DeploymentStatus::is_in_progress).await?;
    }
    if let Some(dlq) = &rt.config.push_dlq_url {
        fail_dead_letters(rt, dlq, PUSH_GAVE_UP, |s| s == DeploymentStatus::Queued).await?;
    }
    Ok(())
}

async fn fail_dead_letters(
    rt: &Runtime,
    dlq: &str,
    why: &str,
    stuck: fn(DeploymentStatus) -> bool,
) -> anyhow::Result<()> {
    let out = rt
        .sqs
        .receive_message()
        .queue_url(dlq)
        .max_number_of_messages(10)
        .wait_time_seconds(0)
        .send()
        .await?;
    for m in out.messages.unwrap_or_default() {
        if let Ok(job) = JobMessage::decode(m.body.as_deref().unwrap_or_default()) {
            if let Some(d) = rt.store.get_deployment(&job.deployment_id).await? {
                if d.is_leased(slipway_core::ids::epoch_millis()) {
                    // A copy of a job a runner is working on (SQS delivers at
                    // least once): that runner finishes it.
                    tracing::info!(app_id = %d.app_id, deployment_id = %d.id, "a dead letter for a deployment a runner holds; dropped");
                } else if stuck(d.status) {
                    let _ = rt
                        .store
                        .set_status(&d.id, DeploymentStatus::Failed, Some(why))
                        .await;
                    tracing::warn!(app_id = %d.app_id, deployment_id = %d.id, %why, "deployment failed from a dead-letter queue");
                }
            }
        }
        if let Some(receipt) = m.receipt_handle {
            rt.sqs
                .delete_message()
                .queue_url(dlq)
                .receipt_handle(receipt)
                .send()
                .await?;
        }
    }
    Ok(())
}
