//! What a tenant's build and app can reach: the internet, but not another
//! tenant's container, not this host's services, not the private network
//! around it (the registry, the other hosts) and not the cloud's metadata
//! service. Each forbidden place is a stand-in server on this machine that
//! the test itself reaches first, so a probe that fails shows a rule, not a
//! server that was never there:
//! - a neighbour: owner A's app, by its container address;
//! - the host: a server on the apps network's gateway address;
//! - the metadata service: 169.254.169.254 bound on the host's `lo` (no
//!   packet leaves the machine);
//! - the private network: a server in a network namespace the test makes,
//!   at 10.213.7.2, reached through a veth pair as a VPC neighbour would be.

use std::path::Path;
use std::time::{Duration, Instant};

use slipway_e2e::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const METADATA: &str = "169.254.169.254";
const NAMESPACE: &str = "slipway-e2e-vpc";
const VPC_HOST: &str = "10.213.7.1";
const VPC_PEER: &str = "10.213.7.2";

fn root(program: &str, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The stand-ins outside the apps network; removed when dropped.
struct StandIns {
    vpc_server: std::process::Child,
}

impl StandIns {
    fn start(vpc_port: u16) -> Self {
        Self::clear();
        let ok = root(
            "ip",
            &["addr", "add", &format!("{METADATA}/32"), "dev", "lo"],
        ) && root("ip", &["netns", "add", NAMESPACE])
            && root(
                "ip",
                &[
                    "link", "add", "slwe2e0", "type", "veth", "peer", "name", "slwe2e1", "netns",
                    NAMESPACE,
                ],
            )
            && root(
                "ip",
                &["addr", "add", &format!("{VPC_HOST}/30"), "dev", "slwe2e0"],
            )
            && root("ip", &["link", "set", "slwe2e0", "up"])
            && root(
                "ip",
                &[
                    "netns",
                    "exec",
                    NAMESPACE,
                    "ip",
                    "addr",
                    "add",
                    &format!("{VPC_PEER}/30"),
                    "dev",
                    "slwe2e1",
                ],
            )
            && root(
                "ip",
                &[
                    "netns", "exec", NAMESPACE, "ip", "link", "set", "slwe2e1", "up",
                ],
            )
            && root(
                "ip",
                &["netns", "exec", NAMESPACE, "ip", "link", "set", "lo", "up"],
            )
            && root(
                "ip",
                &[
                    "netns", "exec", NAMESPACE, "ip", "route", "add", "default", "via", VPC_HOST,
                ],
            );
        assert!(ok, "the stand-ins' addresses and namespace could be made");
        // A plain socket server: `http.server` looks its own name up in
        // DNS first, which a namespace with no resolver waits out.
        let server = "import socket, sys\n\
            s = socket.socket()\n\
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
            s.bind((sys.argv[1], int(sys.argv[2])))\n\
            s.listen(16)\n\
            while True:\n\
            \x20   c, _ = s.accept()\n\
            \x20   c.recv(1024)\n\
            \x20   c.sendall(b'HTTP/1.0 200 OK\\r\\n\\r\\nsecret-vpc\\n')\n\
            \x20   c.close()\n";
        let vpc_server = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                NAMESPACE,
                &env("SLIPWAY_PYTHON"),
                "-c",
                server,
            ])
            .args([VPC_PEER, &vpc_port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(output_dir().join("vpc-server.log")).unwrap())
            .spawn()
            .unwrap();
        Self { vpc_server }
    }
}

impl StandIns {
    /// Removes what this test (or an earlier run of it) made.
    fn clear() {
        root("ip", &["link", "del", "slwe2e0"]);
        root("ip", &["netns", "del", NAMESPACE]);
        root(
            "ip",
            &["addr", "del", &format!("{METADATA}/32"), "dev", "lo"],
        );
    }
}

impl Drop for StandIns {
    fn drop(&mut self) {
        let _ = self.vpc_server.kill();
        let _ = self.vpc_server.wait();
        Self::clear();
    }
}

/// A server on `ip:port` that answers every connection with `body`.
async fn serve(ip: &str, body: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await;
            let reply = format!("HTTP/1.0 200 OK\r\n\r\n{body}\n");
            let _ = stream.write_all(reply.as_bytes()).await;
        }
    });
    port
}

