//! The runner's record in the table, written again every few seconds: the
//! operator's view of the fleet, and how other runners tell it is gone.

use std::time::SystemTime;

use slipway_core::error_chain::Chain;
use slipway_core::fleet::{expires_at, RunnerRecord, RunnerState};
use slipway_core::ids::{now_rfc3339, rfc3339};
use tokio_util::sync::CancellationToken;

use crate::runtime::Runtime;

/// Announces `running` until `shutdown`, then `draining` until `stopped`,
/// then `stopped` once.
pub async fn run(rt: Runtime, shutdown: CancellationToken, stopped: CancellationToken) {
    let started_at = now_rfc3339();
    let mut every = tokio::time::interval(rt.config.announce_every);
    loop {
        let state = if shutdown.is_cancelled() {
            RunnerState::Draining
        } else {
            RunnerState::Running
        };
        announce(&rt, &started_at, state).await;
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.cancelled(), if state == RunnerState::Running => {}
            _ = stopped.cancelled() => break,
        }
    }
    announce(&rt, &started_at, RunnerState::Stopped).await;
}

async fn announce(rt: &Runtime, started_at: &str, state: RunnerState) {
    let apps = match rt.store.placements(&rt.config.runner_id).await {
        Ok(placed) => placed.len() as u32,
        Err(e) => {
            tracing::warn!(error = %Chain(&e), "could not count this runner's apps");
            return;
        }
    };
    let now = SystemTime::now();
    let config = &rt.config;
    let record = RunnerRecord {
        id: config.runner_id.clone(),
        edge_address: config.edge.http_listen.clone(),
        publish_address: config.publish_host.to_string(),
        slots: config.slots as u32,
        slots_in_use: rt.in_flight.lock().await.len() as u32,
        apps,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        state,
        started_at: started_at.to_owned(),
        last_seen_at: rfc3339(now),
        deadline_seconds: config.runner_deadline.as_secs(),
        expires_at: expires_at(now),
    };
    if let Err(e) = rt.store.announce_runner(&record).await {
        tracing::warn!(error = %Chain(&e), "could not write this runner's record");
    }
}
