//! The build runner end to end: the HTTP API, a real `slipway-runner`, real
//! Git over HTTP, the real Docker engine and registry, the AWS SDK against
//! the emulator.

use std::time::Duration;

use slipway_core::ids::{AppId, DeploymentId};
use slipway_e2e::*;

const TOKEN: &str = "tok_Pr1vateRepoT0ken42";
const SECRET: &str = "s3cret-Value-for-the-app-99";

fn deploy_body(name: &str, repo: &str) -> Value {
    json!({"name": name, "repo": repo, "port": 8080})
}

#[tokio::test]
async fn a_public_repo_goes_live_and_serves_its_content() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let sha = git.commit("site", &files(&site("hello from a public repo")));
    let runner = Runner::start(&api.res, &[]);

    let (app, dep) = api.deploy(deploy_body("site", &git.url("site"))).await;
    let (seen, d) = api
        .wait_for(&dep, 120, |d| !d.status.is_in_progress())
        .await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    use DeploymentStatus::*;
    let order = [Queued, Building, Deploying, Running];
    let mut last = 0;
    for s in &seen {
        let i = order
            .iter()
            .position(|o| o == s)
            .unwrap_or_else(|| panic!("unexpected status {s:?}"));
        assert!(i >= last, "statuses went backwards: {seen:?}");
        last = i;
    }
    assert!(seen.len() >= 3, "the status could be followed: {seen:?}");
    assert_eq!(d.commit.as_deref(), Some(sha.as_str()));
    for phase in ["clone", "build", "push", "start"] {
        assert!(
            d.phases[phase].millis.is_some(),
            "phase {phase} timed: {d:?}"
        );
    }
    assert_eq!(
        fetch_upstream(&d).await.as_deref(),
        Some("hello from a public repo")
    );

    let shown = api.app(&app).await;
    assert_eq!(shown.status, AppStatus::Running);
    let host = shown.hostname.as_str();
    assert_eq!(shown.url, format!("http://{host}:8088"));
    assert_eq!(
        runner
            .edge
            .serves(host, "/", "hello from a public repo")
            .await
            .as_deref(),
        Some("hello from a public repo"),
        "its hostname is routed at once on the runner's own edge"
    );
    let log = api.logs(&dep).await;
    assert!(log.contains("Step 1/"), "{log}");
    assert!(log.contains(&format!("Checked out commit {sha}")), "{log}");
    assert_eq!(containers_of(&app).len(), 1);
    assert!(registry_tags(&app).await.contains(&sha));
}

#[tokio::test]
async fn another_branch_deploys_its_own_head_and_a_missing_branch_fails_once_saying_so() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("branches", &files(&site("from main")));
    let feature = git.commit_unpushed("branches", &files(&site("from the feature branch")));
    git.push_branch("branches", &feature, "feature/x");
    // A name git allows that holds a glob character.
    let bracketed = git.commit_unpushed("branches", &files(&site("from release]1")));
    git.push_branch("branches", &bracketed, "release]1");
    let _runner = Runner::start(&api.res, &[]);

    let (_, dep) = api
        .deploy(json!({"name": "branches", "repo": git.url("branches"), "port": 8080, "branch": "feature/x"}))
        .await;
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    assert_eq!(d.commit.as_deref(), Some(feature.as_str()));
    assert_eq!(
        fetch_upstream(&d).await.as_deref(),
        Some("from the feature branch")
    );

    let (_, dep) = api
        .deploy(json!({"name": "bracketed", "repo": git.url("branches"), "port": 8080, "branch": "release]1"}))
        .await;
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    assert_eq!(d.commit.as_deref(), Some(bracketed.as_str()));
    assert_eq!(fetch_upstream(&d).await.as_deref(), Some("from release]1"));

    let (_, dep) = api
        .deploy(json!({"name": "no-branch", "repo": git.url("branches"), "port": 8080, "branch": "nope"}))
        .await;
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Failed, "{d:?}");
    assert_eq!(d.attempt, 1, "the author's mistake is not retried: {d:?}");
    let error = d.error.as_deref().unwrap();
    assert!(
        error.contains("the branch does not exist in the repository"),
        "{error}"
    );
    assert!(error.contains("\"nope\""), "it names the branch: {error}");
    assert!(api.logs(&dep).await.contains("the branch does not exist"));
}

