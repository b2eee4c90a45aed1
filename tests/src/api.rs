//! A `local-api` process on a test's resources, and the calls tests make
//! to it: requests as the test's owner, webhook deliveries, polling a
//! deployment, reading its log, and what the stack holds underneath.

use std::collections::HashMap;
use std::process::Stdio;

use aws_sdk_dynamodb::types::AttributeValue;
use slipway_core::api::{
    AppView, DeploymentList, DeploymentView, ErrorBody, ErrorDetail, LogPage, Queued, SourceView,
    UploadTicket,
};
use slipway_core::status::DeploymentStatus;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{bin, github_signature, output_file, temp_dir, Resources, Value};

/// A running `local-api` on its own resources.
pub struct Api {
    pub res: Resources,
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
    pub aws: aws_config::SdkConfig,
    child: Child,
}

/// The longest a test lets one `slipway` command run (one that follows a
/// build waits for it).
const CLI_LIMIT: std::time::Duration = std::time::Duration::from_secs(240);

impl Api {
    pub async fn start() -> Self {
        Self::start_with(Resources::create().await, &[]).await
    }

    pub async fn start_with(res: Resources, extra: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(bin("local-api"));
        cmd.envs(res.vars())
            .env("SLIPWAY_LOCAL_PRINCIPALS", &res.principals)
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

    /// Sends SIGTERM, as `make down` or a service manager would, and waits
    /// for the process to end.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("still running").to_string();
        crate::sh(std::path::Path::new("/"), "kill", &["-TERM", &pid]);
        tokio::time::timeout(std::time::Duration::from_secs(60), self.child.wait())
            .await
            .expect("the API exits")
            .unwrap()
    }

