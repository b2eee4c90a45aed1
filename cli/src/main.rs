//! `slipway`: deploy to Slipway from a terminal or a CI job.
//!
//! Exit status: 0 when the deployment runs (or the command did what it
//! said), 1 when the deployment failed or was cancelled or superseded, 2 when
//! the command could not be carried out (bad flags, the API refused).

mod client;
mod follow;
mod pack;
mod settings;
mod upload;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::{json, Map, Value};

use client::Client;

#[derive(Parser)]
#[command(
    name = "slipway",
    version,
    about = "Deploy apps to Slipway (reads SLIPWAY_API and SLIPWAY_TOKEN, or .slipway/local.env)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Pack DIR (honouring .dockerignore), upload it, deploy it and follow
    /// the build until the app runs or fails.
    Up {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The app's name.
        #[arg(long)]
        app: String,
        /// Create the upload app when it does not exist yet.
        #[arg(long)]
        create: bool,
        #[command(flatten)]
        config: UploadConfig,
    },
    /// Create or update a Git app (the fields of POST /deploy) and deploy it.
    Deploy {
        #[arg(long)]
        name: String,
        #[arg(long)]
        repo: String,
        #[arg(long)]
        branch: Option<String>,
        /// A token that can read the repo; else $SLIPWAY_REPO_TOKEN when set.
        #[arg(long)]
        repo_token: Option<String>,
        /// A glob of paths a push must touch to redeploy (repeatable).
        #[arg(long = "watch-path", value_name = "GLOB")]
        watch_paths: Vec<String>,
        #[command(flatten)]
        config: UploadConfig,
        /// Follow the build until the app runs or fails.
        #[arg(long, short)]
        follow: bool,
        /// Print the webhook's secret (for GitHub's webhook settings); it is
        /// hidden otherwise, so it stays out of CI logs.
        #[arg(long)]
        show_webhook_secret: bool,
    },
    /// List your apps.
    Apps,
    /// An app's configuration, status and recent deployments.
    Status { app: String },
    /// A deployment's build log.
    Logs {
        deployment: String,
        /// Keep following until the deployment ends.
        #[arg(long, short)]
        follow: bool,
    },
    /// Run the live version's image again with the app's current config.
    Redeploy {
        app: String,
        #[arg(long, short)]
        follow: bool,
    },
    /// Cancel a queued or running deployment.
    Cancel { deployment: String },
}

/// What an app runs with.
#[derive(clap::Args)]
struct UploadConfig {
    #[arg(long)]
    dockerfile: Option<String>,
    #[arg(long)]
    context: Option<String>,
    #[arg(long)]
    port: Option<u16>,
    #[arg(long)]
    cpu: Option<f64>,
    /// Megabytes.
    #[arg(long)]
    memory: Option<u32>,
    #[arg(long)]
    domain: Option<String>,
    /// NAME=VALUE (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE")]
    env: Vec<String>,
    /// NAME=VALUE, or NAME to take the value from your environment
    /// (keeps it out of your shell history) (repeatable).
    #[arg(long = "secret", value_name = "NAME[=VALUE]")]
    secrets: Vec<String>,
}

