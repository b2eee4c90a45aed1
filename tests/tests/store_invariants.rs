//! Invariants the store holds on its own, against DynamoDB (the emulator)
//! through the real SDK: forward-only statuses, fencing, an older
//! deployment never going live after a newer one, deliveries recorded once.

use slipway_core::deploy_request::{DeployRequest, Rules};
use slipway_core::model::{App, AppConfig, Deployment, Phase, Trigger};
use slipway_core::status::DeploymentStatus;
use slipway_core::store::{Claim, Delivery, PushLink, PushRecord, Store, StoreError};
use slipway_e2e::*;

async fn store() -> Store {
    let res = Resources::create().await;
    let aws = aws_config::load_from_env().await;
    Store::new(aws_sdk_dynamodb::Client::new(&aws), res.table)
}

fn app() -> App {
    app_with(br#"{"name":"api","repo":"https://example.com/r.git"}"#)
}

fn app_with(body: &[u8]) -> App {
    let request = DeployRequest::parse(body, &Rules::for_tests()).unwrap();
    let config = AppConfig::from_request(&request, None);
    App::new(
        slipway_core::ids::AppId::new(),
        &slipway_core::ids::Owner::new("alice"),
        request.name.as_str(),
        config,
        "x".into(),
        &Rules::for_tests().apps,
    )
}

fn phase() -> Phase {
    Phase {
        started_at: slipway_core::ids::now_rfc3339(),
        finished_at: None,
        millis: Some(1),
    }
}

/// Claims the deployment and brings it to `deploying`, as a runner would.
async fn to_deploying(store: &Store, d: &Deployment) -> Deployment {
    let claimed = store.claim(d, "runner-a", 0).await.unwrap();
    store
        .advance(&Claim::of(&claimed), DeploymentStatus::Deploying, None)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_older_deployment_never_goes_live_after_a_newer_one() {
    let store = store().await;
    let mut app = app();
    let older = Deployment::queued(&app, Trigger::Api);
    app.latest_deployment_id = Some(older.id.clone());
    store.create_app(&app, Some(&older)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let newer = Deployment::queued(&app, Trigger::Api);
    store.add_deployment(&app, None, &newer).await.unwrap();

    let older = to_deploying(&store, &older).await;
    let newer = to_deploying(&store, &newer).await;
    store
        .go_live(&Claim::of(&newer), "runner-b", "127.0.0.1:2", &phase())
        .await
        .unwrap();
    let refused = store
        .go_live(&Claim::of(&older), "runner-a", "127.0.0.1:1", &phase())
        .await;
    assert!(matches!(refused, Err(StoreError::Conflict)), "{refused:?}");

    let now = store.get_app(&app.id).await.unwrap().unwrap();
    assert_eq!(now.live_deployment_id.as_deref(), Some(newer.id.as_str()));
    let routes = store.routes().await.unwrap();
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].hosts, vec![now.hostname.clone()]);
    assert_eq!(routes[0].upstream.as_deref(), Some("127.0.0.1:2"));
    assert_eq!(routes[0].deployment_id.as_ref(), Some(&newer.id));
    let older_now = store.get_deployment(&older.id).await.unwrap().unwrap();
    assert_eq!(
        older_now.status,
        DeploymentStatus::Deploying,
        "the refused go-live wrote nothing"
    );
}

#[tokio::test]
async fn a_runner_that_lost_its_claim_cannot_write() {
    let store = store().await;
    let mut app = app();
    let d = Deployment::queued(&app, Trigger::Api);
    app.latest_deployment_id = Some(d.id.clone());
    store.create_app(&app, Some(&d)).await.unwrap();

    let first = store.claim(&d, "runner-a", 0).await.unwrap();
    assert_eq!(first.status, DeploymentStatus::Building);
    // runner-a is presumed dead; runner-b takes over.
    let far = slipway_core::ids::epoch_millis() + 60_000;
    let second = store.claim(&first, "runner-b", far).await.unwrap();
    assert_eq!(second.attempt, first.attempt + 1);
    assert!(second.is_leased(slipway_core::ids::epoch_millis()));
    assert!(
        matches!(
            store.claim(&second, "runner-d", far).await,
            Err(StoreError::Conflict)
        ),
        "a live lease is not taken over"
    );
    assert_eq!(
        second.status,
        DeploymentStatus::Building,
        "taken over as it was"
    );

    let stale = store
        .advance(&Claim::of(&first), DeploymentStatus::Failed, Some("stale"))
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict)));
    assert!(matches!(
        store.record_commit(&Claim::of(&first), "x").await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        store.renew_lease(&Claim::of(&first), far).await,
        Err(StoreError::Conflict)
    ));
    assert!(
        matches!(
            store.claim(&first, "runner-c", 0).await,
            Err(StoreError::Conflict)
        ),
        "a stale read cannot claim"
    );
    store
        .advance(&Claim::of(&second), DeploymentStatus::Deploying, None)
        .await
        .unwrap();
    // The same step again (at-least-once) is not an error.
    store
        .advance(&Claim::of(&second), DeploymentStatus::Deploying, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn statuses_only_move_forward() {
    let store = store().await;
    let mut app = app();
    let d = Deployment::queued(&app, Trigger::Api);
    app.latest_deployment_id = Some(d.id.clone());
    store.create_app(&app, Some(&d)).await.unwrap();
    store
        .set_status(&d.id, DeploymentStatus::Cancelled, Some("by test"))
        .await
        .unwrap();
    for to in [
        DeploymentStatus::Building,
        DeploymentStatus::Running,
        DeploymentStatus::Failed,
        DeploymentStatus::Queued,
    ] {
        assert!(
            matches!(
                store.set_status(&d.id, to, None).await,
                Err(StoreError::Conflict)
            ),
            "cancelled -> {to}"
        );
    }
    let after = store.get_deployment(&d.id).await.unwrap().unwrap();
    assert_eq!(after.status, DeploymentStatus::Cancelled);
    assert_eq!(after.error.as_deref(), Some("by test"));
}

#[tokio::test]
async fn a_push_is_recorded_once_per_delivery_and_never_behind_a_newer_one() {
    let store = store().await;
    let mut app = app();
    let first = Deployment::queued(&app, Trigger::Api);
    app.latest_deployment_id = Some(first.id.clone());
    store.create_app(&app, Some(&first)).await.unwrap();
    let delivery = Delivery {
        id: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        expires_at: 4_000_000_000,
    };
    let older = Deployment::queued(&app, Trigger::Webhook);
    let pushed = Deployment::queued(&app, Trigger::Webhook);
    assert_eq!(
        store
            .record_push(&app.id, &pushed, Some(delivery))
            .await
            .unwrap(),
        PushRecord::Recorded
    );
    let again = Deployment::queued(&app, Trigger::Webhook);
    assert_eq!(
        store
            .record_push(&app.id, &again, Some(delivery))
            .await
            .unwrap(),
        PushRecord::Duplicate(pushed.id.clone())
    );
    assert!(store.get_deployment(&again.id).await.unwrap().is_none());
    // Recorded, not yet the app's newest: the push recorder links it.
    let before = store.get_app(&app.id).await.unwrap().unwrap();
    assert_eq!(before.latest_deployment_id, Some(first.id.clone()));
    assert_eq!(
        store.link_push(&app.id, &pushed.id).await.unwrap(),
        PushLink::Newest {
            previous: Some(first.id.clone())
        }
    );
    assert_eq!(
        store.link_push(&app.id, &pushed.id).await.unwrap(),
        PushLink::AlreadyNewest,
        "a push message handled twice"
    );
    // Made before `pushed` but linked after it: superseded, and the app's
    // newest deployment never moves back.
    assert_eq!(
        store.record_push(&app.id, &older, None).await.unwrap(),
        PushRecord::Recorded
    );
    assert_eq!(
        store.link_push(&app.id, &older.id).await.unwrap(),
        PushLink::Outdated
    );
    let older = store.get_deployment(&older.id).await.unwrap().unwrap();
    assert_eq!(older.status, DeploymentStatus::Superseded);
    let now = store.get_app(&app.id).await.unwrap().unwrap();
    assert_eq!(now.latest_deployment_id, Some(pushed.id.clone()));
    // A delivery whose push could not be queued is forgotten: its
    // redelivery records anew.
    store.forget_delivery(&app.id, delivery.id).await.unwrap();
    let redelivered = Deployment::queued(&app, Trigger::Webhook);
    assert_eq!(
        store
            .record_push(&app.id, &redelivered, Some(delivery))
            .await
            .unwrap(),
        PushRecord::Recorded
    );
    // A config change read before the push cannot record itself after it.
    let stale = Deployment::queued(&app, Trigger::Api);
    assert!(matches!(
        store.add_deployment(&app, None, &stale).await,
        Err(StoreError::Conflict)
    ));
    // A push linked after its app was deleted is cancelled.
    store.delete_app(&now).await.unwrap();
    assert_eq!(
        store.link_push(&app.id, &redelivered.id).await.unwrap(),
        PushLink::AppGone
    );
    let gone = store
        .get_deployment(&redelivered.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone.status, DeploymentStatus::Cancelled);
}

#[tokio::test]
async fn a_delivery_whose_deployment_was_never_written_is_taken_over_once_abandoned() {
    use aws_sdk_dynamodb::types::AttributeValue::{N, S};
    let res = Resources::create().await;
    let db = aws_sdk_dynamodb::Client::new(&aws_config::load_from_env().await);
    let store = Store::new(db.clone(), res.table.clone());
    let mut app = app();
    let first = Deployment::queued(&app, Trigger::Api);
    app.latest_deployment_id = Some(first.id.clone());
    store.create_app(&app, Some(&first)).await.unwrap();
    // What a first copy leaves when its deployment's write failed and so
    // did forgetting its delivery.
    let never_written = slipway_core::ids::DeploymentId::new();
    let now = slipway_core::ids::epoch_millis() / 1000;
    let leave_record = |delivery: &'static str, age: u64| {
        db.put_item()
            .table_name(&res.table)
            .item("PK", S(format!("DELIVERY#{}#{delivery}", app.id)))
            .item("SK", S("DELIVERY".into()))
            .item("deploymentId", S(never_written.to_string()))
            .item("recordedAt", N((now - age).to_string()))
            .item("expiresAt", N("4000000000".into()))
            .send()
    };
    let delivery = |id| Delivery {
        id,
        expires_at: 4_000_000_000,
    };

    // Young: the first copy may still be writing it.
    leave_record("young", 5).await.unwrap();
    let copy = Deployment::queued(&app, Trigger::Webhook);
    assert_eq!(
        store
            .record_push(&app.id, &copy, Some(delivery("young")))
            .await
            .unwrap(),
        PushRecord::Duplicate(never_written.clone())
    );
    assert!(store.get_deployment(&copy.id).await.unwrap().is_none());

    // Abandoned: the redelivery records its push, once.
    leave_record("old", 301).await.unwrap();
    let redelivered = Deployment::queued(&app, Trigger::Webhook);
    assert_eq!(
        store
            .record_push(&app.id, &redelivered, Some(delivery("old")))
            .await
            .unwrap(),
        PushRecord::Recorded
    );
    assert!(store
        .get_deployment(&redelivered.id)
        .await
        .unwrap()
        .is_some());
    let again = Deployment::queued(&app, Trigger::Webhook);
    assert_eq!(
        store
            .record_push(&app.id, &again, Some(delivery("old")))
            .await
            .unwrap(),
        PushRecord::Duplicate(redelivered.id.clone())
    );
    assert!(store.get_deployment(&again.id).await.unwrap().is_none());
}

