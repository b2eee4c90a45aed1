//! What a tenant's app container may use and do, seen from inside it and
//! from the engine: a pids limit, capabilities dropped but a web server's
//! few, no new privileges, its output kept within its rotation; and a
//! container that cannot start is its author's mistake, failed at once. A
//! repository larger than the stack clones fails in one attempt.

use std::time::{Duration, Instant};

use slipway_e2e::*;

fn deploy_body(name: &str, repo: &str) -> Value {
    json!({"name": name, "repo": repo, "port": 8080})
}

/// A Dockerfile whose app runs `script` before it serves `/www`.
fn app_running(script: &str) -> String {
    format!(
        "FROM {}\nRUN mkdir -p /www && echo up > /www/index.html\nCMD [\"sh\", \"-c\", \"{} exec httpd -f -p 8080 -h /www\"]\n",
        env("SLIPWAY_BASE_IMAGE"),
        script.replace('"', "\\\"")
    )
}

async fn file_of(d: &DeploymentView, name: &str) -> Option<String> {
    fetch(&format!("http://{}/{name}", d.upstream.as_deref()?)).await
}

#[tokio::test]
async fn an_app_container_keeps_a_web_servers_few_capabilities_no_new_privileges_and_a_pids_limit()
{
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let _runner = Runner::start(&api.res, &[("SLIPWAY_APP_PIDS_LIMIT", "100")]);

    // What the app's process may do, as the kernel reports it.
    let status = "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status > /www/status;";
    git.commit("bounded", &[("Dockerfile", &app_running(status))]);
    let (_, dep) = api
        .deploy(deploy_body("bounded", &git.url("bounded")))
        .await;
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    let status = file_of(&d, "status").await.unwrap();
    // CHOWN, DAC_OVERRIDE, FOWNER, SETGID, SETUID, NET_BIND_SERVICE: bits
    // 0, 1, 3, 6, 7 and 10; NET_RAW (13), SYS_CHROOT (18) and the rest gone.
    assert!(status.contains("CapEff:\t00000000000004cb"), "{status}");
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");

    // 1,500 processes asked for, in the background, against a limit of 100.
    let bomb = "(for i in $(seq 1500); do sleep 600 & done) 2>/dev/null &";
    git.commit("forks", &[("Dockerfile", &app_running(bomb))]);
    let (app, dep) = api.deploy(deploy_body("forks", &git.url("forks"))).await;
    assert_eq!(api.settle(&dep).await.status, DeploymentStatus::Running);
    let name = containers_of(&app)[0].clone();
    let mut processes = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let top = sh(std::path::Path::new("/"), "docker", &["top", &name]);
        processes = top.lines().count() - 1;
        if processes >= 90 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        (90..=100).contains(&processes),
        "1,500 forks stopped at the pids limit of 100: {processes} processes"
    );
}

#[tokio::test]
async fn an_apps_output_stays_within_its_log_rotation() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    // 20 MB of 101-byte lines, in the background, then a mark that it is done.
    let script = "(yes $(printf %0100d 0) | head -c 20000000; touch /www/done) &";
    git.commit("chatty", &[("Dockerfile", &app_running(script))]);
    let _runner = Runner::start(
        &api.res,
        &[
            ("SLIPWAY_APP_LOG_FILE_BYTES", "1048576"),
            ("SLIPWAY_APP_LOG_FILES", "2"),
        ],
    );
    let (app, dep) = api.deploy(deploy_body("chatty", &git.url("chatty"))).await;
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while file_of(&d, "done").await.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        file_of(&d, "done").await.is_some(),
        "the app printed its 20 MB"
    );

    let name = containers_of(&app)[0].clone();
    let log = sh(
        std::path::Path::new("/"),
        "docker",
        &["inspect", "-f", "{{.LogPath}}", &name],
    );
    let log = std::path::PathBuf::from(log.trim());
    let dir = log.parent().unwrap();
    let stem = log.file_name().unwrap().to_string_lossy().into_owned();
    let kept: u64 = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&stem))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(kept > 0);
    assert!(
        kept <= 2 * 1024 * 1024 + 64 * 1024,
        "20 MB printed, {kept} bytes kept: two files of 1 MiB at most"
    );
}

