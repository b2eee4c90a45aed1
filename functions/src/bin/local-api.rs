//! The API on a TCP port, as API Gateway REST would serve it: every route
//! behind the bearer authorizer but the signed webhook, one process for all
//! function groups, and the push recorder on the push queue.
//!
//! On SIGTERM or SIGINT it stops taking requests and pushes, lets those in
//! hand finish until the drain deadline (`SLIPWAY_DRAIN_SECONDS`, 10), then
//! exits; a push not handled by then comes back from the queue.

use std::time::Duration;

use anyhow::Context;
use slipway_functions::{config::Config, pushes, router, routes, state::AppState, telemetry};
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init_local();
    let listen = std::env::var("SLIPWAY_LISTEN").unwrap_or_else(|_| "127.0.0.1:8780".into());
    let drain = match std::env::var("SLIPWAY_DRAIN_SECONDS") {
        Ok(v) => v
            .parse()
            .with_context(|| format!("SLIPWAY_DRAIN_SECONDS={v:?} is not a number of seconds"))?,
        Err(_) => 10,
    };
    let drain = Duration::from_secs(drain);
    let mut config = Config::from_env()?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    if config.public_api_url.is_none() {
        config.public_api_url = Some(format!("http://{addr}"));
    }
    let state = AppState::from_env(config).await;
    let shutdown = CancellationToken::new();
    // On AWS the push queue's event source invokes slipway-pushes.
    let pushes = tokio::spawn(pushes::consume(state.clone(), shutdown.clone()));
    let app = router::all_routes(state).fallback(routes::not_found);
    let server = tokio::spawn(std::future::IntoFuture::into_future(
        axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned()),
    ));
    // The first line on stdout tells scripts and tests where to connect.
    println!("listening on http://{addr}");
    tracing::info!(%addr, "local API listening");

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: draining"),
        _ = int.recv() => tracing::info!("SIGINT: draining"),
    }
    shutdown.cancel();
    let drained = tokio::time::timeout(drain, async {
        let (served, _) = tokio::join!(server, pushes);
        served
    })
    .await;
    match drained {
        Ok(served) => served??,
        Err(_) => tracing::warn!(
            seconds = drain.as_secs(),
            "drain deadline passed; exiting with requests or pushes in hand"
        ),
    }
    tracing::info!("local API stopped");
    Ok(())
}
