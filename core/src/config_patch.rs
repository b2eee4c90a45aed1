//! `PATCH /apps/{id}`: some of an app's settings changed, each field checked
//! as `POST /deploy` checks it; the rest kept. The change applies from the
//! app's next deployment. Secrets and the repo token are sealed together,
//! so they are replaced as a whole by `POST /deploy`, not patched here.

use crate::deploy_request::{
    json_object, known_fields, memory_mb, millicpu, optional_str, port, read_only, vars,
    RequestError, Rules,
};
use crate::fields::{BranchName, FieldError, RelativePath};
use crate::hostnames::Domain;
use crate::model::{AppConfig, Source};
use crate::watch_paths::WatchPaths;

const FIELDS: &[&str] = &[
    "port",
    "cpu",
    "memory",
    "domain",
    "readOnly",
    "env",
    "dockerfile",
    "context",
    "branch",
    "watchPaths",
];

/// `current` with the body's fields applied.
pub fn apply(body: &[u8], rules: &Rules, current: &AppConfig) -> Result<AppConfig, RequestError> {
    let obj = json_object(body)?;
    for sealed in ["secrets", "repoToken"] {
        if obj.contains_key(sealed) {
            return Err(FieldError::new(
                sealed,
                "is stored sealed with the app's other secrets and replaced with them: send the app's whole configuration to POST /deploy",
            )
            .into());
        }
    }
    known_fields(&obj, FIELDS)?;
    let mut next = current.clone();
    if let Some(p) = port(&obj)? {
        next.port = p;
    }
    if let Some(c) = millicpu(&obj)? {
        next.millicpu = c;
    }
    if let Some(m) = memory_mb(&obj)? {
        next.memory_mb = m;
    }
    if let Some(r) = read_only(&obj)? {
        next.read_only = r;
    }
    match obj.get("domain") {
        None => {}
        Some(serde_json::Value::Null) => next.domain = None,
        Some(_) => {
            let d = optional_str(&obj, "domain")?.unwrap_or_default();
            next.domain = Some(Domain::parse("domain", d, &rules.apps)?);
        }
    }
    if obj.contains_key("env") {
        next.env = vars(&obj, "env")?;
        if let Some(both) = next.env.keys().find(|k| next.secret_names.contains(k)) {
            return Err(FieldError::new(
                format!("env.{both}"),
                "is a secret of this app already; give each variable once",
            )
            .into());
        }
    }
    let (dockerfile, context) = match &mut next.source {
        Source::Git {
            dockerfile,
            context,
            ..
        }
        | Source::Upload {
            dockerfile,
            context,
        } => (dockerfile, context),
    };
    if let Some(d) = optional_str(&obj, "dockerfile")? {
        *dockerfile = RelativePath::parse("dockerfile", d)?;
    }
    if let Some(c) = optional_str(&obj, "context")? {
        *context = RelativePath::parse("context", c)?;
    }
    let git_only = |field: &str| {
        FieldError::new(
            field,
            "belongs to apps built from a Git repo; this one is built from uploaded archives",
        )
    };
    if let Some(b) = optional_str(&obj, "branch")? {
        match &mut next.source {
            Source::Git { branch, .. } => *branch = BranchName::parse("branch", b)?,
            Source::Upload { .. } => return Err(git_only("branch").into()),
        }
    }
    match obj.get("watchPaths") {
        None => {}
        Some(_) if current.source.is_upload() => return Err(git_only("watchPaths").into()),
        Some(serde_json::Value::Null) => next.watch_paths = WatchPaths::default(),
        Some(v) => next.watch_paths = WatchPaths::parse("watchPaths", v)?,
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy_request::{DeployRequest, UploadAppRequest};

    fn git() -> AppConfig {
        let body = br#"{"name":"api","repo":"https://github.com/acme/api","port":8080,
            "domain":"api.acme.dev","env":{"A":"1"},"secrets":{"S":"x"},"watchPaths":["api/**"]}"#;
        AppConfig::from_request(
            &DeployRequest::parse(body, &Rules::for_tests()).unwrap(),
            Some("sealed".into()),
        )
    }

    fn patch(current: &AppConfig, body: serde_json::Value) -> Result<AppConfig, RequestError> {
        apply(body.to_string().as_bytes(), &Rules::for_tests(), current)
    }

    fn field(r: Result<AppConfig, RequestError>) -> String {
        match r {
            Err(RequestError::Field(e)) => e.field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn only_the_fields_given_change() {
        let before = git();
        assert_eq!(patch(&before, serde_json::json!({})).unwrap(), before);
        let after = patch(
            &before,
            serde_json::json!({"port": 9090, "cpu": 0.5, "memory": 256, "readOnly": true,
                "env": {"B": "2"}, "branch": "release", "dockerfile": "api/Dockerfile",
                "context": "api", "watchPaths": ["api/**", "lib/**"]}),
        )
        .unwrap();
        assert_eq!(
            (after.port, after.millicpu, after.memory_mb),
            (9090, 500, 256)
        );
        assert!(after.read_only);
        assert_eq!(
            after.env.keys().collect::<Vec<_>>(),
            ["B"],
            "env is replaced whole"
        );
        let Source::Git {
            branch,
            dockerfile,
            context,
            ..
        } = &after.source
        else {
            panic!()
        };
        assert_eq!(
            (branch.as_str(), dockerfile.as_str(), context.as_str()),
            ("release", "api/Dockerfile", "api")
        );
        assert_eq!(after.watch_paths.globs(), ["api/**", "lib/**"]);
        assert_eq!(after.domain, before.domain, "not given: kept");
        assert_eq!(after.sealed_credentials, before.sealed_credentials);
        assert_eq!(after.secret_names, ["S"]);
    }

    #[test]
    fn a_null_domain_or_watch_list_removes_it() {
        let after = patch(
            &git(),
            serde_json::json!({"domain": null, "watchPaths": null}),
        )
        .unwrap();
        assert_eq!(after.domain, None);
        assert!(after.watch_paths.is_empty());
    }

    #[test]
    fn each_bad_field_is_named() {
        for (body, name) in [
            (serde_json::json!({"port": 0}), "port"),
            (serde_json::json!({"cpu": 9}), "cpu"),
            (serde_json::json!({"memory": 1}), "memory"),
            (serde_json::json!({"readOnly": "yes"}), "readOnly"),
            (
                serde_json::json!({"domain": "x.apps.example.com"}),
                "domain",
            ),
            (serde_json::json!({"env": {"1X": "v"}}), "env.1X"),
            (serde_json::json!({"env": {"S": "v"}}), "env.S"),
            (serde_json::json!({"dockerfile": "../D"}), "dockerfile"),
            (serde_json::json!({"branch": "-x"}), "branch"),
            (serde_json::json!({"secrets": {"S": "y"}}), "secrets"),
            (serde_json::json!({"repoToken": "t"}), "repoToken"),
            (serde_json::json!({"name": "other"}), "name"),
        ] {
            assert_eq!(field(patch(&git(), body.clone())), name, "{body}");
        }
        assert!(matches!(
            apply(b"[]", &Rules::for_tests(), &git()),
            Err(RequestError::NotJson(_))
        ));
    }

    #[test]
    fn an_upload_app_has_no_branch_or_watch_paths() {
        let upload = AppConfig::for_upload(
            &UploadAppRequest::parse(br#"{"name":"up"}"#, &Rules::for_tests()).unwrap(),
            None,
        );
        assert_eq!(
            field(patch(&upload, serde_json::json!({"branch": "x"}))),
            "branch"
        );
        assert_eq!(
            field(patch(&upload, serde_json::json!({"watchPaths": ["a"]}))),
            "watchPaths"
        );
        let after = patch(&upload, serde_json::json!({"context": "web"})).unwrap();
        assert!(
            matches!(after.source, Source::Upload { context, .. } if context.as_str() == "web")
        );
    }
}