#[tokio::test]
async fn a_private_repo_deploys_with_its_token_and_the_token_is_found_nowhere() {
    let api = Api::start().await;
    let git = GitServer::start(Some(TOKEN)).await;
    let dockerfile = format!(
        "FROM {}\nCOPY . /app/\nRUN sleep 2\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/app/www\"]\n",
        env("SLIPWAY_BASE_IMAGE")
    );
    git.commit(
        "private",
        &[
            ("Dockerfile", &dockerfile),
            ("www/index.html", "private content"),
        ],
    );
    let mut body = deploy_body("private", &git.url("private"));
    body["repoToken"] = TOKEN.into();
    body["secrets"] = json!({"APP_SECRET": SECRET});
    let created: Queued = api.expect(202, "POST", "/deploy", Some(body)).await;
    let app = created.app_id;
    let dep = created.deployment_id;
    let hook_secret = created.webhook.unwrap().secret.unwrap();
    let bodies = api.queued_messages().await;
    assert_eq!(bodies.len(), 1);
    let runner = Runner::start(&api.res, &[]);

    // While it builds, the checkout's .git/config holds the plain URL only.
    let (_, _) = api
        .wait_for(&dep, 60, |d| d.phases.contains_key("clone"))
        .await;
    let mut configs = Vec::new();
    for _ in 0..50 {
        configs = find_files(&runner.work_dir, "config");
        if !configs.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!configs.is_empty(), "the checkout exists while building");
    for c in &configs {
        let text = std::fs::read_to_string(c).unwrap_or_default();
        assert!(!text.contains(TOKEN), "{}: {text}", c.display());
        assert!(
            text.contains(&git.url("private")),
            "the clone's own config: {text}"
        );
    }

    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    assert_eq!(fetch_upstream(&d).await.as_deref(), Some("private content"));

    let mut wrong = deploy_body("private-wrong", &git.url("private"));
    wrong["repoToken"] = "not-the-token".into();
    let (_, bad) = api.deploy(wrong).await;
    let failed = api.settle(&bad).await;
    assert_eq!(failed.status, DeploymentStatus::Failed);
    let reason = failed.error.as_deref().unwrap();
    assert!(reason.contains("repoToken"), "a clear reason: {reason}");
    assert!(api.logs(&bad).await.contains("repoToken"));

    let needles = [TOKEN, SECRET, hook_secret.as_str()];
    let output = output_of(&api.res.prefix);
    assert!(
        output.contains("deployment live"),
        "the runner's output was captured"
    );
    for n in needles {
        assert!(
            !output.contains(n),
            "a secret is in the runner or API output"
        );
        for item in api.items().await {
            assert!(
                !item_contains(&item, n),
                "a secret is in the table: {item:?}"
            );
        }
        for b in &bodies {
            assert!(!b.contains(n));
        }
        assert!(!api.logs(&dep).await.contains(n));
    }
    let image = format!("{}/slipway/{app}:latest", env("SLIPWAY_REGISTRY"));
    let saved = temp_dir("save").join("image.tar");
    sh(
        std::path::Path::new("/"),
        "docker",
        &["save", "-o", saved.to_str().unwrap(), &image],
    );
    let container = &containers_of(&app)[0];
    let exported = temp_dir("export").join("fs.tar");
    sh(
        std::path::Path::new("/"),
        "docker",
        &["export", "-o", exported.to_str().unwrap(), container],
    );
    for tar in [&saved, &exported] {
        let bytes = std::fs::read(tar).unwrap();
        for n in needles {
            assert!(
                !contains(&bytes, n.as_bytes()),
                "{n} is in {}",
                tar.display()
            );
        }
        assert!(
            !contains(&bytes, b"app/.git/"),
            "the checkout's .git is not in the build context"
        );
    }
    assert!(contains(
        &std::fs::read(&exported).unwrap(),
        b"private content"
    ));
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn find_files(dir: &std::path::Path, name: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(find_files(&p, name));
        } else if p.file_name().is_some_and(|n| n == name)
            && p.parent().is_some_and(|d| d.ends_with(".git"))
        {
            found.push(p);
        }
    }
    found
}

