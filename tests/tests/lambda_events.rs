//! The Lambda binaries answer real API Gateway REST events the way
//! `local-api` answers HTTP, so the local path hides no Lambda-only bug.

use slipway_e2e::*;

fn body(name: &str) -> Value {
    json!({"name": name, "repo": "https://github.com/acme/api.git", "port": 8080, "repoToken": "ghp_lambdatoken"})
}

#[tokio::test]
async fn deploy_and_apps_functions_match_local_api() {
    let api = Api::start().await;
    let local: Queued = api.expect(202, "POST", "/deploy", Some(body("api"))).await;
    let app_id = local.app_id.as_str();

    let mut bad = body("api");
    bad["port"] = 0.into();
    let answers = invoke_lambda(
        &api,
        "slipway-deploy",
        vec![
            rest_event("POST", "/deploy", "alice", Some(&body("api"))),
            rest_event("POST", "/deploy", "alice", Some(&bad)),
            rest_event("GET", "/nowhere", "alice", None),
        ],
    )
    .await;
    let ok = answers[0].as_ref().expect("the deploy function answered");
    assert_eq!(ok["statusCode"], 202, "{ok}");
    let lambda: Queued = body_of(proxy_body(ok));
    assert_eq!(lambda.app_id, app_id, "same owner and name: the same app");
    assert_ne!(lambda.deployment_id, local.deployment_id);
    let (hook, local_hook) = (lambda.webhook.unwrap(), local.webhook.unwrap());
    assert_eq!(hook.secret, local_hook.secret);
    assert_eq!(
        hook.url,
        format!(
            "https://abc123defg.execute-api.us-east-1.amazonaws.com/prod/webhooks/github/{app_id}"
        ),
        "the public URL keeps the stage"
    );

    let bad = answers[1].as_ref().unwrap();
    assert_eq!(bad["statusCode"], 400);
    let (_, local_bad) = api
        .call(
            "POST",
            "/deploy",
            Some(json!({"name": "api", "repo": "https://github.com/acme/api.git", "port": 0})),
        )
        .await;
    assert_eq!(proxy_body(bad), local_bad);
    assert_eq!(answers[2].as_ref().unwrap()["statusCode"], 404);

    let answers = invoke_lambda(
        &api,
        "slipway-apps",
        vec![
            rest_event("GET", &format!("/apps/{app_id}"), "alice", None),
            rest_event("GET", &format!("/apps/{app_id}"), "mallory", None),
        ],
    )
    .await;
    let shown = answers[0].as_ref().unwrap();
    assert_eq!(shown["statusCode"], 200, "{shown}");
    let mut lambda_app: AppView = body_of(proxy_body(shown));
    let mut local_app = api.app(app_id).await;
    for app in [&mut lambda_app, &mut local_app] {
        app.webhook.as_mut().unwrap().url.clear();
    }
    assert_eq!(lambda_app, local_app);
    assert_eq!(
        answers[1].as_ref().unwrap()["statusCode"],
        404,
        "the owner comes from the authorizer"
    );

    // Invoked without an authorizer verdict (a misconfigured route): refused.
    let mut bare = rest_event("GET", &format!("/apps/{app_id}"), "alice", None);
    bare["requestContext"]["authorizer"] = Value::Null;
    let answers = invoke_lambda(&api, "slipway-apps", vec![bare]).await;
    let refused = answers[0].as_ref().unwrap();
    assert_eq!(refused["statusCode"], 401, "{refused}");
    assert_eq!(error_of(proxy_body(refused)).code, "unauthorized");
}

