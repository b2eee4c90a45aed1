//! The end-to-end harness: each test gets its own copy of template.yaml's
//! resources (a unique prefix) in the AWS emulator and its own `local-api`
//! process, and drives them from outside over HTTP like a user.
//!
//! `make test` starts the emulator, the Docker engine and the registry and
//! sets `SLIPWAY_ROOT`, `SLIPWAY_PYTHON`, `SLIPWAY_BIN_DIR` and the AWS
//! variables these tests read.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;

use aws_sdk_dynamodb::types::AttributeValue;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub use serde_json::{json, Value};

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the end-to-end tests through `make test`, which starts the local services")
    })
}

pub fn bin(name: &str) -> PathBuf {
    PathBuf::from(env("SLIPWAY_BIN_DIR")).join(name)
}

/// One set of template.yaml's resources, made for one test.
#[derive(Debug, Clone)]
pub struct Resources {
    pub prefix: String,
    pub table: String,
    pub queue_url: String,
    pub push_queue_url: String,
    pub dlq_url: String,
    pub push_dlq_url: String,
    pub bucket: String,
    pub kms_key: String,
}

impl Resources {
    pub async fn create() -> Self {
        let prefix = format!("e2e-{}", &slipway_core::ids::random_hex(5));
        let out = Command::new(env("SLIPWAY_PYTHON"))
            .arg(PathBuf::from(env("SLIPWAY_ROOT")).join("infra/provision.py"))
            .arg("--template")
            .arg(PathBuf::from(env("SLIPWAY_ROOT")).join("template.yaml"))
            .arg("--prefix")
            .arg(&prefix)
            .output()
            .await
            .expect("provision.py runs");
        assert!(
            out.status.success(),
            "provision.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r: Value = serde_json::from_slice(&out.stdout).expect("provision.py prints JSON");
        Self {
            prefix,
            table: r["tables"]["Table"].as_str().unwrap().to_owned(),
            queue_url: r["queues"]["JobQueue"].as_str().unwrap().to_owned(),
            push_queue_url: r["queues"]["PushQueue"].as_str().unwrap().to_owned(),
            dlq_url: r["queues"]["JobDeadLetterQueue"]
                .as_str()
                .unwrap()
                .to_owned(),
            push_dlq_url: r["queues"]["PushDeadLetterQueue"]
                .as_str()
                .unwrap()
                .to_owned(),
            bucket: r["buckets"]["Bucket"].as_str().unwrap().to_owned(),
            kms_key: r["keys"]["SealKey"].as_str().unwrap().to_owned(),
        }
    }

    /// The variables every Slipway binary reads.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SLIPWAY_TABLE", self.table.clone()),
            ("SLIPWAY_QUEUE_URL", self.queue_url.clone()),
            ("SLIPWAY_PUSH_QUEUE_URL", self.push_queue_url.clone()),
            ("SLIPWAY_BUCKET", self.bucket.clone()),
            ("SLIPWAY_KMS_KEY_ID", self.kms_key.clone()),
        ]
    }
}

/// A running `local-api` on its own resources.
pub struct Api {
    pub res: Resources,
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
    pub aws: aws_config::SdkConfig,
    child: Child,
}

impl Api {
    pub async fn start() -> Self {
        Self::start_with(Resources::create().await, &[]).await
    }

    pub async fn start_with(res: Resources, extra: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(bin("local-api"));
        cmd.envs(res.vars())
            .env("SLIPWAY_LISTEN", "127.0.0.1:0")
            .env("SLIPWAY_ALLOW_LOOPBACK_REPOS", "true")
            .env("RUST_LOG", "info")
            .envs(extra.iter().copied())
            .stdout(Stdio::piped())
            .stderr(output_file(&format!("{}-api", res.prefix)))
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("local-api starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines
            .next_line()
            .await
            .unwrap()
            .expect("local-api prints its address");
        let base = first
            .strip_prefix("listening on ")
            .expect("first line names the address")
            .to_owned();
        let aws = aws_config::load_from_env().await;
        let mut api = Self {
            token: String::new(),
            res,
            base,
            http: reqwest::Client::new(),
            aws,
            child,
        };
        api.token = api.mint_token("alice").await;
        api
    }

    pub async fn mint_token(&self, owner: &str) -> String {
        let out = Command::new(bin("slipway-admin"))
            .args(["mint-token", owner])
            .envs(self.res.vars())
            .output()
            .await
            .expect("slipway-admin runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the test owner's bearer token; `(status, body)`.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(&self.token, method, path, body).await
    }

    pub async fn call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        respond(req).await
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), self.url(path))
            .body(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        respond(req).await
    }

