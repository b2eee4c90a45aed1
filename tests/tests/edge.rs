//! The edge, end to end: every app at a hostname that survives deploys,
//! redeploys and runner restarts; the switch to a new version with no failed
//! request; any runner's edge serving any app; custom domains held by one
//! app; on-demand TLS asked of the route table; HTTPS with the local CA;
//! 404 for an unknown host and 503 for an app with no live container.

use std::time::{Duration, Instant};

use slipway_e2e::*;

fn deploy_body(name: &str, repo: &str) -> Value {
    json!({"name": name, "repo": repo, "port": 8080})
}

async fn hostname(api: &Api, app: &str) -> String {
    api.app(app).await.hostname
}

#[tokio::test]
async fn an_apps_url_is_its_hostname_and_survives_commits_redeploys_and_runner_restarts() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("stable", &files(&site("v1")));
    let runner = Runner::start(&api.res, &[]);
    let answer: Queued = api
        .expect(
            202,
            "POST",
            "/deploy",
            Some(deploy_body("stable", &git.url("stable"))),
        )
        .await;
    let app = answer.app_id.clone();
    let d = api.settle(&answer.deployment_id).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");

    let shown = api.app(&app).await;
    let host = shown.hostname;
    let url = shown.url;
    let label = host
        .strip_suffix(".localhost")
        .expect("under the apps domain");
    let suffix = label
        .strip_prefix("stable-")
        .expect("starts with the app's name");
    assert_eq!(suffix.len(), 6);
    assert!(
        app.ends_with(suffix),
        "ends with its id's end: {host} {app}"
    );
    assert_eq!(url, format!("http://{host}:8088"));
    assert_eq!(answer.url, url, "the deploy answer gives it at once");
    assert_eq!(
        runner.edge.serves(&host, "/", "v1").await.as_deref(),
        Some("v1")
    );

    // A new commit goes live at the same URL.
    git.commit("stable", &files(&site("v2")));
    let d = api.settle(&api.deploy_app(&app).await).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    assert_eq!(api.app(&app).await.url, url);
    assert_eq!(
        runner.edge.serves(&host, "/", "v2").await.as_deref(),
        Some("v2")
    );

    // So does a redeploy.
    let again: Queued = api
        .expect(202, "POST", &format!("/apps/{app}/redeploy"), None)
        .await;
    assert_eq!(again.url, url);
    let d = api.settle(&again.deployment_id).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    assert_eq!(
        runner.edge.serves(&host, "/", "v2").await.as_deref(),
        Some("v2")
    );

    // The runner dies and comes back on a fresh edge with nothing loaded:
    // it rebuilds the edge's routes from the table.
    let id = runner.id.clone();
    drop(runner.crash().await);
    let fresh = Edge::start(&format!("{id}-fresh"));
    let runner = Runner::start_on(&api.res, fresh, &id, &[]);
    assert_eq!(
        runner.edge.wait_for(&host, "v2", 10).await,
        Some((200, "v2".to_owned()))
    );
    assert_eq!(api.app(&app).await.url, url);
}

/// What a client saw of one request through the edge.
#[derive(Debug, PartialEq)]
enum Seen {
    Body(String),
    Failed(String),
}

