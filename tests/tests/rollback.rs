//! Rollback: an earlier live version's image again, with the app's current
//! config, as a new deployment that builds nothing; through the API and the
//! CLI, and refused (writing nothing) for what cannot be rolled back to.

use slipway_e2e::*;

fn deploy_body(name: &str, repo: &str) -> Value {
    json!({"name": name, "repo": repo, "port": 8080})
}

/// Deletes `app:tag` from the registry, as a retention policy would.
async fn delete_from_registry(app: &str, tag: &str) {
    let head = registry_request(
        reqwest::Method::HEAD,
        &format!("/v2/slipway/{app}/manifests/{tag}"),
    )
    .header(
        "accept",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(head.status(), 200, "the image is in the registry");
    let digest = head.headers()["docker-content-digest"]
        .to_str()
        .unwrap()
        .to_owned();
    let gone = registry_request(
        reqwest::Method::DELETE,
        &format!("/v2/slipway/{app}/manifests/{digest}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(gone.status(), 202);
}

#[tokio::test]
async fn a_rollback_runs_an_earlier_image_without_a_build_and_a_push_supersedes_it() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let runner = Runner::start(&api.res, &[]);
    let v1 = git.commit("shop", &files(&site("v1")));
    let (app, d1) = api.deploy(deploy_body("shop", &git.url("shop"))).await;
    assert_eq!(api.settle(&d1).await.status, DeploymentStatus::Running);
    git.commit("shop", &[("www/index.html", "v2")]);
    let d2 = api.deploy_app(&app).await;
    assert_eq!(api.settle(&d2).await.status, DeploymentStatus::Running);
    let host = api.app(&app).await.hostname;
    assert_eq!(
        runner.edge.serves(&host, "/", "v2").await.as_deref(),
        Some("v2")
    );

    // What cannot be rolled back to is refused and writes nothing.
    let (other, other_dep) = api.deploy(deploy_body("other", &git.url("shop"))).await;
    api.settle(&other_dep).await;
    let never = api.deploy_app(&app).await;
    api.call("POST", &format!("/deployments/{never}/cancel"), None)
        .await;
    let cancelled = api.settle(&never).await;
    assert_eq!(cancelled.status, DeploymentStatus::Cancelled);
    let before = api.written().await;
    let rollback = format!("/apps/{app}/rollback");
    let e = api
        .refused(
            404,
            "POST",
            &rollback,
            Some(json!({"deploymentId": other_dep})),
        )
        .await;
    assert_eq!(
        (e.code.as_str(), e.field.as_deref()),
        ("not_found", Some("deploymentId"))
    );
    let e = api
        .refused(404, "POST", &rollback, Some(json!({"deploymentId": "v1"})))
        .await;
    assert_eq!(e.code, "not_found");
    let e = api
        .refused(409, "POST", &rollback, Some(json!({"deploymentId": never})))
        .await;
    assert_eq!(e.code, "never_live", "{}", e.message);
    assert!(e.message.contains("cancelled"), "{}", e.message);
    let e = api.refused(400, "POST", &rollback, Some(json!({}))).await;
    assert_eq!(e.field.as_deref(), Some("deploymentId"));
    let e = api
        .refused(
            404,
            "POST",
            &format!("/apps/{other}/rollback"),
            Some(json!({"deploymentId": d1})),
        )
        .await;
    assert_eq!(
        e.code, "not_found",
        "another app's deployment: {}",
        e.message
    );
    assert_eq!(
        api.written().await,
        before,
        "a refused rollback writes nothing"
    );

    // Back to v1: its image, no build, a deployment of its own.
    let queued: Queued = api
        .expect(202, "POST", &rollback, Some(json!({"deploymentId": d1})))
        .await;
    let back = api.settle(&queued.deployment_id).await;
    assert_eq!(back.status, DeploymentStatus::Running, "{back:?}");
    assert_eq!(back.trigger, Trigger::Rollback);
    assert_eq!(back.rolled_back_from.as_deref(), Some(d1.as_str()));
    assert_eq!(back.commit.as_deref(), Some(v1.as_str()));
    assert!(
        !back.phases.contains_key("build"),
        "nothing was built: {back:?}"
    );
    // Read at once: the log is stored whole before the status flips.
    let log = api.logs(&back.id).await;
    assert!(log.contains("Going live at http://"), "{log}");
    assert!(!log.contains("Step 1/"), "{log}");
    assert!(
        log.contains(&format!("Rolling back to commit {v1}")),
        "{log}"
    );
    assert_eq!(
        runner.edge.serves(&host, "/", "v1").await.as_deref(),
        Some("v1")
    );
    assert_eq!(wait_containers(&app, 1).await.len(), 1);

    // A push of v3 supersedes the rollback as it would any deployment.
    git.commit("shop", &[("www/index.html", "v3")]);
    let d3 = api.deploy_app(&app).await;
    assert_eq!(api.settle(&d3).await.status, DeploymentStatus::Running);
    assert_eq!(
        runner.edge.serves(&host, "/", "v3").await.as_deref(),
        Some("v3")
    );
    let rolled = api.settle(&back.id).await;
    assert_eq!(rolled.status, DeploymentStatus::Superseded);

    // The CLI rolls back by id, and lists the history for scripts.
    let out = api
        .cli(
            &temp_dir("rollback-cli"),
            &["rollback", "shop", &d2, "--follow"],
        )
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        runner.edge.serves(&host, "/", "v2").await.as_deref(),
        Some("v2")
    );
    let out = api
        .cli(
            &temp_dir("rollback-cli"),
            &["deployments", "shop", "--output", "json"],
        )
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let history: DeploymentList = serde_json::from_slice(&out.stdout).unwrap();
    let newest = &history.deployments[0];
    assert_eq!(newest.trigger, Trigger::Rollback);
    assert_eq!(newest.rolled_back_from.as_deref(), Some(d2.as_str()));
    assert_eq!(newest.status, DeploymentStatus::Running);

    // An image gone from the registry cannot be rolled back to.
    delete_from_registry(&app, &v1).await;
    let before = api.written().await;
    let e = api
        .refused(409, "POST", &rollback, Some(json!({"deploymentId": d1})))
        .await;
    assert_eq!(e.code, "image_gone", "{}", e.message);
    assert_eq!(api.written().await, before);
}

#[tokio::test]
async fn an_upload_app_is_not_rolled_back_and_the_document_needs_no_bearer() {
    let api = Api::start().await;
    let created: AppView = api
        .expect(201, "POST", "/apps", Some(json!({"name": "up"})))
        .await;
    let e = api
        .refused(
            409,
            "POST",
            &format!("/apps/{}/rollback", created.id),
            Some(json!({"deploymentId": slipway_core::ids::DeploymentId::new()})),
        )
        .await;
    assert_eq!(e.code, "upload_app");

    let (status, doc) = api.raw("GET", "/openapi.json", None, Vec::new()).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let checked_in =
        std::fs::read_to_string(format!("{}/openapi.json", env("SLIPWAY_ROOT"))).unwrap();
    assert_eq!(doc, serde_json::from_str::<Value>(&checked_in).unwrap());
    let (status, _) = api.raw("GET", "/apps", None, Vec::new()).await;
    assert_eq!(status, 401, "the rest still takes the bearer");
}