#[tokio::test]
async fn concurrent_copies_of_one_delivery_record_one_deployment() {
    let store = store().await;
    let mut app = app();
    let first = Deployment::queued(&app, Trigger::Api);
    app.latest_deployment_id = Some(first.id.clone());
    store.create_app(&app, Some(&first)).await.unwrap();
    let delivery = Delivery {
        id: "c0ffee00-cc78-11e3-81ab-4c9367dc0958",
        expires_at: 4_000_000_000,
    };
    let copies: Vec<Deployment> = (0..5)
        .map(|_| Deployment::queued(&app, Trigger::Webhook))
        .collect();
    let outcomes = futures_util::future::join_all(
        copies
            .iter()
            .map(|d| store.record_push(&app.id, d, Some(delivery))),
    )
    .await;
    let queued: Vec<&Deployment> = copies
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| matches!(o, Ok(PushRecord::Recorded)))
        .map(|(d, _)| d)
        .collect();
    assert_eq!(queued.len(), 1, "{outcomes:?}");
    for outcome in &outcomes {
        match outcome {
            Ok(PushRecord::Recorded) => {}
            Ok(PushRecord::Duplicate(id)) => assert_eq!(*id, queued[0].id),
            other => panic!("{other:?}"),
        }
    }
    let recorded = store.list_deployments(&app.id, None).await.unwrap();
    assert_eq!(recorded.len(), 2, "the first and one copy");
}

