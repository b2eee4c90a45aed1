//! Caddy's on-demand TLS asks, before it requests a certificate for a name,
//! whether Slipway routes it: the answer comes from the host guards, so an
//! edge never asks a CA for a name no app holds.

use std::net::SocketAddr;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use slipway_core::error_chain::Chain;
use slipway_core::store::Store;
use tokio_util::sync::CancellationToken;

#[derive(Deserialize)]
struct Ask {
    domain: String,
}

async fn ask(State(store): State<Store>, Query(q): Query<Ask>) -> StatusCode {
    let host = q.domain.to_ascii_lowercase();
    match store.host_holder(&host).await {
        Ok(Some(_)) => StatusCode::OK,
        Ok(None) => StatusCode::NOT_FOUND,
        Err(e) => {
            tracing::warn!(error = %Chain(&e), "could not answer the edge's certificate question");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// Binds `listen` (loopback) now, so a taken port stops the runner at start,
/// and answers there until `shutdown`.
pub async fn serve(
    store: Store,
    listen: SocketAddr,
    shutdown: CancellationToken,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let app = Router::new().route("/ask", get(ask)).with_state(store);
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the edge's ask endpoint stopped");
        }
    }))
}
