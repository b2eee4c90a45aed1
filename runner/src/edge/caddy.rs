//! The edge's whole Caddy configuration, made from the route table, and its
//! loading through Caddy's admin API (Caddy compares it with the running one
//! and reloads only on a difference, without dropping connections).

use serde_json::{json, Value};
use slipway_core::store::Route;

use crate::config::{EdgeConfig, EdgeTls};

const HTML: &str = "text/html; charset=utf-8";

const NOT_FOUND: &str = "<!doctype html><title>No app here · Slipway</title>\
<body style=\"font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto\">\
<h1>No app here</h1><p>Slipway serves no app at this address. \
Check the URL, or the app's domain setting.</p></body>\n";

const UNAVAILABLE: &str = "<!doctype html><title>App unavailable · Slipway</title>\
<body style=\"font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto\">\
<h1>This app is not running</h1><p>It has no running version right now: \
its deployment may have failed, or it is being deleted. Its owner can see \
why in Slipway.</p></body>\n";

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the edge's admin API did not answer")]
    Unreachable(#[from] reqwest::Error),
    #[error("the edge refused its configuration ({status}): {body}")]
    Refused {
        status: reqwest::StatusCode,
        body: String,
    },
}

/// Replaces the edge's configuration by `config`.
pub async fn load(http: &reqwest::Client, admin: &str, config: &Value) -> Result<(), LoadError> {
    let answer = http
        .post(format!("http://{admin}/load"))
        .json(config)
        .send()
        .await?;
    let status = answer.status();
    if !status.is_success() {
        let body = answer.text().await.unwrap_or_default();
        return Err(LoadError::Refused { status, body });
    }
    Ok(())
}

fn page(status: u16, body: &str) -> Value {
    json!({
        "handler": "static_response",
        "status_code": status,
        "headers": {"Content-Type": [HTML], "Cache-Control": ["no-store"]},
        "body": body,
    })
}

/// What answers for one app: its live container, or 503 while it has none.
fn serve(route: &Route) -> Value {
    match &route.upstream {
        Some(upstream) => json!({
            "handler": "reverse_proxy",
            "upstreams": [{"dial": upstream}],
        }),
        None => page(503, UNAVAILABLE),
    }
}

fn matched(route: &Route, handler: Value) -> Value {
    json!({
        "match": [{"host": route.hosts}],
        "handle": [handler],
        "terminal": true,
    })
}

/// The port part of a listen address (`":443"`, `"127.0.0.1:8443"`).
fn port_of(listen: &str) -> Option<&str> {
    listen.rsplit_once(':').map(|(_, port)| port)
}