#[tokio::test]
async fn an_app_whose_process_cannot_start_fails_at_once_naming_it() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let dockerfile = format!(
        "FROM {}\nCMD [\"/no-such-binary\"]\n",
        env("SLIPWAY_BASE_IMAGE")
    );
    git.commit("typo", &[("Dockerfile", &dockerfile)]);
    let _runner = Runner::start(&api.res, &[]);
    let (_, dep) = api.deploy(deploy_body("typo", &git.url("typo"))).await;
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Failed, "{d:?}");
    assert_eq!(d.attempt, 1, "the author's mistake is not retried: {d:?}");
    let error = d.error.as_deref().unwrap();
    assert!(error.contains("could not start"), "{error}");
    assert!(
        !error.contains("previous version"),
        "a first deploy has no previous version: {error}"
    );
    assert!(error.contains("/no-such-binary"), "{error}");
    assert!(api.logs(&dep).await.contains("/no-such-binary"));
}

#[tokio::test]
async fn a_loud_build_keeps_its_log_cap_says_so_and_every_page_stays_small() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    // A 2 MB line with no newline at all, then 6 MB of lines: 8 MB against
    // a cap of 3 MB.
    let dockerfile = format!(
        "FROM {}\nRUN head -c 2000000 /dev/zero | tr '\\0' x\nRUN yes $(printf %0100d 0) | head -c 6000000\nRUN mkdir -p /www && echo loud > /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
        env("SLIPWAY_BASE_IMAGE")
    );
    git.commit("loud", &[("Dockerfile", &dockerfile)]);
    let _runner = Runner::start(&api.res, &[("SLIPWAY_BUILD_LOG_MAX_BYTES", "3000000")]);
    let (_, dep) = api.deploy(deploy_body("loud", &git.url("loud"))).await;
    let d = api.settle(&dep).await;
    assert_eq!(
        d.status,
        DeploymentStatus::Running,
        "the build goes on: {d:?}"
    );
    assert_eq!(fetch_upstream(&d).await.as_deref(), Some("loud\n"));

    let (mut text, mut after, mut pages) = (String::new(), None::<u64>, 0);
    loop {
        let path = match after {
            Some(n) => format!("/deployments/{dep}/logs?after={n}"),
            None => format!("/deployments/{dep}/logs"),
        };
        let answer = reqwest::Client::new()
            .get(api.url(&path))
            .bearer_auth(&api.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            answer.len() <= 1100 * 1024,
            "a page of {} bytes (at most ~1 MB)",
            answer.len()
        );
        let page: LogPage = serde_json::from_str(&answer).unwrap();
        if page.chunks.is_empty() {
            break;
        }
        pages += 1;
        for c in &page.chunks {
            text.push_str(&c.text);
        }
        after = page.next;
    }
    assert!(pages >= 3, "3 MB of log in pages of ~1 MB: {pages}");
    assert!(text.contains("xxxxxxxxxx"), "the long line is kept");
    assert!(
        text.contains("The log reached its limit of 3000000 bytes"),
        "the log says it was cut"
    );
    assert!(text.len() <= 3_000_000 + 200, "{} bytes kept", text.len());
}

