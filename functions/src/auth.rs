//! Who is calling. API Gateway runs the authorizer Lambda and passes its
//! verdict in the request context; `local-api` runs [`authorize`] as a
//! middleware that does the same. Handlers only see the [`Caller`].

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lambda_http::request::RequestContext;
use slipway_core::api_token;
use slipway_core::ids::Owner;
use slipway_core::store::Store;

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated owner of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub Owner);

/// The owner a bearer token belongs to, or why not.
pub async fn owner_for_header(store: &Store, header: Option<&str>) -> Result<Owner, ApiError> {
    let token = header
        .and_then(api_token::from_authorization)
        .ok_or_else(ApiError::unauthorized)?;
    store
        .owner_for_token(token)
        .await?
        .ok_or_else(ApiError::unauthorized)
}

/// `local-api`'s stand-in for API Gateway's TOKEN authorizer.
pub async fn authorize(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match owner_for_header(&state.store, header).await {
        Ok(owner) => {
            req.extensions_mut().insert(Caller(owner));
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        if let Some(RequestContext::ApiGatewayV1(ctx)) = parts.extensions.get::<RequestContext>() {
            if let Some(owner) = ctx.authorizer.fields.get("owner").and_then(|v| v.as_str()) {
                return Ok(Caller(Owner::new(owner)));
            }
        }
        Err(ApiError::unauthorized())
    }
}

/// The base URL users reach this API at: configured, or on Lambda the
/// request's domain and stage.
pub struct PublicBase(pub String);

impl FromRequestParts<AppState> for PublicBase {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(base) = &state.config.public_api_url {
            return Ok(Self(base.clone()));
        }
        if let Some(RequestContext::ApiGatewayV1(ctx)) = parts.extensions.get::<RequestContext>() {
            if let Some(domain) = &ctx.domain_name {
                let stage = ctx.stage.as_deref().unwrap_or_default();
                return Ok(Self(
                    format!("https://{domain}/{stage}")
                        .trim_end_matches('/')
                        .to_owned(),
                ));
            }
        }
        let host = parts
            .headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        Ok(Self(format!("http://{host}")))
    }
}