#[tokio::test]
async fn a_new_version_goes_live_with_no_failed_request_and_the_old_one_never_answers_again() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("steady", &files(&site("old")));
    // Two build hosts: whichever builds the new version, one edge switches
    // at once and the other only after its next poll, while the replaced
    // container still answers. It is killed the moment it is stopped, so
    // only the drain time keeps it answering.
    let now = [("SLIPWAY_STOP_GRACE_SECONDS", "0")];
    let a = Runner::start(&api.res, &now);
    let b = Runner::start(&api.res, &now);
    let (app, first) = api.deploy(deploy_body("steady", &git.url("steady"))).await;
    assert_eq!(api.settle(&first).await.status, DeploymentStatus::Running);
    let host = hostname(&api, &app).await;
    for edge in [&a.edge, &b.edge] {
        assert_eq!(
            edge.wait_for(&host, "old", 10).await,
            Some((200, "old".into()))
        );
    }
    let ports = [a.edge.http, b.edge.http];

    // At most 50 requests a second, alternating between the two edges, each
    // on a new connection, for at most 90 s; it stops by itself once the new
    // version has answered 50 times.
    let client = tokio::spawn(async move {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let mut seen: [Vec<Seen>; 2] = [Vec::new(), Vec::new()];
        let mut new_answers = 0;
        let deadline = Instant::now() + Duration::from_secs(90);
        for i in 0.. {
            if new_answers >= 50 || Instant::now() >= deadline {
                break;
            }
            let sent = Instant::now();
            let answer = http
                .get(format!("http://127.0.0.1:{}/", ports[i % 2]))
                .header(reqwest::header::HOST, &host)
                .send()
                .await;
            let one = match answer {
                Ok(r) if r.status() == 200 => Seen::Body(r.text().await.unwrap_or_default()),
                Ok(r) => Seen::Failed(format!("status {}", r.status())),
                Err(e) => Seen::Failed(format!("{}", slipway_core::error_chain::Chain(&e))),
            };
            if one == Seen::Body("new".into()) {
                new_answers += 1;
            }
            seen[i % 2].push(one);
            tokio::time::sleep(Duration::from_millis(20).saturating_sub(sent.elapsed())).await;
        }
        seen
    });

    tokio::time::sleep(Duration::from_millis(500)).await;
    git.commit("steady", &files(&site("new")));
    let second = api.deploy_app(&app).await;
    assert_eq!(api.settle(&second).await.status, DeploymentStatus::Running);
    let seen = client.await.unwrap();

    for (edge, seen) in ["a", "b"].iter().zip(&seen) {
        let failed: Vec<&Seen> = seen
            .iter()
            .filter(|s| matches!(s, Seen::Failed(_)))
            .collect();
        assert!(
            failed.is_empty(),
            "edge {edge}: {} of {} requests failed: {failed:?}",
            failed.len(),
            seen.len()
        );
        let first_new = seen
            .iter()
            .position(|s| *s == Seen::Body("new".into()))
            .unwrap_or_else(|| panic!("edge {edge}: the new version answered"));
        assert!(first_new > 0, "edge {edge}: the old version answered first");
        assert!(
            seen[first_new..]
                .iter()
                .all(|s| *s == Seen::Body("new".into())),
            "edge {edge}: once the new version answered, the old one never did again: {:?}",
            &seen[first_new..]
        );
        assert!(seen[..first_new]
            .iter()
            .all(|s| *s == Seen::Body("old".into())));
    }
    assert_eq!(
        wait_containers(&app, 1).await.len(),
        1,
        "the old container is stopped"
    );
}

#[tokio::test]
async fn any_runners_edge_serves_an_app_and_its_new_version_within_3_s() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("shared", &files(&site("from a")));
    let a = Runner::start(&api.res, &[]);
    let (app, first) = api.deploy(deploy_body("shared", &git.url("shared"))).await;
    let d = api.settle(&first).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    let host = hostname(&api, &app).await;

    // Runner B, with its own edge, serves what A deployed.
    let b = Runner::start(&api.res, &[]);
    assert_eq!(
        b.edge.wait_for(&host, "from a", 10).await,
        Some((200, "from a".to_owned()))
    );

    git.commit("shared", &files(&site("next")));
    let second = api.deploy_app(&app).await;
    let d = api.settle(&second).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    let live = Instant::now();
    for edge in [&a.edge, &b.edge] {
        let left = Duration::from_secs(3).saturating_sub(live.elapsed());
        let deadline = Instant::now() + left;
        let mut got = edge.get(&host, "/").await;
        while got.as_ref().map(|(_, body)| body.as_str()) != Some("next")
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
            got = edge.get(&host, "/").await;
        }
        assert_eq!(
            got,
            Some((200, "next".to_owned())),
            "both edges serve the new version within 3 s"
        );
    }
}

