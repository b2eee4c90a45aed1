//! API errors: `{"error":{"code","message"}}` (plus `field` when one is at fault).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use slipway_core::api::{ErrorBody, ErrorDetail};
use slipway_core::deploy_request::RequestError;
use slipway_core::envelope::{CredentialsError, EnvelopeError};
use slipway_core::error_chain::Chain;
use slipway_core::fields::FieldError;
use slipway_core::store::StoreError;
use slipway_core::upload::UploadRequestError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send a valid API token as 'Authorization: Bearer <token>'",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )
    }

    /// A concurrent change of the same app kept winning: the caller may
    /// simply send the request again.
    pub fn busy() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "conflict",
            "the app is being changed by another request; try again",
        )
    }

    /// A failure of ours: the details (the whole cause chain) go to the
    /// log, once; the user gets an id-free generic message.
    pub fn internal(context: &str, err: impl std::error::Error) -> Self {
        tracing::error!(error = %Chain(&err), "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{context}; try again"),
        )
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_field",
            message: e.to_string(),
            field: Some(e.field),
        }
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::TooLarge(_) => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                e.to_string(),
            ),
            RequestError::NotJson(_) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_json", e.to_string())
            }
            RequestError::Field(f) => f.into(),
        }
    }
}

impl From<UploadRequestError> for ApiError {
    fn from(e: UploadRequestError) -> Self {
        match e {
            UploadRequestError::TooLarge(_) => Self {
                field: Some("size".into()),
                ..Self::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "archive_too_large",
                    e.to_string(),
                )
            },
            UploadRequestError::Field(f) => f.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::internal("the store failed", e)
    }
}

impl From<CredentialsError> for ApiError {
    fn from(e: CredentialsError) -> Self {
        Self::internal("sealing or opening the app's secrets", e)
    }
}

impl From<EnvelopeError> for ApiError {
    fn from(e: EnvelopeError) -> Self {
        Self::internal("encryption failed", e)
    }
}

impl From<axum::extract::rejection::BytesRejection> for ApiError {
    fn from(e: axum::extract::rejection::BytesRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            RequestError::TooLarge(slipway_core::deploy_request::MAX_BODY_BYTES + 1).into()
        } else {
            Self::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                field: self.field,
            },
        };
        (self.status, Json(body)).into_response()
    }
}