#[tokio::test]
async fn a_build_past_the_timeout_fails_once_stops_and_frees_its_slot() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let stuck = format!("FROM {}\nRUN sleep 100017\n", env("SLIPWAY_BASE_IMAGE"));
    git.commit("stuck", &[("Dockerfile", &stuck)]);
    git.commit("next", &files(&site("next")));
    let _runner = Runner::start(
        &api.res,
        &[
            ("SLIPWAY_BUILD_TIMEOUT_SECONDS", "5"),
            ("SLIPWAY_SLOTS", "1"),
        ],
    );
    let (_, dep) = api.deploy(deploy_body("stuck", &git.url("stuck"))).await;
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Failed, "{d:?}");
    assert_eq!(d.attempt, 1, "not retried: {d:?}");
    assert!(
        d.error.as_deref().unwrap().contains("timed out after 5 s"),
        "{d:?}"
    );
    assert!(api.logs(&dep).await.contains("timed out after 5 s"));

    // The build's step is stopped, and the only slot builds the next app.
    let deadline = Instant::now() + Duration::from_secs(15);
    let running = || {
        sh(
            std::path::Path::new("/"),
            "docker",
            &["ps", "--no-trunc", "--format", "{{.Command}}"],
        )
    };
    while running().contains("sleep 100017") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        !running().contains("sleep 100017"),
        "the build step was stopped"
    );
    let (_, next) = api.deploy(deploy_body("next", &git.url("next"))).await;
    assert_eq!(api.settle(&next).await.status, DeploymentStatus::Running);
}

#[tokio::test]
async fn a_builds_steps_run_within_the_stacks_build_memory_cpu_and_pids_limits() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    // What the kernel says the step may use (cgroup v1 or v2 paths).
    let dockerfile = format!(
        "FROM {}\nRUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null; \
         cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu.max 2>/dev/null; true\n\
         RUN (i=0; while [ $i -lt 1500 ]; do sleep 4 & i=$((i+1)); echo $i > /tmp/forked; done) 2>/dev/null; \
         sleep 5; echo \"forked $(cat /tmp/forked) of 1500\"\n\
         RUN mkdir -p /www && echo ok > /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
        env("SLIPWAY_BASE_IMAGE")
    );
    git.commit("measured", &[("Dockerfile", &dockerfile)]);
    let _runner = Runner::start(
        &api.res,
        &[
            ("SLIPWAY_BUILD_MEMORY_MB", "300"),
            ("SLIPWAY_BUILD_CPUS", "0.5"),
            ("SLIPWAY_BUILD_PIDS_LIMIT", "100"),
        ],
    );
    let (_, dep) = api
        .deploy(deploy_body("measured", &git.url("measured")))
        .await;
    assert_eq!(api.settle(&dep).await.status, DeploymentStatus::Running);
    let log = api.logs(&dep).await;
    assert!(log.contains(&(300 * 1024 * 1024).to_string()), "{log}");
    assert!(
        log.contains("50000"),
        "half a cpu: 50000 of every 100000 us: {log}"
    );
    // 1,500 processes asked for, the shells among a limit of 100.
    let forked: u32 = log
        .rsplit("forked ")
        .next()
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the step said how far it forked: {log}"));
    assert!(
        (80..100).contains(&forked),
        "1,500 forks in a build stopped at the pids limit of 100: {forked}"
    );
}

#[tokio::test]
async fn an_app_builds_from_its_own_image_never_from_another_apps() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("first", &files(&site("first")));
    let _runner = Runner::start(&api.res, &[]);
    let (first, dep) = api.deploy(deploy_body("first", &git.url("first"))).await;
    assert_eq!(api.settle(&dep).await.status, DeploymentStatus::Running);
    let registry = env("SLIPWAY_REGISTRY");

    // Another app (another owner's) names the first one's image.
    let theirs = format!(
        "ARG FROM_APP={registry}/slipway/{first}:latest\nFROM $FROM_APP\nRUN cat /www/index.html\n"
    );
    git.commit("thief", &[("Dockerfile", &theirs)]);
    let bob = api.mint_token("bob").await;
    let answer: Queued = api
        .expect_as(
            &bob,
            202,
            "POST",
            "/deploy",
            Some(deploy_body("thief", &git.url("thief"))),
        )
        .await;
    let d = api.settle_as(&bob, &answer.deployment_id).await;
    assert_eq!(d.status, DeploymentStatus::Failed, "{d:?}");
    assert_eq!(d.attempt, 1, "{d:?}");
    let error = d.error.as_deref().unwrap();
    assert!(error.contains(&first), "names the image: {error}");
    assert!(error.contains("another Slipway app's image"), "{error}");

    // The first app may build from its own image.
    let own = format!("FROM {registry}/slipway/{first}:latest\nRUN echo again > /www/index.html\n");
    git.commit("first", &[("Dockerfile", &own)]);
    let d = api.settle(&api.deploy_app(&first).await).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    assert_eq!(fetch_upstream(&d).await.as_deref(), Some("again\n"));
}