/// What the host itself gets from `ip:port`: the control for each probe.
async fn reached_from_host(ip: &str, port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(body) = fetch(&format!("http://{ip}:{port}/")).await {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{ip}:{port} never answered the host"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn gateway() -> String {
    sh(
        Path::new("/"),
        "docker",
        &[
            "network",
            "inspect",
            "slipway",
            "-f",
            "{{(index .IPAM.Config 0).Gateway}}",
        ],
    )
    .trim()
    .to_owned()
}

fn address_of(container: &str) -> String {
    sh(
        Path::new("/"),
        "docker",
        &[
            "inspect",
            container,
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        ],
    )
    .trim()
    .to_owned()
}

/// A script that tries each `(name, ip, port)` and prints `name reached`
/// when it got that stand-in's secret, `name blocked` when not.
fn probe_script(targets: &[(&str, &str, u16)]) -> String {
    let mut script = String::from(
        "probe() {\n  if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 \"$2\" \"$3\" 2>/dev/null | grep -q secret-; \
         then echo \"probe $1 reached\"; else echo \"probe $1 blocked\"; fi\n}\n",
    );
    for (name, ip, port) in targets {
        script += &format!("probe {name} {ip} {port}\n");
    }
    script
}

fn jump_in_place(chain: &str, target: &str) -> bool {
    root(
        "iptables",
        &["-w", "-C", chain, "-i", "slipway0", "-j", target],
    )
}

#[tokio::test]
async fn a_tenants_build_and_app_reach_no_neighbour_host_service_private_network_or_metadata() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let runner = Runner::start(&api.res, &[]);

    // Owner A's app, whose page B must not read.
    let page = format!(
        "FROM {}\nRUN mkdir -p /www && echo secret-neighbour > /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
        env("SLIPWAY_BASE_IMAGE")
    );
    git.commit("tenant-a", &[("Dockerfile", &page)]);
    let (a_app, a_dep) = api
        .deploy(json!({"name": "tenant-a", "repo": git.url("tenant-a"), "port": 8080}))
        .await;
    assert_eq!(api.settle(&a_dep).await.status, DeploymentStatus::Running);
    let a_host = api.app(&a_app).await.hostname;
    let neighbour = address_of(&containers_of(&a_app)[0]);
    assert_eq!(
        reached_from_host(&neighbour, 8080).await,
        "secret-neighbour\n"
    );

    let vpc_port = free_port();
    let _stand_ins = StandIns::start(vpc_port);
    let host_ip = gateway();
    let host_port = serve(&host_ip, "secret-host").await;
    let metadata_port = serve(METADATA, "secret-metadata").await;
    assert_eq!(
        reached_from_host(&host_ip, host_port).await,
        "secret-host\n"
    );
    assert_eq!(
        reached_from_host(METADATA, metadata_port).await,
        "secret-metadata\n"
    );
    assert_eq!(reached_from_host(VPC_PEER, vpc_port).await, "secret-vpc\n");

    let targets = [
        ("neighbour", neighbour.as_str(), 8080),
        ("host", host_ip.as_str(), host_port),
        ("metadata", METADATA, metadata_port),
        ("vpc", VPC_PEER, vpc_port),
    ];
    let dockerfile = format!(
        "FROM {}\nCOPY probe.sh /probe.sh\nRUN sh /probe.sh\nCMD [\"sh\", \"-c\", \"mkdir -p /www && sh /probe.sh > /www/probes.txt; exec httpd -f -p 8080 -h /www\"]\n",
        env("SLIPWAY_BASE_IMAGE")
    );
    git.commit(
        "tenant-b",
        &[
            ("Dockerfile", &dockerfile),
            ("probe.sh", &probe_script(&targets)),
        ],
    );
    let owner_b = api.mint_token("owner-b").await;
    let resp: Queued = api
        .expect_as(
            &owner_b,
            202,
            "POST",
            "/deploy",
            Some(json!({"name": "tenant-b", "repo": git.url("tenant-b"), "port": 8080})),
        )
        .await;
    let (b_app, b_dep) = (resp.app_id, resp.deployment_id);
    let d = api.settle_as(&owner_b, &b_dep).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    let shown: AppView = api
        .expect_as(&owner_b, 200, "GET", &format!("/apps/{b_app}"), None)
        .await;
    let b_host = shown.hostname;

    let build_log = api.logs_as(&owner_b, &b_dep).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let from_app = loop {
        if let Some(body) = runner.edge.text(&b_host, "/probes.txt").await {
            break body;
        }
        assert!(Instant::now() < deadline, "B's app never served its probes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for (name, _, _) in targets {
        for (what, seen) in [("build", &build_log), ("app", &from_app)] {
            assert!(
                seen.contains(&format!("probe {name} blocked")),
                "B's {what} reached the {name}: {seen}"
            );
        }
    }
    // A's app still answers its customers, and B's its own.
    assert_eq!(
        runner
            .edge
            .serves(&a_host, "/", "secret-neighbour\n")
            .await
            .as_deref(),
        Some("secret-neighbour\n")
    );

    // The rules come back when something takes them away.
    assert!(jump_in_place("INPUT", "SLIPWAY-INPUT"));
    assert!(jump_in_place("DOCKER-USER", "SLIPWAY-FORWARD"));
    assert!(root(
        "iptables",
        &["-w", "-D", "INPUT", "-i", "slipway0", "-j", "SLIPWAY-INPUT"]
    ));
    let deadline = Instant::now() + Duration::from_secs(15);
    while !jump_in_place("INPUT", "SLIPWAY-INPUT") {
        assert!(
            Instant::now() < deadline,
            "the runner put the firewall's jump back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
