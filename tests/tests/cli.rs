//! The `slipway` CLI end to end, run as a user runs it in a terminal or CI.

use std::path::Path;
use std::process::Output;

use slipway_e2e::*;

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write_site(dir: &Path, page: &str) {
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("Dockerfile"), web_dockerfile("")).unwrap();
    std::fs::write(dir.join("www/index.html"), page).unwrap();
    std::fs::write(dir.join("www/secret.txt"), "left out").unwrap();
    std::fs::write(dir.join(".dockerignore"), "www/secret.txt\n").unwrap();
}

#[tokio::test]
async fn slipway_up_ships_a_directory_and_each_new_upload_replaces_the_last() {
    let api = Api::start().await;
    let runner = Runner::start(&api.res, &[]);
    let dir = temp_dir("cli-up");
    write_site(&dir, "first upload");

    let out = api
        .cli(
            &dir,
            &["up", ".", "--app", "site", "--create", "--port", "8080"],
        )
        .await;
    assert!(out.status.success(), "{}", said(&out));
    let apps: AppList = api.expect(200, "GET", "/apps", None).await;
    let app = apps.apps[0].clone();
    let id = app.id;
    let url = app.url;
    let host = app.hostname;
    assert!(
        said(&out).contains(&format!("running at {url}")),
        "{}",
        said(&out)
    );
    assert_eq!(
        runner
            .edge
            .serves(&host, "/", "first upload")
            .await
            .as_deref(),
        Some("first upload")
    );
    assert_ne!(
        runner
            .edge
            .serves(&host, "/secret.txt", "left out")
            .await
            .as_deref(),
        Some("left out"),
        ".dockerignore is honoured"
    );
    let first = api.source_keys(&id).await;
    assert_eq!(first.len(), 1, "{first:?}");

    write_site(&dir, "second upload");
    let out = api.cli(&dir, &["up", "--app", "site"]).await;
    assert!(out.status.success(), "{}", said(&out));
    let shown = api.app(&id).await;
    assert_eq!(shown.url, url, "the URL stays");
    assert_eq!(
        runner
            .edge
            .serves(&host, "/", "second upload")
            .await
            .as_deref(),
        Some("second upload")
    );
    let now = api.source_keys(&id).await;
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now, first, "the first archive is gone");
    let SourceView::Upload {
        archive: Some(archive),
        ..
    } = &shown.source
    else {
        panic!("{shown:?}")
    };
    assert_eq!(archive.path, now[0]);

    // The other commands, and the API's messages when it refuses.
    let out = api.cli(&dir, &["apps"]).await;
    assert!(
        said(&out).contains("site") && said(&out).contains("running"),
        "{}",
        said(&out)
    );
    let out = api.cli(&dir, &["status", "site"]).await;
    assert!(said(&out).contains("uploaded archive"), "{}", said(&out));
    let out = api.cli(&dir, &["status", "site", "--output", "json"]).await;
    let status: AppView = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (status.id.as_str(), status.status),
        (id.as_str(), AppStatus::Running)
    );
    let out = api.cli(&dir, &["apps", "-o", "json"]).await;
    let listed: AppList = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.apps.len(), 1);
    let dep = shown.latest_deployment_id.as_deref().unwrap();
    let out = api.cli(&dir, &["logs", dep]).await;
    assert!(said(&out).contains("Going live at"), "{}", said(&out));
    let out = api.cli(&dir, &["redeploy", "site"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(said(&out).contains("uploaded archives"), "{}", said(&out));
    let out = api.cli(&dir, &["up", "--app", "nope"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(said(&out).contains("--create"), "{}", said(&out));
}

#[tokio::test]
async fn a_failing_build_makes_slipway_up_fail_with_the_reason() {
    let api = Api::start().await;
    let _runner = Runner::start(&api.res, &[]);
    let dir = temp_dir("cli-fail");
    write_site(&dir, "never");
    std::fs::write(
        dir.join("Dockerfile"),
        web_dockerfile("RUN echo broken-step && false"),
    )
    .unwrap();
    let out = api
        .cli(
            &dir,
            &["up", "--app", "broken", "--create", "--port", "8080"],
        )
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        said(&out).contains("broken-step"),
        "the build log is shown: {}",
        said(&out)
    );
    assert!(said(&out).contains("failed"), "{}", said(&out));
}

#[tokio::test]
async fn slipway_deploy_follows_a_git_app_to_running() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit(
        "app",
        &[
            ("Dockerfile", &web_dockerfile("")),
            ("www/index.html", "from git"),
        ],
    );
    let _runner = Runner::start(&api.res, &[]);
    let dir = temp_dir("cli-git");
    let out = api
        .cli(
            &dir,
            &[
                "deploy",
                "--name",
                "gitapp",
                "--repo",
                &git.url("app"),
                "--port",
                "8080",
                "--env",
                "A=1",
                "--follow",
            ],
        )
        .await;
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("\"webhook\""), "{}", said(&out));
    // The webhook secret stays out of the output (a CI log) unless asked for.
    let shown = api
        .cli(
            &dir,
            &[
                "deploy",
                "--name",
                "gitapp",
                "--repo",
                &git.url("app"),
                "--port",
                "8080",
                "--env",
                "A=1",
                "--show-webhook-secret",
            ],
        )
        .await;
    assert!(shown.status.success(), "{}", said(&shown));
    let answer: Queued = serde_json::from_slice(&shown.stdout).unwrap();
    let secret = answer.webhook.unwrap().secret.unwrap();
    assert_eq!(secret.len(), 64);
    let secret = secret.as_str();
    assert!(!said(&out).contains(secret), "{}", said(&out));
    let out = api
        .cli(
            &dir,
            &["deploy", "--name", "Bad Name", "--repo", &git.url("app")],
        )
        .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        said(&out).contains("name"),
        "the API's message: {}",
        said(&out)
    );
}

