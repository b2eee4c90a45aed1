//! The API's answers, filled field by field from the stored items, so a
//! sealed value or a new internal attribute never leaks by accident.

use slipway_core::api::{
    AppView, ArchiveView, DeploymentView, FailoverView, PendingUploadView, PhaseView, Queued,
    SourceView, Webhook,
};
use slipway_core::model::{app_status, App, Archive, Deployment, Source};

/// An app's GitHub webhook; `None` for an upload app, which has none.
pub fn webhook(base: &str, app: &App, secret: Option<&str>) -> Option<Webhook> {
    if app.config.source.is_upload() {
        return None;
    }
    Some(Webhook {
        url: format!("{base}/webhooks/github/{}", app.id),
        content_type: "application/json".into(),
        events: vec!["push".into()],
        secret: secret.map(str::to_owned),
    })
}

/// `POST /deploy`, `POST /apps/{id}/deploy`: 202.
pub fn queued(
    base: &str,
    app: &App,
    deployment: &Deployment,
    webhook_secret: Option<&str>,
) -> Queued {
    Queued {
        app_id: app.id.to_string(),
        deployment_id: deployment.id.to_string(),
        status: deployment.status,
        url: app.url.clone(),
        webhook: webhook(base, app, webhook_secret),
    }
}

pub fn archive(a: &Archive) -> ArchiveView {
    ArchiveView {
        path: a.path.clone(),
        size: a.size,
        uploaded_at: a.uploaded_at.clone(),
    }
}

pub fn deployment(d: &Deployment) -> DeploymentView {
    DeploymentView {
        id: d.id.to_string(),
        app_id: d.app_id.to_string(),
        status: d.status,
        trigger: d.trigger,
        commit: d.commit.clone(),
        pushed_commit: d.pushed_commit.clone(),
        archive: d.archive.as_ref().map(archive),
        cache_hit: d.cache_hit,
        error: d.error.clone(),
        created_at: d.created_at.clone(),
        updated_at: d.updated_at.clone(),
        cancel_requested: d.cancel_requested,
        attempt: d.attempt,
        upstream: d.upstream.clone(),
        phases: d
            .phases
            .iter()
            .map(|(name, p)| {
                let view = PhaseView {
                    started_at: p.started_at.clone(),
                    finished_at: p.finished_at.clone(),
                    millis: p.millis,
                };
                (name.clone(), view)
            })
            .collect(),
        rolled_back_from: d.rolled_back_from.as_ref().map(ToString::to_string),
        failover: d.failover.as_ref().map(|f| FailoverView {
            from_runner_id: f.from_runner_id.clone(),
            of_deployment_id: f.of_deployment_id.to_string(),
        }),
    }
}

/// One app as `GET /apps/{id}` shows it, with its recent deployments and
/// its webhook's secret when given (the list shows neither).
pub fn app(
    base: &str,
    app: &App,
    latest: Option<&Deployment>,
    recent: Option<&[Deployment]>,
    webhook_secret: Option<&str>,
) -> AppView {
    let c = &app.config;
    let source = match &c.source {
        Source::Git {
            repo,
            branch,
            dockerfile,
            context,
        } => SourceView::Git {
            repo: repo.as_str().to_owned(),
            branch: branch.as_str().to_owned(),
            dockerfile: dockerfile.as_str().to_owned(),
            context: context.as_str().to_owned(),
            watch_paths: c.watch_paths.globs().to_vec(),
            has_repo_token: c.has_repo_token,
        },
        Source::Upload {
            dockerfile,
            context,
        } => SourceView::Upload {
            dockerfile: dockerfile.as_str().to_owned(),
            context: context.as_str().to_owned(),
            archive: app.archive.as_ref().map(archive),
            pending_upload: app.upload.as_ref().map(|u| PendingUploadView {
                path: u.path.clone(),
                size: u.size,
                expires_at: u.expires_at.clone(),
            }),
        },
    };
    AppView {
        id: app.id.to_string(),
        name: app.name.clone(),
        source,
        port: c.port,
        cpu: f64::from(c.millicpu) / 1000.0,
        memory: c.memory_mb,
        hostname: app.hostname.clone(),
        domain: c.domain.as_ref().map(|d| d.as_str().to_owned()),
        domain_url: app.domain_url(),
        read_only: c.read_only,
        env: c.env.clone(),
        secret_names: c.secret_names.clone(),
        status: app_status(app, latest),
        url: app.url.clone(),
        webhook: webhook(base, app, webhook_secret),
        latest_deployment_id: app.latest_deployment_id.as_ref().map(ToString::to_string),
        live_deployment_id: app.live_deployment_id.as_ref().map(ToString::to_string),
        created_at: app.created_at.clone(),
        updated_at: app.updated_at.clone(),
        deployments: recent.map(|r| r.iter().map(deployment).collect()),
    }
}
