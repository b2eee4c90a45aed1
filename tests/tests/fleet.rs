//! The fleet heals, and the operator sees it: every runner keeps a record
//! in the table, `slipway-admin runners` tells the live ones from the
//! stopped and the lost, and a lost host's apps come back on the others.

use std::time::{Duration, Instant};

use slipway_e2e::*;

/// `slipway-admin runners --json`, as an operator runs it, the records of
/// this test's runners by id.
async fn runners(res: &Resources) -> Vec<Value> {
    serde_json::from_str::<Vec<Value>>(&res.admin(&["runners", "--json"]).await).unwrap()
}

fn presence_of(list: &[Value], id: &str) -> Option<String> {
    list.iter()
        .find(|r| r["id"] == id)
        .map(|r| r["presence"].as_str().unwrap().to_owned())
}

/// Waits up to `seconds` for `check` to hold on the listed runners.
/// A runner that announces itself every second and counts as lost 6 s
/// after it was last seen (a shorter deadline mistakes a runner slowed down
/// by a busy test machine for a lost one).
const DEADLINE: u64 = 6;
const QUICK: [(&str, &str); 3] = [
    ("SLIPWAY_ANNOUNCE_SECONDS", "1"),
    ("SLIPWAY_RUNNER_DEADLINE_SECONDS", "6"),
    ("SLIPWAY_SLOTS", "2"),
];

/// The app's deployments that are failovers, newest first.
async fn failovers_of(api: &Api, app: &str) -> Vec<DeploymentView> {
    api.deployments(app)
        .await
        .into_iter()
        .filter(|d| d.trigger == Trigger::Failover)
        .collect()
}

/// [`QUICK`] with `extra` (which wins).
fn with<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    QUICK
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .chain(extra)
        .copied()
        .collect()
}

/// The runner whose host runs the app's live container, as the table says.
async fn runner_of(res: &Resources, app: &str) -> Option<String> {
    let aws = aws_config::load_from_env().await;
    let store = slipway_core::store::Store::new(aws_sdk_dynamodb::Client::new(&aws), &res.table);
    store
        .get_app(&slipway_core::ids::AppId::parse(app).unwrap())
        .await
        .unwrap()
        .and_then(|a| a.live_runner_id)
}

