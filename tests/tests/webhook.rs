//! Push-to-deploy end to end: signed GitHub-shaped deliveries to the local
//! API, a real runner, Git over HTTP, Docker, the registry and the emulator.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use slipway_e2e::*;

const ZEROS: &str = "0000000000000000000000000000000000000000";

/// Deploys `name` from `repo` and returns (app id, first deployment, webhook secret).
async fn create(api: &Api, body: Value) -> (String, String, String) {
    let resp: Queued = api.expect(202, "POST", "/deploy", Some(body)).await;
    let hook = resp.webhook.unwrap();
    assert_eq!(hook.content_type, "application/json");
    (resp.app_id, resp.deployment_id, hook.secret.unwrap())
}

async fn deployments(api: &Api, app: &str) -> Vec<DeploymentView> {
    api.deployments(app).await
}

/// A delivery's answer that is not an error.
fn hook(status: u16, body: Value) -> (u16, HookAnswer) {
    (status, body_of(body))
}

#[tokio::test]
async fn only_signed_pushes_to_the_branch_queue_once_per_delivery() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let sha = git.commit("app", &files(&site("v1")));
    let repo = git.url("app");
    let (app, first, secret) =
        create(&api, json!({"name": "hooked", "repo": repo, "port": 8080})).await;
    let push = push_payload(&repo, "refs/heads/main", &sha, &["www/index.html"]);
    let headers = |signature: Option<String>| {
        let mut h = vec![
            ("content-type", "application/json".to_owned()),
            ("x-github-event", "push".to_owned()),
            (
                "x-github-delivery",
                "72d3162e-cc78-11e3-81ab-4c9367dc0958".to_owned(),
            ),
        ];
        if let Some(s) = signature {
            h.push(("x-hub-signature-256", s));
        }
        h
    };

    // Refused: nothing may be queued by any of these.
    let wrong_secret = api
        .deliver(
            &app,
            &headers(Some(github_signature("not-the-secret", &push))),
            push.clone(),
        )
        .await;
    assert_eq!(wrong_secret.0, 401, "{}", wrong_secret.1);
    assert_eq!(error_of(wrong_secret.1.clone()).code, "invalid_signature");
    let unsigned = api.deliver(&app, &headers(None), push.clone()).await;
    assert_eq!(unsigned.0, 401, "{}", unsigned.1);
    assert!(error_of(unsigned.1).message.contains("missing"));
    let other_body = push_payload(&repo, "refs/heads/main", &sha, &["other"]);
    let of_other_body = api
        .deliver(
            &app,
            &headers(Some(github_signature(&secret, &other_body))),
            push.clone(),
        )
        .await;
    assert_eq!(of_other_body.0, 401, "{}", of_other_body.1);
    let mut tampered = push.clone();
    let at = tampered.iter().position(|b| *b == b'C').unwrap();
    tampered[at] = b'X';
    let tampered = api
        .deliver(
            &app,
            &headers(Some(github_signature(&secret, &push))),
            tampered,
        )
        .await;
    assert_eq!(tampered.0, 401, "{}", tampered.1);
    let malformed = api
        .deliver(&app, &headers(Some("sha256=zz".into())), push.clone())
        .await;
    assert_eq!(malformed.0, 401, "{}", malformed.1);
    // An unknown app answers exactly like a wrong signature.
    for unknown in [
        slipway_core::ids::AppId::new().to_string(),
        "not-an-id".to_owned(),
    ] {
        let answer = api
            .deliver(
                &unknown,
                &headers(Some(github_signature(&secret, &push))),
                push.clone(),
            )
            .await;
        assert_eq!(answer, wrong_secret, "{unknown}");
    }

    // Verified but nothing to deploy: 200 with the reason.
    let ignored = [
        (
            "push",
            push_payload(&repo, "refs/heads/dev", &sha, &["a"]),
            "dev",
        ),
        (
            "push",
            push_payload(&repo, "refs/tags/v1.0.0", &sha, &["a"]),
            "not a branch",
        ),
        (
            "push",
            push_payload(&repo, "refs/heads/main", ZEROS, &[]),
            "deleted",
        ),
        (
            "issues",
            br#"{"action":"opened","issue":{"number":1}}"#.to_vec(),
            "issues",
        ),
    ];
    for (event, body, reason) in ignored {
        let (status, answer) = api.deliver_signed(&app, &secret, event, body).await;
        assert_eq!(status, 200, "{answer}");
        let answer: HookAnswer = body_of(answer);
        assert_eq!(answer.result, HookResult::Ignored, "{answer:?}");
        assert!(answer.reason.unwrap().contains(reason));
    }
    let ping = json!({"zen": "Keep it logically awesome.", "hook_id": 1, "hook": {"type": "Repository", "events": ["push"]}});
    let (status, pong) = api
        .deliver_signed(&app, &secret, "ping", ping.to_string().into_bytes())
        .await;
    let (status, pong) = hook(status, pong);
    assert_eq!((status, pong.result), (200, HookResult::Pong));
    assert_eq!(pong.app_id.as_deref(), Some(app.as_str()));
    let form = format!("payload={}", String::from_utf8_lossy(&push)).into_bytes();
    let mut form_headers = headers(Some(github_signature(&secret, &form)));
    form_headers[0].1 = "application/x-www-form-urlencoded".into();
    let (status, answer) = api.deliver(&app, &form_headers, form).await;
    assert_eq!(status, 415, "{answer}");
    assert!(error_of(answer).message.contains("application/json"));
    let huge = vec![b' '; 25 * 1024 * 1024 + 1];
    let (status, answer) = api
        .deliver(&app, &headers(Some(github_signature(&secret, &huge))), huge)
        .await;
    assert_eq!(status, 413, "past GitHub's 25 MB cap: {answer}");
    assert_eq!(error_of(answer).code, "payload_too_large");
    assert_eq!(deployments(&api, &app).await.len(), 1);
    assert_eq!(api.queue_depth().await, 1, "only the first deploy's job");

    // A signed push to the branch: one deployment of that commit, once.
    let signed = headers(Some(github_signature(&secret, &push)));
    let (status, queued) = api.deliver(&app, &signed, push.clone()).await;
    let (status, queued) = hook(status, queued);
    assert_eq!((status, queued.result), (202, HookResult::Queued));
    assert_eq!(queued.commit.as_deref(), Some(sha.as_str()));
    let dep = queued.deployment_id.unwrap();
    let d = api.deployment(&dep).await;
    assert_eq!(d.trigger, Trigger::Webhook, "{d:?}");
    assert_eq!(d.pushed_commit.as_deref(), Some(sha.as_str()), "{d:?}");
    assert_eq!(d.status, DeploymentStatus::Queued, "{d:?}");

    let (status, again) = api.deliver(&app, &signed, push.clone()).await;
    let (status, again) = hook(status, again);
    assert_eq!((status, again.result), (200, HookResult::Duplicate));
    assert_eq!(again.deployment_id.as_deref(), Some(dep.as_str()));
    assert_eq!(deployments(&api, &app).await.len(), 2);
    // The push recorder links it as the app's newest, supersedes the
    // queued first deploy and sends one job.
    assert_eq!(
        api.settle(&first).await.status,
        DeploymentStatus::Superseded
    );
    api.wait_queue_depth(2).await;
    let shown = api.app(&app).await;
    assert_eq!(shown.latest_deployment_id, Some(dep), "{shown:?}");
    assert_eq!(deployments(&api, &app).await.len(), 2);
    for message in api.queued_messages().await {
        assert!(!message.contains(&secret));
    }
}

