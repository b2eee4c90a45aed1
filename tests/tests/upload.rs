//! Upload apps end to end: presigned URLs against the emulator's S3, a real
//! runner fetching, checking, converting and building the archives.

use slipway_e2e::*;

/// An archive of `kind` serving `page`.
fn archive(kind: &str, marker: &str, page: &str) -> Vec<u8> {
    archive_with(kind, marker, page, &web_dockerfile(""))
}

async fn deploy_now(api: &Api, app: &str) -> (u16, Value) {
    api.call("POST", &format!("/apps/{app}/deploy"), None).await
}

#[tokio::test]
async fn a_zip_put_to_its_url_deploys_and_is_kept_as_tar_gz() {
    let api = Api::start().await;
    let _runner = Runner::start(&api.res, &[]);
    let app = api.create_upload_app("zipped").await;

    let (status, answer) = deploy_now(&api, &app).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(error_of(answer).code, "no_archive");
    let e = api
        .refused(409, "POST", &format!("/apps/{app}/redeploy"), None)
        .await;
    assert_eq!(e.code, "upload_app");
    let e = api
        .refused(
            413,
            "POST",
            &format!("/apps/{app}/source"),
            Some(json!({"format": "zip", "size": 524_288_001u64})),
        )
        .await;
    assert_eq!(
        (e.code.as_str(), e.field.as_deref()),
        ("archive_too_large", Some("size"))
    );
    assert!(api.source_keys(&app).await.is_empty());

    let zip = archive("site.zip", "-", "served from a zip");
    let size = zip.len() as u64;
    let url = api.upload(&app, "zip", zip, size).await;
    assert!(url
        .source_archive_path
        .starts_with(&format!("sources/{app}/")));
    assert_eq!(url.max_bytes, 524_288_000u64);
    assert_eq!(url.method, "PUT");
    let signed = url.upload_url.as_str();
    assert!(
        signed.contains("X-Amz-SignedHeaders=content-length%3B"),
        "the declared size is signed: {signed}"
    );
    let (status, queued) = deploy_now(&api, &app).await;
    assert_eq!(status, 202, "{queued}");
    let queued: Queued = body_of(queued);
    assert_eq!(queued.webhook, None);
    let dep = queued.deployment_id.as_str();
    let d = api.settle(dep).await;
    assert_eq!(
        d.status,
        DeploymentStatus::Running,
        "{d:?}\n{}",
        api.logs(dep).await
    );
    assert_eq!(d.cache_hit, Some(false));
    assert_eq!(
        fetch_upstream(&d).await.as_deref(),
        Some("served from a zip")
    );
    let log = api.logs(dep).await;
    assert!(log.contains("Converting the .zip"), "{log}");

    let shown = api.app(&app).await;
    let SourceView::Upload {
        archive: Some(archive),
        ..
    } = &shown.source
    else {
        panic!("an upload app with its archive: {shown:?}")
    };
    let stored = archive.path.as_str();
    assert!(stored.ends_with(".tar.gz"), "{shown:?}");
    assert_eq!(api.source_keys(&app).await, vec![stored.to_owned()]);

    // A deploy without a new upload rebuilds the stored (converted) archive.
    let (status, again) = deploy_now(&api, &app).await;
    assert_eq!(status, 202, "{again}");
    let d = api.settle(&body_of::<Queued>(again).deployment_id).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    assert_eq!(d.archive.unwrap().path, stored);
}

#[tokio::test]
async fn each_hostile_archive_fails_naming_its_entry_and_writes_nothing_outside() {
    let api = Api::start().await;
    let _runner = Runner::start(
        &api.res,
        &[
            ("SLIPWAY_MAX_SOURCE_BYTES", "67108864"),
            ("SLIPWAY_SLOTS", "2"),
        ],
    );
    let marker = format!("slipway-evil-{}", slipway_core::ids::random_hex(4));
    let cases = [
        ("dotdot", "tar.gz", "leaves the archive"),
        ("absolute", "tar.gz", "absolute path"),
        ("symlink-out", "tar.gz", "outside the archive"),
        ("hardlink-out", "tar.gz", "/etc/passwd"),
        ("device", "tar.gz", "character device"),
        ("bomb.zip", "zip", "expands past"),
        (
            "truncated",
            "tar.gz",
            "corrupt or truncated (at entry \"big\"",
        ),
        ("text.zip", "zip", "is not a zip archive"),
    ];
    for (kind, format, reason) in cases {
        let app = api.create_upload_app(&kind.replace('.', "-")).await;
        let bytes = archive(kind, &marker, "x");
        let size = bytes.len() as u64;
        api.upload(&app, format, bytes, size).await;
        let dep = &api.deploy_app(&app).await;
        let d = api.settle(dep).await;
        assert_eq!(d.status, DeploymentStatus::Failed, "{kind}: {d:?}");
        let error = d.error.as_deref().unwrap();
        assert!(error.contains(reason), "{kind}: {error}");
        assert!(
            api.logs(dep).await.contains(reason),
            "{kind}: the log says why"
        );
    }
    for place in ["/tmp", "/etc"] {
        assert!(
            !std::path::Path::new(place).join(&marker).exists(),
            "{place}/{marker} was written"
        );
    }
}

#[tokio::test]
async fn an_object_larger_than_declared_fails_at_the_runner() {
    let api = Api::start().await;
    let _runner = Runner::start(&api.res, &[]);
    let app = api.create_upload_app("liar").await;
    let bytes = archive("site.tar.gz", "-", "x");
    let declared = bytes.len() as u64 - 10;
    api.upload(&app, "tar.gz", bytes, declared).await;
    let d = api.settle(&api.deploy_app(&app).await).await;
    assert_eq!(d.status, DeploymentStatus::Failed, "{d:?}");
    assert!(
        d.error.as_deref().unwrap().contains("more than the"),
        "{d:?}"
    );
}

