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
use slipway_core::api::{
    AppList, AppView, ArchiveKind, ConfigBody, DeployBody, DeploymentList, DeploymentView, Queued,
    RollbackBody, SourceBody, SourceView, UploadAppBody, UploadTicket,
};

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
    /// `json` prints the API's own bodies, for scripts.
    #[arg(long, short, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    Text,
    Json,
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
    /// An app's deployments, newest first.
    Deployments { app: String },
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
    /// Run an earlier live deployment's image again with the app's current
    /// config, as a new deployment; nothing is built.
    Rollback {
        app: String,
        /// The deployment to go back to (see `slipway deployments APP`).
        deployment: String,
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
    fn body(&self) -> anyhow::Result<ConfigBody> {
        let mut env = std::collections::BTreeMap::new();
        for pair in &self.env {
            let (k, v) = pair
                .split_once('=')
                .with_context(|| format!("--env {pair}: give NAME=VALUE"))?;
            env.insert(k.to_owned(), v.to_owned());
        }
        let mut secrets = std::collections::BTreeMap::new();
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
            secrets.insert(k, v);
        }
        Ok(ConfigBody {
            dockerfile: self.dockerfile.clone(),
            context: self.context.clone(),
            port: self.port,
            cpu: self.cpu,
            memory: self.memory,
            domain: self.domain.clone(),
            read_only: None,
            env: (!env.is_empty()).then_some(env),
            secrets: (!secrets.is_empty()).then_some(secrets),
        })
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
    let json = cli.output == Output::Json;
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
            let body = DeployBody {
                name,
                repo,
                config: config.body()?,
                branch,
                repo_token: repo_token.or_else(|| std::env::var("SLIPWAY_REPO_TOKEN").ok()),
                watch_paths: (!watch_paths.is_empty()).then_some(watch_paths),
            };
            let queued: Queued = client.post("/deploy", Some(&body)).await?;
            print_queued(&queued, show_webhook_secret)?;
            finish(&client, &queued, follow).await
        }
        Command::Apps => {
            let list: AppList = client.get("/apps").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!("{:<24} {:<8} {:<12} URL", "NAME", "SOURCE", "STATUS");
                for a in &list.apps {
                    println!(
                        "{:<24} {:<8} {:<12} {}",
                        a.name,
                        source_kind(&a.source),
                        a.status,
                        a.url
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { app } => {
            let id = app_id(&client, &app).await?;
            let shown: AppView = client.get(&format!("/apps/{id}")).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&shown)?);
            } else {
                print_app(&shown);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Deployments { app } => {
            let id = app_id(&client, &app).await?;
            let list: DeploymentList = client.get(&format!("/apps/{id}/deployments")).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print_deployments(&list.deployments);
            }
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
            let queued: Queued = client
                .post(&format!("/apps/{id}/redeploy"), None::<&()>)
                .await?;
            print_queued(&queued, false)?;
            finish(&client, &queued, follow).await
        }
        Command::Rollback {
            app,
            deployment,
            follow,
        } => {
            let id = app_id(&client, &app).await?;
            let body = RollbackBody {
                deployment_id: deployment,
            };
            let queued: Queued = client
                .post(&format!("/apps/{id}/rollback"), Some(&body))
                .await?;
            print_queued(&queued, false)?;
            finish(&client, &queued, follow).await
        }
        Command::Cancel { deployment } => {
            let answer: DeploymentView = client
                .post(&format!("/deployments/{deployment}/cancel"), None::<&()>)
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
        Some(app) => app.id,
        None if create => {
            let body = UploadAppBody {
                name: name.to_owned(),
                config: config.body()?,
            };
            let app: AppView = client.post("/apps", Some(&body)).await?;
            eprintln!("==> created app {name}");
            app.id
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
    let source = SourceBody {
        format: ArchiveKind::TarGz,
        size: packed.bytes,
    };
    let ticket: UploadTicket = client
        .post(&format!("/apps/{id}/source"), Some(&source))
        .await?;
    let uploaded = upload::put(&ticket, &archive, packed.bytes).await;
    let _ = std::fs::remove_dir_all(&work);
    uploaded?;
    eprintln!("==> uploaded to {}", ticket.source_archive_path);
    let queued: Queued = client
        .post(&format!("/apps/{id}/deploy"), None::<&()>)
        .await?;
    finish(client, &queued, true).await
}

/// Prints a deploy route's answer; the webhook secret only when asked.
fn print_queued(queued: &Queued, show_webhook_secret: bool) -> anyhow::Result<()> {
    let mut shown = queued.clone();
    if let Some(secret) = shown.webhook.as_mut().and_then(|w| w.secret.as_mut()) {
        if !show_webhook_secret {
            *secret = "(hidden; add --show-webhook-secret to print it)".into();
        }
    }
    println!("{}", serde_json::to_string_pretty(&shown)?);
    Ok(())
}

fn source_kind(source: &SourceView) -> &'static str {
    match source {
        SourceView::Git { .. } => "git",
        SourceView::Upload { .. } => "upload",
    }
}

fn print_app(a: &AppView) {
    println!("{}  ({})", a.name, a.id);
    println!("  status    {}", a.status);
    println!("  url       {}", a.url);
    if let Some(domain_url) = &a.domain_url {
        println!("            {domain_url}");
    }
    match &a.source {
        SourceView::Git { repo, branch, .. } => println!("  source    {repo} @ {branch}"),
        SourceView::Upload { archive, .. } => println!(
            "  source    uploaded archive {}",
            archive.as_ref().map_or("(none yet)", |a| a.path.as_str())
        ),
    }
    println!(
        "  runs      port {}, {} CPU, {} MB{}",
        a.port,
        a.cpu,
        a.memory,
        if a.read_only { ", read-only" } else { "" }
    );
    if let Some(live) = &a.live_deployment_id {
        println!("  live      {live}");
    }
    if let Some(hook) = &a.webhook {
        println!("  webhook   {} (push, application/json)", hook.url);
    }
    if let Some(recent) = &a.deployments {
        println!();
        print_deployments(recent);
    }
}

fn print_deployments(list: &[DeploymentView]) {
    println!(
        "{:<36} {:<11} {:<9} {:<8} {:<6} CREATED",
        "DEPLOYMENT", "STATUS", "TRIGGER", "COMMIT", "CACHE"
    );
    for d in list {
        let commit = d.commit.as_deref().map_or("-", |c| &c[..c.len().min(7)]);
        let cache = match d.cache_hit {
            Some(true) => "hit",
            Some(false) => "miss",
            None => "-",
        };
        println!(
            "{:<36} {:<11} {:<9} {:<8} {:<6} {}",
            d.id,
            d.status,
            d.trigger.as_str(),
            commit,
            cache,
            d.created_at
        );
    }
}

/// Prints where a queued deployment went, following it when asked.
async fn finish(client: &Client, queued: &Queued, follow: bool) -> anyhow::Result<ExitCode> {
    if !follow {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("==> deployment {}", queued.deployment_id);
    let d = follow::follow(client, &queued.deployment_id).await?;
    outcome(client, &d).await
}

/// Says how a deployment ended; a running one with the app's URL (and its
/// custom domain's), which stay the same across deploys.
async fn outcome(client: &Client, d: &DeploymentView) -> anyhow::Result<ExitCode> {
    Ok(match d.status {
        slipway_core::status::DeploymentStatus::Running => {
            let app: AppView = client.get(&format!("/apps/{}", d.app_id)).await?;
            eprintln!("==> running at {}", app.url);
            if let Some(domain_url) = app.domain_url {
                eprintln!("==> and at {domain_url}");
            }
            ExitCode::SUCCESS
        }
        status => {
            eprintln!("==> {status}: {}", d.error.as_deref().unwrap_or("-"));
            ExitCode::FAILURE
        }
    })
}

async fn app_id(client: &Client, name_or_id: &str) -> anyhow::Result<String> {
    client
        .find_app(name_or_id)
        .await?
        .map(|a| a.id)
        .with_context(|| format!("you have no app named {name_or_id}"))
}
