//! The JSON shapes clients rely on. Built field by field from the stored
//! items, so a sealed value or a new internal attribute never leaks by
//! accident.

use serde_json::{json, Value};
use slipway_core::model::{app_status, App, Archive, Deployment, Source};

/// An app's GitHub webhook; `null` for an upload app, which has none.
pub fn webhook(base: &str, app: &App, secret: Option<&str>) -> Value {
    if app.config.source.is_upload() {
        return Value::Null;
    }
    let mut hook = json!({
        "url": format!("{base}/webhooks/github/{}", app.id),
        "contentType": "application/json",
        "events": ["push"],
    });
    if let Some(secret) = secret {
        hook["secret"] = secret.into();
    }
    hook
}

/// `POST /deploy`, `POST /apps/{id}/deploy`: 202.
pub fn queued(
    base: &str,
    app: &App,
    deployment: &Deployment,
    webhook_secret: Option<&str>,
) -> Value {
    json!({
        "appId": app.id,
        "deploymentId": deployment.id,
        "status": deployment.status,
        "url": app.url,
        "webhook": webhook(base, app, webhook_secret),
    })
}

pub fn archive(a: &Archive) -> Value {
    json!({"path": a.path, "size": a.size, "uploadedAt": a.uploaded_at})
}

pub fn deployment(d: &Deployment) -> Value {
    json!({
        "id": d.id,
        "appId": d.app_id,
        "status": d.status,
        "trigger": d.trigger,
        "commit": d.commit,
        "pushedCommit": d.pushed_commit,
        "archive": d.archive.as_ref().map(archive),
        "cacheHit": d.cache_hit,
        "error": d.error,
        "createdAt": d.created_at,
        "updatedAt": d.updated_at,
        "cancelRequested": d.cancel_requested,
        "attempt": d.attempt,
        "upstream": d.upstream,
        "phases": d.phases,
    })
}

/// One app as `GET /apps/{id}` shows it, with its recent deployments when
/// given. The webhook secret is shown by the deploy routes only, whose
/// function may decrypt; this one may not.
pub fn app(
    base: &str,
    app: &App,
    latest: Option<&Deployment>,
    recent: Option<&[Deployment]>,
) -> Value {
    let c = &app.config;
    let source = match &c.source {
        Source::Git {
            repo,
            branch,
            dockerfile,
            context,
        } => json!({
            "type": "git",
            "repo": repo,
            "branch": branch,
            "dockerfile": dockerfile,
            "context": context,
            "watchPaths": c.watch_paths.globs(),
            "hasRepoToken": c.has_repo_token,
        }),
        Source::Upload {
            dockerfile,
            context,
        } => json!({
            "type": "upload",
            "dockerfile": dockerfile,
            "context": context,
            "archive": app.archive.as_ref().map(archive),
            "pendingUpload": app.upload.as_ref().map(|u| json!({
                "path": u.path,
                "size": u.size,
                "expiresAt": u.expires_at,
            })),
        }),
    };
    let mut view = json!({
        "id": app.id,
        "name": app.name,
        "source": source,
        "port": c.port,
        "cpu": f64::from(c.millicpu) / 1000.0,
        "memory": c.memory_mb,
        "hostname": app.hostname,
        "domain": c.domain,
        "domainUrl": app.domain_url(),
        "readOnly": c.read_only,
        "env": c.env,
        "secretNames": c.secret_names,
        "status": app_status(app, latest),
        "url": app.url,
        "webhook": webhook(base, app, None),
        "latestDeploymentId": app.latest_deployment_id,
        "liveDeploymentId": app.live_deployment_id,
        "createdAt": app.created_at,
        "updatedAt": app.updated_at,
    });
    if let Some(recent) = recent {
        view["deployments"] = recent.iter().map(deployment).collect();
    }
    view
}
