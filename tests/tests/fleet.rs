//! The fleet as the operator sees it: every runner keeps a record in the
//! table, and `slipway-admin runners` tells the live ones from the stopped
//! and the lost.

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
    let quick = [
        ("SLIPWAY_ANNOUNCE_SECONDS", "1"),
        ("SLIPWAY_RUNNER_DEADLINE_SECONDS", "3"),
        ("SLIPWAY_SLOTS", "2"),
    ];
    let a = Runner::start(&api.res, &quick);
    let mut b = Runner::start(&api.res, &quick);
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