/// The number a build printed as `name=<number>` on a line of its own.
fn printed(log: &str, name: &str) -> u64 {
    log.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{name}="))?.parse().ok())
        .unwrap_or_else(|| panic!("the build printed {name}: {log}"))
}

#[tokio::test]
async fn an_owner_at_its_build_cap_waits_while_another_owners_build_goes_ahead() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let slow = format!(
        "FROM {}\nRUN echo started=$(date +%s) && sleep 8 && echo ended=$(date +%s)\n\
         RUN mkdir -p /www && echo ok > /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
        env("SLIPWAY_BASE_IMAGE")
    );
    for name in ["a-one", "a-two", "b-one"] {
        git.commit(name, &[("Dockerfile", &slow)]);
    }
    // Slots for all three, but one build at a time per owner; a waiting job
    // asks again every second, far more often than the queue's five tries.
    let _runner = Runner::start(
        &api.res,
        &[
            ("SLIPWAY_SLOTS", "3"),
            ("SLIPWAY_OWNER_BUILDS", "1"),
            ("SLIPWAY_OWNER_WAIT_SECONDS", "1"),
        ],
    );
    let owner_b = api.mint_token("owner-b").await;
    let (_, a_one) = api.deploy(deploy_body("a-one", &git.url("a-one"))).await;
    let (_, a_two) = api.deploy(deploy_body("a-two", &git.url("a-two"))).await;
    let resp: Queued = api
        .expect_as(
            &owner_b,
            202,
            "POST",
            "/deploy",
            Some(deploy_body("b-one", &git.url("b-one"))),
        )
        .await;
    let b_one = resp.deployment_id;
    // The job that waits goes back to the queue as a new, delayed message
    // (the runner's sqs:SendMessage): it is not left to come back on its
    // own, which would count as a failed try.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut requeued = false;
    while !requeued && Instant::now() < deadline {
        let attributes = api
            .sqs()
            .get_queue_attributes()
            .queue_url(&api.res.queue_url)
            .attribute_names(
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed,
            )
            .send()
            .await
            .unwrap();
        requeued = attributes
            .attributes
            .unwrap_or_default()
            .values()
            .any(|v| v != "0");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(requeued, "the waiting job was queued again, delayed");

    let mut spans = Vec::new();
    for (token, dep) in [
        (None, &a_one),
        (None, &a_two),
        (Some(owner_b.as_str()), &b_one),
    ] {
        let token = token.unwrap_or(api.token.as_str());
        let d = api.settle_as(token, dep).await;
        assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
        let log = api.logs_as(token, dep).await;
        spans.push((printed(&log, "started"), printed(&log, "ended")));
    }
    let (a1, a2, b) = (spans[0], spans[1], spans[2]);
    assert!(
        a2.0 >= a1.1 || a1.0 >= a2.1,
        "owner A's two builds never ran at once: {a1:?} {a2:?}"
    );
    let first_a = if a1.0 <= a2.0 { a1 } else { a2 };
    assert!(
        b.0 < first_a.1 && first_a.0 < b.1,
        "owner B's build ran beside A's first, not behind A's queue: A {first_a:?}, B {b:?}"
    );
    // Every build gave its place back as it ended.
    let shares: Vec<_> = api
        .items()
        .await
        .into_iter()
        .filter(|item| item["PK"].as_s().is_ok_and(|pk| pk.starts_with("BUILDS#")))
        .collect();
    assert_eq!(shares.len(), 2, "one share per owner: {shares:?}");
    for share in shares {
        assert!(
            share["holders"].as_m().unwrap().is_empty(),
            "no place is held: {share:?}"
        );
    }
}