#[tokio::test]
async fn a_hostname_belongs_to_one_app_and_every_route_change_moves_the_version() {
    let store = store().await;
    let shop =
        br#"{"name":"shop","repo":"https://example.com/r.git","domain":"shop.example.test"}"#;
    let first = app_with(shop);
    let v0 = store.routes_version().await.unwrap();
    store.create_app(&first, None).await.unwrap();
    let v1 = store.routes_version().await.unwrap();
    assert!(v1 > v0, "creating a route moves the version");
    assert_eq!(
        store.host_holder("shop.example.test").await.unwrap(),
        Some(first.id.clone())
    );
    assert_eq!(
        store.host_holder(&first.hostname).await.unwrap(),
        Some(first.id.clone())
    );

    // Another app (another owner's, even with another name) asking for the
    // same domain is refused as a whole: no app, no name, no route.
    let mut second = app_with(shop);
    second.owner = slipway_core::ids::Owner::new("bob");
    assert!(matches!(
        store.create_app(&second, None).await,
        Err(StoreError::Conflict)
    ));
    assert!(store.get_app(&second.id).await.unwrap().is_none());
    assert!(store
        .app_id_for_name(&second.owner, "shop")
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.routes().await.unwrap().len(), 1);
    assert_eq!(store.routes_version().await.unwrap(), v1);

    // Changing the domain frees the old one and routes the new one.
    let moved = app_with(
        br#"{"name":"shop","repo":"https://example.com/r.git","domain":"www.example.test"}"#,
    );
    let d = Deployment::queued(&first, Trigger::Api);
    store
        .add_deployment(&first, Some(&moved.config), &d)
        .await
        .unwrap();
    assert!(store
        .host_holder("shop.example.test")
        .await
        .unwrap()
        .is_none());
    let routes = store.routes().await.unwrap();
    assert_eq!(
        routes[0].hosts,
        vec![first.hostname.clone(), "www.example.test".to_owned()]
    );
    let v2 = store.routes_version().await.unwrap();
    assert!(v2 > v1);

    // Deleting frees the domain; the app's own hostname stays held (503).
    let first = store.get_app(&first.id).await.unwrap().unwrap();
    store.delete_app(&first).await.unwrap();
    assert!(store
        .host_holder("www.example.test")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.host_holder(&first.hostname).await.unwrap(),
        Some(first.id.clone())
    );
    let routes = store.routes().await.unwrap();
    assert_eq!(routes[0].hosts, vec![first.hostname.clone()]);
    assert_eq!(routes[0].upstream, None);
    assert!(store.routes_version().await.unwrap() > v2);
    store.create_app(&second, None).await.unwrap();
}