#[tokio::test]
async fn a_new_commit_replaces_the_old_container_and_builds_from_the_registry_cache() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let slow = web_dockerfile("RUN sleep 2 && echo dependencies > /deps");
    git.commit("cached", &[("Dockerfile", &slow), ("www/index.html", "v1")]);
    let _runner = Runner::start(&api.res, &[]);
    let (app, first) = api.deploy(deploy_body("cached", &git.url("cached"))).await;
    let d1 = api.settle(&first).await;
    assert_eq!(d1.status, DeploymentStatus::Running, "{d1:?}");
    assert_eq!(d1.cache_hit, Some(false));

    git.commit("cached", &[("www/index.html", "v2")]);
    let second = api.deploy_app(&app).await;
    let d2 = api.settle(&second).await;
    assert_eq!(d2.status, DeploymentStatus::Running, "{d2:?}");
    assert_eq!(d2.cache_hit, Some(true));
    assert!(api.logs(&second).await.contains("Using cache"));
    assert_eq!(fetch_upstream(&d2).await.as_deref(), Some("v2"));
    assert_eq!(
        wait_containers(&app, 1).await.len(),
        1,
        "the old container is gone"
    );
    let old = api.deployment(&first).await;
    assert_eq!(old.status, DeploymentStatus::Superseded);

    // An engine without the app's images still builds from the cache in the registry.
    let repo = format!("{}/slipway/{app}", env("SLIPWAY_REGISTRY"));
    let tags = sh(
        std::path::Path::new("/"),
        "docker",
        &["images", &repo, "--format", "{{.Repository}}:{{.Tag}}"],
    );
    for tag in tags.lines() {
        sh(std::path::Path::new("/"), "docker", &["rmi", "-f", tag]);
    }
    git.commit("cached", &[("www/index.html", "v3")]);
    let third = api.deploy_app(&app).await;
    let d3 = api.settle(&third).await;
    assert_eq!(d3.status, DeploymentStatus::Running, "{d3:?}");
    assert_eq!(d3.cache_hit, Some(true), "the registry cache was used");
    let log = api.logs(&third).await;
    assert!(
        log.contains("Pulled") && log.contains("Using cache"),
        "{log}"
    );
    assert_eq!(fetch_upstream(&d3).await.as_deref(), Some("v3"));
}

#[tokio::test]
async fn a_build_that_fails_with_cached_layers_is_retried_without_cache() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let stamp = "RUN date +%s > /stamp";
    git.commit(
        "flaky",
        &[
            ("Dockerfile", &web_dockerfile(stamp)),
            ("www/index.html", "one"),
        ],
    );
    let _runner = Runner::start(&api.res, &[]);
    let (app, first) = api.deploy(deploy_body("flaky", &git.url("flaky"))).await;
    assert_eq!(api.settle(&first).await.status, DeploymentStatus::Running);

    tokio::time::sleep(Duration::from_secs(4)).await;
    // Passes only when /stamp was written moments ago: a cached (old) stamp fails it.
    let fresh = format!("{stamp}\nRUN test $(( $(date +%s) - $(cat /stamp) )) -lt 3");
    git.commit(
        "flaky",
        &[
            ("Dockerfile", &web_dockerfile(&fresh)),
            ("www/index.html", "two"),
        ],
    );
    let second = api.deploy_app(&app).await;
    let d = api.settle(&second).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    let log = api.logs(&second).await;
    assert!(log.contains("retrying once without the cache"), "{log}");
    assert_eq!(fetch_upstream(&d).await.as_deref(), Some("two"));
}

#[tokio::test]
async fn the_monorepo_layout_builds_and_a_dockerfile_symlinked_outside_fails() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit(
        "mono",
        &[
            ("services/api/Dockerfile", &web_dockerfile("")),
            ("services/api/www/index.html", "api service"),
            ("services/web/README", "another service"),
            ("Dockerfile", "->/etc/passwd"),
            ("escape/Dockerfile", "->../../../../../../etc/hostname"),
        ],
    );
    let _runner = Runner::start(&api.res, &[]);
    let mut body = deploy_body("mono", &git.url("mono"));
    body["dockerfile"] = "services/api/Dockerfile".into();
    body["context"] = "services/api".into();
    let (_, dep) = api.deploy(body).await;
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    assert_eq!(fetch_upstream(&d).await.as_deref(), Some("api service"));

    for dockerfile in ["Dockerfile", "escape/Dockerfile"] {
        let mut body = deploy_body("escape", &git.url("mono"));
        body["dockerfile"] = dockerfile.into();
        let (_, dep) = api.deploy(body).await;
        let d = api.settle(&dep).await;
        assert_eq!(d.status, DeploymentStatus::Failed, "{d:?}");
        let reason = d.error.as_deref().unwrap();
        assert!(reason.contains("leads outside the source"), "{reason}");
        let log = api.logs(&dep).await;
        assert!(!log.contains("root:x:0:0"), "nothing outside was read");
        assert!(!log.contains("Step 1/"), "nothing was built");
    }
}

