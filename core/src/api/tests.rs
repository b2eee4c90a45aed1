use super::*;
use crate::deploy_request::{DeployRequest, Rules, UploadAppRequest};

fn config() -> ConfigBody {
    ConfigBody {
        dockerfile: Some("web/Dockerfile".into()),
        context: Some("web".into()),
        port: Some(8080),
        cpu: Some(0.5),
        memory: Some(256),
        domain: Some("shop.example.org".into()),
        read_only: Some(true),
        env: Some([("MODE".into(), "prod".into())].into()),
        secrets: Some([("KEY".into(), "s3cret".into())].into()),
    }
}

#[test]
fn a_deploy_body_with_every_field_is_what_the_server_parses() {
    let body = DeployBody {
        name: "shop".into(),
        repo: "https://github.com/acme/shop.git".into(),
        config: config(),
        branch: Some("release".into()),
        repo_token: Some("ghp_x".into()),
        watch_paths: Some(vec!["web/**".into()]),
    };
    let json = serde_json::to_vec(&body).unwrap();
    let parsed = DeployRequest::parse(&json, &Rules::for_tests()).unwrap();
    assert_eq!(parsed.name.as_str(), "shop");
    assert_eq!(parsed.source.branch.as_str(), "release");
    assert_eq!(parsed.source.watch_paths.globs(), ["web/**"]);
    assert_eq!(parsed.source.dockerfile.as_str(), "web/Dockerfile");
    assert_eq!(parsed.run.port, 8080);
    assert_eq!(parsed.run.millicpu, 500);
    assert_eq!(parsed.run.memory_mb, 256);
    assert!(parsed.run.read_only);
    assert_eq!(parsed.run.env["MODE"], "prod");
    assert_eq!(parsed.secrets["KEY"], "s3cret");
    assert_eq!(parsed.repo_token.as_deref(), Some("ghp_x"));
    assert_eq!(
        serde_json::from_slice::<DeployBody>(&json).unwrap(),
        body,
        "the body reads back as written"
    );
}

#[test]
fn an_upload_app_body_with_every_field_is_what_the_server_parses() {
    let body = UploadAppBody {
        name: "shop".into(),
        config: config(),
    };
    let json = serde_json::to_vec(&body).unwrap();
    let parsed = UploadAppRequest::parse(&json, &Rules::for_tests()).unwrap();
    assert_eq!(parsed.context.as_str(), "web");
    assert_eq!(parsed.run.domain.unwrap().as_str(), "shop.example.org");
    let minimal = serde_json::to_vec(&UploadAppBody {
        name: "shop".into(),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(minimal, br#"{"name":"shop"}"#, "unset fields are left out");
}

#[test]
fn a_settings_body_with_every_field_is_what_the_server_applies() {
    let current = crate::model::AppConfig::from_request(
        &DeployRequest::parse(
            br#"{"name":"shop","repo":"https://github.com/acme/shop"}"#,
            &Rules::for_tests(),
        )
        .unwrap(),
        None,
    );
    let body = SettingsBody {
        port: Some(9000),
        cpu: Some(2.0),
        memory: Some(1024),
        domain: Some(Some("shop.example.org".into())),
        read_only: Some(true),
        env: Some([("MODE".into(), "prod".into())].into()),
        dockerfile: Some("Dockerfile.prod".into()),
        context: Some("app".into()),
        branch: Some("release".into()),
        watch_paths: Some(vec!["app/**".into()]),
        secrets: Some([("KEY".into(), Some("v".into())), ("OLD".into(), None)].into()),
        repo_token: Some(None),
    };
    let json = serde_json::to_vec(&body).unwrap();
    let next = crate::config_patch::apply(&json, &Rules::for_tests(), &current)
        .unwrap()
        .config;
    assert_eq!(
        (next.port, next.millicpu, next.memory_mb),
        (9000, 2000, 1024)
    );
    assert_eq!(next.domain.unwrap().as_str(), "shop.example.org");
    assert_eq!(next.watch_paths.globs(), ["app/**"]);
    let removal = SettingsBody {
        domain: Some(None),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_string(&removal).unwrap(),
        r#"{"domain":null}"#
    );
}

#[test]
fn a_source_body_is_what_the_server_parses() {
    for (format, kind) in [
        (ArchiveKind::TarGz, crate::upload::ArchiveFormat::TarGz),
        (ArchiveKind::Zip, crate::upload::ArchiveFormat::Zip),
    ] {
        let json = serde_json::to_vec(&SourceBody { format, size: 42 }).unwrap();
        let parsed = crate::upload::UploadRequest::parse(&json).unwrap();
        assert_eq!((parsed.format, parsed.size), (kind, 42));
    }
}

#[test]
fn app_statuses_read_as_their_deployment_statuses() {
    for s in DeploymentStatus::ALL {
        assert_eq!(AppStatus::from(s).as_str(), s.as_str());
        let json = serde_json::to_string(&AppStatus::from(s)).unwrap();
        assert_eq!(json, format!("\"{s}\""));
    }
    assert_eq!(AppStatus::New.to_string(), "new");
    assert_eq!(AppStatus::Stopped.to_string(), "stopped");
    assert_eq!(AppStatus::Deleted.to_string(), "deleted");
}
