//! `PATCH /apps/{id}`: some of an app's settings changed, each field checked
//! as `POST /deploy` checks it; the rest kept. The change applies from the
//! app's next deployment. Secrets are set or (with `null`) removed one by
//! one; the caller opens the sealed ones, applies the [`CredentialsChange`]
//! and seals the result.

use std::collections::{BTreeMap, BTreeSet};

use crate::deploy_request::{
    json_object, known_fields, memory_mb, millicpu, optional_str, port, read_only, repo_token,
    vars, RequestError, Rules,
};
use crate::fields::{parse_vars, BranchName, FieldError, RelativePath, MAX_VARS};
use crate::hostnames::Domain;
use crate::model::{AppConfig, Credentials, Source};
use crate::watch_paths::WatchPaths;

const FIELDS: &[&str] = &[
    "secrets",
    "repoToken",
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

/// What a patch does to the sealed values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CredentialsChange {
    set: BTreeMap<String, String>,
    remove: BTreeSet<String>,
    /// `Some(None)` removes the token.
    repo_token: Option<Option<String>>,
}

impl CredentialsChange {
    /// `current` changed; refused (naming `secrets`) past the count limit.
    pub fn apply(&self, mut current: Credentials) -> Result<Credentials, FieldError> {
        current.secrets.retain(|k, _| !self.remove.contains(k));
        current.secrets.extend(self.set.clone());
        if current.secrets.len() > MAX_VARS {
            return Err(FieldError::new(
                "secrets",
                format!(
                    "would hold {} secrets; at most {MAX_VARS} are allowed",
                    current.secrets.len()
                ),
            ));
        }
        if let Some(token) = &self.repo_token {
            current.repo_token = token.clone();
        }
        Ok(current)
    }
}

/// An app's settings after a patch, and what it does to the sealed values.
#[derive(Debug)]
pub struct Patched {
    pub config: AppConfig,
    pub credentials: Option<CredentialsChange>,
}

/// A variable both plain and secret, named in the field that set it last.
pub fn check_distinct(
    env: &BTreeMap<String, String>,
    secrets: &Credentials,
) -> Result<(), FieldError> {
    match env.keys().find(|k| secrets.secrets.contains_key(*k)) {
        Some(both) => Err(FieldError::new(
            format!("env.{both}"),
            "is also a secret of this app; give each variable once",
        )),
        None => Ok(()),
    }
}

fn credentials_change(
    obj: &serde_json::Map<String, serde_json::Value>,
    current: &AppConfig,
) -> Result<Option<CredentialsChange>, FieldError> {
    let mut change = CredentialsChange::default();
    let mut any = false;
    match obj.get("secrets") {
        None => {}
        Some(serde_json::Value::Object(given)) => {
            any = true;
            let (removed, set): (Vec<_>, Vec<_>) = given.iter().partition(|(_, v)| v.is_null());
            change.remove = removed.into_iter().map(|(k, _)| k.clone()).collect();
            let set: serde_json::Map<_, _> = set
                .into_iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            change.set = parse_vars("secrets", &serde_json::Value::Object(set))?;
        }
        Some(_) => {
            return Err(FieldError::new(
                "secrets",
                "must be an object of NAME: \"value\" (or null to remove it)",
            ))
        }
    }
    match obj.get("repoToken") {
        None => {}
        Some(_) if current.source.is_upload() => {
            return Err(FieldError::new(
                "repoToken",
                "belongs to apps built from a Git repo; this one is built from uploaded archives",
            ))
        }
        Some(serde_json::Value::Null) => {
            any = true;
            change.repo_token = Some(None);
        }
        Some(_) => {
            any = true;
            let t = optional_str(obj, "repoToken")?.unwrap_or_default();
            change.repo_token = Some(Some(repo_token(t)?));
        }
    }
    Ok(any.then_some(change))
}

/// `current` with the body's fields applied.
pub fn apply(body: &[u8], rules: &Rules, current: &AppConfig) -> Result<Patched, RequestError> {
    let obj = json_object(body)?;
    known_fields(&obj, FIELDS)?;
    let credentials = credentials_change(&obj, current)?;
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
    }
    if credentials.is_none() {
        let names = next.secret_names.iter().map(|n| (n.clone(), String::new()));
        let secrets = Credentials {
            repo_token: None,
            secrets: names.collect(),
        };
        check_distinct(&next.env, &secrets)?;
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
    Ok(Patched {
        config: next,
        credentials,
    })
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
        apply(body.to_string().as_bytes(), &Rules::for_tests(), current).map(|p| p.config)
    }

    fn change(body: serde_json::Value) -> Option<CredentialsChange> {
        apply(body.to_string().as_bytes(), &Rules::for_tests(), &git())
            .unwrap()
            .credentials
    }

    #[test]
    fn secrets_are_set_and_removed_one_by_one_and_the_token_kept_unless_named() {
        assert_eq!(change(serde_json::json!({"port": 81})), None);
        let current = Credentials {
            repo_token: Some("t".into()),
            secrets: [("A".into(), "1".into()), ("B".into(), "2".into())].into(),
        };
        let next = change(serde_json::json!({"secrets": {"A": null, "C": "3"}}))
            .unwrap()
            .apply(current.clone())
            .unwrap();
        assert_eq!(next.repo_token.as_deref(), Some("t"));
        assert_eq!(
            next.secrets,
            [("B".into(), "2".into()), ("C".into(), "3".into())].into()
        );
        let next = change(serde_json::json!({"repoToken": null}))
            .unwrap()
            .apply(current.clone())
            .unwrap();
        assert_eq!(
            (next.repo_token, next.secrets),
            (None, current.secrets.clone())
        );
        let next = change(serde_json::json!({"repoToken": "new"}))
            .unwrap()
            .apply(current.clone())
            .unwrap();
        assert_eq!(next.repo_token.as_deref(), Some("new"));
        let many: serde_json::Map<_, _> = (0..MAX_VARS)
            .map(|i| (format!("S{i}"), serde_json::json!("v")))
            .collect();
        let exactly: serde_json::Map<_, _> = (2..MAX_VARS)
            .map(|i| (format!("S{i}"), serde_json::json!("v")))
            .collect();
        let full = change(serde_json::json!({ "secrets": exactly }))
            .unwrap()
            .apply(current.clone())
            .unwrap();
        assert_eq!(full.secrets.len(), MAX_VARS, "the limit itself is allowed");
        let e = change(serde_json::json!({ "secrets": many }))
            .unwrap()
            .apply(current)
            .unwrap_err();
        assert_eq!(e.field, "secrets", "the two kept ones count too");
        let e = check_distinct(
            &[("B".into(), "x".into())].into(),
            &Credentials {
                repo_token: None,
                secrets: [("B".into(), "2".into())].into(),
            },
        )
        .unwrap_err();
        assert_eq!(e.field, "env.B");
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
            (serde_json::json!({"secrets": "S"}), "secrets"),
            (serde_json::json!({"secrets": {"1S": "y"}}), "secrets.1S"),
            (serde_json::json!({"repoToken": ""}), "repoToken"),
            (serde_json::json!({"repoToken": 7}), "repoToken"),
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
        assert_eq!(
            field(patch(&upload, serde_json::json!({"repoToken": "t"}))),
            "repoToken"
        );
        let after = patch(&upload, serde_json::json!({"context": "web"})).unwrap();
        assert!(
            matches!(after.source, Source::Upload { context, .. } if context.as_str() == "web")
        );
    }
}