#[tokio::test]
async fn a_container_that_never_listens_fails_and_the_previous_version_keeps_serving() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("deaf", &files(&site("still here")));
    let _runner = Runner::start(&api.res, &[]);
    let (app, first) = api.deploy(deploy_body("deaf", &git.url("deaf"))).await;
    let d1 = api.settle(&first).await;
    let url = api.app(&app).await.url;

    // It prints a secret and never listens: the log shows its output, masked.
    let silent = format!(
        "FROM {}\nCMD [\"sh\", \"-c\", \"echo leaking $APP_SECRET; sleep 3600\"]\n",
        env("SLIPWAY_BASE_IMAGE")
    );
    git.commit("deaf", &[("Dockerfile", &silent)]);
    let mut body = deploy_body("deaf", &git.url("deaf"));
    body["secrets"] = json!({"APP_SECRET": SECRET});
    let (_, second) = api.deploy(body).await;
    let d2 = api.settle(&second).await;
    assert_eq!(d2.status, DeploymentStatus::Failed, "{d2:?}");
    assert!(
        d2.error
            .as_deref()
            .unwrap()
            .contains("did not accept connections"),
        "{d2:?}"
    );
    let log = api.logs(&second).await;
    assert!(log.contains("leaking [REDACTED]"), "{log}");
    assert!(!log.contains(SECRET));
    assert_eq!(fetch_upstream(&d1).await.as_deref(), Some("still here"));
    let shown = api.app(&app).await;
    assert_eq!(shown.url, url);
    assert_eq!(shown.status, AppStatus::Running);
    assert_eq!(wait_containers(&app, 1).await.len(), 1);
}

#[tokio::test]
async fn an_older_deployment_going_live_leaves_a_newer_ones_starting_container_alone() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    // Each version takes a while to listen: the older one goes live while
    // the newer one's container is still starting.
    let slow_to_listen = |seconds: u32| {
        format!(
            "FROM {}\nCOPY www/ /www/\nEXPOSE 8080\nCMD [\"sh\", \"-c\", \"sleep {seconds}; exec httpd -f -p 8080 -h /www\"]\n",
            env("SLIPWAY_BASE_IMAGE")
        )
    };
    git.commit(
        "overlap",
        &[
            ("Dockerfile", &slow_to_listen(4)),
            ("www/index.html", "older"),
        ],
    );
    let _a = Runner::start(&api.res, &[]);
    let _b = Runner::start(&api.res, &[]);
    let (app, older) = api
        .deploy(deploy_body("overlap", &git.url("overlap")))
        .await;
    api.wait_for(&older, 60, |d| d.status == DeploymentStatus::Deploying)
        .await;
    git.commit(
        "overlap",
        &[
            ("Dockerfile", &slow_to_listen(6)),
            ("www/index.html", "newer"),
        ],
    );
    let newer = api.deploy_app(&app).await;

    let d = api.settle(&newer).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    // The older one went live first (its start phase is written as it
    // does), then was replaced.
    let (_, old) = api
        .wait_for(&older, 30, |d| d.status != DeploymentStatus::Running)
        .await;
    assert!(old.phases.contains_key("start"), "{old:?}");
    assert_eq!(old.status, DeploymentStatus::Superseded, "{old:?}");
    assert_eq!(fetch_upstream(&d).await.as_deref(), Some("newer"));
    assert_eq!(wait_containers(&app, 1).await.len(), 1);
}

#[tokio::test]
async fn a_runner_killed_mid_build_leaves_the_deployment_to_another() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit(
        "phoenix",
        &[
            ("Dockerfile", &web_dockerfile("RUN sleep 3")),
            ("www/index.html", "risen"),
        ],
    );
    let mut first = Runner::start(&api.res, &[]);
    let (app, dep) = api
        .deploy(deploy_body("phoenix", &git.url("phoenix")))
        .await;
    api.wait_for(&dep, 60, |d| d.phases.contains_key("clone"))
        .await;
    first.signal("-KILL");
    first.wait().await;

    let _second = Runner::start(&api.res, &[]);
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    assert!(
        u64::from(d.attempt) >= 2,
        "another runner finished it: {d:?}"
    );
    assert_eq!(fetch_upstream(&d).await.as_deref(), Some("risen"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        wait_containers(&app, 1).await.len(),
        1,
        "exactly one container"
    );
}