async fn until(res: &Resources, seconds: u64, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let list = runners(res).await;
        if check(&list) {
            return list;
        }
        assert!(Instant::now() < deadline, "never held: {list:#?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn slipway_admin_runners_shows_each_runner_then_a_lost_one_as_missing_and_a_stopped_one_as_stopped(
) {
    let api = Api::start().await;
    let a = Runner::start(&api.res, &QUICK);
    let mut b = Runner::start(&api.res, &QUICK);
    let (a_id, b_id) = (a.id.clone(), b.id.clone());
    let a_edge = format!("127.0.0.1:{}", a.edge.http);

    let list = until(&api.res, 30, |l| {
        presence_of(l, &a_id).as_deref() == Some("live")
            && presence_of(l, &b_id).as_deref() == Some("live")
    })
    .await;
    let record = list.iter().find(|r| r["id"] == a_id.as_str()).unwrap();
    assert_eq!(record["edgeAddress"], a_edge.as_str());
    assert_eq!(record["publishAddress"], "127.0.0.1");
    assert_eq!(record["slots"], 2);
    assert_eq!(record["slotsInUse"], 0);
    assert_eq!(record["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(record["deadlineSeconds"], DEADLINE);

    // The host is gone: its record stays, and past its deadline it is missing.
    let killed = Instant::now();
    a.crash().await;
    let list = until(&api.res, 30, |l| {
        presence_of(l, &a_id).is_some_and(|p| p.starts_with("missing"))
    })
    .await;
    assert!(
        killed.elapsed() >= Duration::from_secs(DEADLINE - 1),
        "missing before its deadline could pass: {list:#?}"
    );
    assert_eq!(presence_of(&list, &b_id).as_deref(), Some("live"));

    // A runner stopped on purpose says so, and is not missing however long ago.
    b.signal("-TERM");
    b.wait().await;
    let list = runners(&api.res).await;
    assert_eq!(presence_of(&list, &b_id).as_deref(), Some("stopped"));
    tokio::time::sleep(Duration::from_secs(DEADLINE + 1)).await;
    let list = runners(&api.res).await;
    assert_eq!(presence_of(&list, &b_id).as_deref(), Some("stopped"));

    // The table an operator reads names both.
    let text = api.res.admin(&["runners"]).await;
    assert!(text.starts_with("RUNNER"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with(&a_id) && l.contains("missing")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with(&b_id) && l.contains("stopped")),
        "{text}"
    );
}

/// An upload app serving `page`, its archive PUT to its upload URL, and
/// deployed: `(app, deployment)`.
async fn upload_app(api: &Api, name: &str, page: &str) -> (String, String) {
    let app = api.create_upload_app(name).await;
    let archive = archive_with("site.zip", "unused", page, &web_dockerfile(""));
    let size = archive.len() as u64;
    api.upload(&app, "zip", archive, size).await;
    let deployment = api.deploy_app(&app).await;
    (app, deployment)
}

fn docker(args: &[&str]) -> String {
    sh(std::path::Path::new("/"), "docker", args)
}

#[tokio::test]
async fn a_lost_hosts_app_comes_back_on_another_runner_once_and_its_runner_returning_starts_no_second_copy(
) {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("moved", &files(&site("still here")));
    let a = Runner::start(&api.res, &QUICK);
    let (app, dep) = api
        .deploy(json!({"name": "moved", "repo": git.url("moved"), "port": 8080}))
        .await;
    assert_eq!(api.settle(&dep).await.status, DeploymentStatus::Running);
    // And an app built from an uploaded archive (its image is tagged with
    // its deployment, not a commit).
    let (uploaded, up_dep) = upload_app(&api, "moved-too", "uploaded here too").await;
    assert_eq!(api.settle(&up_dep).await.status, DeploymentStatus::Running);
    let apps = [
        (app.clone(), "still here"),
        (uploaded.clone(), "uploaded here too"),
    ];
    let mut hosts = Vec::new();
    for (app, _) in &apps {
        hosts.push(api.app(app).await.hostname);
    }
    // Two runners that could take them over: C has more room.
    let b = Runner::start(&api.res, &with(&[("SLIPWAY_SLOTS", "1")]));
    let c = Runner::start(&api.res, &with(&[("SLIPWAY_SLOTS", "3")]));
    let (a_id, b_id, c_id) = (a.id.clone(), b.id.clone(), c.id.clone());
    until(&api.res, 30, |l| {
        [&a_id, &b_id, &c_id]
            .iter()
            .all(|id| presence_of(l, id).as_deref() == Some("live"))
    })
    .await;
    for ((_, page), host) in apps.iter().zip(&hosts) {
        assert_eq!(
            b.edge.serves(host, "/", page).await.as_deref(),
            Some(*page),
            "any edge serves any app"
        );
    }

    // The host is gone: its runner and its containers.
    let lost = Instant::now();
    let a_edge = a.crash().await;
    for (app, _) in &apps {
        for name in containers_of(app) {
            docker(&["rm", "-f", &name]);
        }
    }
    // A bounded client per app: one request every 200 ms through B's edge,
    // for at most 60 s.
    let outages =
        futures_util::future::join_all(apps.iter().zip(&hosts).map(|((_, page), host)| {
            let edge = &b.edge;
            async move {
                while lost.elapsed() < Duration::from_secs(60) {
                    if edge.text(host, "/").await.as_deref() == Some(*page) {
                        return Some(lost.elapsed());
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                None
            }
        }))
        .await;
    for ((app, _), outage) in apps.iter().zip(&outages) {
        let outage = outage.expect("every app answers again within 60 s");
        eprintln!(
            "failover: app {app} answered again {:.1} s after its host was lost (deadline {DEADLINE} s)",
            outage.as_secs_f64()
        );
    }
    for ((_, page), host) in apps.iter().zip(&hosts) {
        assert_eq!(c.edge.serves(host, "/", page).await.as_deref(), Some(*page));
    }
    for (app, _) in &apps {
        assert_eq!(api.app(app).await.status, AppStatus::Running);
        assert_eq!(
            runner_of(&api.res, app).await.as_deref(),
            Some(c_id.as_str()),
            "the failover went to the runner with the most free slots"
        );
    }
    let up_failovers = failovers_of(&api, &uploaded).await;
    assert_eq!(up_failovers.len(), 1, "{up_failovers:#?}");
    assert_eq!(
        up_failovers[0].failover.as_ref().unwrap().of_deployment_id,
        up_dep
    );
    let failovers = failovers_of(&api, &app).await;
    assert_eq!(failovers.len(), 1, "one failover: {failovers:#?}");
    let f = &failovers[0];
    assert_eq!(f.status, DeploymentStatus::Running, "{f:?}");
    let from = f.failover.as_ref().unwrap();
    assert_eq!(from.from_runner_id, a_id);
    assert_eq!(from.of_deployment_id, dep);
    assert!(api
        .logs(&f.id)
        .await
        .contains(&format!("Moving the app off build host {a_id}")));
    // The dashboard's page of the failover says where it came from.
    let shown = api
        .look(
            &format!("#/deployments/{}", f.id),
            "moved off build host",
            "failover-deployment",
        )
        .await;
    assert!(
        shown.contains(&format!(
            "failover (moved off build host {a_id}; runs deployment {}'s image)",
            &dep[dep.len() - 8..]
        )),
        "{shown}"
    );
    assert!(shown.contains("Deploy log"), "nothing was built: {shown}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (app, _) in &apps {
        assert_eq!(containers_of(app).len(), 1, "exactly one container");
    }

    // The lost runner comes back: its apps live elsewhere now, and it
    // starts no second copy. A container its host kept of the old live
    // deployment is removed (here every runner shares one engine, so any
    // of them may be the one that removes it).
    let leftover = format!("{a_id}-leftover");
    docker(&[
        "run",
        "-d",
        "--name",
        &leftover,
        "--label",
        &format!("slipway.app={app}"),
        "--label",
        &format!("slipway.deployment={dep}"),
        "--label",
        &format!("slipway.runner={a_id}"),
        "--label",
        &format!("slipway.stack={}", api.res.table),
        &env("SLIPWAY_BASE_IMAGE"),
        "sleep",
        "600",
    ]);
    let _a = Runner::start_on(&api.res, a_edge, &a_id, &QUICK);
    until(&api.res, 30, |l| {
        presence_of(l, &a_id).as_deref() == Some("live")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(
        !docker(&["ps", "-a", "--format", "{{.Names}}"])
            .lines()
            .any(|n| n == leftover),
        "the leftover container is removed"
    );
    for ((app, page), host) in apps.iter().zip(&hosts) {
        assert_eq!(containers_of(app).len(), 1, "still exactly one container");
        assert_eq!(b.edge.text(host, "/").await.as_deref(), Some(*page));
    }
    let failovers = failovers_of(&api, &app).await;
    assert_eq!(failovers.len(), 1, "no failover back: {failovers:#?}");
}

#[tokio::test]
async fn a_failover_the_queue_cannot_take_still_runs_on_the_runner_that_chose_it() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("unqueued", &files(&site("moved without a queue")));
    let a = Runner::start(&api.res, &QUICK);
    let (app, dep) = api
        .deploy(json!({"name": "unqueued", "repo": git.url("unqueued"), "port": 8080}))
        .await;
    assert_eq!(api.settle(&dep).await.status, DeploymentStatus::Running);
    // B's queue is gone: it takes no job from it and can put none in it.
    let missing = format!("{}-gone", api.res.queue_url);
    let b = Runner::start(&api.res, &with(&[("SLIPWAY_QUEUE_URL", &missing)]));
    let (a_id, b_id) = (a.id.clone(), b.id.clone());
    until(&api.res, 30, |l| {
        [&a_id, &b_id]
            .iter()
            .all(|id| presence_of(l, id).as_deref() == Some("live"))
    })
    .await;

    a.crash().await;
    for name in containers_of(&app) {
        docker(&["rm", "-f", &name]);
    }
    let host = api.app(&app).await.hostname;
    assert_eq!(
        b.edge
            .wait_for(&host, "moved without a queue", 60)
            .await
            .map(|(_, body)| body)
            .as_deref(),
        Some("moved without a queue"),
        "B runs the failover it chose though it could not queue its copy"
    );
    assert_eq!(
        runner_of(&api.res, &app).await.as_deref(),
        Some(b.id.as_str())
    );
    let failovers = failovers_of(&api, &app).await;
    assert_eq!(failovers.len(), 1, "{failovers:?}");
    assert_eq!(failovers[0].status, DeploymentStatus::Running);
    assert_eq!(
        api.queue_depth().await,
        0,
        "nothing reached the stack's queue"
    );
}

#[tokio::test]
async fn a_retiring_runner_hands_its_apps_over_without_a_failed_request() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    git.commit("handed", &files(&site("served throughout")));
    let mut retiring: Vec<(&str, &str)> = QUICK.to_vec();
    retiring.extend([
        ("SLIPWAY_DRAIN_APPS", "true"),
        ("SLIPWAY_DRAIN_SECONDS", "60"),
    ]);
    let mut a = Runner::start(&api.res, &retiring);
    let (app, dep) = api
        .deploy(json!({"name": "handed", "repo": git.url("handed"), "port": 8080}))
        .await;
    assert_eq!(api.settle(&dep).await.status, DeploymentStatus::Running);
    let host = api.app(&app).await.hostname;
    let b = Runner::start(&api.res, &QUICK);
    let (a_id, b_id) = (a.id.clone(), b.id.clone());
    until(&api.res, 30, |l| {
        presence_of(l, &a_id).as_deref() == Some("live")
            && presence_of(l, &b_id).as_deref() == Some("live")
    })
    .await;
    assert_eq!(
        b.edge
            .serves(&host, "/", "served throughout")
            .await
            .as_deref(),
        Some("served throughout")
    );

    // A bounded client through B's edge: a request every 50 ms, for at most
    // 90 s, until told to stop.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = tokio::spawn({
        let (stop, host, port) = (stop.clone(), host.clone(), b.edge.http);
        async move {
            let (mut ok, mut failed) = (0u32, Vec::new());
            let started = Instant::now();
            while !stop.load(std::sync::atomic::Ordering::Relaxed)
                && started.elapsed() < Duration::from_secs(90)
            {
                match edge_get(port, &host, "/").await {
                    Some((200, body)) if body == "served throughout" => ok += 1,
                    other => failed.push(other),
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (ok, failed)
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    a.signal("-TERM");
    a.wait().await;
    // After the retiring runner is gone, its app keeps answering.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed) = load.await.unwrap();
    assert!(
        failed.is_empty(),
        "failed requests during the move: {failed:?}"
    );
    assert!(ok > 40, "only {ok} requests answered");

    let shown = api.app(&app).await;
    assert_eq!(shown.status, AppStatus::Running);
    let live = api
        .deployment(shown.live_deployment_id.as_deref().unwrap())
        .await;
    assert_eq!(live.trigger, Trigger::Failover);
    assert_eq!(live.failover.unwrap().from_runner_id, a_id);
    assert_eq!(containers_of(&app).len(), 1, "its old container is gone");
    let list = runners(&api.res).await;
    assert_eq!(presence_of(&list, &a_id).as_deref(), Some("stopped"));
}

#[tokio::test]
async fn spreading_places_new_apps_on_the_runner_with_the_fewest() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let spread = with(&[("SLIPWAY_PLACEMENT", "spread")]);
    let a = Runner::start(&api.res, &spread);
    let deploy = |name: &'static str| {
        let (api, git) = (&api, &git);
        async move {
            git.commit(name, &files(&site(name)));
            let (app, dep) = api
                .deploy(json!({"name": name, "repo": git.url(name), "port": 8080}))
                .await;
            assert_eq!(api.settle(&dep).await.status, DeploymentStatus::Running);
            app
        }
    };
    // Alone, A runs the first two.
    let first = [deploy("one").await, deploy("two").await];
    let b = Runner::start(&api.res, &spread);
    until(&api.res, 30, |l| {
        presence_of(l, &a.id).as_deref() == Some("live")
            && presence_of(l, &b.id).as_deref() == Some("live")
            && l.iter().any(|r| r["id"] == a.id.as_str() && r["apps"] == 2)
    })
    .await;
    // The next two go to B, whichever runner receives their jobs.
    let next = [deploy("three").await, deploy("four").await];
    for app in &first {
        assert_eq!(
            runner_of(&api.res, app).await.as_deref(),
            Some(a.id.as_str())
        );
    }
    for app in &next {
        assert_eq!(
            runner_of(&api.res, app).await.as_deref(),
            Some(b.id.as_str()),
            "a new app goes to the runner with fewer"
        );
    }
}
