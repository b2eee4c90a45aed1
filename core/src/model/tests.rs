use super::*;
use crate::deploy_request::{Rules, UploadAppRequest};

#[test]
fn a_deployment_went_live_when_it_has_an_upstream() {
    let app = App::for_tests();
    let mut d = Deployment::queued(&app, Trigger::Api);
    assert!(!d.went_live());
    d.upstream = Some("127.0.0.1:1".into());
    assert!(d.went_live());
}

#[test]
fn a_failover_runs_the_live_deployments_image_whatever_built_it() {
    let app = App::for_tests();
    let mut live = Deployment::queued(&app, Trigger::Api);
    assert_eq!(
        Deployment::failover(&app, &live, "r1"),
        None,
        "no image yet"
    );

    live.commit = Some("abc".into());
    let d = Deployment::failover(&app, &live, "r1").unwrap();
    assert_eq!(d.trigger, Trigger::Failover);
    assert_eq!(d.status, DeploymentStatus::Queued);
    assert_eq!(d.commit.as_deref(), Some("abc"));
    assert_ne!(d.id, live.id);
    assert_eq!(d.reused_image_tag(), Some("abc"));
    let f = d.failover.as_ref().unwrap();
    assert_eq!(
        (f.from_runner_id.as_str(), &f.of_deployment_id),
        ("r1", &live.id)
    );

    // An upload's image is tagged with its deployment's id.
    live.archive = Some(Archive {
        path: "p".into(),
        size: 1,
        uploaded_at: String::new(),
    });
    let d = Deployment::failover(&app, &live, "r1").unwrap();
    assert_eq!(d.reused_image_tag(), Some(live.id.as_str()));
    assert_eq!(d.archive, None, "it builds nothing");

    let redeploy = Deployment {
        commit: Some("def".into()),
        ..Deployment::queued(&app, Trigger::Redeploy)
    };
    assert_eq!(redeploy.reused_image_tag(), Some("def"));
}

#[test]
fn triggers_read_as_they_are_written_and_only_reruns_reuse_an_image() {
    for (t, reuses) in [
        (Trigger::Api, false),
        (Trigger::Webhook, false),
        (Trigger::Redeploy, true),
        (Trigger::Rollback, true),
        (Trigger::Failover, true),
    ] {
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, format!("\"{}\"", t.as_str()));
        assert_eq!(t.reuses_image(), reuses, "{json}");
        let d = Deployment::queued(&App::for_tests(), t);
        assert_eq!(d.builds(), !reuses, "{json}");
    }
}

#[test]
fn sealed_credentials_past_what_the_table_stores_are_refused_naming_secrets() {
    let request = UploadAppRequest::parse(br#"{"name":"n"}"#, &Rules::for_tests()).unwrap();
    let at = AppConfig::for_upload(&request, Some("x".repeat(MAX_SEALED_CREDENTIALS_BYTES)));
    assert_eq!(at.check_size(), Ok(()));
    assert_eq!(AppConfig::for_upload(&request, None).check_size(), Ok(()));
    let over = AppConfig::for_upload(&request, Some("x".repeat(MAX_SEALED_CREDENTIALS_BYTES + 1)));
    let e = over.check_size().unwrap_err();
    assert_eq!(e.field, "secrets");
    assert!(e
        .message
        .contains(&format!("take {} bytes", MAX_SEALED_CREDENTIALS_BYTES + 1)));
}
