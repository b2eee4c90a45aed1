//! Upload apps: `POST /apps` creates one, `POST /apps/{id}/source` hands out
//! a presigned URL the archive is PUT to, straight into the bucket (a Lambda
//! cannot take 500 MB bodies). `POST /apps/{id}/deploy` then builds it.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use slipway_core::api::{AppView, UploadTicket};
use slipway_core::deploy_request::UploadAppRequest;
use slipway_core::error_chain::BoxError;
use slipway_core::ids::{self, AppId};
use slipway_core::model::{App, AppConfig, Credentials, PendingUpload};
use slipway_core::store::StoreError;
use slipway_core::upload::{archive_key, UploadRequest, MAX_ARCHIVE_BYTES, UPLOAD_URL_SECONDS};

use crate::auth::{Caller, PublicBase};
use crate::domains;
use crate::error::ApiError;
use crate::path_ids::AppPath;
use crate::sources;
use crate::state::AppState;
use crate::views;

/// `POST /apps`: 201 with the new app, which has no source yet.
#[utoipa::path(
    post, path = "/apps", tag = "uploads",
    request_body = slipway_core::api::UploadAppBody,
    responses(
        (status = 201, description = "The upload app, with no source yet", body = AppView),
        (status = 400, description = "A field is invalid (`field` names it), or the body is not a JSON object", body = slipway_core::api::ErrorBody),
        (status = 409, description = "You have an app of that name, or the domain is taken", body = slipway_core::api::ErrorBody),
        (status = 413, description = "The body is over 1 MiB", body = slipway_core::api::ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(owner): Caller,
    PublicBase(base): PublicBase,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<AppView>), ApiError> {
    let req = UploadAppRequest::parse(&body?, &state.config.rules)?;
    if let Some(existing) = state
        .store
        .app_id_for_name(&owner, req.name.as_str())
        .await?
    {
        return Err(name_taken(req.name.as_str(), &existing));
    }
    let id = AppId::new();
    let credentials = Credentials {
        repo_token: None,
        secrets: req.secrets.clone(),
    };
    let config = AppConfig::for_upload(
        &req,
        state.envelope.seal_credentials(&id, &credentials).await?,
    );
    config.check_size()?;
    domains::check_free(&state, &config, None).await?;
    // An upload app has no webhook, so no webhook secret.
    let app = App::new(
        id,
        &owner,
        req.name.as_str(),
        config,
        String::new(),
        &state.config.rules.apps,
    );
    match state.store.create_app(&app, None).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            domains::check_free(&state, &app.config, None).await?;
            let existing = state
                .store
                .app_id_for_name(&owner, req.name.as_str())
                .await?;
            return Err(name_taken(
                req.name.as_str(),
                existing.as_deref().unwrap_or_default(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(app_id = %app.id, "upload app created");
    Ok((
        StatusCode::CREATED,
        Json(views::app(&base, &app, None, Some(&[]), None)),
    ))
}

fn name_taken(name: &str, id: &str) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::CONFLICT,
        "name_taken",
        format!(
            "you already have an app named {name} ({id}); choose another name or deploy that one"
        ),
    );
    e.field = Some("name".into());
    e
}

/// `POST /apps/{id}/source`: a PUT URL for the next archive, valid 15
/// minutes, with the declared size signed into it.
#[utoipa::path(
    post, path = "/apps/{id}/source", tag = "uploads", params(("id" = String, Path, description = "The app's id")),
    request_body = slipway_core::api::SourceBody,
    responses(
        (status = 200, description = "Where to PUT the archive, with which headers, until when", body = UploadTicket),
        (status = 400, description = "The format or size is invalid", body = slipway_core::api::ErrorBody),
        (status = 404, description = "No such app", body = slipway_core::api::ErrorBody),
        (status = 409, description = "A git app, which deploys from its repo", body = slipway_core::api::ErrorBody),
        (status = 413, description = "The archive is over 500 MB, or the body over 1 MiB", body = slipway_core::api::ErrorBody),
    ),
)]
pub async fn source(
    State(state): State<AppState>,
    Caller(owner): Caller,
    AppPath(id): AppPath,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<UploadTicket>, ApiError> {
    let req = UploadRequest::parse(&body?)?;
    let app = state
        .store
        .get_owned_app(&owner, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("app"))?;
    if !app.config.source.is_upload() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "git_app",
            format!(
                "app {} deploys from its repo; push to it or POST /apps/{}/deploy",
                app.name, app.id
            ),
        ));
    }
    let key = archive_key(&app.id, ids::epoch_millis(), req.format);
    let expires = Duration::from_secs(UPLOAD_URL_SECONDS);
    let presigned = presign_put(&state.s3, &state.config.bucket, &key, req, expires)
        .await
        .map_err(|e| ApiError::internal("making the upload URL", &*e))?;
    let expires_at = ids::rfc3339(std::time::SystemTime::now() + expires);
    let pending = PendingUpload {
        path: key.clone(),
        format: req.format,
        size: req.size,
        expires_at: expires_at.clone(),
    };
    let replaced = state
        .store
        .set_pending_upload(&app.id, &pending)
        .await
        .map_err(|e| match e {
            StoreError::Conflict => ApiError::not_found("app"),
            other => other.into(),
        })?;
    if let Some(old) =
        replaced.filter(|old| Some(&old.path) != app.archive.as_ref().map(|a| &a.path))
    {
        // An upload URL handed out and never deployed: its object goes.
        sources::delete(&state, &app.id, &old.path).await;
    }
    Ok(Json(UploadTicket {
        upload_url: presigned.uri().to_owned(),
        method: "PUT".into(),
        headers: presigned
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        expires_at,
        max_bytes: MAX_ARCHIVE_BYTES,
        source_archive_path: key,
    }))
}

/// A PUT URL for `key` that S3 honours only with the declared size (and
/// content type): both are signed into it.
async fn presign_put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    req: UploadRequest,
    expires: Duration,
) -> Result<aws_sdk_s3::presigning::PresignedRequest, BoxError> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_length(req.size as i64)
        .content_type(req.format.content_type())
        .presigned(aws_sdk_s3::presigning::PresigningConfig::expires_in(
            expires,
        )?)
        .await
        .map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_core::upload::ArchiveFormat;

    #[tokio::test]
    async fn the_upload_url_signs_the_declared_size() {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            ))
            .build();
        let s3 = aws_sdk_s3::Client::from_conf(config);
        let req = UploadRequest {
            format: ArchiveFormat::Zip,
            size: 1234,
        };
        let url = presign_put(&s3, "b", "sources/a/1.zip", req, Duration::from_secs(900))
            .await
            .unwrap();
        assert_eq!(url.method(), "PUT");
        let uri = url.uri();
        let signed = uri
            .split('&')
            .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
            .unwrap();
        assert!(signed.split("%3B").any(|h| h == "content-length"), "{uri}");
        assert!(uri.contains("X-Amz-Expires=900"), "{uri}");
        let headers: Vec<(&str, &str)> = url.headers().collect();
        assert!(headers.contains(&("content-length", "1234")), "{headers:?}");
    }
}