/// Caddy's configuration for `routes`: every app's hostnames to its live
/// container over HTTP and HTTPS (or HTTP redirected), 404 for any other
/// host, 503 for an app with no live container or one that does not answer.
pub fn config(edge: &EdgeConfig, routes: &[Route]) -> Value {
    let routes: Vec<&Route> = routes.iter().filter(|r| !r.hosts.is_empty()).collect();
    let not_found = json!({"handle": [page(404, NOT_FOUND)]});
    let unavailable = json!({"routes": [{"handle": [page(503, UNAVAILABLE)]}]});
    let https_port = match port_of(&edge.https_listen) {
        Some("443") | None => String::new(),
        Some(port) => format!(":{port}"),
    };
    let redirect = json!({
        "handler": "static_response",
        "status_code": 308,
        "headers": {"Location": [format!("https://{{http.request.host}}{https_port}{{http.request.uri}}")]},
    });
    let mut plain: Vec<Value> = routes
        .iter()
        .map(|r| {
            let handler = if edge.redirect_http {
                redirect.clone()
            } else {
                serve(r)
            };
            matched(r, handler)
        })
        .collect();
    plain.push(not_found.clone());
    let mut secure: Vec<Value> = routes.iter().map(|r| matched(r, serve(r))).collect();
    secure.push(not_found);
    let issuer = match &edge.tls {
        EdgeTls::Internal => json!({"module": "internal"}),
        EdgeTls::Acme { email: Some(email) } => json!({"module": "acme", "email": email}),
        EdgeTls::Acme { email: None } => json!({"module": "acme"}),
    };
    json!({
        "admin": {"listen": edge.admin},
        "apps": {
            "http": {
                "servers": {
                    "plain": {
                        "listen": [edge.http_listen],
                        "automatic_https": {"disable": true},
                        "routes": plain,
                        "errors": unavailable,
                    },
                    "secure": {
                        "listen": [edge.https_listen],
                        "automatic_https": {"disable": true},
                        "tls_connection_policies": [{}],
                        "routes": secure,
                        "errors": unavailable,
                    },
                },
            },
            "tls": {
                "automation": {
                    "policies": [{"issuers": [issuer], "on_demand": true}],
                    "on_demand": {"ask": format!("http://{}/ask", edge.ask_listen)},
                },
            },
            // The local CA signs only this edge's certificates; it is never
            // added to the host's trust store.
            "pki": {"certificate_authorities": {"local": {"install_trust": false}}},
        },
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use slipway_core::ids::{AppId, DeploymentId};

    use super::*;

    fn edge(tls: EdgeTls, redirect_http: bool) -> EdgeConfig {
        EdgeConfig {
            admin: "127.0.0.1:2019".into(),
            http_listen: ":80".into(),
            https_listen: ":443".into(),
            ask_listen: ([127, 0, 0, 1], 2020).into(),
            tls,
            redirect_http,
            poll: Duration::from_secs(1),
            resync: Duration::from_secs(30),
            drain: Duration::from_secs(5),
            stop_grace: Duration::from_secs(10),
        }
    }

    fn routes() -> Vec<Route> {
        vec![
            Route {
                app_id: AppId::new(),
                hosts: vec!["api-1.apps.test".into(), "shop.example.com".into()],
                upstream: Some("10.0.0.5:20001".into()),
                deployment_id: Some(DeploymentId::new()),
            },
            Route {
                app_id: AppId::new(),
                hosts: vec!["new-2.apps.test".into()],
                upstream: None,
                deployment_id: None,
            },
        ]
    }

    #[test]
    fn each_app_is_proxied_to_its_live_container_and_others_get_pages() {
        let c = config(&edge(EdgeTls::Internal, false), &routes());
        for server in ["plain", "secure"] {
            let r = &c["apps"]["http"]["servers"][server]["routes"];
            assert_eq!(r.as_array().unwrap().len(), 3, "{server}");
            assert_eq!(
                r[0]["match"][0]["host"],
                json!(["api-1.apps.test", "shop.example.com"])
            );
            assert_eq!(r[0]["handle"][0]["handler"], "reverse_proxy");
            assert_eq!(r[0]["handle"][0]["upstreams"][0]["dial"], "10.0.0.5:20001");
            assert_eq!(r[1]["handle"][0]["status_code"], 503);
            assert!(r[2].get("match").is_none(), "the last route takes any host");
            assert_eq!(r[2]["handle"][0]["status_code"], 404);
            let errors = &c["apps"]["http"]["servers"][server]["errors"]["routes"][0];
            assert_eq!(errors["handle"][0]["status_code"], 503);
        }
        assert_eq!(c["admin"]["listen"], "127.0.0.1:2019");
        assert_eq!(
            c["apps"]["tls"]["automation"]["on_demand"]["ask"],
            "http://127.0.0.1:2020/ask"
        );
        assert_eq!(
            c["apps"]["tls"]["automation"]["policies"][0]["issuers"][0]["module"],
            "internal"
        );
        assert_eq!(
            c["apps"]["pki"]["certificate_authorities"]["local"]["install_trust"],
            false
        );
    }

    #[test]
    fn production_redirects_http_and_asks_acme() {
        let c = config(
            &edge(
                EdgeTls::Acme {
                    email: Some("ops@example.com".into()),
                },
                true,
            ),
            &routes(),
        );
        let plain = &c["apps"]["http"]["servers"]["plain"]["routes"];
        assert_eq!(plain[0]["handle"][0]["status_code"], 308);
        assert_eq!(
            plain[0]["handle"][0]["headers"]["Location"][0],
            "https://{http.request.host}{http.request.uri}"
        );
        assert_eq!(plain[2]["handle"][0]["status_code"], 404);
        let secure = &c["apps"]["http"]["servers"]["secure"]["routes"];
        assert_eq!(secure[0]["handle"][0]["handler"], "reverse_proxy");
        let issuer = &c["apps"]["tls"]["automation"]["policies"][0];
        assert_eq!(issuer["issuers"][0]["module"], "acme");
        assert_eq!(issuer["issuers"][0]["email"], "ops@example.com");
        assert_eq!(issuer["on_demand"], true);
    }

    #[test]
    fn a_redirect_keeps_a_non_default_https_port() {
        let mut e = edge(EdgeTls::Internal, true);
        e.https_listen = "127.0.0.1:8443".into();
        let c = config(&e, &routes());
        assert_eq!(
            c["apps"]["http"]["servers"]["plain"]["routes"][0]["handle"][0]["headers"]["Location"]
                [0],
            "https://{http.request.host}:8443{http.request.uri}"
        );
    }
}
