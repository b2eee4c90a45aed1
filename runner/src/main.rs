//! `slipway-runner`: the build-host daemon. Pulls deployment jobs from SQS,
//! clones, builds, pushes, runs the app, keeps its containers in line with
//! the table, and on SIGTERM drains before it exits.

mod announce;
mod config;
mod edge;
mod engine;
mod failover;
mod firewall;
mod job;
mod launch;
mod logs;
mod reconcile;
mod runtime;
mod worker;

use anyhow::Context;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some(job::clone_process::CHILD_ARG) {
        return job::clone_process::run_child();
    }
    tokio::runtime::Runtime::new()?.block_on(serve())
}

async fn serve() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn")
            }),
        )
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    let config = config::Config::from_env()?;
    // Checkouts left by a runner that was killed: no job runs yet, and the
    // work dir belongs to this runner alone.
    let _ = tokio::fs::remove_dir_all(&config.work_dir).await;
    tokio::fs::create_dir_all(&config.work_dir)
        .await
        .with_context(|| format!("creating the work dir {}", config.work_dir.display()))?;
    let rt = runtime::Runtime::connect(config)
        .await
        .context("connecting to the Docker engine")?;
    engine::network::ensure(&rt.docker)
        .await
        .context("preparing the apps' network")?;
    if let config::Firewall::On { resolvers } = &rt.config.firewall {
        firewall::install(engine::network::BRIDGE, resolvers)
            .await
            .context("installing the tenants' firewall rules (SLIPWAY_FIREWALL=off turns them off where the host isolates containers otherwise)")?;
    }
    if let engine::build_cgroup::Hierarchy::Unsupported { why } = &rt.build_cgroups {
        tracing::warn!(%why, "builds run without a pids limit");
    }
    tracing::info!(runner_id = %rt.config.runner_id, slots = rt.config.slots, "runner started");

    // `shutdown`: take no new work; `edge_stop`: this host's edge no longer
    // follows the routes (after a hand-over moved its apps); `stopped`: done.
    let (shutdown, edge_stop, stopped) = (
        CancellationToken::new(),
        CancellationToken::new(),
        CancellationToken::new(),
    );
    let announcer = tokio::spawn(announce::run(rt.clone(), shutdown.clone(), stopped.clone()));
    let ask = edge::ask::serve(
        rt.edge.clone(),
        rt.config.edge.ask_listen,
        edge_stop.clone(),
    )
    .await
    .with_context(|| {
        format!(
            "listening for the edge's asks on {}",
            rt.config.edge.ask_listen
        )
    })?;
    let edge = tokio::spawn({
        let (rt, edge_stop) = (rt.clone(), edge_stop.clone());
        async move { rt.edge.run(edge_stop).await }
    });
    let reconciler = tokio::spawn(reconcile::run(rt.clone(), shutdown.clone()));
    let failover = tokio::spawn(failover::run(rt.clone(), shutdown.clone()));
    let worker = tokio::spawn(worker::run(rt.clone(), shutdown.clone()));
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: draining"),
        _ = int.recv() => tracing::info!("SIGINT: draining"),
    }
    shutdown.cancel();
    if rt.config.drain_apps {
        failover::hand_over(&rt).await;
    }
    worker.await?;
    reconciler.await?;
    failover.await?;
    edge_stop.cancel();
    edge.await?;
    ask.await?;
    stopped.cancel();
    announcer.await?;
    tracing::info!("runner stopped");
    Ok(())
}
