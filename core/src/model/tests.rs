use super::*;
use crate::deploy_request::{DeployRequest, Rules, UploadAppRequest};
use crate::hostnames::Domain;

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

#[test]
fn a_git_apps_config_remembers_that_it_has_a_token_and_which_paths_it_watches() {
    let body = br#"{"name":"api","repo":"https://example.com/r.git","repoToken":"t","watchPaths":["src/**"],"domain":"shop.example.com"}"#;
    let request = DeployRequest::parse(body, &Rules::for_tests()).unwrap();
    let config = AppConfig::from_request(&request, None);
    assert!(config.has_repo_token);
    assert_ne!(config.watch_paths, WatchPaths::default());
    let plain = br#"{"name":"api","repo":"https://example.com/r.git"}"#;
    let config = AppConfig::from_request(
        &DeployRequest::parse(plain, &Rules::for_tests()).unwrap(),
        None,
    );
    assert!(!config.has_repo_token);
    assert_eq!(config.watch_paths, WatchPaths::default());
}

#[test]
fn an_app_with_a_domain_is_reached_at_it_with_its_own_scheme() {
    let rules = Rules::for_tests();
    let mut app = App::for_tests();
    assert_eq!(app.domain_url(), None);
    app.config.domain = Some(Domain::parse("domain", "shop.example.com", &rules.apps).unwrap());
    assert_eq!(
        app.domain_url(),
        Some(app.url.replace(&app.hostname, "shop.example.com"))
    );
    assert!(app.domain_url().unwrap().ends_with("shop.example.com"));
}

#[test]
fn the_sealed_credentials_limit_is_200_kib() {
    assert_eq!(MAX_SEALED_CREDENTIALS_BYTES, 204_800);
}

#[test]
fn credentials_list_every_value_a_log_must_not_show_and_debug_shows_none() {
    assert!(Credentials::default().is_empty());
    let token = Credentials {
        repo_token: Some("tok-1".into()),
        ..Credentials::default()
    };
    assert!(!token.is_empty());
    let secrets = Credentials {
        repo_token: None,
        secrets: BTreeMap::from([("DB".to_owned(), "pw-2".to_owned())]),
    };
    assert!(!secrets.is_empty());
    let both = Credentials {
        repo_token: Some("tok-1".into()),
        secrets: BTreeMap::from([("DB".to_owned(), "pw-2".to_owned())]),
    };
    assert_eq!(both.values().collect::<Vec<_>>(), ["tok-1", "pw-2"]);
    let shown = format!("{both:?}");
    assert!(
        !shown.contains("tok-1") && !shown.contains("pw-2"),
        "{shown}"
    );
    assert!(
        shown.contains("<redacted>") && shown.contains("DB"),
        "{shown}"
    );
}

#[test]
fn a_deployment_is_leased_while_in_progress_until_its_lease_runs_out() {
    let mut d = Deployment::queued(&App::for_tests(), Trigger::Api);
    assert!(!d.is_leased(1_000), "no lease");
    d.lease_until = Some(2_000);
    assert!(d.is_leased(1_999));
    assert!(!d.is_leased(2_000), "it runs out at its instant");
    assert!(!d.is_leased(2_001));
    d.status = DeploymentStatus::Running;
    assert!(!d.is_leased(1_999), "a finished deployment holds no lease");
}