#[tokio::test]
async fn of_runners_racing_to_take_over_a_lost_placement_exactly_one_wins() {
    let store = store().await;
    let mut app = app();
    let live = Deployment::queued(&app, Trigger::Api);
    app.latest_deployment_id = Some(live.id.clone());
    store.create_app(&app, Some(&live)).await.unwrap();
    let live = to_deploying(&store, &live).await;
    store
        .go_live(&Claim::of(&live), "runner-lost", "127.0.0.1:1", &phase())
        .await
        .unwrap();
    let live = Deployment {
        commit: Some("abc".into()),
        ..store.get_deployment(&live.id).await.unwrap().unwrap()
    };
    let app = store.get_app(&app.id).await.unwrap().unwrap();
    assert_eq!(
        store.placements("runner-lost").await.unwrap(),
        std::slice::from_ref(&app.id)
    );

    // Five runners read the same app and race.
    let takeovers: Vec<Deployment> = (0..5)
        .map(|_| Deployment::failover(&app, &live, "runner-lost").unwrap())
        .collect();
    let outcomes = futures_util::future::join_all(
        takeovers
            .iter()
            .map(|d| store.add_failover(&app, "runner-lost", d)),
    )
    .await;
    let won: Vec<&Deployment> = takeovers
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| o.is_ok())
        .map(|(d, _)| d)
        .collect();
    assert_eq!(won.len(), 1, "{outcomes:?}");
    for outcome in &outcomes {
        assert!(
            matches!(outcome, Ok(()) | Err(StoreError::Conflict)),
            "{outcome:?}"
        );
    }
    let now = store.get_app(&app.id).await.unwrap().unwrap();
    assert_eq!(now.latest_deployment_id.as_ref(), Some(&won[0].id));
    assert!(store.placements("runner-lost").await.unwrap().is_empty());
    let failovers: Vec<_> = store
        .list_deployments(&app.id, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.trigger == Trigger::Failover)
        .collect();
    assert_eq!(failovers.len(), 1, "{failovers:#?}");

    // Once moved, the app is no longer the lost runner's to take over.
    let again = Deployment::failover(&now, &live, "runner-lost").unwrap();
    assert!(matches!(
        store.add_failover(&now, "runner-lost", &again).await,
        Err(StoreError::Conflict)
    ));
}