#[tokio::test]
async fn sigterm_mid_build_hands_the_job_back_after_the_drain_deadline() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit(
        "drain",
        &[
            ("Dockerfile", &web_dockerfile("RUN sleep 5")),
            ("www/index.html", "drained"),
        ],
    );
    let mut first = Runner::start(&api.res, &[("SLIPWAY_DRAIN_SECONDS", "1")]);
    let (_, dep) = api.deploy(deploy_body("drain", &git.url("drain"))).await;
    api.wait_for(&dep, 60, |d| d.phases.contains_key("clone"))
        .await;
    first.signal("-TERM");
    assert!(first.wait().await.success(), "a clean exit");
    let d = api.deployment(&dep).await;
    assert_eq!(
        d.status,
        DeploymentStatus::Building,
        "handed back, not failed: {d:?}"
    );

    let _second = Runner::start(&api.res, &[]);
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    assert!(api.logs(&dep).await.contains("shutting down"));
}

#[tokio::test]
async fn cancel_mid_build_stops_it_pushes_nothing_and_keeps_the_old_version() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("stoppable", &files(&site("old version")));
    let _runner = Runner::start(&api.res, &[]);
    let (app, first) = api
        .deploy(deploy_body("stoppable", &git.url("stoppable")))
        .await;
    let old = api.settle(&first).await;

    let sha = git.commit(
        "stoppable",
        &[
            ("Dockerfile", &web_dockerfile("RUN sleep 30")),
            ("www/index.html", "new"),
        ],
    );
    let second = api.deploy_app(&app).await;
    api.wait_for(&second, 60, |d| d.phases.contains_key("clone"))
        .await;
    let asked = std::time::Instant::now();
    let c: DeploymentView = api
        .expect(202, "POST", &format!("/deployments/{second}/cancel"), None)
        .await;
    assert!(c.cancel_requested);
    let d = api.settle(&second).await;
    assert_eq!(d.status, DeploymentStatus::Cancelled, "{d:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "cancelled within 10 s"
    );
    assert!(
        !registry_tags(&app).await.contains(&sha),
        "nothing was pushed"
    );
    assert_eq!(fetch_upstream(&old).await.as_deref(), Some("old version"));
    assert_eq!(containers_of(&app).len(), 1);
}

#[tokio::test]
async fn reconcile_restarts_a_dead_container_recreates_a_removed_one_and_removes_a_deleted_apps() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("phoenix", &files(&site("alive")));
    let runner = Runner::start(&api.res, &[]);
    let (app, dep) = api
        .deploy(deploy_body("phoenix", &git.url("phoenix")))
        .await;
    let before = api.settle(&dep).await.upstream.clone();
    let host = api.app(&app).await.hostname;

    let name = containers_of(&app)[0].clone();
    sh(std::path::Path::new("/"), "docker", &["kill", &name]);
    assert_eq!(
        runner.edge.wait_for(&host, "alive", 15).await,
        Some((200, "alive".to_owned())),
        "the dead container was restarted"
    );

    // Removed outright: it is started again from the registry image, on
    // another port (its old one is taken meanwhile), and the edge follows.
    sh(std::path::Path::new("/"), "docker", &["rm", "-f", &name]);
    let _taken = std::net::TcpListener::bind(before.as_deref().unwrap()).unwrap();
    assert_eq!(
        runner.edge.wait_for(&host, "alive", 20).await,
        Some((200, "alive".to_owned())),
        "the removed container was recreated"
    );
    let now = api.deployment(&dep).await;
    assert_ne!(now.upstream, before, "it answers on another port now");
    assert_eq!(fetch_upstream(&now).await.as_deref(), Some("alive"));
    assert!(api.logs(&dep).await.contains("Live again at"));
    assert_eq!(wait_containers(&app, 1).await.len(), 1);

    let (status, _) = api.call("DELETE", &format!("/apps/{app}"), None).await;
    assert_eq!(status, 202);
    for _ in 0..40 {
        if containers_of(&app).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        containers_of(&app).is_empty(),
        "the deleted app's container was removed"
    );
    assert_eq!(
        runner.edge.get(&host, "/").await.map(|(status, _)| status),
        Some(503),
        "a deleted app's hostname answers 503"
    );
}

