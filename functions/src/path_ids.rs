//! Ids from the request path, parsed once at the door: a string that is not
//! an id this service could have issued names nothing, so it is a 404 (in
//! the API's error shape) without a read.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use slipway_core::ids::{AppId, DeploymentId};

use crate::error::ApiError;

/// `{id}` of an `/apps/{id}…` route.
pub struct AppPath(pub AppId);

/// `{id}` of a `/deployments/{id}…` route.
pub struct DeploymentPath(pub DeploymentId);

async fn path_id<S: Send + Sync, T>(
    parts: &mut Parts,
    state: &S,
    parse: fn(&str) -> Option<T>,
    what: &str,
) -> Result<T, ApiError> {
    let Path(id) = Path::<String>::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::not_found(what))?;
    parse(&id).ok_or_else(|| ApiError::not_found(what))
}

impl<S: Send + Sync> FromRequestParts<S> for AppPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        path_id(parts, state, AppId::parse, "app").await.map(Self)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for DeploymentPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        path_id(parts, state, DeploymentId::parse, "deployment")
            .await
            .map(Self)
    }
}
