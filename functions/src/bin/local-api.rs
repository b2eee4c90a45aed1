//! The API on a TCP port, as API Gateway REST would serve it: every route
//! behind the bearer authorizer but the signed webhook, one process for all
//! function groups, and the push recorder on the push queue.

use anyhow::Context;
use slipway_functions::{config::Config, pushes, routes, state::AppState, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init_local();
    let listen = std::env::var("SLIPWAY_LISTEN").unwrap_or_else(|_| "127.0.0.1:8780".into());
    let mut config = Config::from_env()?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    if config.public_api_url.is_none() {
        config.public_api_url = Some(format!("http://{addr}"));
    }
    let state = AppState::from_env(config).await;
    // On AWS the push queue's event source invokes slipway-pushes.
    tokio::spawn(pushes::consume(state.clone()));
    let app = routes::all_routes(state).fallback(routes::not_found);
    // The first line on stdout tells scripts and tests where to connect.
    println!("listening on http://{addr}");
    tracing::info!(%addr, "local API listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
