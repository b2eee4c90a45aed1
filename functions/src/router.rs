//! The HTTP routes, grouped as the Lambda functions that serve them, and
//! all together as `local-api` serves them.

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use slipway_core::deploy_request::MAX_BODY_BYTES;

use crate::routes::{apps, deploy, logs, settings, upload, webhook, webhook_secret};
use crate::state::AppState;

/// Served by the deploy function: may encrypt and decrypt, may send jobs.
pub fn deploy_routes(state: AppState) -> Router {
    finish(deploy_group(), state)
}

/// Served by the upload function: creates upload apps (seals their
/// secrets) and hands out presigned upload URLs.
pub fn upload_routes(state: AppState) -> Router {
    finish(upload_group(), state)
}

/// Served by the apps function: reads and light writes, no decryption;
/// and the API's description, with no bearer.
pub fn apps_routes(state: AppState) -> Router {
    finish(
        apps_group()
            .merge(document_group())
            .merge(dashboard_group()),
        state,
    )
}

/// Served by the webhook function: no bearer, each delivery is signed.
pub fn webhook_routes(state: AppState) -> Router {
    finish(webhook_group(), state)
}

/// The state each function acts with. On AWS every function has a role of
/// its own; `local-api` gives each group of routes the clients of the
/// function that serves it, so each acts with that function's grants only.
pub struct Functions {
    pub authorizer: AppState,
    pub deploy: AppState,
    pub upload: AppState,
    pub apps: AppState,
    pub webhook: AppState,
}

/// Every route as `local-api` serves it: the webhook open, the rest behind
/// the bearer authorizer.
pub fn all_routes(functions: &Functions) -> Router {
    let authorized = deploy_group()
        .with_state(functions.deploy.clone())
        .merge(apps_group().with_state(functions.apps.clone()))
        .merge(upload_group().with_state(functions.upload.clone()))
        .layer(axum::middleware::from_fn_with_state(
            functions.authorizer.clone(),
            crate::auth::authorize,
        ));
    authorized
        .merge(webhook_group().with_state(functions.webhook.clone()))
        .merge(
            document_group()
                .merge(dashboard_group())
                .with_state(functions.apps.clone()),
        )
        .method_not_allowed_fallback(crate::routes::wrong_method)
}

/// The dashboard's page and assets: no bearer, they hold no data.
fn dashboard_group() -> Router<AppState> {
    Router::new()
        .route("/", get(crate::dashboard::index))
        .route("/assets/{file}", get(crate::dashboard::file))
}

fn document_group() -> Router<AppState> {
    Router::new().route("/openapi.json", get(crate::openapi::document))
}

fn deploy_group() -> Router<AppState> {
    Router::new()
        .route("/deploy", post(deploy::deploy))
        .route("/apps/{id}/deploy", post(deploy::deploy_app))
        .route("/apps/{id}/redeploy", post(deploy::redeploy))
        .route("/apps/{id}/rollback", post(deploy::rollback))
        .route("/apps/{id}/webhook/rotate", post(webhook_secret::rotate))
        .route("/apps/{id}", axum::routing::patch(settings::update))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

fn upload_group() -> Router<AppState> {
    Router::new()
        .route("/apps", post(upload::create))
        .route("/apps/{id}/source", post(upload::source))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

fn apps_group() -> Router<AppState> {
    Router::new()
        .route("/apps", get(apps::list))
        .route("/apps/{id}", get(apps::show).delete(apps::delete))
        .route("/apps/{id}/deployments", get(apps::deployments))
        .route("/deployments/{id}", get(apps::show_deployment))
        .route("/deployments/{id}/cancel", post(apps::cancel))
        .route("/deployments/{id}/logs", get(logs::logs))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

fn webhook_group() -> Router<AppState> {
    Router::new()
        .route("/webhooks/github/{id}", post(webhook::github))
        .layer(DefaultBodyLimit::max(
            slipway_core::github::MAX_PAYLOAD_BYTES,
        ))
}

/// A known path with the wrong method answers in the JSON error shape.
fn finish(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .method_not_allowed_fallback(crate::routes::wrong_method)
        .with_state(state)
}