async fn ask(edge: &Edge, domain: &str) -> u16 {
    reqwest::get(format!("http://127.0.0.1:{}/ask?domain={domain}", edge.ask))
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_custom_domain_routes_for_one_app_only_and_is_freed_with_it() {
    let api = Api::start().await;
    let bob = api.mint_token("bob").await;
    let git = GitServer::start(None).await;
    git.commit("shop", &files(&site("alice's shop")));
    let runner = Runner::start(&api.res, &[]);
    let mut body = deploy_body("shop", &git.url("shop"));
    body["domain"] = json!("Shop.Example.TEST");
    let (app, dep) = api.deploy(body).await;
    assert_eq!(api.settle(&dep).await.status, DeploymentStatus::Running);
    let shown = api.app(&app).await;
    assert_eq!(shown.domain.as_deref(), Some("shop.example.test"));
    assert_eq!(
        shown.domain_url.as_deref(),
        Some("http://shop.example.test:8088")
    );
    let host = shown.hostname;
    assert_eq!(
        runner
            .edge
            .serves("shop.example.test", "/", "alice's shop")
            .await
            .as_deref(),
        Some("alice's shop")
    );
    assert_eq!(ask(&runner.edge, "shop.example.test").await, 200);
    assert_eq!(ask(&runner.edge, &host).await, 200);
    assert_eq!(ask(&runner.edge, "other.example.test").await, 404);
    assert_eq!(ask(&runner.edge, "example.test").await, 404);

    // Another owner asking for it: 409 naming the field, nothing written.
    let before = api.written().await.len();
    let mut theirs = deploy_body("store", &git.url("shop"));
    theirs["domain"] = json!("shop.example.test");
    let e = api
        .refused_as(&bob, 409, "POST", "/deploy", Some(theirs.clone()))
        .await;
    assert_eq!(e.code, "domain_taken");
    assert_eq!(e.field.as_deref(), Some("domain"));
    assert!(e.message.contains("domain"));
    assert_eq!(api.written().await.len(), before, "nothing was written");
    let listed: AppList = api.expect_as(&bob, 200, "GET", "/apps", None).await;
    assert!(listed.apps.is_empty());
    // Nor may an upload app of another owner take it.
    let e = api
        .refused_as(
            &bob,
            409,
            "POST",
            "/apps",
            Some(json!({"name": "up", "domain": "shop.example.test"})),
        )
        .await;
    assert_eq!(e.field.as_deref(), Some("domain"));

    // Deleting the app frees the domain: its route is gone (404) and the
    // edge asks no certificate for it; the other owner may have it now.
    let (status, _) = api.call("DELETE", &format!("/apps/{app}"), None).await;
    assert_eq!(status, 202);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = runner.edge.get("shop.example.test", "/").await;
    while got.as_ref().map(|(s, _)| *s) != Some(404) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        got = runner.edge.get("shop.example.test", "/").await;
    }
    let (status, page) = got.unwrap();
    assert_eq!(status, 404);
    assert!(page.contains("No app here"), "{page}");
    assert_eq!(ask(&runner.edge, "shop.example.test").await, 404);
    let (status, e) = api.call_as(&bob, "POST", "/deploy", Some(theirs)).await;
    assert_eq!(status, 202, "{e}");
}

