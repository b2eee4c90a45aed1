//! Operator commands. `slipway-admin mint-token <owner>` creates an API token
//! for an owner, stores only its SHA-256, and prints the token once.

use anyhow::{bail, Context};
use slipway_core::{api_token, ids::Owner, store::Store};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let owner = match args.as_slice() {
        [cmd, owner] if cmd == "mint-token" => owner,
        _ => bail!(
            "usage: slipway-admin mint-token <owner>   (needs SLIPWAY_TABLE and AWS settings)"
        ),
    };
    let owner = Owner::parse("owner", owner).context("owner ids follow the app name rules")?;
    let table = std::env::var("SLIPWAY_TABLE").context("SLIPWAY_TABLE is required")?;
    let aws = aws_config::load_from_env().await;
    let store = Store::connect(&aws, table);
    let token = api_token::generate();
    store.put_token(&owner, &token).await?;
    println!("{token}");
    Ok(())
}