#[tokio::test]
async fn a_redeploy_builds_nothing_so_it_goes_live_while_its_owner_is_at_the_build_cap() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("quick", &files(&site("quick")));
    let slow = format!(
        "FROM {}\nRUN echo started=$(date +%s) && sleep 30\n\
         RUN mkdir -p /www && echo ok > /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
        env("SLIPWAY_BASE_IMAGE")
    );
    git.commit("slow", &[("Dockerfile", &slow)]);
    let _runner = Runner::start(
        &api.res,
        &[
            ("SLIPWAY_SLOTS", "3"),
            ("SLIPWAY_OWNER_BUILDS", "1"),
            ("SLIPWAY_OWNER_WAIT_SECONDS", "1"),
        ],
    );
    let (quick, first) = api.deploy(deploy_body("quick", &git.url("quick"))).await;
    assert_eq!(api.settle(&first).await.status, DeploymentStatus::Running);
    let (_, building) = api.deploy(deploy_body("slow", &git.url("slow"))).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !api.logs(&building).await.contains("started=") {
        assert!(Instant::now() < deadline, "the slow build started");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let redeploy: Queued = api
        .expect(202, "POST", &format!("/apps/{quick}/redeploy"), None)
        .await;
    let d = api.settle(&redeploy.deployment_id).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    let slow = api.deployment(&building).await;
    assert_eq!(
        slow.status,
        DeploymentStatus::Building,
        "the redeploy went live while the owner's one build place was taken"
    );
    let share = api
        .items()
        .await
        .into_iter()
        .find(|item| item["PK"].as_s().is_ok_and(|pk| pk.starts_with("BUILDS#")))
        .expect("the owner's build places");
    let holders = share["holders"].as_m().unwrap();
    assert_eq!(
        holders.keys().collect::<Vec<_>>(),
        [&building],
        "only the build holds a place: {share:?}"
    );
    assert_eq!(
        api.settle(&building).await.status,
        DeploymentStatus::Running
    );
}

#[tokio::test]
async fn a_read_only_app_keeps_its_root_filesystem_unwritten_and_its_tmp_writable() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let _runner = Runner::start(&api.res, &[]);
    let probe = format!(
        "FROM {}\nCMD [\"sh\", \"-c\", \"(touch /probe && echo root-writable || echo root-read-only) > /tmp/fs.txt 2>/dev/null; exec httpd -f -p 8080 -h /tmp\"]\n",
        env("SLIPWAY_BASE_IMAGE")
    );
    git.commit("probe", &[("Dockerfile", &probe)]);
    for (name, read_only, want) in [
        ("sealed", true, "root-read-only\n"),
        ("open", false, "root-writable\n"),
    ] {
        let mut body = deploy_body(name, &git.url("probe"));
        body["readOnly"] = json!(read_only);
        let (app, dep) = api.deploy(body).await;
        let d = api.settle(&dep).await;
        assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
        assert_eq!(api.app(&app).await.read_only, read_only);
        assert_eq!(file_of(&d, "fs.txt").await.as_deref(), Some(want), "{name}");
    }
    let mut bad = deploy_body("bad", &git.url("probe"));
    bad["readOnly"] = json!("yes");
    let e = api.refused(400, "POST", "/deploy", Some(bad)).await;
    assert_eq!(e.field.as_deref(), Some("readOnly"));
}

/// Bytes of the files under `dir`.
fn size_of(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => size_of(&e.path()),
                    _ => e.metadata().map_or(0, |m| m.len()),
                })
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn a_repository_over_the_clone_limit_fails_once_naming_it_and_leaves_nothing() {
    const LIMIT: u64 = 1024 * 1024;
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("small", &files(&site("small enough")));
    // Random text compresses to about half: some 2 MiB to receive.
    let mut big = site("too big");
    big.push((
        "data/blob.txt",
        slipway_core::ids::random_hex(2 * 1024 * 1024),
    ));
    git.commit("big", &files(&big));
    let runner = Runner::start(
        &api.res,
        &[
            ("SLIPWAY_MAX_CLONE_BYTES", "1048576"),
            ("SLIPWAY_RETRY_SECONDS", "0.5"),
        ],
    );
    let (_, small) = api.deploy(deploy_body("small", &git.url("small"))).await;
    assert_eq!(
        api.settle(&small).await.status,
        DeploymentStatus::Running,
        "a repository under the limit clones"
    );

    let (_, dep) = api.deploy(deploy_body("big", &git.url("big"))).await;
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Failed, "{d:?}");
    assert_eq!(d.attempt, 1, "not retried: {d:?}");
    let error = d.error.as_deref().unwrap();
    assert!(
        error.contains("the repository is larger than 1048576 bytes"),
        "{error}"
    );
    assert!(api.logs(&dep).await.contains("larger than 1048576 bytes"));
    let left = size_of(&runner.work_dir);
    assert!(left < LIMIT, "{left} bytes left in the runner's work dir");
}