#[tokio::test]
async fn a_job_that_keeps_failing_ends_in_the_dead_letter_queue_and_its_deployment_fails() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("doomed", &files(&site("never")));
    // Nothing listens there: every push fails, an internal failure retried
    // until the queue gives up on the message.
    let _runner = Runner::start(
        &api.res,
        &[
            ("SLIPWAY_REGISTRY", "127.0.0.1:9"),
            ("SLIPWAY_RETRY_SECONDS", "0.5"),
        ],
    );
    let (_, dep) = api.deploy(deploy_body("doomed", &git.url("doomed"))).await;
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Failed, "{d:?}");
    assert!(
        d.error
            .as_deref()
            .unwrap()
            .contains("attempted several times"),
        "{d:?}"
    );
    assert!(u64::from(d.attempt) >= 2, "{d:?}");
    assert_eq!(api.queue_depth().await, 0);
}

#[tokio::test]
async fn a_wrong_registry_password_fails_the_deployment_at_once_saying_the_login_was_refused() {
    let status = |request: reqwest::RequestBuilder| async move {
        request.send().await.unwrap().status().as_u16()
    };
    let registry = format!("http://{}/v2/", env("SLIPWAY_REGISTRY"));
    assert_eq!(
        status(reqwest::Client::new().get(&registry)).await,
        401,
        "the stack's registry asks for a login"
    );
    assert_eq!(
        status(registry_request(reqwest::Method::GET, "/v2/")).await,
        200
    );

    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("locked", &files(&site("never")));
    const WRONG: &str = "not-the-registry-password-77";
    let runner = Runner::start(
        &api.res,
        &[
            ("SLIPWAY_REGISTRY_PASSWORD", WRONG),
            ("SLIPWAY_RETRY_SECONDS", "0.5"),
        ],
    );
    let (_, dep) = api.deploy(deploy_body("locked", &git.url("locked"))).await;
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Failed, "{d:?}");
    assert_eq!(d.attempt, 1, "not retried: {d:?}");
    let error = d.error.as_deref().unwrap();
    assert!(
        error.contains("the registry refused the runner's login"),
        "{error}"
    );
    let log = api.logs(&dep).await;
    assert!(
        log.contains("the registry refused the runner's login"),
        "{log}"
    );
    for shown in [error, log.as_str(), output_of(&runner.id).as_str()] {
        assert!(
            !shown.contains(WRONG),
            "the password is never shown: {shown}"
        );
    }
    assert_eq!(api.queue_depth().await, 0);
}

#[tokio::test]
async fn a_dead_copy_of_a_job_a_runner_is_building_leaves_the_build_alone() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit(
        "held",
        &[
            ("Dockerfile", &web_dockerfile("RUN sleep 5")),
            ("www/index.html", "held"),
        ],
    );
    let _runner = Runner::start(&api.res, &[]);
    let (app, dep) = api.deploy(deploy_body("held", &git.url("held"))).await;
    api.wait_for(&dep, 60, |d| d.phases.contains_key("clone"))
        .await;
    // A duplicate of its job that ran out of tries while the first copy
    // builds, as SQS's at-least-once delivery and a long build can make.
    let job = slipway_core::job::JobMessage {
        deployment_id: DeploymentId::parse(&dep).unwrap(),
        app_id: AppId::parse(&app).unwrap(),
    };
    api.sqs()
        .send_message()
        .queue_url(&api.res.dlq_url)
        .message_body(job.encode())
        .send()
        .await
        .unwrap();
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    assert_eq!(d.error, None, "{d:?}");
}

