//! Operator commands (they need SLIPWAY_TABLE and AWS settings):
//! `slipway-admin mint-token <owner>` creates an API token for an owner,
//! stores only its SHA-256 and prints the token once;
//! `slipway-admin runners [--json]` lists the fleet's runners and whether
//! each is live, draining, stopped or missing.

use std::time::SystemTime;

use anyhow::{bail, Context};
use slipway_core::fleet::RunnerRecord;
use slipway_core::{api_token, ids::Owner, store::Store};

const USAGE: &str = "usage: slipway-admin mint-token <owner> | slipway-admin runners [--json]   (needs SLIPWAY_TABLE and AWS settings)";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["mint-token", owner] => {
            let owner =
                Owner::parse("owner", owner).context("owner ids follow the app name rules")?;
            let token = api_token::generate();
            store().await?.put_token(&owner, &token).await?;
            println!("{token}");
        }
        ["runners"] => print!("{}", table(&store().await?.runners().await?)),
        ["runners", "--json"] => {
            let now = SystemTime::now();
            let list: Vec<_> = store()
                .await?
                .runners()
                .await?
                .into_iter()
                .map(|r| {
                    let presence = r.presence(now);
                    let mut v = serde_json::to_value(r).expect("a record is JSON");
                    v["presence"] = serde_json::to_value(presence.to_string()).expect("text");
                    v
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
        _ => bail!(USAGE),
    }
    Ok(())
}

async fn store() -> anyhow::Result<Store> {
    let table = std::env::var("SLIPWAY_TABLE").context("SLIPWAY_TABLE is required")?;
    Ok(Store::connect(&aws_config::load_from_env().await, table))
}

fn table(runners: &[RunnerRecord]) -> String {
    let now = SystemTime::now();
    let mut out = format!(
        "{:<24} {:<16} {:<22} {:<16} {:<6} {:<9} {:<28} {}\n",
        "RUNNER", "PRESENCE", "EDGE", "PUBLISH", "SLOTS", "VERSION", "STARTED", "LAST SEEN"
    );
    for r in runners {
        out.push_str(&format!(
            "{:<24} {:<16} {:<22} {:<16} {:<6} {:<9} {:<28} {}\n",
            r.id,
            r.presence(now).to_string(),
            r.edge_address,
            r.publish_address,
            format!("{}/{}", r.slots_in_use, r.slots),
            r.version,
            r.started_at,
            r.last_seen_at
        ));
    }
    out
}
