//! The dashboard in a real browser (Debian's Chromium through
//! playwright-core, `web/test/dashboard.mjs`) against the local stack, and
//! what it did checked through the API and the edge.

use slipway_e2e::*;

/// What the browser saw, as the script prints it.
#[derive(serde::Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct Seen {
    console_errors: Vec<String>,
    foreign_requests: Vec<String>,
    port_error: String,
    app_id: String,
    statuses: Vec<String>,
    live_url: String,
    hook: Hook,
    redeploy_buttons: u32,
    rotated_secret: String,
    list_status: String,
    list_link: String,
    slow_app_id: String,
    log_grew: bool,
    cancelled: String,
    other_rows: u32,
    upload_puts: u32,
    upload_app_id: String,
    upload_status: String,
    upload_redeploy_buttons: u32,
    upload_deployments: u32,
    after_settings: String,
    secret_shown: bool,
    upload_name_taken: String,
}

#[derive(serde::Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct Hook {
    url: String,
    secret: String,
    content_type: String,
    events: String,
}

#[tokio::test]
async fn a_person_deploys_watches_and_manages_a_git_app_from_the_browser() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let sha = git.commit("site", &files(&site("served to the browser")));
    let ticking = web_dockerfile("RUN for i in $(seq 1 60); do echo tick $i; sleep 1; done");
    git.commit(
        "slow",
        &[("Dockerfile", &ticking), ("www/index.html", "slow")],
    );
    let runner = Runner::start(&api.res, &[]);
    let other = api.mint_token("mallory").await;
    let files = temp_dir("dashboard-files");
    for (name, page) in [("v1.zip", "uploaded v1"), ("v2.zip", "uploaded v2")] {
        let zip = archive_with("site.zip", "-", page, &web_dockerfile(""));
        std::fs::write(files.join(name), zip).unwrap();
    }
    std::fs::write(files.join("notes.txt"), "not an archive").unwrap();
    let root = env("SLIPWAY_ROOT");
    let out = tokio::process::Command::new("node")
        .arg(format!("{root}/web/test/dashboard.mjs"))
        .current_dir(format!("{root}/web"))
        .env("DASH_URL", &api.base)
        .env("DASH_TOKEN", &api.token)
        .env("DASH_OTHER_TOKEN", &other)
        .env("DASH_REPO", git.url("site"))
        .env("DASH_SLOW_REPO", git.url("slow"))
        .env("DASH_ZIP1", files.join("v1.zip"))
        .env("DASH_ZIP2", files.join("v2.zip"))
        .env("DASH_NOT_ARCHIVE", files.join("notes.txt"))
        .env("DASH_OUT", output_dir().join("dashboard"))
        .output()
        .await
        .expect("node runs");
    let printed = String::from_utf8_lossy(&out.stdout);
    let said = format!("{printed}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{said}");
    let seen: Seen = serde_json::from_str(printed.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {said}"));

    assert!(seen.console_errors.is_empty(), "{:?}", seen.console_errors);
    assert!(
        seen.foreign_requests.is_empty(),
        "{:?}",
        seen.foreign_requests
    );
    assert!(seen.port_error.contains("port"), "{}", seen.port_error);
    assert_eq!(seen.statuses.last().map(String::as_str), Some("running"));

    // What the page showed is what the API holds.
    let app = api.app(&seen.app_id).await;
    assert_eq!(app.name, "shop");
    assert_eq!(app.status, AppStatus::Running);
    assert_eq!(
        (seen.live_url.as_str(), seen.list_link.as_str()),
        (app.url.as_str(), app.url.as_str())
    );
    assert_eq!(seen.list_status, "running");
    assert_eq!(
        runner
            .edge
            .serves(&app.hostname, "/", "served to the browser")
            .await
            .as_deref(),
        Some("served to the browser"),
        "the live link serves the app"
    );
    let hook = app.webhook.unwrap();
    assert_eq!(seen.hook.url, hook.url);
    assert_eq!(
        (seen.hook.content_type.as_str(), seen.hook.events.as_str()),
        ("application/json", "push")
    );
    assert_eq!(seen.redeploy_buttons, 1, "a git app can be redeployed");
    assert_eq!(seen.after_settings, "running");
    assert_eq!(app.memory, 256, "saved from the settings form");
    assert_eq!(app.env["GREETING"], "from the settings");
    assert_eq!(app.secret_names, ["API_KEY"], "set from the settings form");
    assert!(
        !seen.secret_shown,
        "a secret value is never shown once saved"
    );
    assert!(
        seen.upload_name_taken
            .contains("already have an app named shop"),
        "the API's 409 at the name field: {}",
        seen.upload_name_taken
    );
    let newest = &app.deployments.as_ref().unwrap()[0];
    assert_eq!(
        (newest.trigger, newest.status),
        (Trigger::Redeploy, DeploymentStatus::Running)
    );
    assert_eq!(hook.secret.as_deref(), Some(seen.rotated_secret.as_str()));
    let ping = json!({"zen": "Half measures are as bad as nothing at all.", "hook_id": 3})
        .to_string()
        .into_bytes();
    let (status, _) = api
        .deliver_signed(&seen.app_id, &seen.hook.secret, "ping", ping.clone())
        .await;
    assert_eq!(
        status, 401,
        "the secret rotated on the page stopped verifying"
    );
    let push = push_payload(
        &git.url("site"),
        "refs/heads/main",
        &sha,
        &["www/index.html"],
    );
    let (status, answer) = api
        .deliver_signed(&seen.app_id, &seen.rotated_secret, "push", push)
        .await;
    assert_eq!(
        status, 202,
        "a push signed with the page's secret deploys: {answer}"
    );

    // Nothing was made by the refused forms: only shop and slow exist.
    let apps: AppList = api.expect(200, "GET", "/apps", None).await;
    let mut names: Vec<&str> = apps.apps.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["shop", "slow", "upapp"]);
    assert!(seen.log_grew, "the log grew without a reload");
    assert_eq!(seen.cancelled, "cancelled");
    let slow = api.deployments(&seen.slow_app_id).await;
    assert_eq!(slow[0].status, DeploymentStatus::Cancelled);
    assert_eq!(seen.other_rows, 0, "another owner sees no app");

    // The upload app: two archives PUT from the page, three deployments
    // (the first, a new archive, the stored one again), no redeploy.
    assert_eq!(
        seen.upload_puts, 2,
        "the only requests off the page's origin"
    );
    assert_eq!(seen.upload_status, "running");
    assert_eq!(
        seen.upload_redeploy_buttons, 0,
        "an upload app has no redeploy"
    );
    assert_eq!(seen.upload_deployments, 3);
    let up = api.app(&seen.upload_app_id).await;
    let history = api.deployments(&up.id).await;
    assert!(
        history.iter().all(|d| d.status != DeploymentStatus::Failed),
        "{history:?}"
    );
    assert_eq!(history[0].status, DeploymentStatus::Running);
    assert_eq!(
        history[0].archive.as_ref().map(|a| &a.path),
        history[1].archive.as_ref().map(|a| &a.path),
        "no file: the stored archive was built again"
    );
    assert_eq!(
        runner
            .edge
            .serves(&up.hostname, "/", "uploaded v2")
            .await
            .as_deref(),
        Some("uploaded v2"),
        "the new archive's content serves"
    );

    for page in [
        "signin",
        "apps-empty",
        "new-app-error",
        "app",
        "apps",
        "deployment",
        "settings",
        "upload-app",
        "deploy-modal",
        "not-found",
    ] {
        for width in [1280, 390] {
            let shot = output_dir().join(format!("dashboard/{page}-{width}.png"));
            assert!(shot.exists(), "{} was saved", shot.display());
        }
    }
}

#[tokio::test]
async fn the_page_and_its_assets_need_no_bearer_and_allow_only_this_origin() {
    let api = Api::start().await;
    let http = reqwest::Client::new();
    let page = http.get(api.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.starts_with("default-src 'self'; connect-src 'self' http://127.0.0.1:"),
        "{csp}"
    );
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let html = page.text().await.unwrap();
    assert!(html.contains("assets/app.js"), "{html}");
    let script = http.get(api.url("/assets/app.js")).send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let missing = http.get(api.url("/assets/nope.js")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let (status, _) = api.raw("GET", "/apps", None, Vec::new()).await;
    assert_eq!(status, 401, "the API behind it still takes the bearer");
}
