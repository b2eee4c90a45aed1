//! The edge on this build host: Caddy, configured only through its admin
//! API from the route table, so it serves every running app of the stack
//! wherever its container runs. The routes' version is polled; a change
//! (or a while without one) reloads them all. A runner that makes a change
//! reloads its own edge at once.

pub mod ask;
mod caddy;

use std::collections::HashSet;
use std::sync::RwLock;
use std::time::Instant;

use slipway_core::error_chain::Chain;
use slipway_core::store::{Store, StoreError};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::config::EdgeConfig;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("reading the routes failed")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Load(#[from] caddy::LoadError),
}

/// The routes' version last loaded, and when.
struct Loaded {
    version: u64,
    at: Instant,
}

pub struct Edge {
    store: Store,
    config: EdgeConfig,
    http: reqwest::Client,
    loaded: Mutex<Option<Loaded>>,
    /// Every hostname the loaded routes hold, for the TLS `ask`.
    hosts: RwLock<HashSet<String>>,
}

impl Edge {
    pub fn new(store: Store, config: EdgeConfig) -> Self {
        Self {
            store,
            config,
            http: reqwest::Client::new(),
            loaded: Mutex::new(None),
            hosts: RwLock::new(HashSet::new()),
        }
    }

    /// Whether the routes last loaded hold `host`.
    pub fn routes(&self, host: &str) -> bool {
        self.hosts.read().expect("not poisoned").contains(host)
    }

    /// Reads every route and loads them into the edge. One at a time, so a
    /// slower, older read never replaces a newer one.
    pub async fn sync(&self) -> Result<(), SyncError> {
        let mut loaded = self.loaded.lock().await;
        // The version first: a change made after it is read moves it again.
        let version = self.store.routes_version().await?;
        let routes = self.store.routes().await?;
        caddy::load(
            &self.http,
            &self.config.admin,
            &caddy::config(&self.config, &routes),
        )
        .await?;
        *self.hosts.write().expect("not poisoned") = routes
            .iter()
            .flat_map(|r| r.hosts.iter().cloned())
            .collect();
        *loaded = Some(Loaded {
            version,
            at: Instant::now(),
        });
        Ok(())
    }

    async fn stale(&self) -> Result<bool, StoreError> {
        let version = self.store.routes_version().await?;
        Ok(match &*self.loaded.lock().await {
            Some(l) => l.version != version || l.at.elapsed() >= self.config.resync,
            None => true,
        })
    }

    /// Keeps the edge in line with the route table until `shutdown`.
    pub async fn run(&self, shutdown: CancellationToken) {
        let mut every = tokio::time::interval(self.config.poll);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = shutdown.cancelled() => return,
            }
            let result = match self.stale().await {
                Ok(true) => self.sync().await,
                Ok(false) => Ok(()),
                Err(e) => Err(e.into()),
            };
            match result {
                Ok(()) if failing => {
                    tracing::info!("the edge is in line with the routes again");
                    failing = false;
                }
                Ok(()) => {}
                Err(e) if !failing => {
                    tracing::warn!(error = %Chain(&e), "could not bring the edge in line with the routes; retrying");
                    failing = true;
                }
                Err(_) => {}
            }
        }
    }
}
