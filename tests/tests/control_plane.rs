//! The control plane from outside: `local-api` on real DynamoDB, SQS and KMS
//! (the emulator) through the AWS SDK.

use base64::Engine;
use slipway_core::envelope::{Envelope, Purpose};
use slipway_core::model::{App, Credentials};
use slipway_e2e::*;

const TOKEN: &str = "ghp_Sup3rS3cretRep0T0ken";
const SECRET: &str = "postgres://app:hunter2-very-secret@db/app";

fn seed_body() -> Value {
    json!({
        "name": "api",
        "repo": "https://github.com/acme/api.git",
        "branch": "main",
        "dockerfile": "Dockerfile",
        "context": ".",
        "port": 8080,
        "repoToken": TOKEN,
        "cpu": 0.5,
        "memory": 256,
        "domain": "api.acme.dev",
        "env": {"RUST_LOG": "info"},
        "secrets": {"DATABASE_URL": SECRET}
    })
}

async fn stored_app(api: &Api, id: &str) -> App {
    let out = api
        .dynamo()
        .get_item()
        .table_name(&api.res.table)
        .key(
            "PK",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("APP#{id}")),
        )
        .key(
            "SK",
            aws_sdk_dynamodb::types::AttributeValue::S("APP".into()),
        )
        .send()
        .await
        .unwrap();
    serde_dynamo::from_item(out.item.expect("the app item exists")).unwrap()
}

