//! What a test's stack is made of, outside the API: its own resources in
//! the emulator, runner processes, the Docker engine's containers, the
//! registry's tags, and where started processes print.

use std::path::PathBuf;

use tokio::process::{Child, Command};

use crate::Value;

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
    /// The file of each function's IAM user's key (`provision.py
    /// --principals`); the emulator enforces their policies.
    pub principals: PathBuf,
}

impl Resources {
    /// What `slipway-admin args` prints, run by an operator against these
    /// resources; it must succeed within a minute.
    pub async fn admin(&self, args: &[&str]) -> String {
        let run = Command::new(bin("slipway-admin"))
            .args(args)
            .envs(self.vars())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(std::time::Duration::from_secs(60), run)
            .await
            .unwrap_or_else(|_| panic!("slipway-admin {args:?} still ran after a minute"))
            .expect("slipway-admin runs");
        assert!(
            out.status.success(),
            "slipway-admin {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("slipway-admin prints UTF-8")
    }

    pub async fn create() -> Self {
        let prefix = format!("e2e-{}", &slipway_core::ids::random_hex(5));
        let principals = temp_dir("principals").join("principals.json");
        let out = Command::new(env("SLIPWAY_PYTHON"))
            .arg(PathBuf::from(env("SLIPWAY_ROOT")).join("infra/provision.py"))
            .arg("--template")
            .arg(PathBuf::from(env("SLIPWAY_ROOT")).join("template.yaml"))
            .arg("--prefix")
            .arg(&prefix)
            .arg("--principals")
            .arg(&principals)
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
            principals,
        }
    }

    /// The credentials of `logical`'s IAM user (a function's or
    /// `RunnerPolicy`'s logical id in template.yaml), as environment.
    pub fn principal(&self, logical: &str) -> Vec<(&'static str, String)> {
        let keys: Value =
            serde_json::from_slice(&std::fs::read(&self.principals).unwrap()).unwrap();
        let key = &keys[logical];
        assert!(key.is_object(), "provision.py made no principal {logical}");
        vec![
            (
                "AWS_ACCESS_KEY_ID",
                key["accessKeyId"].as_str().unwrap().to_owned(),
            ),
            (
                "AWS_SECRET_ACCESS_KEY",
                key["secretAccessKey"].as_str().unwrap().to_owned(),
            ),
        ]
    }

    /// The variables every Slipway binary reads.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SLIPWAY_TABLE", self.table.clone()),
            ("SLIPWAY_QUEUE_URL", self.queue_url.clone()),
            ("SLIPWAY_PUSH_QUEUE_URL", self.push_queue_url.clone()),
            ("SLIPWAY_BUCKET", self.bucket.clone()),
            ("SLIPWAY_KMS_KEY_ID", self.kms_key.clone()),
            // As the local stack: apps at http://<name>-<id>.localhost:8088;
            // tests reach them through their runners' own edges.
            ("SLIPWAY_APPS_DOMAIN", "localhost".into()),
            ("SLIPWAY_APPS_URL_SCHEME", "http".into()),
            ("SLIPWAY_APPS_URL_PORT", "8088".into()),
        ]
    }
}

/// The ports [`free_port`] hands out: below the kernel's ephemeral range
/// (from 32768), where no client socket of the tests can take one between
/// the check here and the server's own bind, and below the runners' app
/// ports (from 20000).
const HANDED_OUT: std::ops::Range<u32> = 10_000..20_000;

/// A free TCP port on loopback for a server a test starts; never the same
/// one twice in a test process.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: std::sync::OnceLock<AtomicU32> = std::sync::OnceLock::new();
    let span = HANDED_OUT.end - HANDED_OUT.start;
    // Each test process starts where its pid points; the bind below skips
    // whatever another process still holds.
    let next = NEXT.get_or_init(|| AtomicU32::new(std::process::id() % span));
    for _ in 0..span {
        let port = (HANDED_OUT.start + next.fetch_add(1, Ordering::Relaxed) % span) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on loopback in {HANDED_OUT:?}")
}

/// `GET path` for `host` through the edge listening on `port`: its status
/// and body, or `None` when the edge does not answer.
pub async fn edge_get(port: u16, host: &str, path: &str) -> Option<(u16, String)> {
    let answer = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header(reqwest::header::HOST, host)
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    let status = answer.status().as_u16();
    Some((status, answer.text().await.ok()?))
}

/// A Caddy edge, as on a build host: configured by its runner through its
/// admin API, on ports of its own, with its own internal CA.
pub struct Edge {
    _caddy: Child,
    pub admin: u16,
    pub http: u16,
    pub https: u16,
    pub ask: u16,
    data: PathBuf,
}

impl Edge {
    pub fn start(name: &str) -> Self {
        let (admin, http, https, ask) = (free_port(), free_port(), free_port(), free_port());
        let data = temp_dir("edge");
        let init = data.join("init.json");
        std::fs::write(
            &init,
            serde_json::json!({"admin": {"listen": format!("127.0.0.1:{admin}")}}).to_string(),
        )
        .unwrap();
        let caddy = Command::new("caddy")
            .arg("run")
            .arg("--config")
            .arg(&init)
            .env("XDG_DATA_HOME", &data)
            .env("XDG_CONFIG_HOME", &data)
            .stdout(output_file(&format!("{name}-caddy")))
            .stderr(output_file(&format!("{name}-caddy-err")))
            .kill_on_drop(true)
            .spawn()
            .expect("caddy starts (Debian's caddy package)");
        Self {
            _caddy: caddy,
            admin,
            http,
            https,
            ask,
            data,
        }
    }

