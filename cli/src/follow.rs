//! Following a deployment: its status changes and its build log as they
//! come, until it ends.

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

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
        let page = client.get(&path).await?;
        let chunks = page["chunks"].as_array().cloned().unwrap_or_default();
        if chunks.is_empty() {
            return Ok(after);
        }
        let mut out = std::io::stdout().lock();
        for chunk in &chunks {
            let _ = out.write_all(chunk["text"].as_str().unwrap_or_default().as_bytes());
        }
        let _ = out.flush();
        after = page["next"].as_u64().or(after);
    }
}

/// Follows until the deployment ends; returns its last state.
pub async fn follow(client: &Client, deployment: &str) -> Result<Value, ApiError> {
    let mut after = None;
    let mut last_status = String::new();
    loop {
        let d = client.get(&format!("/deployments/{deployment}")).await?;
        after = print_logs(client, deployment, after).await?;
        let status = d["status"].as_str().unwrap_or("?").to_owned();
        if status != last_status {
            eprintln!("==> {status}");
            last_status = status.clone();
        }
        if matches!(
            status.as_str(),
            "running" | "failed" | "cancelled" | "superseded"
        ) {
            // The runner writes its last lines just before the status.
            print_logs(client, deployment, after).await?;
            return Ok(d);
        }
        tokio::time::sleep(POLL).await;
    }
}