/// `cargo install --path cli`, as a user installs the CLI: built alone, with
/// none of the workspace's other crates to lend it their TLS.
fn install_cli() -> std::path::PathBuf {
    let root = temp_dir("cli-install");
    let workspace = std::path::PathBuf::from(env("SLIPWAY_ROOT"));
    let out = std::process::Command::new("cargo")
        .args(["install", "--locked", "--debug", "--quiet", "--path"])
        .arg(workspace.join("cli"))
        .arg("--root")
        .arg(&root)
        // Its own target directory: kept between runs, apart from the
        // workspace's (whose features differ).
        .env("CARGO_TARGET_DIR", workspace.join("target/cli-alone"))
        .output()
        .expect("cargo install runs");
    assert!(out.status.success(), "{}", said(&out));
    root.join("bin/slipway")
}

#[tokio::test]
async fn the_cli_installed_alone_speaks_https() {
    let api = Api::start().await;
    let certs = temp_dir("tls");
    let mut proxy = tokio::process::Command::new(env("SLIPWAY_PYTHON"))
        .arg(std::path::PathBuf::from(env("SLIPWAY_ROOT")).join("tests/fixtures/tls_proxy.py"))
        .arg(&api.base)
        .arg(&certs)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the TLS proxy starts");
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(proxy.stdout.take().unwrap()));
    let first = lines
        .next_line()
        .await
        .unwrap()
        .expect("the proxy prints its address");
    let https = first.strip_prefix("listening on ").unwrap().to_owned();
    let slipway = tokio::task::spawn_blocking(install_cli).await.unwrap();
    let run = |ca: Option<&Path>| {
        let mut cmd = std::process::Command::new(&slipway);
        cmd.args(["--output", "json", "apps"])
            .env("SLIPWAY_API", &https)
            .env("SLIPWAY_TOKEN", &api.token)
            .env_remove("SSL_CERT_DIR");
        match ca {
            Some(ca) => cmd.env("SSL_CERT_FILE", ca),
            None => cmd.env_remove("SSL_CERT_FILE"),
        };
        cmd.output().expect("slipway runs")
    };
    let trusted = run(Some(&certs.join("ca.pem")));
    assert!(trusted.status.success(), "{}", said(&trusted));
    let listed: AppList = serde_json::from_slice(&trusted.stdout).unwrap();
    assert!(listed.apps.is_empty(), "{listed:?}");
    // The certificate is checked: signed by a CA the system does not trust,
    // the same request fails.
    let untrusted = run(None);
    assert!(!untrusted.status.success(), "{}", said(&untrusted));
    assert!(
        said(&untrusted).to_lowercase().contains("certificate"),
        "{}",
        said(&untrusted)
    );
}