#[tokio::test]
async fn a_clone_may_take_longer_than_the_stall_limit_but_a_silent_server_fails_it_once() {
    let api = Api::start().await;
    // Some 600 KB to receive, 64 KiB a second: a clone of about ten seconds.
    let slow = GitServer::start_with(None, &["--trickle", "1"]).await;
    let mut big = site("slowly");
    big.push(("data/blob.txt", slipway_core::ids::random_hex(1200 * 1024)));
    slow.commit("slow", &files(&big));
    let silent = GitServer::start_with(None, &["--hold", "5"]).await;
    silent.commit("silent", &files(&site("never")));
    let _runner = Runner::start(
        &api.res,
        &[
            ("SLIPWAY_CLONE_STALL_SECONDS", "2"),
            ("SLIPWAY_RETRY_SECONDS", "0.5"),
        ],
    );

    let (_, dep) = api.deploy(deploy_body("slow", &slow.url("slow"))).await;
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Running, "{d:?}");
    let clone = d.phases["clone"].millis.unwrap();
    assert!(
        clone > 5_000,
        "the clone took {clone} ms: not slow enough to show anything"
    );
    assert_eq!(d.attempt, 1);

    let (_, dep) = api
        .deploy(deploy_body("silent", &silent.url("silent")))
        .await;
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Failed, "{d:?}");
    assert_eq!(d.attempt, 1, "not retried: {d:?}");
    let error = d.error.as_deref().unwrap();
    assert!(
        error.contains("the repository's server sent nothing for 2 s"),
        "{error}"
    );
    assert!(api.logs(&dep).await.contains("sent nothing for 2 s"));
}

#[tokio::test]
async fn a_file_too_large_for_the_clones_memory_fails_once_naming_it_and_the_runner_goes_on() {
    const MEMORY: &str = "41943040";
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("small", &files(&site("small enough")));
    // One 50 MB file: gix holds a whole object in memory as it receives it.
    let mut huge = site("one huge file");
    huge.push((
        "data/huge.txt",
        slipway_core::ids::random_hex(25 * 1024 * 1024),
    ));
    git.commit("huge", &files(&huge));
    let runner = Runner::start(
        &api.res,
        &[
            ("SLIPWAY_CLONE_MEMORY_BYTES", MEMORY),
            ("SLIPWAY_RETRY_SECONDS", "0.5"),
        ],
    );

    let (_, dep) = api.deploy(deploy_body("huge", &git.url("huge"))).await;
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Failed, "{d:?}");
    assert_eq!(d.attempt, 1, "not retried: {d:?}");
    let error = d.error.as_deref().unwrap();
    assert!(
        error.contains(&format!(
            "the repository holds a file too large to clone within the {MEMORY} bytes of memory a clone may use"
        )),
        "{error}"
    );
    assert!(api.logs(&dep).await.contains("too large to clone"));
    assert!(
        size_of(&runner.work_dir) < 1024 * 1024,
        "the clone's files are removed"
    );

    // The runner lives on, and a repository of ordinary files clones within
    // the same memory.
    let (_, small) = api.deploy(deploy_body("small", &git.url("small"))).await;
    assert_eq!(
        api.settle(&small).await.status,
        DeploymentStatus::Running,
        "a repository of ordinary files clones"
    );
}