    pub fn dynamo(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.aws)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.aws)
    }

    pub fn kms(&self) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&self.aws)
    }

    /// Every item of the table, raw.
    pub async fn items(&self) -> Vec<HashMap<String, AttributeValue>> {
        let out = self
            .dynamo()
            .scan()
            .table_name(&self.res.table)
            .send()
            .await
            .unwrap();
        out.items.unwrap_or_default()
    }

    /// Items other than API tokens: what a request could have written.
    pub async fn written(&self) -> Vec<HashMap<String, AttributeValue>> {
        self.items()
            .await
            .into_iter()
            .filter(|i| !i["PK"].as_s().unwrap().starts_with("TOKEN#"))
            .collect()
    }

    /// The bodies of the messages in the job queue, left in the queue.
    pub async fn queued_messages(&self) -> Vec<String> {
        let mut bodies = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..3 {
            let out = self
                .sqs()
                .receive_message()
                .queue_url(&self.res.queue_url)
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .wait_time_seconds(0)
                .send()
                .await
                .unwrap();
            for m in out.messages.unwrap_or_default() {
                if seen.insert(m.message_id.clone().unwrap()) {
                    bodies.push(m.body.unwrap_or_default());
                }
            }
        }
        bodies
    }

    /// Waits until the job queue holds `n` jobs: the push recorder sends a
    /// push's job a moment after the webhook answered.
    pub async fn wait_queue_depth(&self, n: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let depth = self.queue_depth().await;
            if depth == n {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the job queue holds {depth} jobs, not {n}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    pub async fn queue_depth(&self) -> usize {
        let out = self
            .sqs()
            .get_queue_attributes()
            .queue_url(&self.res.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            )
            .send()
            .await
            .unwrap();
        out.attributes
            .unwrap_or_default()
            .values()
            .map(|v| v.parse::<usize>().unwrap())
            .sum()
    }
}

impl Drop for Api {
    /// The containers the test's runners started go with the test.
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let listed = std::process::Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=slipway.stack={}", self.res.table),
            ])
            .output();
        if let Ok(out) = listed {
            let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            if !ids.is_empty() {
                let _ = std::process::Command::new("docker")
                    .arg("rm")
                    .arg("-f")
                    .args(&ids)
                    .output();
            }
        }
    }
}

async fn respond(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.expect("the API answers");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
    };
    (status, body)
}

/// Whether `needle` appears anywhere in a raw item, in any attribute, as
/// text or bytes.
pub fn item_contains(item: &HashMap<String, AttributeValue>, needle: &str) -> bool {
    format!("{item:?}").contains(needle)
        || item.values().any(|v| match v {
            AttributeValue::B(b) => b
                .as_ref()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes()),
            _ => false,
        })
}

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
    let mut child = Command::new(bin(binary))
        .envs(api.res.vars())
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

/// Where the tests keep what the processes they start print.
pub fn output_dir() -> PathBuf {
    let dir = PathBuf::from(env("SLIPWAY_ROOT")).join(".slipway/test-output");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn output_file(name: &str) -> std::fs::File {
    std::fs::File::create(output_dir().join(format!("{name}.log"))).unwrap()
}

/// Everything a process started for `prefix` printed.
pub fn output_of(prefix: &str) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(output_dir()).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            all.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
    }
    all
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "slipway-e2e-{name}-{}",
        slipway_core::ids::random_hex(4)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a command and panics with its output if it fails.
