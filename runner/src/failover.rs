//! Failover: a runner not seen for its deadline is lost, and so are the
//! containers on its host. Every few seconds the live runner with the most
//! free slots looks for the apps placed on a lost runner and takes each
//! over with a fenced write that adds a `failover` deployment of the app's
//! live image (of several runners exactly one wins it), runs it itself
//! (the image started, nothing built, the route switched) and queues its
//! job as well, so another runner finishes it should this one die. A lost
//! runner that comes back finds its apps live elsewhere and removes its
//! stale containers (reconcile).
//!
//! A retiring runner (SIGTERM with `SLIPWAY_DRAIN_APPS=true`) hands its own
//! apps over through the queue, keeps their containers serving until the
//! edges have moved to the new ones, then removes them.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime};

use slipway_core::error_chain::Chain;
use slipway_core::fleet::{roomiest, Presence};
use slipway_core::ids::AppId;
use slipway_core::job::JobMessage;
use slipway_core::model::Deployment;
use slipway_core::store::StoreError;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::engine::containers::{containers_of, remove};
use crate::job;
use crate::runtime::Runtime;

/// How often a retiring runner looks whether its apps have moved.
const HAND_OVER_POLL: Duration = Duration::from_millis(500);

/// How often a failover's job is sent before the runner gives up on it.
const SEND_TRIES: u32 = 5;

pub async fn run(rt: Runtime, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(rt.config.announce_every);
    let mut jobs = JoinSet::new();
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.cancelled() => break,
        }
        while jobs.try_join_next().is_some() {}
        match take_over_lost(&rt).await {
            Ok(mine) => {
                for msg in mine {
                    let (rt, shutdown) = (rt.clone(), shutdown.clone());
                    jobs.spawn(async move { job::run(&rt, msg, None, shutdown).await });
                }
            }
            Err(e) => tracing::warn!(error = %Chain(&e), "looking for lost runners failed"),
        }
    }
    // The failovers running here stop for the shutdown; their queued copies
    // finish them elsewhere.
    while jobs.join_next().await.is_some() {}
}

/// Fails over the apps of every lost runner, if this runner is the one
/// with the most room (or none has any); returns the jobs it runs itself.
/// Each is queued as well: should this runner die before it claims one,
/// another runner runs the copy.
async fn take_over_lost(rt: &Runtime) -> Result<Vec<JobMessage>, StoreError> {
    let now = SystemTime::now();
    let me = rt.config.runner_id.as_str();
    let fleet = rt.store.runners().await?;
    let chosen = roomiest(&fleet, now).map(|r| r.id.clone());
    if chosen.as_deref().is_some_and(|c| c != me) {
        return Ok(Vec::new());
    }
    let mut mine = Vec::new();
    for lost in &fleet {
        if lost.id == me || !matches!(lost.presence(now), Presence::Missing { .. }) {
            continue;
        }
        for app_id in rt.store.placements(&lost.id).await? {
            match take_over(rt, &lost.id, &app_id, chosen.as_deref()).await {
                Ok(Some(msg)) if chosen.is_some() => mine.push(msg),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(%app_id, lost = lost.id, error = %Chain(&e), "could not fail the app over")
                }
            }
        }
    }
    Ok(mine)
}

/// Moves `app_id` off runner `from`, unless another runner did, or the app
/// no longer lives there, or a newer deployment on its way replaces it.
/// With `to` (this runner) the job returned is this runner's to run, a copy
/// queued meanwhile; without, the job is queued for any runner.
async fn take_over(
    rt: &Runtime,
    from: &str,
    app_id: &AppId,
    to: Option<&str>,
) -> Result<Option<JobMessage>, StoreError> {
    let app = rt.store.get_app(app_id).await?;
    let Some(app) =
        app.filter(|a| a.deleted_at.is_none() && a.live_runner_id.as_deref() == Some(from))
    else {
        return rt.store.drop_placement(from, app_id).await.map(|()| None);
    };
    if let Some(latest) = app
        .latest_deployment_id
        .as_ref()
        .filter(|l| Some(*l) != app.live_deployment_id.as_ref())
    {
        if let Some(d) = rt.store.get_deployment(latest).await? {
            if d.status.is_in_progress() {
                return Ok(None);
            }
        }
    }
    let live = match &app.live_deployment_id {
        Some(live) => rt.store.get_deployment(live).await?,
        None => None,
    };
    let Some(mut d) = live.and_then(|live| Deployment::failover(&app, &live, from)) else {
        return rt.store.drop_placement(from, app_id).await.map(|()| None);
    };
    d.meant_for = to.map(str::to_owned);
    match rt.store.add_failover(&app, from, &d).await {
        Ok(()) => {}
        // Another runner took it over, or the app changed: looked at again
        // next time if it still lives there.
        Err(StoreError::Conflict) => return Ok(None),
        Err(e) => return Err(e),
    }
    tracing::info!(%app_id, deployment_id = %d.id, from, to = d.meant_for, "moving the app off its host");
    let msg = JobMessage {
        deployment_id: d.id.clone(),
        app_id: app_id.clone(),
    };
    if to.is_some() {
        // This runner runs it now: the copy in the queue is only for this
        // runner dying before it claims it, so the job waits for no queue.
        let (rt, copy) = (rt.clone(), msg.clone());
        tokio::spawn(async move {
            if !queue(&rt, &copy).await {
                tracing::warn!(app_id = %copy.app_id, deployment_id = %copy.deployment_id, "the failover runs on this runner only");
            }
        });
        return Ok(Some(msg));
    }
    if queue(rt, &msg).await {
        return Ok(Some(msg));
    }
    let _ = rt
        .store
        .set_status(
            &d.id,
            slipway_core::status::DeploymentStatus::Failed,
            Some("the failover could not be queued; deploy the app again"),
        )
        .await;
    Ok(None)
}

