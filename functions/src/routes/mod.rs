//! The handlers of the HTTP API, one module per group of routes; `router`
//! assembles them as the Lambda functions serve them.

pub mod apps;
pub mod deploy;
pub mod logs;
pub mod settings;
pub mod upload;
pub mod webhook;
pub mod webhook_secret;

/// An unknown path gets the same error shape as everything else.
pub async fn not_found() -> crate::error::ApiError {
    crate::error::ApiError::not_found("route")
}

/// So does a known path with the wrong method.
pub async fn wrong_method() -> crate::error::ApiError {
    crate::error::ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}