#[tokio::test]
async fn watch_paths_choose_which_pushes_deploy_a_monorepo_app() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let sha = git.commit(
        "mono",
        &[
            ("services/api/Dockerfile", &web_dockerfile("")),
            ("services/api/www/index.html", "api"),
            ("docs/readme.md", "docs"),
        ],
    );
    let repo = git.url("mono");
    let (app, _, secret) = create(
        &api,
        json!({"name": "mono-api", "repo": repo, "port": 8080,
               "dockerfile": "services/api/Dockerfile", "context": "services/api",
               "watchPaths": ["services/api/**"]}),
    )
    .await;
    let shown = api.app(&app).await;
    let SourceView::Git { watch_paths, .. } = shown.source else {
        panic!("a git app")
    };
    assert_eq!(watch_paths, ["services/api/**"]);

    let docs = push_payload(&repo, "refs/heads/main", &sha, &["docs/readme.md"]);
    let (status, answer) = api.deliver_signed(&app, &secret, "push", docs).await;
    let (status, answer) = hook(status, answer);
    assert_eq!((status, answer.result), (200, HookResult::Ignored));
    assert!(answer.reason.unwrap().contains("services/api/**"));
    assert_eq!(deployments(&api, &app).await.len(), 1);

    let code = push_payload(
        &repo,
        "refs/heads/main",
        &sha,
        &["docs/readme.md", "services/api/x"],
    );
    let (status, answer) = api.deliver_signed(&app, &secret, "push", code).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(deployments(&api, &app).await.len(), 2);
}