#[tokio::test]
async fn deploy_queues_ids_only_and_stores_the_token_sealed() {
    let api = Api::start().await;
    let (status, raw) = api.call("POST", "/deploy", Some(seed_body())).await;
    assert_eq!(status, 202, "{raw}");
    assert!(!raw.to_string().contains(TOKEN) && !raw.to_string().contains(SECRET));
    let body: Queued = serde_json::from_value(raw).unwrap();
    let app_id = body.app_id.as_str();
    let deployment_id = body.deployment_id.as_str();
    assert_eq!(body.status, DeploymentStatus::Queued);
    assert!(body.url.starts_with("http://"));
    let hook = body.webhook.as_ref().unwrap();
    assert_eq!(hook.url, format!("{}/webhooks/github/{app_id}", api.base));
    assert_eq!(hook.content_type, "application/json");
    assert_eq!(hook.events, ["push"]);
    let secret = hook.secret.as_deref().unwrap();
    assert!(secret.len() >= 64, "at least 32 random bytes");

    let messages = api.queued_messages().await;
    assert_eq!(messages.len(), 1);
    let message: Value = serde_json::from_str(&messages[0]).unwrap();
    assert_eq!(
        message,
        json!({"deploymentId": deployment_id, "appId": app_id})
    );

    let b64 = base64::engine::general_purpose::STANDARD;
    for item in api.items().await {
        for needle in [
            TOKEN,
            SECRET,
            secret,
            &b64.encode(TOKEN),
            &b64.encode(secret),
        ] {
            assert!(
                !item_contains(&item, needle),
                "a plaintext secret is in {item:?}"
            );
        }
    }

    let app = stored_app(&api, app_id).await;
    let envelope = Envelope::new(api.kms(), api.res.kms_key.clone());
    let sealed = b64.decode(app.config.sealed_credentials.unwrap()).unwrap();
    let creds: Credentials = serde_json::from_slice(
        &envelope
            .open(app_id, Purpose::Credentials, &sealed)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(creds.repo_token.as_deref(), Some(TOKEN));
    assert_eq!(creds.secrets["DATABASE_URL"], SECRET);
    let hook_secret = envelope
        .open(
            app_id,
            Purpose::WebhookSecret,
            &b64.decode(&app.sealed_webhook_secret).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(hook_secret, secret.as_bytes());
    assert!(
        envelope
            .open(
                "01a2017e-0000-7000-8000-000000000000",
                Purpose::Credentials,
                &sealed
            )
            .await
            .is_err(),
        "sealed values are bound to their app"
    );
    assert!(
        envelope
            .open(app_id, Purpose::WebhookSecret, &sealed)
            .await
            .is_err(),
        "and to their purpose: credentials do not open as a webhook secret"
    );
}

#[tokio::test]
async fn the_same_name_updates_the_app_and_queues_a_new_deployment() {
    let api = Api::start().await;
    let first: Queued = api.expect(202, "POST", "/deploy", Some(seed_body())).await;
    let mut monorepo = seed_body();
    monorepo["dockerfile"] = "services/api/Dockerfile".into();
    monorepo["context"] = "services/api".into();
    monorepo["port"] = 9090.into();
    let second: Queued = api.expect(202, "POST", "/deploy", Some(monorepo)).await;
    assert_eq!(first.app_id, second.app_id);
    assert_ne!(first.deployment_id, second.deployment_id);
    assert_eq!(
        first.webhook.unwrap().secret,
        second.webhook.unwrap().secret,
        "the webhook secret is stable"
    );

    let app = api.app(&first.app_id).await;
    let SourceView::Git {
        dockerfile,
        context,
        ..
    } = &app.source
    else {
        panic!("a git app: {app:?}")
    };
    assert_eq!(dockerfile, "services/api/Dockerfile");
    assert_eq!(context, "services/api");
    assert_eq!(app.port, 9090);
    assert_eq!(app.deployments.unwrap().len(), 2);

    let older = api.deployment(&first.deployment_id).await;
    assert_eq!(
        older.status,
        DeploymentStatus::Superseded,
        "the older queued deployment gives way"
    );
    let list: AppList = api.expect(200, "GET", "/apps", None).await;
    assert_eq!(list.apps.len(), 1);
}

#[tokio::test]
async fn an_app_shows_its_webhook_and_never_a_secret() {
    let api = Api::start().await;
    let created: Queued = api.expect(202, "POST", "/deploy", Some(seed_body())).await;
    let (status, raw) = api
        .call("GET", &format!("/apps/{}", created.app_id), None)
        .await;
    assert_eq!(status, 200);
    let text = raw.to_string();
    assert!(!text.contains(TOKEN) && !text.contains(SECRET));
    assert!(!text.contains("sealed"), "no sealed attribute is shown");
    // Every field the API declares is there (the shared type requires them).
    let app: AppView = serde_json::from_value(raw).unwrap();
    assert_eq!(
        app.webhook.clone(),
        created.webhook,
        "its owner fetches the webhook again, secret included"
    );
    assert!(matches!(
        app.source,
        SourceView::Git {
            has_repo_token: true,
            ..
        }
    ));
    assert_eq!(app.secret_names, ["DATABASE_URL"]);
    assert_eq!(app.cpu, 0.5);
    assert_eq!(app.status, AppStatus::Queued);
    assert_eq!(app.deployments.unwrap().len(), 1);

    let list: AppList = api.expect(200, "GET", "/apps", None).await;
    assert!(
        list.apps[0].webhook.as_ref().unwrap().secret.is_none(),
        "the list shows no webhook secret"
    );
    let d = api.deployment(&created.deployment_id).await;
    assert_eq!(
        (d.status, d.trigger),
        (DeploymentStatus::Queued, Trigger::Api)
    );
    assert_eq!((d.commit, d.cache_hit, d.error), (None, None, None));
}

#[tokio::test]
async fn another_owner_sees_nothing_and_a_bad_bearer_gets_401() {
    let api = Api::start().await;
    let created: Queued = api.expect(202, "POST", "/deploy", Some(seed_body())).await;
    let id = created.app_id.clone();
    let dep = created.deployment_id.clone();
    let mallory = api.mint_token("mallory").await;
    let routes = [
        ("GET", format!("/apps/{id}")),
        ("DELETE", format!("/apps/{id}")),
        ("POST", format!("/apps/{id}/deploy")),
        ("GET", format!("/apps/{id}/deployments")),
        ("GET", format!("/deployments/{dep}")),
        ("POST", format!("/deployments/{dep}/cancel")),
        ("GET", format!("/deployments/{dep}/logs")),
        ("POST", format!("/apps/{id}/redeploy")),
    ];
    let before = api.written().await.len();
    for (method, path) in &routes {
        let e = api.refused_as(&mallory, 404, method, path, None).await;
        assert_eq!(e.code, "not_found");
    }
    let e = api
        .refused_as(
            &mallory,
            404,
            "POST",
            &format!("/apps/{id}/rollback"),
            Some(json!({"deploymentId": dep})),
        )
        .await;
    assert_eq!(e.code, "not_found");
    let theirs: AppList = api.expect_as(&mallory, 200, "GET", "/apps", None).await;
    assert!(theirs.apps.is_empty());
    // Deploying the same name as another owner makes a separate app (the
    // domain is the other owner's, so it asks for none).
    let mut body = seed_body();
    body["domain"] = Value::Null;
    let own: Queued = api
        .expect_as(&mallory, 202, "POST", "/deploy", Some(body))
        .await;
    assert_ne!(own.app_id, created.app_id);
    assert_ne!(
        own.url, created.url,
        "each owner's api has its own hostname"
    );
    assert!(own.url.starts_with("http://api-"));
    assert_eq!(
        api.written().await.len(),
        before + 5,
        "mallory's app, its name, its hostname, its route and its deployment only"
    );

    for (method, path) in routes
        .iter()
        .chain([("GET", "/apps".to_owned()), ("POST", "/deploy".to_owned())].iter())
    {
        let (status, body) = api.raw(method, path, None, Vec::new()).await;
        assert_eq!(status, 401, "{method} {path} without a token");
        assert_eq!(error_of(body).code, "unauthorized");
        let (status, _) = api
            .raw(method, path, Some("slw_not-a-real-token"), Vec::new())
            .await;
        assert_eq!(status, 401, "{method} {path} with a wrong token");
    }
    assert_eq!(
        api.app(&id).await.status,
        AppStatus::Queued,
        "nothing mallory sent changed alice's app"
    );
}

#[tokio::test]
async fn each_bad_field_gets_400_naming_it_and_writes_nothing() {
    let api = Api::start().await;
    let cases: Vec<(&str, Value)> = vec![
        ("dockerfile", json!("../Dockerfile")),
        ("dockerfile", json!("/etc/passwd")),
        ("dockerfile", json!("a/../../b")),
        ("context", json!("..")),
        ("port", json!(0)),
        ("port", json!(70000)),
        ("repo", json!("http://github.com/acme/api.git")),
        ("repo", json!("ssh://git@github.com/acme/api.git")),
        ("repo", json!("file:///etc/passwd")),
        ("repo", json!("git@github.com:a/b")),
        ("repo", json!("https://user:pw@host/r")),
        ("repo", json!("https://169.254.169.254/x")),
        ("name", json!("My App")),
        ("branch", json!("-x")),
        ("cpu", json!(64)),
        ("memory", json!(1)),
        ("env", json!({"1BAD": "x"})),
        ("secrets", json!("not-an-object")),
        ("colour", json!("blue")),
    ];
    for (field, value) in cases {
        let mut body = seed_body();
        body[field] = value.clone();
        let (status, resp) = api.call("POST", "/deploy", Some(body)).await;
        assert_eq!(status, 400, "{field}={value}: {resp}");
        assert!(!resp.to_string().contains(TOKEN));
        let e = error_of(resp);
        assert_eq!(e.code, "invalid_field");
        let named = e.field.unwrap();
        assert!(named.starts_with(field), "{field}={value} named {named}");
        assert!(e.message.contains(field));
    }
    let (status, resp) = api
        .raw(
            "POST",
            "/deploy",
            Some(&api.token),
            b"name=api&repo=x".to_vec(),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_of(resp).code, "invalid_json");
    let mut huge = seed_body();
    huge["env"] = json!({"BIG": "x".repeat(1024 * 1024)});
    let (status, resp) = api
        .raw(
            "POST",
            "/deploy",
            Some(&api.token),
            huge.to_string().into_bytes(),
        )
        .await;
    assert_eq!(status, 413, "{resp}");
    assert_eq!(error_of(resp).code, "payload_too_large");

    assert!(
        api.written().await.is_empty(),
        "bad input wrote to the table"
    );
    assert_eq!(api.queue_depth().await, 0, "bad input queued a job");
}

#[tokio::test]
async fn cancel_deploy_now_and_delete() {
    let api = Api::start().await;
    let created: Queued = api.expect(202, "POST", "/deploy", Some(seed_body())).await;
    let id = created.app_id.as_str();
    let dep = created.deployment_id.as_str();

    let d: DeploymentView = api
        .expect(200, "POST", &format!("/deployments/{dep}/cancel"), None)
        .await;
    assert_eq!(
        d.status,
        DeploymentStatus::Cancelled,
        "a queued deployment is cancelled at once"
    );
    let e = api
        .refused(409, "POST", &format!("/deployments/{dep}/cancel"), None)
        .await;
    assert_eq!(e.code, "already_finished");

    let now: Queued = api
        .expect(202, "POST", &format!("/apps/{id}/deploy"), None)
        .await;
    assert_eq!(now.app_id, created.app_id);
    assert_eq!(now.webhook, created.webhook);
    assert_eq!(api.queued_messages().await.len(), 2);
    let statuses: Vec<DeploymentStatus> =
        api.deployments(id).await.iter().map(|d| d.status).collect();
    assert_eq!(
        statuses,
        [DeploymentStatus::Queued, DeploymentStatus::Cancelled],
        "newest first"
    );

    let deleted: slipway_core::api::Deleted = api
        .expect(202, "DELETE", &format!("/apps/{id}"), None)
        .await;
    assert_eq!(
        (deleted.id.as_str(), deleted.status),
        (id, AppStatus::Deleted)
    );
    api.refused(404, "GET", &format!("/apps/{id}"), None).await;
    let list: AppList = api.expect(200, "GET", "/apps", None).await;
    assert!(list.apps.is_empty());
    let new_dep = now.deployment_id.as_str();
    let stored = api
        .dynamo()
        .get_item()
        .table_name(&api.res.table)
        .key(
            "PK",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("DEP#{new_dep}")),
        )
        .key(
            "SK",
            aws_sdk_dynamodb::types::AttributeValue::S("DEP".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(
        stored["status"].as_s().unwrap(),
        "cancelled",
        "a deleted app's queued work is cancelled"
    );
    let recreated: Queued = api.expect(202, "POST", "/deploy", Some(seed_body())).await;
    assert_ne!(recreated.app_id, created.app_id, "the name is free again");
}

#[tokio::test]
async fn every_error_has_the_json_error_shape() {
    let api = Api::start().await;
    let created: Queued = api.expect(202, "POST", "/deploy", Some(seed_body())).await;
    let dep = created.deployment_id.as_str();
    let cases = [
        ("GET", "/nowhere".to_owned(), 404, "not_found"),
        ("PUT", "/apps".to_owned(), 405, "method_not_allowed"),
        ("GET", "/deploy".to_owned(), 405, "method_not_allowed"),
        ("GET", "/apps/not-an-id".to_owned(), 404, "not_found"),
        (
            "GET",
            format!("/deployments/{dep}/logs?after=abc"),
            400,
            "invalid_field",
        ),
    ];
    for (method, path, status, code) in cases {
        let e = api.refused(status, method, &path, None).await;
        assert_eq!(e.code, code, "{method} {path}: {e:?}");
        assert!(!e.message.is_empty());
    }
    let logs: LogPage = api
        .expect(200, "GET", &format!("/deployments/{dep}/logs"), None)
        .await;
    assert!(logs.chunks.is_empty(), "nothing built yet");
    assert_eq!((logs.done, logs.more, logs.next), (false, false, None));
}

#[tokio::test]
async fn sigterm_stops_the_api_cleanly_once_nothing_is_in_hand() {
    let mut api = Api::start().await;
    let (status, _) = api.call("GET", "/apps", None).await;
    assert_eq!(status, 200);
    let exit = api.terminate().await;
    assert!(
        exit.success(),
        "a clean exit, not death by signal: {exit:?}"
    );
    let printed = output_of(&format!("{}-api", api.res.prefix));
    assert!(printed.contains("SIGTERM: draining"), "{printed}");
    assert!(printed.contains("local API stopped"), "{printed}");
    assert!(
        !printed.contains("drain deadline passed"),
        "the idle push consumer stops at once instead of holding the exit: {printed}"
    );
}

#[tokio::test]
async fn secrets_within_their_limits_that_would_not_fit_the_table_sealed_are_refused() {
    let api = Api::start().await;
    // Four values of 32,000 control characters: each within its limit, all
    // four within the total, but six bytes each in the sealed JSON.
    let value = "\u{1}".repeat(32_000);
    let secrets: serde_json::Map<String, Value> =
        (1..=4).map(|i| (format!("S{i}"), json!(value))).collect();
    let mut body = json!({"name": "big", "repo": "https://example.com/r.git"});
    body["secrets"] = Value::Object(secrets.clone());
    let e = api.refused(400, "POST", "/deploy", Some(body)).await;
    assert_eq!(e.field.as_deref(), Some("secrets"), "{e:?}");
    let e = api
        .refused(
            400,
            "POST",
            "/apps",
            Some(json!({"name": "up", "secrets": secrets})),
        )
        .await;
    assert_eq!(e.field.as_deref(), Some("secrets"), "{e:?}");
    assert!(api.written().await.is_empty(), "nothing was written");
    assert!(api.queued_messages().await.is_empty());
}

#[tokio::test]
async fn settings_change_alone_and_bad_ones_change_nothing() {
    let api = Api::start().await;
    let created: Queued = api.expect(202, "POST", "/deploy", Some(seed_body())).await;
    let path = format!("/apps/{}", created.app_id);
    let before = api.app(&created.app_id).await;
    let changed: AppView = api
        .expect(
            200,
            "PATCH",
            &path,
            Some(
                json!({"port": 9090, "env": {"MODE": "prod"}, "branch": "release", "domain": null}),
            ),
        )
        .await;
    assert_eq!(changed.port, 9090);
    assert_eq!(changed.env.keys().collect::<Vec<_>>(), ["MODE"]);
    assert_eq!(changed.domain, None);
    let shown = api.app(&created.app_id).await;
    assert_eq!((shown.port, shown.domain.clone()), (9090, None));
    assert!(matches!(&shown.source, SourceView::Git { branch, .. } if branch == "release"));
    assert_eq!(shown.secret_names, before.secret_names, "secrets are kept");
    assert_eq!(
        shown.deployments.unwrap().len(),
        1,
        "a change of settings deploys nothing by itself"
    );
    assert_eq!(api.queued_messages().await.len(), 1);

    // One secret set, one removed, the repo token kept: sealed again.
    let changed: AppView = api
        .expect(
            200,
            "PATCH",
            &path,
            Some(json!({"secrets": {"NEW_KEY": "n3w-Secret-Value", "DATABASE_URL": null}})),
        )
        .await;
    assert_eq!(changed.secret_names, ["NEW_KEY"]);
    assert_eq!(changed.status, AppStatus::Queued, "{changed:?}");
    let stored = stored_app(&api, &created.app_id).await;
    let b64 = base64::engine::general_purpose::STANDARD;
    let sealed = b64
        .decode(stored.config.sealed_credentials.unwrap())
        .unwrap();
    let creds: Credentials = serde_json::from_slice(
        &Envelope::new(api.kms(), api.res.kms_key.clone())
            .open(&created.app_id, Purpose::Credentials, &sealed)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(creds.repo_token.as_deref(), Some(TOKEN));
    assert_eq!(
        creds.secrets,
        [("NEW_KEY".to_owned(), "n3w-Secret-Value".to_owned())].into()
    );
    for item in api.items().await {
        assert!(!item_contains(&item, "n3w-Secret-Value"), "{item:?}");
    }

    let written = api.written().await;
    for (body, field) in [
        (json!({"port": 0}), "port"),
        (json!({"secrets": "DATABASE_URL"}), "secrets"),
        (json!({"env": {"NEW_KEY": "x"}}), "env.NEW_KEY"),
        (json!({"name": "renamed"}), "name"),
    ] {
        let e = api.refused(400, "PATCH", &path, Some(body)).await;
        assert_eq!(e.field.as_deref(), Some(field), "{e:?}");
    }
    assert_eq!(
        api.written().await,
        written,
        "refused changes write nothing"
    );
    let mallory = api.mint_token("mallory").await;
    api.refused_as(&mallory, 404, "PATCH", &path, Some(json!({"port": 81})))
        .await;
    let theirs: Queued = api
        .expect_as(
            &mallory,
            202,
            "POST",
            "/deploy",
            Some(json!({"name": "theirs", "repo": "https://github.com/m/t.git", "domain": "taken.example.com"})),
        )
        .await;
    assert_ne!(theirs.app_id, created.app_id);
    let written = api.written().await;
    let e = api
        .refused(
            409,
            "PATCH",
            &path,
            Some(json!({"domain": "taken.example.com"})),
        )
        .await;
    assert_eq!(
        (e.code.as_str(), e.field.as_deref()),
        ("domain_taken", Some("domain"))
    );
    assert_eq!(api.written().await, written, "nor does a taken domain");
}