#[tokio::test]
async fn the_authorizer_function_allows_known_tokens_only() {
    let api = Api::start().await;
    let arn = "arn:aws:execute-api:us-east-1:123456789012:abc123defg/prod/GET/apps";
    let answers = invoke_lambda(
        &api,
        "slipway-authorizer",
        vec![
            json!({"type": "TOKEN", "authorizationToken": format!("Bearer {}", api.token), "methodArn": arn}),
            json!({"type": "TOKEN", "authorizationToken": "Bearer slw_wrong", "methodArn": arn}),
            json!({"type": "TOKEN", "authorizationToken": api.token, "methodArn": arn}),
        ],
    )
    .await;
    let allow = answers[0].as_ref().expect("a known token is allowed");
    assert_eq!(allow["principalId"], "alice");
    assert_eq!(allow["context"]["owner"], "alice");
    let statement = &allow["policyDocument"]["Statement"][0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(
        statement["Resource"],
        "arn:aws:execute-api:us-east-1:123456789012:abc123defg/prod/*/*"
    );
    for denied in &answers[1..] {
        let err = denied.as_ref().expect_err("refused");
        assert_eq!(
            err["errorMessage"], "Unauthorized",
            "API Gateway answers 401 on this message"
        );
    }
}

/// A delivery as API Gateway hands it to the webhook function: GitHub's
/// headers, no authorizer, the body as text or base64 of the raw bytes.
fn delivery_event(app_id: &str, headers: &[(&str, String)], body: &[u8], base64: bool) -> Value {
    use base64::Engine;
    let path = format!("/webhooks/github/{app_id}");
    let mut event = rest_event("POST", &path, "-", None);
    event["resource"] = "/webhooks/github/{id}".into();
    event["requestContext"]["authorizer"] = Value::Null;
    let mut single = serde_json::Map::new();
    let mut multi = serde_json::Map::new();
    for (name, value) in headers {
        single.insert(name.to_string(), value.clone().into());
        multi.insert(name.to_string(), json!([value]));
    }
    event["headers"] = single.into();
    event["multiValueHeaders"] = multi.into();
    event["pathParameters"] = json!({"id": app_id});
    event["body"] = if base64 {
        base64::engine::general_purpose::STANDARD
            .encode(body)
            .into()
    } else {
        String::from_utf8(body.to_vec()).unwrap().into()
    };
    event["isBase64Encoded"] = base64.into();
    event
}

#[tokio::test]
async fn the_webhook_function_checks_the_bytes_as_received() {
    let api = Api::start().await;
    let created: Queued = api
        .expect(
            202,
            "POST",
            "/deploy",
            Some(json!({"name": "hooked", "repo": "https://github.com/acme/api.git"})),
        )
        .await;
    let app_id = created.app_id.as_str();
    let secret = created.webhook.as_ref().unwrap().secret.as_deref().unwrap();
    // Spacing and escapes no re-serialisation would reproduce.
    let sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
    let body = format!(
        "{{\n  \"ref\" : \"refs/heads/main\",\n  \"after\": \"{sha}\",\n  \"deleted\": false,\n  \"commits\": [],\n  \"head_commit\": {{\"id\": \"{sha}\", \"message\": \"caf\\u00e9 \u{2615}\"}},\n  \"repository\": {{\"pushed_at\": 1795000000}}\n}}"
    )
    .into_bytes();
    let headers = |delivery: &str, signature: String| {
        vec![
            (
                "Host",
                "abc123defg.execute-api.us-east-1.amazonaws.com".to_owned(),
            ),
            ("Content-Type", "application/json".to_owned()),
            ("User-Agent", "GitHub-Hookshot/5a1b2c3".to_owned()),
            ("X-GitHub-Event", "push".to_owned()),
            ("X-GitHub-Delivery", delivery.to_owned()),
            ("X-Hub-Signature-256", signature),
        ]
    };
    let signature = github_signature(secret, &body);
    let answers = invoke_lambda(
        &api,
        "slipway-webhook",
        vec![
            delivery_event(app_id, &headers("d-1", signature.clone()), &body, true),
            delivery_event(app_id, &headers("d-2", signature.clone()), &body, false),
            delivery_event(app_id, &headers("d-1", signature), &body, true),
            delivery_event(
                app_id,
                &headers("d-3", github_signature("wrong", &body)),
                &body,
                true,
            ),
        ],
    )
    .await;
    let answers: Vec<(u64, Value)> = answers
        .into_iter()
        .map(|a| {
            let a = a.expect("the webhook function answered");
            (a["statusCode"].as_u64().unwrap(), proxy_body(&a))
        })
        .collect();
    assert_eq!(answers[0].0, 202, "base64 body: {}", answers[0].1);
    assert_eq!(answers[1].0, 202, "text body: {}", answers[1].1);
    assert_eq!(answers[2].0, 200, "{}", answers[2].1);
    assert_eq!(answers[3].0, 401, "{}", answers[3].1);
    let first: HookAnswer = body_of(answers[0].1.clone());
    assert_eq!(first.commit.as_deref(), Some(sha));
    let again: HookAnswer = body_of(answers[2].1.clone());
    assert_eq!(again.result, HookResult::Duplicate);
    assert_eq!(again.deployment_id, first.deployment_id);
    assert_eq!(error_of(answers[3].1.clone()).code, "invalid_signature");
}

/// An SQS event as Lambda's event source hands it to a function.
fn sqs_event(messages: &[(&str, &str)]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id,
                "receiptHandle": format!("handle-{id}"),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795000000000"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:PushQueue",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

#[tokio::test]
async fn the_push_function_links_the_push_and_sends_its_job() {
    // local-api's own push recorder reads another queue, so that the push
    // function below is the one to handle the webhook function's push.
    let res = Resources::create().await;
    let elsewhere = res.dlq_url.clone();
    let api = Api::start_with(res, &[("SLIPWAY_PUSH_QUEUE_URL", &elsewhere)]).await;
    let created: Queued = api
        .expect(
            202,
            "POST",
            "/deploy",
            Some(json!({"name": "recorded", "repo": "https://github.com/acme/api.git"})),
        )
        .await;
    let app_id = created.app_id.as_str();
    let first = created.deployment_id.as_str();
    let secret = created.webhook.as_ref().unwrap().secret.as_deref().unwrap();
    let sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
    let body = format!(
        r#"{{"ref":"refs/heads/main","after":"{sha}","deleted":false,"commits":[],"repository":{{"pushed_at":1795000000}}}}"#
    )
    .into_bytes();
    let answers = invoke_lambda(
        &api,
        "slipway-webhook",
        vec![delivery_event(
            app_id,
            &[
                ("Content-Type", "application/json".to_owned()),
                ("X-GitHub-Event", "push".to_owned()),
                ("X-GitHub-Delivery", "d-1".to_owned()),
                ("X-Hub-Signature-256", github_signature(secret, &body)),
            ],
            &body,
            false,
        )],
    )
    .await;
    let answer = answers[0].as_ref().expect("the webhook function answered");
    assert_eq!(answer["statusCode"], 202, "{answer}");
    let dep = body_of::<HookAnswer>(proxy_body(answer))
        .deployment_id
        .unwrap();
    let got = api
        .sqs()
        .receive_message()
        .queue_url(&api.res.push_queue_url)
        .send()
        .await
        .unwrap();
    let push = got.messages.unwrap_or_default()[0].body.clone().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&push).unwrap(),
        json!({"deploymentId": dep, "appId": app_id}),
        "two ids and nothing secret"
    );
    let shown = api.app(app_id).await;
    assert_eq!(
        shown.latest_deployment_id.as_deref(),
        Some(first),
        "recorded, not linked yet"
    );

    let answers = invoke_lambda(
        &api,
        "slipway-pushes",
        vec![
            sqs_event(&[("m-1", &push), ("m-2", "not a push")]),
            sqs_event(&[("m-1", &push)]),
        ],
    )
    .await;
    for answer in &answers {
        let answer = answer.as_ref().expect("the push function answered");
        assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    }
    let shown = api.app(app_id).await;
    assert_eq!(shown.latest_deployment_id, Some(dep.clone()), "{shown:?}");
    let before = api.deployment(first).await;
    assert_eq!(before.status, DeploymentStatus::Superseded, "{before:?}");
    let jobs = api.queued_messages().await;
    assert_eq!(
        jobs.iter().filter(|j| j.contains(dep.as_str())).count(),
        2,
        "handled twice, its job is sent again (a runner drops the spare): {jobs:?}"
    );

    // A push that cannot be linked now goes back to the queue, alone.
    let answers = invoke_lambda_with(
        &api,
        "slipway-pushes",
        vec![sqs_event(&[("m-3", &push)])],
        &[("SLIPWAY_TABLE", "no-such-table")],
    )
    .await;
    let answer = answers[0].as_ref().expect("the push function answered");
    assert_eq!(
        answer["batchItemFailures"],
        json!([{"itemIdentifier": "m-3"}]),
        "{answer}"
    );
    // Nor can a job be sent now: the push goes back for another try and
    // its deployment stays queued, not failed.
    let answers = invoke_lambda_with(
        &api,
        "slipway-pushes",
        vec![sqs_event(&[("m-4", &push)])],
        &[("SLIPWAY_QUEUE_URL", &format!("{}-gone", api.res.queue_url))],
    )
    .await;
    let answer = answers[0].as_ref().expect("the push function answered");
    assert_eq!(
        answer["batchItemFailures"],
        json!([{"itemIdentifier": "m-4"}]),
        "{answer}"
    );
    let d = api.deployment(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Queued, "{d:?}");
}