#[tokio::test]
async fn bad_upload_requests_write_nothing_and_secrets_stay_sealed() {
    let api = Api::start().await;
    for (body, field) in [
        (json!({"name": "site", "port": 0}), "port"),
        (
            json!({"name": "site", "repo": "https://github.com/a/b"}),
            "repo",
        ),
        (json!({"name": "Site!"}), "name"),
        (
            json!({"name": "site", "secrets": {"1BAD": "x"}}),
            "secrets.1BAD",
        ),
    ] {
        let e = api.refused(400, "POST", "/apps", Some(body)).await;
        assert_eq!(e.field.as_deref(), Some(field), "{e:?}");
    }
    assert!(api.written().await.is_empty(), "nothing was written");

    let secret = "upload-Secret-Value-31337";
    let (status, raw) = api
        .call(
            "POST",
            "/apps",
            Some(json!({"name": "site", "port": 8080, "secrets": {"API_KEY": secret}})),
        )
        .await;
    assert_eq!(status, 201, "{raw}");
    assert!(!raw.to_string().contains(secret));
    let app: AppView = body_of(raw);
    assert_eq!(app.secret_names, ["API_KEY"]);
    for item in api.items().await {
        assert!(!item_contains(&item, secret), "{item:?}");
    }
    let id = app.id.as_str();
    let mallory = api.mint_token("mallory").await;
    for (method, path, body) in [
        (
            "POST",
            format!("/apps/{id}/source"),
            Some(json!({"format": "zip", "size": 10})),
        ),
        ("POST", format!("/apps/{id}/deploy"), None),
        ("GET", format!("/apps/{id}"), None),
    ] {
        let e = api.refused_as(&mallory, 404, method, &path, body).await;
        assert_eq!(e.code, "not_found", "another owner: {path}");
    }
    let again = api
        .refused(409, "POST", "/apps", Some(json!({"name": "site"})))
        .await;
    assert_eq!(again.code, "name_taken");
    assert!(again.message.contains(id));
    let deploy = api
        .refused(
            409,
            "POST",
            "/deploy",
            Some(json!({"name": "site", "repo": "https://github.com/a/b"})),
        )
        .await;
    assert_eq!(
        deploy.code, "upload_app",
        "an upload app does not turn into a Git app"
    );

    let git_app: Queued = api
        .expect(
            202,
            "POST",
            "/deploy",
            Some(json!({"name": "from-git", "repo": "https://github.com/a/b"})),
        )
        .await;
    let refused = api
        .refused(
            409,
            "POST",
            &format!("/apps/{}/source", git_app.app_id),
            Some(json!({"format": "zip", "size": 10})),
        )
        .await;
    assert_eq!(refused.code, "git_app");

    // Deleting an upload app deletes its archives.
    api.upload(id, "tar.gz", b"not even gzip".to_vec(), 13)
        .await;
    assert_eq!(api.source_keys(id).await.len(), 1);
    let _: slipway_core::api::Deleted = api
        .expect(202, "DELETE", &format!("/apps/{id}"), None)
        .await;
    assert!(api.source_keys(id).await.is_empty());
}

#[tokio::test]
async fn a_runner_killed_after_converting_a_zip_leaves_the_rest_to_another() {
    let api = Api::start().await;
    let mut first = Runner::start(&api.res, &[]);
    let app = api.create_upload_app("phoenix-zip").await;
    let zip = archive_with(
        "site.zip",
        "-",
        "risen from a zip",
        &web_dockerfile("RUN sleep 3"),
    );
    let size = zip.len() as u64;
    api.upload(&app, "zip", zip, size).await;
    let dep = api.deploy_app(&app).await;
    // The fetch phase ends once the .zip is converted, stored back and unpacked.
    api.wait_for(&dep, 60, |d| d.phases.contains_key("fetch"))
        .await;
    first.signal("-KILL");
    first.wait().await;

    let _second = Runner::start(&api.res, &[]);
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    assert!(u64::from(d.attempt) >= 2, "{d:?}");
    assert!(
        d.archive.as_ref().unwrap().path.ends_with(".tar.gz"),
        "{d:?}"
    );
    assert_eq!(
        fetch_upstream(&d).await.as_deref(),
        Some("risen from a zip")
    );
    assert_eq!(api.source_keys(&app).await.len(), 1);
}

#[tokio::test]
async fn an_archive_gone_from_storage_fails_without_quoting_its_signed_url() {
    let api = Api::start().await;
    let app = api.create_upload_app("vanished").await;
    let bytes = archive("site.tar.gz", "-", "x");
    let size = bytes.len() as u64;
    let url = api.upload(&app, "tar.gz", bytes, size).await;
    let dep = &api.deploy_app(&app).await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws_config::load_from_env().await)
            .force_path_style(true)
            .build(),
    )
    .delete_object()
    .bucket(&api.res.bucket)
    .key(&url.source_archive_path)
    .send()
    .await
    .unwrap();

    let _runner = Runner::start(&api.res, &[]);
    let d = api.settle(dep).await;
    assert_eq!(d.status, DeploymentStatus::Failed, "{d:?}");
    assert!(
        d.error.as_deref().unwrap().contains("no longer in storage"),
        "{d:?}"
    );
    let said = format!("{d:?}{}", api.logs(dep).await);
    assert!(!said.contains("X-Amz-"), "a signed URL leaked: {said}");
}
