//! Caddy's on-demand TLS asks, before it requests a certificate for a name,
//! whether Slipway routes it: the answer comes from the routes this edge
//! last loaded from the table, so an edge never asks a CA for a name it does
//! not serve, and a flood of handshakes for made-up names costs no read.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::Edge;

#[derive(Deserialize)]
struct Ask {
    domain: String,
}

async fn ask(State(edge): State<Arc<Edge>>, Query(q): Query<Ask>) -> StatusCode {
    if edge.routes(&q.domain.to_ascii_lowercase()) {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    }
}

/// Binds `listen` (loopback) now, so a taken port stops the runner at start,
/// and answers there until `shutdown`.
pub async fn serve(
    edge: Arc<Edge>,
    listen: SocketAddr,
    shutdown: CancellationToken,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let app = Router::new().route("/ask", get(ask)).with_state(edge);
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the edge's ask endpoint stopped");
        }
    }))
}