#[tokio::test]
async fn a_push_the_recorder_gave_up_on_fails_its_deployment_saying_why() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("lost", &files(&site("never built")));
    git.commit(
        "kept",
        &[
            ("Dockerfile", &web_dockerfile("RUN sleep 4")),
            ("www/index.html", "kept"),
        ],
    );
    // A deployment whose job never reached the job queue, its push in the
    // push queue's dead-letter queue: what the push recorder leaves when
    // it failed on the push as many times as the queue allows.
    let (lost_app, lost) = api.deploy(deploy_body("lost", &git.url("lost"))).await;
    api.sqs()
        .purge_queue()
        .queue_url(&api.res.queue_url)
        .send()
        .await
        .unwrap();
    let _runner = Runner::start(&api.res, &[]);
    // One whose job got through after all, building: it is left alone.
    let (kept_app, kept) = api.deploy(deploy_body("kept", &git.url("kept"))).await;
    api.wait_for(&kept, 60, |d| d.phases.contains_key("clone"))
        .await;
    for (app_id, deployment_id) in [(lost_app, &lost), (kept_app, &kept)] {
        let push = slipway_core::job::JobMessage {
            deployment_id: DeploymentId::parse(deployment_id).unwrap(),
            app_id: AppId::parse(&app_id).unwrap(),
        };
        api.sqs()
            .send_message()
            .queue_url(&api.res.push_dlq_url)
            .message_body(push.encode())
            .send()
            .await
            .unwrap();
    }
    let d = api.settle(&lost).await;
    assert_eq!(d.status, DeploymentStatus::Failed, "{d:?}");
    assert!(d.error.as_deref().unwrap().contains("push again"), "{d:?}");
    assert!(!d.phases.contains_key("clone"), "nothing was built: {d:?}");
    // Both handled: the dead-letter queue is empty.
    for _ in 0..100 {
        let attrs = api
            .sqs()
            .get_queue_attributes()
            .queue_url(&api.res.push_dlq_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let count = |name| {
            attrs
                .attributes()
                .and_then(|a| a.get(&name))
                .map_or(0, |v| v.parse::<u64>().unwrap())
        };
        if count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            + count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            == 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let k = api.settle(&kept).await;
    assert_eq!(k.status, DeploymentStatus::Running, "{k:?}");
}

#[tokio::test]
async fn an_older_commit_never_goes_live_after_a_newer_one() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit(
        "order",
        &[
            ("Dockerfile", &web_dockerfile("RUN sleep 4")),
            ("www/index.html", "older"),
        ],
    );
    let a = Runner::start(&api.res, &[]);
    let b = Runner::start(&api.res, &[]);
    let (app, older) = api.deploy(deploy_body("order", &git.url("order"))).await;
    api.wait_for(&older, 60, |d| d.phases.contains_key("clone"))
        .await;

    git.commit(
        "order",
        &[
            ("Dockerfile", &web_dockerfile("")),
            ("www/index.html", "newer"),
        ],
    );
    let newer = api.deploy_app(&app).await;
    let d = api.settle(&newer).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    let old = api.settle(&older).await;
    assert_eq!(old.status, DeploymentStatus::Superseded, "{old:?}");

    tokio::time::sleep(Duration::from_secs(5)).await;
    let shown = api.app(&app).await;
    assert_eq!(shown.live_deployment_id.as_deref(), Some(newer.as_str()));
    let host = shown.hostname.as_str();
    for edge in [&a.edge, &b.edge] {
        assert_eq!(
            edge.serves(host, "/", "newer").await.as_deref(),
            Some("newer")
        );
    }
    assert_eq!(containers_of(&app).len(), 1);
}

#[tokio::test]
async fn redeploy_runs_the_live_image_again_without_building() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let sha = git.commit("again", &files(&site("same image")));
    let (app, _) = api.deploy(deploy_body("again", &git.url("again"))).await;
    let early = api
        .refused(409, "POST", &format!("/apps/{app}/redeploy"), None)
        .await;
    assert_eq!(early.code, "nothing_to_redeploy", "nothing runs yet");

    let _runner = Runner::start(&api.res, &[]);
    let first = api.deployments(&app).await[0].id.clone();
    assert_eq!(api.settle(&first).await.status, DeploymentStatus::Running);

    git.commit("again", &[("www/index.html", "a newer commit, not built")]);
    let again: Queued = api
        .expect(202, "POST", &format!("/apps/{app}/redeploy"), None)
        .await;
    let second = again.deployment_id.as_str();
    let d = api.settle(second).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    assert_eq!(d.trigger, Trigger::Redeploy);
    assert_eq!(d.commit.as_deref(), Some(sha.as_str()));
    assert!(!d.phases.contains_key("build"), "nothing was built: {d:?}");
    assert!(!api.logs(second).await.contains("Step 1/"));
    assert_eq!(fetch_upstream(&d).await.as_deref(), Some("same image"));
    assert_eq!(wait_containers(&app, 1).await.len(), 1);
}