pub fn sh(dir: &std::path::Path, program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Real Git over HTTP (`git http-backend`), optionally behind Basic auth.
pub struct GitServer {
    pub root: PathBuf,
    pub base: String,
    _child: Child,
}

impl GitServer {
    pub async fn start(token: Option<&str>) -> Self {
        let root = temp_dir("git");
        let mut cmd = Command::new(env("SLIPWAY_PYTHON"));
        cmd.arg(PathBuf::from(env("SLIPWAY_ROOT")).join("infra/git_http.py"))
            .arg("--root")
            .arg(root.join("srv"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if let Some(token) = token {
            cmd.arg("--token").arg(token);
        }
        std::fs::create_dir_all(root.join("srv")).unwrap();
        let mut child = cmd.spawn().expect("git_http.py starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines
            .next_line()
            .await
            .unwrap()
            .expect("the git server prints its address");
        let base = first.strip_prefix("listening on ").unwrap().to_owned();
        Self {
            root,
            base,
            _child: child,
        }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("{}/{repo}.git", self.base)
    }

    /// Commits `files` (path, content; content `->target` makes a symlink)
    /// onto `main` of `repo`, creating it, pushes it and returns the commit.
    pub fn commit(&self, repo: &str, files: &[(&str, &str)]) -> String {
        let sha = self.commit_unpushed(repo, files);
        self.push(repo, &sha);
        sha
    }

    /// Commits in the working copy only; [`GitServer::push`] publishes it.
    pub fn commit_unpushed(&self, repo: &str, files: &[(&str, &str)]) -> String {
        let bare = self.bare(repo);
        let work = self.root.join("work").join(repo);
        if !bare.exists() {
            std::fs::create_dir_all(&work).unwrap();
            sh(
                &self.root,
                "git",
                &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
            );
            sh(&work, "git", &["init", "-q", "-b", "main"]);
        }
        for (path, content) in files {
            let file = work.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            let _ = std::fs::remove_file(&file);
            match content.strip_prefix("->") {
                Some(target) => std::os::unix::fs::symlink(target, &file).unwrap(),
                None => std::fs::write(&file, content).unwrap(),
            }
        }
        sh(&work, "git", &["add", "-A"]);
        sh(
            &work,
            "git",
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.com",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "change",
            ],
        );
        sh(&work, "git", &["rev-parse", "HEAD"]).trim().to_owned()
    }

    /// Moves `main` of the served repo to `sha`.
    pub fn push(&self, repo: &str, sha: &str) {
        let work = self.root.join("work").join(repo);
        sh(
            &work,
            "git",
            &[
                "push",
                "-q",
                "-f",
                self.bare(repo).to_str().unwrap(),
                &format!("{sha}:refs/heads/main"),
            ],
        );
    }

    fn bare(&self, repo: &str) -> PathBuf {
        self.root.join("srv").join(format!("{repo}.git"))
    }
}

/// A `slipway-runner` process on a test's resources.
pub struct Runner {
    child: Child,
    pub work_dir: PathBuf,
    pub id: String,
}

impl Runner {
    pub fn start(res: &Resources, extra: &[(&str, &str)]) -> Self {
        let id = format!("{}-runner-{}", res.prefix, slipway_core::ids::random_hex(3));
        let work_dir = temp_dir("runner");
        let child = Command::new(bin("slipway-runner"))
            .envs(res.vars())
            .env("SLIPWAY_DLQ_URL", &res.dlq_url)
            .env("SLIPWAY_PUSH_DLQ_URL", &res.push_dlq_url)
            .env("SLIPWAY_REGISTRY", env("SLIPWAY_REGISTRY"))
            .env("SLIPWAY_RUNNER_ID", &id)
            .env("SLIPWAY_WORK_DIR", &work_dir)
            .env("SLIPWAY_VISIBILITY_SECONDS", "6")
            .env("SLIPWAY_CANCEL_POLL_SECONDS", "0.5")
            .env("SLIPWAY_RECONCILE_SECONDS", "2")
            .env("SLIPWAY_READY_TIMEOUT_SECONDS", "8")
            .env("RUST_LOG", "info")
            .envs(extra.iter().copied())
            .stdout(output_file(&id))
            .stderr(output_file(&format!("{id}-err")))
            .kill_on_drop(true)
            .spawn()
            .expect("slipway-runner starts");
        Self {
            child,
            work_dir,
            id,
        }
    }

    pub fn signal(&self, sig: &str) {
        let pid = self.child.id().expect("still running").to_string();
        sh(std::path::Path::new("/"), "kill", &[sig, &pid]);
    }

    pub async fn wait(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(std::time::Duration::from_secs(60), self.child.wait())
            .await
            .expect("the runner exits in time")
            .unwrap()
    }
}

impl Api {
    /// Polls the deployment until `done` holds for it; returns every status
    /// seen on the way, in order, and the last answer.
    pub async fn wait_for(
        &self,
        deployment: &str,
        secs: u64,
        done: impl Fn(&Value) -> bool,
    ) -> (Vec<String>, Value) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        let mut seen: Vec<String> = Vec::new();
        loop {
            let (_, d) = self
                .call("GET", &format!("/deployments/{deployment}"), None)
                .await;
            let status = d["status"].as_str().unwrap_or("?").to_owned();
            if seen.last() != Some(&status) {
                seen.push(status);
            }
            if done(&d) {
                return (seen, d);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "deployment {deployment} stuck; seen {seen:?}: {d}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Waits until the deployment ends (running, failed, cancelled, superseded).
    pub async fn settle(&self, deployment: &str) -> Value {
        self.wait_for(deployment, 120, |d| {
            matches!(
                d["status"].as_str(),
                Some("running" | "failed" | "cancelled" | "superseded")
            )
        })
        .await
        .1
    }

    /// The whole build log of a deployment.
    pub async fn logs(&self, deployment: &str) -> String {
        let mut text = String::new();
        let mut after: Option<u64> = None;
        loop {
            let path = match after {
                Some(n) => format!("/deployments/{deployment}/logs?after={n}"),
                None => format!("/deployments/{deployment}/logs"),
            };
            let (status, page) = self.call("GET", &path, None).await;
            assert_eq!(status, 200, "{page}");
            let chunks = page["chunks"].as_array().unwrap();
            if chunks.is_empty() {
                return text;
            }
            for c in chunks {
                text.push_str(c["text"].as_str().unwrap());
            }
            after = page["next"].as_u64();
        }
    }
}

/// `GET url` → body, or None when nothing answers.
pub async fn fetch(url: &str) -> Option<String> {
    let resp = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .ok()?;
    resp.text().await.ok()
}

/// The names of the containers of an app on the engine.
pub fn containers_of(app_id: &str) -> Vec<String> {
    sh(
        std::path::Path::new("/"),
        "docker",
        &[
            "ps",
            "-a",
            "--filter",
            &format!("label=slipway.app={app_id}"),
            "--format",
            "{{.Names}}",
        ],
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

/// Waits (up to 10 s) until the app has `n` containers; returns their names.
pub async fn wait_containers(app_id: &str, n: usize) -> Vec<String> {
    for _ in 0..100 {
        let now = containers_of(app_id);
        if now.len() == n {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    containers_of(app_id)
}

/// The tags of the app's image in the registry.
pub async fn registry_tags(app_id: &str) -> Vec<String> {
    let url = format!(
        "http://{}/v2/slipway/{app_id}/tags/list",
        env("SLIPWAY_REGISTRY")
    );
    let body: Value = match reqwest::get(&url).await {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    body["tags"]
        .as_array()
        .map(|t| t.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// A Dockerfile serving `www/` on 8080 with busybox httpd, after `steps`.
pub fn web_dockerfile(steps: &str) -> String {
    format!(
        "FROM {}\n{steps}\nCOPY www/ /www/\nEXPOSE 8080\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
        env("SLIPWAY_BASE_IMAGE")
    )
}

/// GitHub's `X-Hub-Signature-256` of `body`, computed by `openssl` the way
/// the README shows, independent of Slipway's own code.
pub fn github_signature(secret: &str, body: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", secret, "-r"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl runs");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    format!("sha256={}", text.split_whitespace().next().unwrap())
}

/// A `push` payload shaped like the one GitHub sends (integer timestamps on
/// the repository, ISO ones on commits), its one commit changing `changed`.
pub fn push_payload(repo_url: &str, git_ref: &str, after: &str, changed: &[&str]) -> Vec<u8> {
    let deleted = after.bytes().all(|b| b == b'0');
    let commit = json!({
        "id": after, "tree_id": "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "distinct": true,
        "message": "Change things", "timestamp": "2026-11-22T06:30:00+00:00",
        "url": format!("{repo_url}/commit/{after}"),
        "author": {"name": "Dev", "email": "dev@example.com", "username": "dev"},
        "committer": {"name": "Dev", "email": "dev@example.com", "username": "dev"},
        "added": [], "removed": [], "modified": changed,
    });
    json!({
        "ref": git_ref,
        "before": "9049f1265b7d61be4a8904a9a27120d2064dab3b",
        "after": after,
        "created": false, "deleted": deleted, "forced": false, "base_ref": null,
        "compare": format!("{repo_url}/compare/9049f1265b7d...{}", &after[..12]),
        "commits": if deleted { json!([]) } else { json!([commit]) },
        "head_commit": if deleted { Value::Null } else { commit },
        "repository": {
            "id": 186853002, "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=",
            "name": "app", "full_name": "acme/app", "private": false,
            "owner": {"name": "acme", "login": "acme", "id": 21031067, "type": "Organization"},
            "html_url": repo_url, "clone_url": repo_url, "default_branch": "main",
            "created_at": 1_557_933_565, "updated_at": "2026-11-22T06:29:58Z", "pushed_at": 1_795_000_000,
            "size": 0, "stargazers_count": 0, "fork": false, "archived": false,
        },
        "pusher": {"name": "dev", "email": "dev@example.com"},
        "sender": {"login": "dev", "id": 21031067, "type": "User", "site_admin": false},
    })
    .to_string()
    .into_bytes()
}

impl Api {
    /// A webhook delivery to `app_id` with these headers; `(status, body)`.
    pub async fn deliver(
        &self,
        app_id: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(self.url(&format!("/webhooks/github/{app_id}")))
            .header("user-agent", "GitHub-Hookshot/5a1b2c3")
            .body(body);
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        respond(req).await
    }

    /// A delivery of `event` signed with `secret`, as GitHub sends it.
    pub async fn deliver_signed(
        &self,
        app_id: &str,
        secret: &str,
        event: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let headers = [
            ("content-type", "application/json".to_owned()),
            ("x-github-event", event.to_owned()),
            ("x-github-delivery", slipway_core::ids::new_id()),
            ("x-hub-signature-256", github_signature(secret, &body)),
        ];
        self.deliver(app_id, &headers, body).await
    }
}

/// A site served by [`web_dockerfile`]: its files, `text` as the page.
pub fn site(text: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Dockerfile", web_dockerfile("")),
        ("www/index.html", text.to_owned()),
    ]
}

/// [`site`]'s files as [`GitServer::commit`] takes them.
pub fn files<'a>(list: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    list.iter().map(|(p, c)| (*p, c.as_str())).collect()
}

impl Api {
    /// The keys under the app's `sources/` prefix in the bucket.
    pub async fn source_keys(&self, app: &str) -> Vec<String> {
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&self.aws)
                .force_path_style(true)
                .build(),
        );
        let out = s3
            .list_objects_v2()
            .bucket(&self.res.bucket)
            .prefix(format!("sources/{app}/"))
            .send()
            .await
            .unwrap();
        out.contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }
}
