//! The API's OpenAPI 3.1 description, generated from the shared bodies in
//! `slipway_core::api` and the routes' own annotations. Served at
//! `GET /openapi.json` and checked in at the repository's root.

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Slipway",
        description = "Deploy a Git repo or an uploaded archive with a Dockerfile, and keep it running. \
Every route but the webhook and this document takes `Authorization: Bearer <token>`. \
Errors are `{\"error\":{\"code\",\"message\",\"field\"?}}`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        routes::deploy::deploy,
        routes::deploy::deploy_app,
        routes::deploy::redeploy,
        routes::deploy::rollback,
        routes::upload::create,
        routes::upload::source,
        routes::apps::list,
        routes::apps::show,
        routes::apps::delete,
        routes::apps::deployments,
        routes::apps::show_deployment,
        routes::apps::cancel,
        routes::logs::logs,
        routes::webhook::github,
        routes::webhook_secret::rotate,
        routes::settings::update,
        document,
    ),
    components(schemas(slipway_core::api::ErrorBody)),
    modifiers(&Common),
    security(("bearer" = [])),
    tags(
        (name = "apps", description = "Apps and their configuration"),
        (name = "deployments", description = "Builds and releases, their status and logs"),
        (name = "uploads", description = "Apps built from uploaded source archives"),
        (name = "webhooks", description = "Push-to-deploy from GitHub"),
        (name = "meta", description = "This description"),
    ),
)]
pub struct ApiDoc;

/// The document as served and checked in: pretty JSON with a final newline.
pub fn json() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    text.push('\n');
    text
}

/// `GET /openapi.json`: this API's description; no bearer.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    operation_id = "openapi",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json())
}

/// What every route shares: the security schemes, a 401 for each one that
/// takes the bearer, a 500 for each (a failure of ours, whose details go to
/// the log only).
struct Common;

impl Modify for Common {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token (`slipway-admin mint-token <owner>`)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "github_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Hub-Signature-256",
                "`sha256=` and the hex HMAC-SHA256 of the raw body under the app's webhook secret",
            ))),
        );
        let bearer_default = doc.security.clone();
        for item in doc.paths.paths.values_mut() {
            for op in operations(item) {
                let secured = op.security.as_ref().or(bearer_default.as_ref());
                let takes_bearer = op.security.is_none() && secured.is_some_and(|s| !s.is_empty());
                if takes_bearer {
                    add(op, "401", "No valid bearer token");
                }
                if op.operation_id.as_deref() != Some("openapi") {
                    add(op, "500", "A failure of ours; try again");
                }
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.put.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn add(op: &mut Operation, code: &str, description: &str) {
    let response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    op.responses
        .responses
        .entry(code.to_owned())
        .or_insert(response.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked_in() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.json")
    }

    /// `SLIPWAY_WRITE_OPENAPI=1 cargo test -p slipway-functions openapi`
    /// rewrites the checked-in document after a change of the API.
    #[test]
    fn the_checked_in_document_is_the_generated_one() {
        let generated = json();
        if std::env::var_os("SLIPWAY_WRITE_OPENAPI").is_some() {
            std::fs::write(checked_in(), &generated).unwrap();
        }
        let file = std::fs::read_to_string(checked_in()).unwrap_or_default();
        assert!(
            file == generated,
            "openapi.json differs from what the code generates; run \
             SLIPWAY_WRITE_OPENAPI=1 cargo test -p slipway-functions openapi and commit it"
        );
    }

    /// `Path:` and `Method:` of template.yaml's API events, inline or not
    /// (words of their own: not the stage's `ResourcePath:`, `HttpMethod:`).
    fn template_routes() -> Vec<(String, String)> {
        let template = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"),
        )
        .unwrap();
        let value = |line: &str, key: &str| {
            let (_, rest) = line.split_once(key)?;
            let v = match rest.strip_prefix('"') {
                Some(quoted) => quoted.split('"').next()?,
                None => rest.split([',', ' ']).next()?,
            };
            Some(v.to_owned())
        };
        let mut routes = Vec::new();
        let mut path = None;
        // The dashboard's page and assets are not the JSON API.
        let dashboard = |p: &str| p == "/" || p.starts_with("/assets/");
        for line in template.lines() {
            if let Some(p) = value(line, " Path: ") {
                path = Some(p);
            }
            if let Some(m) = value(line, " Method: ").filter(|_| path.is_some()) {
                let p = path.take().unwrap_or_default();
                if !dashboard(&p) {
                    routes.push((m.to_lowercase(), p));
                }
            }
        }
        routes.sort();
        routes
    }

    #[test]
    fn every_route_described_is_a_route_of_the_template_and_back() {
        let doc: serde_json::Value = serde_json::from_str(&json()).unwrap();
        let mut described: Vec<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |m| (m.clone(), path.clone()))
            })
            .collect();
        described.sort();
        assert_eq!(described, template_routes());
    }

    #[test]
    fn every_route_but_the_webhook_and_the_document_takes_the_bearer() {
        let doc: serde_json::Value = serde_json::from_str(&json()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["security"], serde_json::json!([{"bearer": []}]));
        let mut open = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                match op.get("security") {
                    None => assert!(responses.contains_key("401"), "{method} {path}"),
                    Some(s) => open.push((path.as_str(), method.as_str(), s.clone())),
                }
                for (code, r) in responses {
                    let schema = &r["content"]["application/json"]["schema"];
                    assert!(!schema.is_null(), "{method} {path} {code} has no body");
                }
            }
        }
        open.sort_by(|a, b| a.0.cmp(b.0));
        assert_eq!(
            open,
            [
                ("/openapi.json", "get", serde_json::json!([{}])),
                (
                    "/webhooks/github/{id}",
                    "post",
                    serde_json::json!([{"github_signature": []}])
                ),
            ]
        );
    }
}
