//! The API on a TCP port, as API Gateway REST would serve it: every route
//! behind the bearer authorizer but the signed webhook, one process for all
//! function groups, and the push recorder on the push queue.
//!
//! On SIGTERM or SIGINT it stops taking requests and pushes, lets those in
//! hand finish until the drain deadline (`SLIPWAY_DRAIN_SECONDS`, 10), then
//! exits; a push not handled by then comes back from the queue.
//!
//! With `SLIPWAY_LOCAL_PRINCIPALS` (the file `provision.py --principals`
//! writes) each function's routes act as that function's IAM user, as each
//! function acts with its own role on AWS; without it, all act with the
//! default credentials.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_sqs::config::Credentials;
use slipway_functions::router::Functions;
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
    let principals = match std::env::var("SLIPWAY_LOCAL_PRINCIPALS") {
        Ok(path) => Some(Principals::read(&path)?),
        Err(_) => None,
    };
    let config = Arc::new(config);
    let state = |function: &'static str| {
        let config = config.clone();
        let principals = &principals;
        async move {
            let aws = aws_for(principals.as_ref(), function).await?;
            anyhow::Ok(AppState::new(config, &aws).await)
        }
    };
    let functions = Functions {
        authorizer: state("AuthorizerFunction").await?,
        deploy: state("DeployFunction").await?,
        upload: state("UploadFunction").await?,
        apps: state("AppsFunction").await?,
        webhook: state("WebhookFunction").await?,
    };
    let shutdown = CancellationToken::new();
    // On AWS the push queue's event source invokes slipway-pushes.
    let pushes = tokio::spawn(pushes::consume(
        state("PushFunction").await?,
        shutdown.clone(),
    ));
    let app = router::all_routes(&functions).fallback(routes::not_found);
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

/// Each function's IAM user's key, by the function's logical id in
/// template.yaml.
#[derive(serde::Deserialize)]
struct Principals(HashMap<String, Key>);

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Key {
    access_key_id: String,
    secret_access_key: String,
}

impl Principals {
    fn read(path: &str) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading SLIPWAY_LOCAL_PRINCIPALS={path}"))?;
        serde_json::from_str(&text)
            .with_context(|| format!("SLIPWAY_LOCAL_PRINCIPALS={path} is not a principals file"))
    }
}

/// The AWS configuration `function` acts with.
async fn aws_for(
    principals: Option<&Principals>,
    function: &str,
) -> anyhow::Result<aws_config::SdkConfig> {
    let loader = aws_config::from_env();
    let Some(Principals(keys)) = principals else {
        return Ok(loader.load().await);
    };
    let key = keys
        .get(function)
        .with_context(|| format!("SLIPWAY_LOCAL_PRINCIPALS has no key for {function}"))?;
    let credentials = Credentials::new(
        &key.access_key_id,
        &key.secret_access_key,
        None,
        None,
        "slipway-local-principals",
    );
    Ok(loader.credentials_provider(credentials).load().await)
}