/// Sends the job to the queue, trying [`SEND_TRIES`] times; whether it went.
async fn queue(rt: &Runtime, msg: &JobMessage) -> bool {
    let body = msg.encode();
    for attempt in 1..=SEND_TRIES {
        let sent = rt
            .sqs
            .send_message()
            .queue_url(&rt.config.queue_url)
            .message_body(&body)
            .send()
            .await;
        match sent {
            Ok(_) => return true,
            Err(e) => {
                tracing::warn!(app_id = %msg.app_id, deployment_id = %msg.deployment_id, attempt, error = %Chain(&e), "could not queue the failover");
                tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
            }
        }
    }
    false
}

/// Moves every app placed on this runner to other runners, within the
/// drain deadline: a failover deployment each (once no newer deployment of
/// the app is on its way), then, once each runs elsewhere and the edges
/// have had their drain time to move on, this host's containers of it are
/// removed. An app that could not be moved keeps running here.
pub async fn hand_over(rt: &Runtime) {
    let me = rt.config.runner_id.as_str();
    let deadline = Instant::now() + rt.config.drain_deadline;
    let mut moving: BTreeSet<AppId> = BTreeSet::new();
    loop {
        match rt.store.placements(me).await {
            Ok(placed) => {
                // Meant for no runner in particular: the first with a free
                // slot to receive its job runs it.
                for app_id in placed {
                    match take_over(rt, me, &app_id, None).await {
                        Ok(_) => {
                            moving.insert(app_id);
                        }
                        Err(e) => {
                            tracing::warn!(%app_id, error = %Chain(&e), "could not hand the app over yet")
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %Chain(&e), "could not read this runner's apps"),
        }
        let mut still_here = Vec::new();
        for app_id in &moving {
            match rt.store.get_app(app_id).await {
                Ok(Some(app))
                    if app.deleted_at.is_none() && app.live_runner_id.as_deref() == Some(me) =>
                {
                    still_here.push(app_id.clone());
                }
                Ok(_) => {}
                Err(_) => still_here.push(app_id.clone()),
            }
        }
        let placed_left = rt.store.placements(me).await.map(|p| p.len()).unwrap_or(1);
        if still_here.is_empty() && placed_left == 0 {
            break;
        }
        if Instant::now() >= deadline {
            tracing::warn!(apps = ?still_here, "the drain deadline passed before these apps moved; they keep running here");
            moving.retain(|a| !still_here.contains(a));
            break;
        }
        tokio::time::sleep(HAND_OVER_POLL).await;
    }
    if moving.is_empty() {
        return;
    }
    tracing::info!(
        apps = moving.len(),
        "apps handed over; their containers here stop once the edges moved"
    );
    tokio::time::sleep(rt.config.edge.drain).await;
    remove_moved(rt, &moving).await;
}

/// Removes this host's containers of `moved` apps that are not their live
/// deployment's.
async fn remove_moved(rt: &Runtime, moved: &BTreeSet<AppId>) {
    let containers = match containers_of(&rt.docker, &rt.config.table, None).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %Chain(&e), "could not list the containers handed over");
            return;
        }
    };
    for c in containers.into_iter().filter(|c| moved.contains(&c.app_id)) {
        let live = match rt.store.get_app(&c.app_id).await {
            Ok(app) => app.and_then(|a| a.live_deployment_id),
            Err(_) => continue,
        };
        if live.as_ref() != Some(&c.deployment_id) {
            tracing::info!(app_id = %c.app_id, container = c.name, "removing a container handed over");
            remove(&rt.docker, &c.name).await;
        }
    }
}