impl UploadConfig {
    fn fields(&self) -> anyhow::Result<Map<String, Value>> {
        let mut body = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                body.insert(k.to_owned(), v);
            }
        };
        put("dockerfile", self.dockerfile.clone().map(Value::from));
        put("context", self.context.clone().map(Value::from));
        put("port", self.port.map(Value::from));
        put("cpu", self.cpu.map(Value::from));
        put("memory", self.memory.map(Value::from));
        put("domain", self.domain.clone().map(Value::from));
        let mut env = Map::new();
        for pair in &self.env {
            let (k, v) = pair
                .split_once('=')
                .with_context(|| format!("--env {pair}: give NAME=VALUE"))?;
            env.insert(k.to_owned(), v.into());
        }
        let mut secrets = Map::new();
        for item in &self.secrets {
            let (k, v) = match item.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (
                    item.clone(),
                    std::env::var(item).with_context(|| {
                        format!(
                            "--secret {item}: set {item} in your environment or give {item}=VALUE"
                        )
                    })?,
                ),
            };
            secrets.insert(k, v.into());
        }
        if !env.is_empty() {
            body.insert("env".into(), env.into());
        }
        if !secrets.is_empty() {
            body.insert("secrets".into(), secrets.into());
        }
        Ok(body)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = settings::Settings::load()?;
    let client = Client::new(settings.api, settings.token);
    match cli.command {
        Command::Up {
            dir,
            app,
            create,
            config,
        } => up(&client, &dir, &app, create, &config).await,
        Command::Deploy {
            name,
            repo,
            branch,
            repo_token,
            watch_paths,
            config,
            follow,
            show_webhook_secret,
        } => {
            let mut body = config.fields()?;
            body.insert("name".into(), name.into());
            body.insert("repo".into(), repo.into());
            if let Some(branch) = branch {
                body.insert("branch".into(), branch.into());
            }
            if let Some(token) = repo_token.or_else(|| std::env::var("SLIPWAY_REPO_TOKEN").ok()) {
                body.insert("repoToken".into(), token.into());
            }
            if !watch_paths.is_empty() {
                body.insert("watchPaths".into(), watch_paths.into());
            }
            let queued = client.post("/deploy", Some(&Value::Object(body))).await?;
            print_queued(&queued, show_webhook_secret)?;
            finish(&client, &queued, follow).await
        }
        Command::Apps => {
            let apps = client.get("/apps").await?;
            println!("{:<24} {:<8} {:<12} URL", "NAME", "SOURCE", "STATUS");
            for a in apps["apps"].as_array().into_iter().flatten() {
                println!(
                    "{:<24} {:<8} {:<12} {}",
                    text(&a["name"]),
                    text(&a["source"]["type"]),
                    text(&a["status"]),
                    text(&a["url"])
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { app } => {
            let id = app_id(&client, &app).await?;
            let shown = client.get(&format!("/apps/{id}")).await?;
            println!("{}", serde_json::to_string_pretty(&shown)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Logs { deployment, follow } => {
            if follow {
                let d = follow::follow(&client, &deployment).await?;
                outcome(&client, &d).await
            } else {
                follow::print_logs(&client, &deployment, None).await?;
                Ok(ExitCode::SUCCESS)
            }
        }
        Command::Redeploy { app, follow } => {
            let id = app_id(&client, &app).await?;
            let queued = client.post(&format!("/apps/{id}/redeploy"), None).await?;
            print_queued(&queued, false)?;
            finish(&client, &queued, follow).await
        }
        Command::Cancel { deployment } => {
            let answer = client
                .post(&format!("/deployments/{deployment}/cancel"), None)
                .await?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn up(
    client: &Client,
    dir: &std::path::Path,
    name: &str,
    create: bool,
    config: &UploadConfig,
) -> anyhow::Result<ExitCode> {
    let id = match client.find_app(name).await? {
        Some(app) => text(&app["id"]),
        None if create => {
            let mut body = config.fields()?;
            body.insert("name".into(), name.into());
            let app = client.post("/apps", Some(&Value::Object(body))).await?;
            eprintln!("==> created app {name}");
            text(&app["id"])
        }
        None => anyhow::bail!("you have no app named {name}; add --create to create it"),
    };
    let work = std::env::temp_dir().join(format!("slipway-up-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let archive = work.join("source.tar.gz");
    let dockerfile = config.dockerfile.as_deref().unwrap_or("Dockerfile");
    let packed = pack::pack(dir, dockerfile, &archive)?;
    eprintln!(
        "==> packed {} files of {} ({} bytes)",
        packed.files,
        dir.display(),
        packed.bytes
    );
    let url = client
        .post(
            &format!("/apps/{id}/source"),
            Some(&json!({"format": "tar.gz", "size": packed.bytes})),
        )
        .await?;
    let uploaded = upload::put(&url, &archive, packed.bytes).await;
    let _ = std::fs::remove_dir_all(&work);
    uploaded?;
    eprintln!("==> uploaded to {}", text(&url["sourceArchivePath"]));
    let queued = client.post(&format!("/apps/{id}/deploy"), None).await?;
    finish(client, &queued, true).await
}

/// Prints a deploy route's answer; the webhook secret only when asked.
fn print_queued(queued: &Value, show_webhook_secret: bool) -> anyhow::Result<()> {
    let mut shown = queued.clone();
    if !show_webhook_secret && shown["webhook"]["secret"].is_string() {
        shown["webhook"]["secret"] = "(hidden; add --show-webhook-secret to print it)".into();
    }
    println!("{}", serde_json::to_string_pretty(&shown)?);
    Ok(())
}

/// Prints where a queued deployment went, following it when asked.
async fn finish(client: &Client, queued: &Value, follow: bool) -> anyhow::Result<ExitCode> {
    let deployment = text(&queued["deploymentId"]);
    if !follow {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("==> deployment {deployment}");
    let d = follow::follow(client, &deployment).await?;
    outcome(client, &d).await
}

/// Says how a deployment ended; a running one with the app's URL (and its
/// custom domain's), which stay the same across deploys.
async fn outcome(client: &Client, d: &Value) -> anyhow::Result<ExitCode> {
    Ok(match d["status"].as_str() {
        Some("running") => {
            let app = client.get(&format!("/apps/{}", text(&d["appId"]))).await?;
            eprintln!("==> running at {}", text(&app["url"]));
            if let Some(domain_url) = app["domainUrl"].as_str() {
                eprintln!("==> and at {domain_url}");
            }
            ExitCode::SUCCESS
        }
        Some(status) => {
            eprintln!("==> {status}: {}", text(&d["error"]));
            ExitCode::FAILURE
        }
        None => ExitCode::FAILURE,
    })
}

async fn app_id(client: &Client, name_or_id: &str) -> anyhow::Result<String> {
    client
        .find_app(name_or_id)
        .await?
        .map(|a| text(&a["id"]))
        .with_context(|| format!("you have no app named {name_or_id}"))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}