    /// What a runner needs to configure this edge.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SLIPWAY_EDGE_ADMIN", format!("127.0.0.1:{}", self.admin)),
            ("SLIPWAY_EDGE_HTTP", format!("127.0.0.1:{}", self.http)),
            ("SLIPWAY_EDGE_HTTPS", format!("127.0.0.1:{}", self.https)),
            ("SLIPWAY_EDGE_ASK", format!("127.0.0.1:{}", self.ask)),
            ("SLIPWAY_EDGE_TLS", "internal".into()),
            ("SLIPWAY_EDGE_REDIRECT_HTTP", "false".into()),
            ("SLIPWAY_EDGE_POLL_SECONDS", "0.5".into()),
            ("SLIPWAY_EDGE_DRAIN_SECONDS", "2".into()),
            ("SLIPWAY_STOP_GRACE_SECONDS", "1".into()),
        ]
    }

    /// The root of this edge's internal CA (made when the runner first
    /// configures it).
    pub fn ca(&self) -> PathBuf {
        self.data.join("caddy/pki/authorities/local/root.crt")
    }

    /// `GET path` through the edge for `host`: its status and body, or
    /// `None` when the edge does not answer.
    pub async fn get(&self, host: &str, path: &str) -> Option<(u16, String)> {
        edge_get(self.http, host, path).await
    }

    /// The body of `GET path` through the edge for `host`, if it is a 200.
    pub async fn text(&self, host: &str, path: &str) -> Option<String> {
        match self.get(host, path).await? {
            (200, body) => Some(body),
            _ => None,
        }
    }

    /// The body of `GET path` for `host` once it is `want`, or after 10 s
    /// the last 200's body: an edge takes up a change moments after the
    /// table holds it.
    pub async fn serves(&self, host: &str, path: &str, want: &str) -> Option<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let got = self.text(host, path).await;
            if got.as_deref() == Some(want) || std::time::Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Waits (up to `seconds`) until `host` answers `want` at `/`; returns
    /// the last answer.
    pub async fn wait_for(&self, host: &str, want: &str, seconds: u64) -> Option<(u16, String)> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        loop {
            let got = self.get(host, "/").await;
            if got.as_ref().is_some_and(|(_, body)| body == want)
                || std::time::Instant::now() >= deadline
            {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// A `slipway-runner` process on a test's resources, with its edge.
pub struct Runner {
    child: Child,
    pub work_dir: PathBuf,
    pub id: String,
    pub edge: Edge,
}

impl Runner {
    pub fn start(res: &Resources, extra: &[(&str, &str)]) -> Self {
        let id = format!("{}-runner-{}", res.prefix, slipway_core::ids::random_hex(3));
        Self::start_on(res, Edge::start(&id), &id, extra)
    }

    /// A runner on `edge` (which a runner before it may have configured),
    /// as runner `id`.
    pub fn start_on(res: &Resources, edge: Edge, id: &str, extra: &[(&str, &str)]) -> Self {
        let id = id.to_owned();
        let work_dir = temp_dir("runner");
        let child = Command::new(bin("slipway-runner"))
            .envs(res.vars())
            .env("SLIPWAY_DLQ_URL", &res.dlq_url)
            .env("SLIPWAY_PUSH_DLQ_URL", &res.push_dlq_url)
            .envs(res.principal("RunnerPolicy"))
            .env("SLIPWAY_REGISTRY", env("SLIPWAY_REGISTRY"))
            .env("SLIPWAY_RUNNER_ID", &id)
            .env("SLIPWAY_WORK_DIR", &work_dir)
            .env("SLIPWAY_VISIBILITY_SECONDS", "6")
            .env("SLIPWAY_CANCEL_POLL_SECONDS", "0.5")
            .env("SLIPWAY_RECONCILE_SECONDS", "2")
            .env("SLIPWAY_READY_TIMEOUT_SECONDS", "8")
            .env("RUST_LOG", "info")
            .envs(edge.vars())
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
            edge,
        }
    }

    /// Stops the runner (SIGKILL, as a crash would) and hands back its
    /// edge, which keeps serving what it was last told.
    pub async fn crash(mut self) -> Edge {
        self.child.kill().await.unwrap();
        self.edge
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

/// Where the tests keep what the processes they start print.
pub fn output_dir() -> PathBuf {
    let dir = PathBuf::from(env("SLIPWAY_ROOT")).join(".slipway/test-output");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) fn output_file(name: &str) -> std::fs::File {
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

/// A request to the stack's registry at `path`, with the runners' login
/// (the registry asks for one).
pub fn registry_request(method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, format!("http://{}{path}", env("SLIPWAY_REGISTRY")))
        .basic_auth(
            env("SLIPWAY_REGISTRY_USERNAME"),
            Some(env("SLIPWAY_REGISTRY_PASSWORD")),
        )
}

/// The tags of the app's image in the registry.
pub async fn registry_tags(app_id: &str) -> Vec<String> {
    let listed = registry_request(
        reqwest::Method::GET,
        &format!("/v2/slipway/{app_id}/tags/list"),
    )
    .send()
    .await;
    let body: Value = match listed {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    body["tags"]
        .as_array()
        .map(|t| t.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}