#[tokio::test]
async fn a_duplicate_delivery_does_not_steal_a_build_that_is_going_well() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit(
        "dup",
        &[
            ("Dockerfile", &web_dockerfile("RUN sleep 4")),
            ("www/index.html", "once"),
        ],
    );
    let _a = Runner::start(&api.res, &[("SLIPWAY_RETRY_SECONDS", "1")]);
    let _b = Runner::start(&api.res, &[("SLIPWAY_RETRY_SECONDS", "1")]);
    let (app, dep) = api.deploy(deploy_body("dup", &git.url("dup"))).await;
    api.wait_for(&dep, 60, |d| d.phases.contains_key("clone"))
        .await;
    // SQS may deliver a message twice: send the same job again.
    api.sqs()
        .send_message()
        .queue_url(&api.res.queue_url)
        .message_body(json!({"deploymentId": dep, "appId": app}).to_string())
        .send()
        .await
        .unwrap();
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    assert_eq!(d.attempt, 1, "the first claim was kept: {d:?}");
    for _ in 0..50 {
        if api.queue_depth().await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(api.queue_depth().await, 0, "both copies were settled");
}

#[tokio::test]
async fn a_failure_reason_never_shows_a_secret_value() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    // Docker's reason quotes the failing command, which here holds the value.
    let dockerfile = format!(
        "FROM {}\nRUN echo {SECRET} && exit 3\n",
        env("SLIPWAY_BASE_IMAGE")
    );
    git.commit("quoted", &[("Dockerfile", &dockerfile)]);
    let _runner = Runner::start(&api.res, &[]);
    let mut body = deploy_body("quoted", &git.url("quoted"));
    body["secrets"] = json!({"APP_SECRET": SECRET});
    let (_, dep) = api.deploy(body).await;
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Failed, "{d:?}");
    let reason = d.error.as_deref().unwrap();
    assert!(reason.contains("returned a non-zero code"), "{reason}");
    assert!(
        reason.contains("[REDACTED]") && !reason.contains(SECRET),
        "{reason}"
    );
    assert!(!api.logs(&dep).await.contains(SECRET));
    assert!(!output_of(&api.res.prefix).contains(SECRET));
    for item in api.items().await {
        assert!(!item_contains(&item, SECRET), "{item:?}");
    }
}

#[tokio::test]
async fn redeploy_starts_the_built_image_with_the_new_env() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let dockerfile = format!(
        "FROM {}\nCOPY www/ /www/\nCMD [\"sh\", \"-c\", \"echo \\\"$GREETING\\\" > /www/greeting.txt && exec httpd -f -p 8080 -h /www\"]\n",
        env("SLIPWAY_BASE_IMAGE")
    );
    let sha = git.commit(
        "greet",
        &[("Dockerfile", &dockerfile), ("www/index.html", "hi")],
    );
    let runner = Runner::start(&api.res, &[]);
    let mut body = deploy_body("greet", &git.url("greet"));
    body["env"] = json!({"GREETING": "hello"});
    let (app, first) = api.deploy(body.clone()).await;
    let d = api.settle(&first).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    let host = api.app(&app).await.hostname;
    assert_eq!(
        runner
            .edge
            .serves(&host, "/greeting.txt", "hello\n")
            .await
            .as_deref(),
        Some("hello\n")
    );

    // New config, then run the image already built with it: the queued
    // build is superseded, nothing is built.
    body["env"] = json!({"GREETING": "bonjour"});
    let (_, build) = api.deploy(body).await;
    let again: Queued = api
        .expect(202, "POST", &format!("/apps/{app}/redeploy"), None)
        .await;
    let redeploy = again.deployment_id.as_str();
    let d = api.settle(redeploy).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    assert_eq!(d.commit.as_deref(), Some(sha.as_str()));
    assert!(!d.phases.contains_key("build"), "nothing was built: {d:?}");
    let log = api.logs(redeploy).await;
    assert!(!log.contains("Step 1/"), "{log}");
    assert!(log.contains("nothing is built"), "{log}");
    assert!(matches!(
        api.settle(&build).await.status,
        DeploymentStatus::Superseded | DeploymentStatus::Cancelled
    ));
    assert_eq!(
        runner
            .edge
            .serves(&host, "/greeting.txt", "bonjour\n")
            .await
            .as_deref(),
        Some("bonjour\n"),
        "the redeploy is served at the same hostname"
    );
}