#[tokio::test]
async fn changing_the_domain_moves_the_route() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("moving", &files(&site("moving")));
    let runner = Runner::start(&api.res, &[]);
    let mut body = deploy_body("moving", &git.url("moving"));
    body["domain"] = json!("old.example.test");
    let (app, dep) = api.deploy(body.clone()).await;
    assert_eq!(api.settle(&dep).await.status, DeploymentStatus::Running);
    assert_eq!(
        runner
            .edge
            .serves("old.example.test", "/", "moving")
            .await
            .as_deref(),
        Some("moving")
    );

    body["domain"] = json!("new.example.test");
    let (_, dep) = api.deploy(body).await;
    assert_eq!(api.settle(&dep).await.status, DeploymentStatus::Running);
    assert_eq!(
        runner
            .edge
            .serves("new.example.test", "/", "moving")
            .await
            .as_deref(),
        Some("moving")
    );
    assert_eq!(
        runner
            .edge
            .get("old.example.test", "/")
            .await
            .map(|(s, _)| s),
        Some(404)
    );
    assert_eq!(ask(&runner.edge, "old.example.test").await, 404);
    assert_eq!(
        api.app(&app).await.domain.as_deref(),
        Some("new.example.test")
    );
}

#[tokio::test]
async fn every_domain_that_must_never_route_is_refused_naming_the_field() {
    let api = Api::start().await;
    let long_label = format!("{}.example.com", "a".repeat(64));
    let long_name = format!(
        "{}.{}.comm",
        "a".repeat(63),
        vec!["a".repeat(61); 3].join(".")
    );
    for bad in [
        "10.0.0.1",
        "169.254.169.254",
        "[::1]",
        "localhost",
        "app.localhost",
        "*.example.com",
        "x-1.localhost",
        long_label.as_str(),
        long_name.as_str(),
        "bücher.example",
        "a_b.example.com",
        "-a.example.com",
    ] {
        let mut body = deploy_body("web", "https://example.com/r.git");
        body["domain"] = json!(bad);
        let e = api.refused(400, "POST", "/deploy", Some(body)).await;
        assert_eq!(e.field.as_deref(), Some("domain"), "{bad}: {e:?}");
        let e = api
            .refused(
                400,
                "POST",
                "/apps",
                Some(json!({"name": "up", "domain": bad})),
            )
            .await;
        assert_eq!(e.field.as_deref(), Some("domain"), "{bad}: {e:?}");
    }
    assert!(api.written().await.is_empty(), "nothing was written");
}

#[tokio::test]
async fn https_with_the_local_ca_404_for_unknown_hosts_and_503_without_a_live_container() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("secure", &files(&site("over tls")));
    let dockerfile = format!("FROM {}\nRUN false\n", env("SLIPWAY_BASE_IMAGE"));
    git.commit("broken", &[("Dockerfile", &dockerfile)]);
    let runner = Runner::start(&api.res, &[]);
    let (app, dep) = api.deploy(deploy_body("secure", &git.url("secure"))).await;
    assert_eq!(api.settle(&dep).await.status, DeploymentStatus::Running);
    let host = hostname(&api, &app).await;

    let port = runner.edge.https;
    let out = sh(
        std::path::Path::new("/"),
        "curl",
        &[
            "-sS",
            "--cacert",
            runner.edge.ca().to_str().unwrap(),
            "--resolve",
            &format!("{host}:{port}:127.0.0.1"),
            &format!("https://{host}:{port}/"),
        ],
    );
    assert_eq!(out, "over tls");
    // No certificate for a name no app holds: the handshake is refused.
    let refused = std::process::Command::new("curl")
        .args([
            "-sS",
            "--cacert",
            runner.edge.ca().to_str().unwrap(),
            "--resolve",
            &format!("nobody.localhost:{port}:127.0.0.1"),
            &format!("https://nobody.localhost:{port}/"),
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());

    let (status, page) = runner.edge.get("nobody.localhost", "/").await.unwrap();
    assert_eq!(status, 404);
    assert!(page.contains("No app here"), "{page}");

    let (broken, dep) = api.deploy(deploy_body("broken", &git.url("broken"))).await;
    assert_eq!(api.settle(&dep).await.status, DeploymentStatus::Failed);
    let broken_host = hostname(&api, &broken).await;
    let (status, page) = runner.edge.get(&broken_host, "/").await.unwrap();
    assert_eq!(status, 503);
    assert!(page.contains("not running"), "{page}");
    assert!(!page.contains("over tls"), "never another app's content");
}