#[tokio::test]
async fn a_signed_push_deploys_its_commit_or_the_newer_head() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("app", &files(&site("v1")));
    let repo = git.url("app");
    let _runner = Runner::start(&api.res, &[]);
    let (app, first, secret) =
        create(&api, json!({"name": "pushed", "repo": repo, "port": 8080})).await;
    assert_eq!(api.settle(&first).await.status, DeploymentStatus::Running);

    let v2 = git.commit("app", &files(&site("v2")));
    let body = push_payload(&repo, "refs/heads/main", &v2, &["www/index.html"]);
    let (status, queued) = api.deliver_signed(&app, &secret, "push", body).await;
    let (status, queued) = hook(status, queued);
    assert_eq!((status, queued.result), (202, HookResult::Queued));
    let dep = queued.deployment_id.unwrap();
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    assert_eq!(d.commit.as_deref(), Some(v2.as_str()));
    assert_eq!(d.trigger, Trigger::Webhook);
    assert_eq!(fetch_upstream(&d).await.as_deref(), Some("v2"));

    // The branch moves on before the runner clones: it builds the head and
    // says so.
    let v3 = git.commit("app", &files(&site("v3")));
    let v4 = git.commit("app", &files(&site("v4")));
    let body = push_payload(&repo, "refs/heads/main", &v3, &["www/index.html"]);
    let (status, queued) = api.deliver_signed(&app, &secret, "push", body).await;
    let (status, queued) = hook(status, queued);
    assert_eq!((status, queued.result), (202, HookResult::Queued));
    let dep = queued.deployment_id.unwrap();
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    assert_eq!(d.pushed_commit.as_deref(), Some(v3.as_str()));
    assert_eq!(d.commit.as_deref(), Some(v4.as_str()));
    assert!(api.logs(&dep).await.contains("has moved on"));
    assert_eq!(fetch_upstream(&d).await.as_deref(), Some("v4"));
}