    pub async fn mint_token(&self, owner: &str) -> String {
        self.res
            .admin(&["mint-token", owner])
            .await
            .trim()
            .to_owned()
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

/// Typed calls: the API's bodies as `slipway_core::api` declares them.
impl Api {
    /// A request that must answer `status`; its body read as `T`.
    pub async fn expect<T: serde::de::DeserializeOwned>(
        &self,
        status: u16,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> T {
        self.expect_as(&self.token, status, method, path, body)
            .await
    }

    /// [`Api::expect`], as `token`'s owner.
    pub async fn expect_as<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        status: u16,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> T {
        let (got, answer) = self.call_as(token, method, path, body).await;
        assert_eq!(got, status, "{method} {path}: {answer}");
        serde_json::from_value(answer.clone())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}: {answer}"))
    }

    /// A request that must be refused with `status`; its error.
    pub async fn refused(
        &self,
        status: u16,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> ErrorDetail {
        self.refused_as(&self.token, status, method, path, body)
            .await
    }

    /// [`Api::refused`], as `token`'s owner.
    pub async fn refused_as(
        &self,
        token: &str,
        status: u16,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> ErrorDetail {
        self.expect_as::<ErrorBody>(token, status, method, path, body)
            .await
            .error
    }
}

/// An answer read as the API declares it.
pub fn body_of<T: serde::de::DeserializeOwned>(body: Value) -> T {
    serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("not the declared body ({e}): {body}"))
}

/// An error answer read as the API declares it.
pub fn error_of(body: Value) -> ErrorDetail {
    serde_json::from_value::<ErrorBody>(body.clone())
        .unwrap_or_else(|e| panic!("not an error body ({e}): {body}"))
        .error
}

/// The routes tests call most, each one call that must succeed.
impl Api {
    /// `POST /deploy` → 202; the app's and the deployment's ids.
    pub async fn deploy(&self, body: Value) -> (String, String) {
        let q: Queued = self.expect(202, "POST", "/deploy", Some(body)).await;
        (q.app_id, q.deployment_id)
    }

    /// Runs the `slipway` CLI in `dir` as this API's user, as one runs it in
    /// a terminal or CI; one that runs past [`CLI_LIMIT`] is killed and fails
    /// the test.
    pub async fn cli(&self, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
        let run = Command::new(bin("slipway"))
            .args(args)
            .current_dir(dir)
            .env("SLIPWAY_API", &self.base)
            .env("SLIPWAY_TOKEN", &self.token)
            .kill_on_drop(true)
            .output();
        tokio::time::timeout(CLI_LIMIT, run)
            .await
            .unwrap_or_else(|_| panic!("slipway {args:?} still ran after {CLI_LIMIT:?}"))
            .expect("slipway runs")
    }

    /// The dashboard's page at `route` (such as `#/deployments/<id>`) in
    /// Chromium, signed in as this API's user, once it shows `text`: the
    /// text a person reads there. Its screenshot is saved as `shot`.png in
    /// the test output; the page logs no error.
    pub async fn look(&self, route: &str, text: &str, shot: &str) -> String {
        let root = crate::env("SLIPWAY_ROOT");
        let run = Command::new("node")
            .arg(format!("{root}/web/test/look.mjs"))
            .current_dir(format!("{root}/web"))
            .env("LOOK_URL", &self.base)
            .env("LOOK_TOKEN", &self.token)
            .env("LOOK_PATH", route)
            .env("LOOK_TEXT", text)
            .env("LOOK_SHOT", crate::output_dir().join(format!("{shot}.png")))
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(std::time::Duration::from_secs(120), run)
            .await
            .expect("the browser is done within 2 minutes")
            .expect("node runs");
        let printed = String::from_utf8_lossy(&out.stdout);
        let said = format!("{printed}{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{said}");
        let seen: Value = serde_json::from_str(printed.lines().last().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}: {said}"));
        assert_eq!(seen["consoleErrors"], serde_json::json!([]), "{said}");
        seen["text"].as_str().unwrap_or_default().to_owned()
    }

    /// `POST /apps` → 201: a new upload app serving port 8080; its id.
    pub async fn create_upload_app(&self, name: &str) -> String {
        let app: AppView = self
            .expect(
                201,
                "POST",
                "/apps",
                Some(serde_json::json!({"name": name, "port": 8080})),
            )
            .await;
        assert!(matches!(app.source, SourceView::Upload { .. }), "{app:?}");
        assert_eq!(app.webhook, None);
        app.id
    }

    /// Gets an upload URL for `declared` bytes and PUTs `bytes` to it with
    /// `curl -T`, as the README shows; returns the URL's answer.
    pub async fn upload(
        &self,
        app: &str,
        format: &str,
        bytes: Vec<u8>,
        declared: u64,
    ) -> UploadTicket {
        let url: UploadTicket = self
            .expect(
                200,
                "POST",
                &format!("/apps/{app}/source"),
                Some(serde_json::json!({"format": format, "size": declared})),
            )
            .await;
        let file = temp_dir("put").join(format!("archive.{format}"));
        std::fs::write(&file, bytes).unwrap();
        let mut curl = Command::new("curl");
        curl.args(["-sS", "--fail", "--max-time", "120", "-T"])
            .arg(&file);
        for (k, v) in &url.headers {
            if !k.eq_ignore_ascii_case("content-length") {
                curl.args(["-H", &format!("{k}: {v}")]);
            }
        }
        let out = curl.arg(&url.upload_url).output().await.unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        url
    }

    /// `POST /apps/{id}/deploy` → 202; the new deployment's id.
    pub async fn deploy_app(&self, app: &str) -> String {
        let q: Queued = self
            .expect(202, "POST", &format!("/apps/{app}/deploy"), None)
            .await;
        q.deployment_id
    }

    /// `GET /apps/{id}` → 200; the app.
    pub async fn app(&self, app: &str) -> AppView {
        self.expect(200, "GET", &format!("/apps/{app}"), None).await
    }

    /// `GET /deployments/{id}` → 200; the deployment.
    pub async fn deployment(&self, deployment: &str) -> DeploymentView {
        self.expect(200, "GET", &format!("/deployments/{deployment}"), None)
            .await
    }

    /// `GET /apps/{id}/deployments` → 200; newest first.
    pub async fn deployments(&self, app: &str) -> Vec<DeploymentView> {
        let list: DeploymentList = self
            .expect(200, "GET", &format!("/apps/{app}/deployments"), None)
            .await;
        list.deployments
    }
}

impl Api {
    /// Polls the deployment until `done` holds for it; returns every status
    /// seen on the way, in order, and the last answer.
    pub async fn wait_for(
        &self,
        deployment: &str,
        secs: u64,
        done: impl Fn(&DeploymentView) -> bool,
    ) -> (Vec<DeploymentStatus>, DeploymentView) {
        self.wait_for_as(&self.token, deployment, secs, done).await
    }

    /// [`Api::wait_for`], as `token`'s owner.
    pub async fn wait_for_as(
        &self,
        token: &str,
        deployment: &str,
        secs: u64,
        done: impl Fn(&DeploymentView) -> bool,
    ) -> (Vec<DeploymentStatus>, DeploymentView) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        let mut seen: Vec<DeploymentStatus> = Vec::new();
        loop {
            let (status, answer) = self
                .call_as(token, "GET", &format!("/deployments/{deployment}"), None)
                .await;
            assert_eq!(status, 200, "{answer}");
            let d: DeploymentView = serde_json::from_value(answer).unwrap();
            if seen.last() != Some(&d.status) {
                seen.push(d.status);
            }
            if done(&d) {
                return (seen, d);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "deployment {deployment} stuck; seen {seen:?}: {d:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Waits until the deployment ends (running, failed, cancelled, superseded).
    pub async fn settle(&self, deployment: &str) -> DeploymentView {
        self.settle_as(&self.token, deployment).await
    }

    /// [`Api::settle`], as `token`'s owner.
    pub async fn settle_as(&self, token: &str, deployment: &str) -> DeploymentView {
        self.wait_for_as(token, deployment, 120, |d| !d.status.is_in_progress())
            .await
            .1
    }

    /// The whole build log of a deployment.
    pub async fn logs(&self, deployment: &str) -> String {
        self.logs_as(&self.token, deployment).await
    }

    /// A deployment's whole log, read page by page as `token`'s owner.
    pub async fn logs_as(&self, token: &str, deployment: &str) -> String {
        let mut text = String::new();
        let mut after: Option<u64> = None;
        loop {
            let path = match after {
                Some(n) => format!("/deployments/{deployment}/logs?after={n}"),
                None => format!("/deployments/{deployment}/logs"),
            };
            let (status, page) = self.call_as(token, "GET", &path, None).await;
            assert_eq!(status, 200, "{page}");
            let page: LogPage = serde_json::from_value(page).unwrap();
            if page.chunks.is_empty() {
                return text;
            }
            for c in &page.chunks {
                text.push_str(&c.text);
            }
            after = page.next;
        }
    }
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
            ("x-github-delivery", slipway_core::ids::random_hex(16)),
            ("x-hub-signature-256", github_signature(secret, &body)),
        ];
        self.deliver(app_id, &headers, body).await
    }
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

/// `GET url` → body, or None when nothing answers.
/// `GET /` straight from a deployment's container (its `upstream`), not
/// through an edge.
pub async fn fetch_upstream(deployment: &DeploymentView) -> Option<String> {
    fetch(&format!("http://{}/", deployment.upstream.as_deref()?)).await
}

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
