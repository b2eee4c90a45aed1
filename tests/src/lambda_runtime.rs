//! A Lambda binary run against a small stand-in for the Lambda Runtime API,
//! and the API Gateway events AWS would send it.

use tokio::process::Command;

use crate::{bin, json, Api, Value};

/// Runs a Lambda binary against a small stand-in for the Lambda Runtime API
/// and returns what it answered to each event, in order: `Ok(response)` or
/// `Err(error payload)`.
pub async fn invoke_lambda(
    api: &Api,
    binary: &str,
    events: Vec<Value>,
) -> Vec<Result<Value, Value>> {
    invoke_lambda_with(api, binary, events, &[]).await
}

/// [`invoke_lambda`] with some of the function's variables replaced.
pub async fn invoke_lambda_with(
    api: &Api,
    binary: &str,
    events: Vec<Value>,
    vars: &[(&str, &str)],
) -> Vec<Result<Value, Value>> {
    use axum::extract::{Path, State};
    use axum::http::HeaderMap;
    use axum::routing::{get, post};
    use std::sync::Arc;
    use tokio::sync::{mpsc, Mutex};

    type Answers = mpsc::UnboundedSender<(usize, Result<Value, Value>)>;
    #[derive(Clone)]
    struct Fake {
        events: Arc<Mutex<std::vec::IntoIter<Value>>>,
        next_id: Arc<std::sync::atomic::AtomicUsize>,
        answers: Answers,
    }
    async fn next(State(f): State<Fake>) -> (HeaderMap, axum::Json<Value>) {
        let event = f.events.lock().await.next();
        let Some(event) = event else {
            std::future::pending::<()>().await;
            unreachable!()
        };
        let id = f.next_id.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut h = HeaderMap::new();
        h.insert(
            "lambda-runtime-aws-request-id",
            id.to_string().parse().unwrap(),
        );
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 60_000;
        h.insert(
            "lambda-runtime-deadline-ms",
            deadline.to_string().parse().unwrap(),
        );
        h.insert(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:slipway"
                .parse()
                .unwrap(),
        );
        h.insert(
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000".parse().unwrap(),
        );
        (h, axum::Json(event))
    }
    async fn response(
        State(f): State<Fake>,
        Path(id): Path<usize>,
        body: axum::body::Bytes,
    ) -> &'static str {
        let _ = f
            .answers
            .send((id, Ok(serde_json::from_slice(&body).unwrap_or(Value::Null))));
        "{}"
    }
    async fn error(
        State(f): State<Fake>,
        Path(id): Path<usize>,
        body: axum::body::Bytes,
    ) -> &'static str {
        let _ = f.answers.send((
            id,
            Err(serde_json::from_slice(&body).unwrap_or(Value::Null)),
        ));
        "{}"
    }

    let count = events.len();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let fake = Fake {
        events: Arc::new(Mutex::new(events.into_iter())),
        next_id: Arc::new(0.into()),
        answers: tx,
    };
    let router = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let function = match binary {
        "slipway-authorizer" => "AuthorizerFunction",
        "slipway-deploy" => "DeployFunction",
        "slipway-upload" => "UploadFunction",
        "slipway-apps" => "AppsFunction",
        "slipway-webhook" => "WebhookFunction",
        "slipway-pushes" => "PushFunction",
        other => panic!("{other} is not one of template.yaml's functions"),
    };
    let mut child = Command::new(bin(binary))
        .envs(api.res.vars())
        .envs(api.res.principal(function))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", binary)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
        .env("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true")
        .envs(vars.iter().copied())
        .kill_on_drop(true)
        .spawn()
        .expect("the Lambda binary starts");
    let mut answers: Vec<Option<Result<Value, Value>>> = vec![None; count];
    for _ in 0..count {
        let (id, answer) = tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv())
            .await
            .expect("the Lambda binary answered in time")
            .unwrap();
        answers[id] = Some(answer);
    }
    let _ = child.start_kill();
    server.abort();
    answers.into_iter().map(Option::unwrap).collect()
}

/// An API Gateway REST (v1) proxy event as AWS sends it: the stage in
/// `requestContext.path`, the authorizer's verdict in the context, the body
/// base64-encoded.
pub fn rest_event(method: &str, path: &str, owner: &str, body: Option<&Value>) -> Value {
    use base64::Engine;
    let host = "abc123defg.execute-api.us-east-1.amazonaws.com";
    json!({
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Host": host, "Content-Type": "application/json", "Authorization": "Bearer hidden"},
        "multiValueHeaders": {"Host": [host], "Content-Type": ["application/json"], "Authorization": ["Bearer hidden"]},
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": format!("/prod{path}"),
            "stage": "prod",
            "domainName": host,
            "apiId": "abc123defg",
            "accountId": "123456789012",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTimeEpoch": 1_700_000_000_000i64,
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": "203.0.113.7"},
            "authorizer": {"principalId": owner, "owner": owner, "integrationLatency": 12}
        },
        "body": body.map(|b| base64::engine::general_purpose::STANDARD.encode(b.to_string())),
        "isBase64Encoded": body.is_some()
    })
}

/// The JSON body of a Lambda proxy response.
pub fn proxy_body(resp: &Value) -> Value {
    use base64::Engine;
    let body = resp["body"].as_str().unwrap_or_default();
    let bytes = if resp["isBase64Encoded"] == true {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    } else {
        body.as_bytes().to_vec()
    };
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}
