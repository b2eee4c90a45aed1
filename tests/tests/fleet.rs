//! The fleet heals, and the operator sees it: every runner keeps a record
//! in the table, `slipway-admin runners` tells the live ones from the
//! stopped and the lost, and a lost host's apps come back on the others.

use std::time::{Duration, Instant};

use slipway_e2e::*;
use tokio::process::Command;

/// `slipway-admin runners --json`, as an operator runs it, the records of
/// this test's runners by id.
async fn runners(res: &Resources) -> Vec<Value> {
    let out = Command::new(bin("slipway-admin"))
        .args(["runners", "--json"])
        .envs(res.vars())
        .output()
        .await
        .expect("slipway-admin runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

fn presence_of(list: &[Value], id: &str) -> Option<String> {
    list.iter()
        .find(|r| r["id"] == id)
        .map(|r| r["presence"].as_str().unwrap().to_owned())
}

/// Waits up to `seconds` for `check` to hold on the listed runners.
/// A runner that announces itself every second and counts as lost 3 s
/// after it was last seen.
const QUICK: [(&str, &str); 3] = [
    ("SLIPWAY_ANNOUNCE_SECONDS", "1"),
    ("SLIPWAY_RUNNER_DEADLINE_SECONDS", "3"),
    ("SLIPWAY_SLOTS", "2"),
];

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
    assert_eq!(record["deadlineSeconds"], 3);

    // The host is gone: its record stays, and past its deadline it is missing.
    let killed = Instant::now();
    a.crash().await;
    let list = until(&api.res, 30, |l| {
        presence_of(l, &a_id).is_some_and(|p| p.starts_with("missing"))
    })
    .await;
    assert!(
        killed.elapsed() >= Duration::from_secs(2),
        "missing before its deadline could pass: {list:#?}"
    );
    assert_eq!(presence_of(&list, &b_id).as_deref(), Some("live"));

    // A runner stopped on purpose says so, and is not missing however long ago.
    b.signal("-TERM");
    b.wait().await;
    let list = runners(&api.res).await;
    assert_eq!(presence_of(&list, &b_id).as_deref(), Some("stopped"));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let list = runners(&api.res).await;
    assert_eq!(presence_of(&list, &b_id).as_deref(), Some("stopped"));

    // The table an operator reads names both.
    let out = Command::new(bin("slipway-admin"))
        .arg("runners")
        .envs(api.res.vars())
        .output()
        .await
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
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
    let host = api.app(&app).await.hostname;
    // Two runners that could take it over.
    let b = Runner::start(&api.res, &QUICK);
    let c = Runner::start(&api.res, &QUICK);
    let (a_id, b_id, c_id) = (a.id.clone(), b.id.clone(), c.id.clone());
    until(&api.res, 30, |l| {
        [&a_id, &b_id, &c_id]
            .iter()
            .all(|id| presence_of(l, id).as_deref() == Some("live"))
    })
    .await;
    assert_eq!(
        b.edge.serves(&host, "/", "still here").await.as_deref(),
        Some("still here"),
        "any edge serves any app"
    );

    // The host is gone: its runner and its containers.
    let lost = Instant::now();
    let a_edge = a.crash().await;
    for name in containers_of(&app) {
        docker(&["rm", "-f", &name]);
    }
    // A bounded client: one request every 200 ms through B's edge, for at
    // most 60 s.
    let mut outage = None;
    while lost.elapsed() < Duration::from_secs(60) {
        if b.edge.text(&host, "/").await.as_deref() == Some("still here") {
            outage = Some(lost.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let outage = outage.expect("the app answers again within 60 s");
    eprintln!(
        "failover: the app answered again {:.1} s after its host was lost (deadline 3 s)",
        outage.as_secs_f64()
    );
    assert_eq!(c.edge.text(&host, "/").await.as_deref(), Some("still here"));
    assert_eq!(api.app(&app).await.status, AppStatus::Running);
    let failovers: Vec<_> = api
        .deployments(&app)
        .await
        .into_iter()
        .filter(|d| d.trigger == Trigger::Failover)
        .collect();
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
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(containers_of(&app).len(), 1, "exactly one container");

    // The lost runner comes back: its apps live elsewhere now, and it
    // starts no second copy.
    let _a = Runner::start_on(&api.res, a_edge, &a_id, &QUICK);
    until(&api.res, 30, |l| {
        presence_of(l, &a_id).as_deref() == Some("live")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(containers_of(&app).len(), 1, "still exactly one container");
    assert_eq!(b.edge.text(&host, "/").await.as_deref(), Some("still here"));
    let failovers = api
        .deployments(&app)
        .await
        .into_iter()
        .filter(|d| d.trigger == Trigger::Failover)
        .count();
    assert_eq!(failovers, 1, "no failover back");
}
