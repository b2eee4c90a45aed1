//! The dashboard: static assets (built from `web/`) served from the API's
//! own origin with no bearer, since they hold no data; the page then calls
//! the same JSON API with the token the user signs in with.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

include!(concat!(env!("OUT_DIR"), "/dashboard_assets.rs"));

/// Shown when the API was built without `web/dist`.
const NOT_BUILT: &str = "<!doctype html><title>Slipway</title><p>The dashboard is not built into this \
binary: run <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code> (make up does), then rebuild.</p>";

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

fn asset(name: &str) -> Option<&'static [u8]> {
    ASSETS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

/// Nothing but this origin (and the bucket's, for the upload PUT) may be
/// reached by the page; no inline script, no framing.
fn policy(upload_origin: &str) -> HeaderValue {
    let csp = format!(
        "default-src 'self'; connect-src 'self' {upload_origin}; img-src 'self' data:; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    );
    HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static("default-src 'self'"))
}

fn serve(state: &AppState, name: &str, body: &'static [u8]) -> Response {
    let mut resp = (
        [
            (header::CONTENT_TYPE, content_type(name)),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response();
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        policy(&state.upload_origin),
    );
    resp
}

/// `GET /`: the dashboard's page.
pub async fn index(State(state): State<AppState>) -> Response {
    match asset("index.html") {
        Some(body) => serve(&state, "index.html", body),
        None => serve(&state, "index.html", NOT_BUILT.as_bytes()),
    }
}

/// `GET /assets/{file}`: its script and stylesheet.
pub async fn file(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match asset(&name).filter(|_| name != "index.html") {
        Some(body) => serve(&state, &name, body),
        None => {
            let mut resp = ApiError::not_found("asset").into_response();
            *resp.status_mut() = StatusCode::NOT_FOUND;
            resp
        }
    }
}
