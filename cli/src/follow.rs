//! Following a deployment: its status changes and its build log as they
//! come, until it ends.

use std::io::Write;
use std::time::Duration;

use slipway_core::api::{DeploymentView, LogPage};

use crate::client::{ApiError, Client};

const POLL: Duration = Duration::from_millis(500);

/// Prints the log of `deployment` from the chunk after `after`; returns the
/// last chunk seen.
pub async fn print_logs(
    client: &Client,
    deployment: &str,
    mut after: Option<u64>,
) -> Result<Option<u64>, ApiError> {
    loop {
        let path = match after {
            Some(n) => format!("/deployments/{deployment}/logs?after={n}"),
            None => format!("/deployments/{deployment}/logs"),
        };
        let page: LogPage = client.get(&path).await?;
        if page.chunks.is_empty() {
            return Ok(after);
        }
        let mut out = std::io::stdout().lock();
        for chunk in &page.chunks {
            let _ = out.write_all(chunk.text.as_bytes());
        }
        let _ = out.flush();
        after = page.next.or(after);
    }
}

/// Follows until the deployment ends; returns its last state.
pub async fn follow(client: &Client, deployment: &str) -> Result<DeploymentView, ApiError> {
    let mut after = None;
    let mut last_status = None;
    loop {
        let d: DeploymentView = client.get(&format!("/deployments/{deployment}")).await?;
        after = print_logs(client, deployment, after).await?;
        if last_status != Some(d.status) {
            eprintln!("==> {}", d.status);
            last_status = Some(d.status);
        }
        if !d.status.is_in_progress() {
            // The runner writes its last lines just before the status.
            print_logs(client, deployment, after).await?;
            return Ok(d);
        }
        tokio::time::sleep(POLL).await;
    }
}