#[tokio::test]
async fn ten_pushes_in_a_second_end_with_the_newest_commit_live() {
    let api = Arc::new(Api::start().await);
    let git = GitServer::start(None).await;
    git.commit("app", &files(&site("0")));
    let repo = git.url("app");
    let runners = [
        Runner::start(&api.res, &[("SLIPWAY_SLOTS", "2")]),
        Runner::start(&api.res, &[("SLIPWAY_SLOTS", "2")]),
    ];
    let (app, first, secret) =
        create(&api, json!({"name": "busy", "repo": repo, "port": 8080})).await;
    assert_eq!(api.settle(&first).await.status, DeploymentStatus::Running);

    // Watch what the app serves throughout, as a user hitting its URL
    // through one edge would.
    let served = Arc::new(Mutex::new(Vec::<u32>::new()));
    let watching = {
        let host = api.app(&app).await.hostname;
        let (port, served) = (runners[0].edge.http, served.clone());
        tokio::spawn(async move {
            loop {
                if let Some((200, text)) = edge_get(port, &host, "/").await {
                    if let Ok(n) = text.trim().parse() {
                        served.lock().unwrap().push(n);
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    let commits: Vec<String> = (1..=10u32)
        .map(|i| git.commit_unpushed("app", &files(&site(&i.to_string()))))
        .collect();
    let started = std::time::Instant::now();
    let mut deliveries = Vec::new();
    let mut last = String::new();
    for sha in commits {
        git.push("app", &sha);
        let body = push_payload(&repo, "refs/heads/main", &sha, &["www/index.html"]);
        let (api, app, secret) = (api.clone(), app.clone(), secret.clone());
        deliveries.push(tokio::spawn(async move {
            api.deliver_signed(&app, &secret, "push", body).await
        }));
        last = sha;
    }
    println!("ten pushes sent in {:?}", started.elapsed());
    let mut ids = Vec::new();
    for d in deliveries {
        let (status, answer) = d.await.unwrap();
        let (status, answer) = hook(status, answer);
        assert_eq!((status, answer.result), (202, HookResult::Queued));
        ids.push(answer.deployment_id.unwrap());
    }
    println!("ten pushes delivered in {:?}", started.elapsed());

    let newest = ids.iter().max().unwrap().clone();
    let d = api.settle(&newest).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    assert_eq!(d.commit.as_deref(), Some(last.as_str()), "{d:?}");
    for id in ids.iter().filter(|id| **id != newest) {
        let d = api.settle(id).await;
        assert!(
            matches!(
                d.status,
                DeploymentStatus::Superseded | DeploymentStatus::Cancelled
            ),
            "{d:?}"
        );
    }
    // Let the watcher see the final version, then check it never went back.
    for _ in 0..100 {
        if served.lock().unwrap().last() == Some(&10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    watching.abort();
    let served = served.lock().unwrap().clone();
    println!("served: {served:?}");
    assert_eq!(served.last(), Some(&10), "{served:?}");
    assert!(
        served.windows(2).all(|w| w[0] <= w[1]),
        "an older version was served after a newer one: {served:?}"
    );
    let shown = api.app(&app).await;
    assert_eq!(shown.live_deployment_id.as_deref(), Some(newest.as_str()));
}

#[tokio::test]
async fn the_readme_curl_and_openssl_delivery_works() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("app", &files(&site("v1")));
    let (app, _, secret) = create(
        &api,
        json!({"name": "readme", "repo": git.url("app"), "port": 8080}),
    )
    .await;
    let readme = std::fs::read_to_string(format!("{}/README.md", env("SLIPWAY_ROOT"))).unwrap();
    let after = readme
        .split("Try it with `curl`")
        .nth(1)
        .expect("the README shows a signed delivery");
    let script = after
        .split("```sh\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .unwrap();
    let out = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(git.root.join("work/app"))
        .env("SLIPWAY_API", &api.base)
        .env("APP_ID", &app)
        .env("WEBHOOK_SECRET", &secret)
        .output()
        .unwrap();
    let answer: HookAnswer = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(answer.result, HookResult::Queued, "{answer:?}");
}

#[tokio::test]
async fn a_changed_branch_applies_to_the_very_next_push() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let sha = git.commit("app", &files(&site("v1")));
    let repo = git.url("app");
    let body = json!({"name": "moving", "repo": repo, "port": 8080});
    let (app, _, secret) = create(&api, body.clone()).await;
    let to_dev = push_payload(&repo, "refs/heads/dev", &sha, &["www/index.html"]);
    let (status, answer) = api
        .deliver_signed(&app, &secret, "push", to_dev.clone())
        .await;
    let (status, answer) = hook(status, answer);
    assert_eq!((status, answer.result), (200, HookResult::Ignored));

    // The webhook has just read the app; the branch changes right after.
    let mut on_dev = body;
    on_dev["branch"] = "dev".into();
    let _: Queued = api.expect(202, "POST", "/deploy", Some(on_dev)).await;
    let (status, answer) = api.deliver_signed(&app, &secret, "push", to_dev).await;
    let (status, answer) = hook(status, answer);
    assert_eq!((status, answer.result), (202, HookResult::Queued));
    let to_main = push_payload(&repo, "refs/heads/main", &sha, &["www/index.html"]);
    let (status, answer) = api.deliver_signed(&app, &secret, "push", to_main).await;
    let (status, answer) = hook(status, answer);
    assert_eq!((status, answer.result), (200, HookResult::Ignored));
}

#[tokio::test]
async fn the_owner_fetches_the_webhook_again_and_a_rotated_secret_stops_the_old_one() {
    let api = Api::start().await;
    let (app, _, secret) = create(
        &api,
        json!({"name": "rotating", "repo": "https://github.com/acme/api.git"}),
    )
    .await;
    let shown = api.app(&app).await.webhook.unwrap();
    assert_eq!(shown.secret.as_deref(), Some(secret.as_str()));
    assert_eq!(shown.url, format!("{}/webhooks/github/{app}", api.base));
    let ping = json!({"zen": "Design for failure.", "hook_id": 2}).to_string();
    let pinged = |secret: String| {
        let (api, app, ping) = (&api, &app, ping.clone());
        async move {
            api.deliver_signed(app, &secret, "ping", ping.into_bytes())
                .await
                .0
        }
    };
    assert_eq!(pinged(secret.clone()).await, 200);

    let rotate = format!("/apps/{app}/webhook/rotate");
    let rotated: slipway_core::api::Webhook = api.expect(200, "POST", &rotate, None).await;
    let new = rotated.secret.clone().unwrap();
    assert_ne!(new, secret);
    assert_eq!(new.len(), 64);
    assert_eq!(rotated.content_type, "application/json");
    assert_eq!(rotated.events, ["push"]);
    assert_eq!(pinged(secret).await, 401, "the old secret stops at once");
    assert_eq!(pinged(new.clone()).await, 200);
    assert_eq!(api.app(&app).await.webhook.unwrap().secret, Some(new));

    let mallory = api.mint_token("mallory").await;
    api.refused_as(&mallory, 404, "POST", &rotate, None).await;
    let upload: AppView = api
        .expect(201, "POST", "/apps", Some(json!({"name": "up"})))
        .await;
    let e = api
        .refused(
            409,
            "POST",
            &format!("/apps/{}/webhook/rotate", upload.id),
            None,
        )
        .await;
    assert_eq!(e.code, "upload_app");
}
