//! The body of `POST /deploy`: every field checked, defaults filled in.

use std::collections::BTreeMap;

use crate::fields::{
    parse_vars, AppName, BranchName, FieldError, RelativePath, RepoPolicy, RepoUrl,
};
use crate::hostnames::{AppsDomain, Domain};
use crate::ids::DeploymentId;
use crate::watch_paths::WatchPaths;

/// What the stack's configuration adds to the field rules.
#[derive(Debug, Clone)]
pub struct Rules {
    pub repos: RepoPolicy,
    /// A custom domain must lie outside it.
    pub apps: AppsDomain,
}

impl Rules {
    /// A production stack's rules with apps under `apps.example.com`: the
    /// fixture of every crate's tests.
    pub fn for_tests() -> Self {
        Self {
            repos: RepoPolicy::default(),
            apps: AppsDomain::parse("apps.example.com", "https", None)
                .expect("a valid apps domain"),
        }
    }
}

/// Bodies above this are refused before they are parsed.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
pub const MAX_REPO_TOKEN_BYTES: usize = 4096;

const FIELDS: &[&str] = &[
    "name",
    "repo",
    "branch",
    "dockerfile",
    "context",
    "port",
    "repoToken",
    "cpu",
    "memory",
    "domain",
    "readOnly",
    "env",
    "secrets",
    "watchPaths",
];

/// Where the source comes from and how to build it.
#[derive(Debug, Clone, PartialEq)]
pub struct GitSource {
    pub repo: RepoUrl,
    pub branch: BranchName,
    pub dockerfile: RelativePath,
    pub context: RelativePath,
    /// A push touching none of these does not deploy; empty: every push does.
    pub watch_paths: WatchPaths,
}

/// How the container runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    pub port: u16,
    /// Thousandths of a CPU, so 0.5 is 500.
    pub millicpu: u32,
    pub memory_mb: u32,
    pub domain: Option<Domain>,
    /// The container's root filesystem is read-only (`/tmp` stays writable).
    pub read_only: bool,
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeployRequest {
    pub name: AppName,
    pub source: GitSource,
    pub run: RunConfig,
    pub repo_token: Option<String>,
    pub secrets: BTreeMap<String, String>,
}

/// Why a body was refused. `Field` names the field at fault.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RequestError {
    #[error("the body is {0} bytes; at most {MAX_BODY_BYTES} are accepted")]
    TooLarge(usize),
    #[error("the body is not valid JSON: {0}")]
    NotJson(String),
    #[error(transparent)]
    Field(#[from] FieldError),
}

/// The fields of `POST /apps`: an app built from uploaded archives.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadAppRequest {
    pub name: AppName,
    pub dockerfile: RelativePath,
    pub context: RelativePath,
    pub run: RunConfig,
    pub secrets: BTreeMap<String, String>,
}

const UPLOAD_FIELDS: &[&str] = &[
    "name",
    "dockerfile",
    "context",
    "port",
    "cpu",
    "memory",
    "domain",
    "readOnly",
    "env",
    "secrets",
];

impl UploadAppRequest {
    pub fn parse(body: &[u8], rules: &Rules) -> Result<Self, RequestError> {
        let obj = json_object(body)?;
        if obj.contains_key("repo") {
            return Err(FieldError::new(
                "repo",
                "an upload app has no repo; to deploy from Git use POST /deploy",
            )
            .into());
        }
        known_fields(&obj, UPLOAD_FIELDS)?;
        let common = Common::parse(&obj, rules)?;
        Ok(Self {
            name: common.name,
            dockerfile: common.dockerfile,
            context: common.context,
            run: common.run,
            secrets: common.secrets,
        })
    }
}

/// What both kinds of app are configured with.
struct Common {
    name: AppName,
    dockerfile: RelativePath,
    context: RelativePath,
    run: RunConfig,
    secrets: BTreeMap<String, String>,
}

pub(crate) fn known_fields(
    obj: &serde_json::Map<String, serde_json::Value>,
    known: &[&str],
) -> Result<(), FieldError> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(FieldError::new(
            unknown.as_str(),
            format!(
                "unknown field {unknown:?}; known fields are {}",
                known.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

impl Common {
    fn parse(
        obj: &serde_json::Map<String, serde_json::Value>,
        rules: &Rules,
    ) -> Result<Self, FieldError> {
        let name = AppName::parse("name", required_str(obj, "name")?)?;
        let dockerfile = RelativePath::parse(
            "dockerfile",
            optional_str(obj, "dockerfile")?.unwrap_or("Dockerfile"),
        )?;
        let context = RelativePath::parse("context", optional_str(obj, "context")?.unwrap_or("."))?;
        let port = port(obj)?.unwrap_or(80);
        let millicpu = millicpu(obj)?.unwrap_or(1000);
        let memory_mb = memory_mb(obj)?.unwrap_or(512);
        let domain = optional_str(obj, "domain")?
            .map(|d| Domain::parse("domain", d, &rules.apps))
            .transpose()?;
        let read_only = read_only(obj)?.unwrap_or(false);
        let env = vars(obj, "env")?;
        let secrets = vars(obj, "secrets")?;
        if let Some(both) = env.keys().find(|k| secrets.contains_key(*k)) {
            return Err(FieldError::new(
                format!("secrets.{both}"),
                "is also set in env; give each variable once",
            ));
        }
        Ok(Self {
            name,
            dockerfile,
            context,
            run: RunConfig {
                port,
                millicpu,
                memory_mb,
                domain,
                read_only,
                env,
            },
            secrets,
        })
    }
}

type Object = serde_json::Map<String, serde_json::Value>;

/// `port`, when given.
pub(crate) fn port(obj: &Object) -> Result<Option<u16>, FieldError> {
    match obj.get("port") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|p| (1..=65535).contains(p))
            .map(|p| Some(p as u16))
            .ok_or_else(|| {
                FieldError::new(
                    "port",
                    format!("{v} is not a port; give an integer from 1 to 65535"),
                )
            }),
    }
}

/// `cpu` in thousandths, when given.
pub(crate) fn millicpu(obj: &Object) -> Result<Option<u32>, FieldError> {
    match obj.get("cpu") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|c| (0.1..=8.0).contains(c))
            .map(|c| Some((c * 1000.0).round() as u32))
            .ok_or_else(|| {
                FieldError::new(
                    "cpu",
                    format!("{v} is out of range; give a number of CPUs from 0.1 to 8"),
                )
            }),
    }
}

/// `memory` in megabytes, when given.
pub(crate) fn memory_mb(obj: &Object) -> Result<Option<u32>, FieldError> {
    match obj.get("memory") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|m| (64..=16384).contains(m))
            .map(|m| Some(m as u32))
            .ok_or_else(|| {
                FieldError::new(
                    "memory",
                    format!("{v} is out of range; give megabytes as an integer from 64 to 16384"),
                )
            }),
    }
}

/// A repo token as it may be stored.
pub(crate) fn repo_token(t: &str) -> Result<String, FieldError> {
    if t.is_empty() || t.len() > MAX_REPO_TOKEN_BYTES || t.chars().any(|c| c.is_control()) {
        return Err(FieldError::new(
            "repoToken",
            format!("must be 1 to {MAX_REPO_TOKEN_BYTES} bytes with no control characters"),
        ));
    }
    Ok(t.to_owned())
}

/// `readOnly`, when given.
pub(crate) fn read_only(obj: &Object) -> Result<Option<bool>, FieldError> {
    match obj.get("readOnly") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(FieldError::new("readOnly", "must be true or false")),
    }
}

impl DeployRequest {
    pub fn parse(body: &[u8], rules: &Rules) -> Result<Self, RequestError> {
        let obj = json_object(body)?;
        known_fields(&obj, FIELDS)?;
        // The name first, then the repo: the order a reader checks them in.
        AppName::parse("name", required_str(&obj, "name")?)?;
        let repo = RepoUrl::parse("repo", required_str(&obj, "repo")?, rules.repos)?;
        let branch = BranchName::parse("branch", optional_str(&obj, "branch")?.unwrap_or("main"))?;
        let common = Common::parse(&obj, rules)?;
        let repo_token = optional_str(&obj, "repoToken")?
            .map(repo_token)
            .transpose()?;
        let watch_paths = match obj.get("watchPaths") {
            None | Some(serde_json::Value::Null) => WatchPaths::default(),
            Some(v) => WatchPaths::parse("watchPaths", v)?,
        };
        Ok(Self {
            name: common.name,
            source: GitSource {
                repo,
                branch,
                dockerfile: common.dockerfile,
                context: common.context,
                watch_paths,
            },
            run: common.run,
            repo_token,
            secrets: common.secrets,
        })
    }
}

/// `POST /apps/{id}/rollback`: the deployment whose image to run again.
#[derive(Debug, Clone, PartialEq)]
pub enum RollbackRequest {
    /// An id this service could have issued.
    To(DeploymentId),
    /// A string that cannot be a deployment's id: it names none (404).
    Nothing,
}

impl RollbackRequest {
    pub fn parse(body: &[u8]) -> Result<Self, RequestError> {
        let obj = json_object(body)?;
        known_fields(&obj, &["deploymentId"])?;
        let id = required_str(&obj, "deploymentId")?;
        Ok(DeploymentId::parse(id).map_or(Self::Nothing, Self::To))
    }
}

pub(crate) fn json_object(
    body: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, RequestError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(RequestError::TooLarge(body.len()));
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(obj)) => Ok(obj),
        Ok(_) => Err(RequestError::NotJson("expected a JSON object".into())),
        Err(e) => Err(RequestError::NotJson(e.to_string())),
    }
}

pub(crate) fn required_str<'a>(
    obj: &'a serde_json::Map<String, serde_json::Value>,
    field: &str,
) -> Result<&'a str, FieldError> {
    optional_str(obj, field)?.ok_or_else(|| FieldError::new(field, "is required"))
}

pub(crate) fn optional_str<'a>(
    obj: &'a serde_json::Map<String, serde_json::Value>,
    field: &str,
) -> Result<Option<&'a str>, FieldError> {
    match obj.get(field) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(FieldError::new(field, "must be a string")),
    }
}

pub(crate) fn vars(
    obj: &serde_json::Map<String, serde_json::Value>,
    field: &str,
) -> Result<BTreeMap<String, String>, FieldError> {
    match obj.get(field) {
        None | Some(serde_json::Value::Null) => Ok(BTreeMap::new()),
        Some(v) => parse_vars(field, v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> Result<DeployRequest, RequestError> {
        DeployRequest::parse(v.to_string().as_bytes(), &Rules::for_tests())
    }

    fn field_of(v: serde_json::Value) -> String {
        match parse(v) {
            Err(RequestError::Field(e)) => e.field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn a_repo_token_is_1_to_4096_bytes_without_control_characters() {
        assert!(repo_token(&"t".repeat(MAX_REPO_TOKEN_BYTES)).is_ok());
        for bad in [
            String::new(),
            "t".repeat(MAX_REPO_TOKEN_BYTES + 1),
            "tok\nen".to_owned(),
        ] {
            assert_eq!(repo_token(&bad).unwrap_err().field, "repoToken", "{bad:?}");
        }
        assert_eq!(repo_token("ghp_x").unwrap(), "ghp_x");
    }

    #[test]
    fn a_rollback_names_a_deployment_id() {
        let id = DeploymentId::new();
        let body = format!(r#"{{"deploymentId":"{id}"}}"#);
        assert_eq!(
            RollbackRequest::parse(body.as_bytes()),
            Ok(RollbackRequest::To(id))
        );
        assert_eq!(
            RollbackRequest::parse(br#"{"deploymentId":"v1"}"#),
            Ok(RollbackRequest::Nothing)
        );
        for (body, field) in [
            (&br#"{}"#[..], "deploymentId"),
            (br#"{"deploymentId":7}"#, "deploymentId"),
            (br#"{"deploymentId":"x","commit":"abc"}"#, "commit"),
        ] {
            match RollbackRequest::parse(body) {
                Err(RequestError::Field(e)) => assert_eq!(e.field, field),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            RollbackRequest::parse(b"[]"),
            Err(RequestError::NotJson(_))
        ));
    }

    #[test]
    fn defaults_are_filled_in() {
        let r = parse(serde_json::json!({"name": "api", "repo": "https://github.com/acme/api"}))
            .unwrap();
        assert_eq!(r.source.branch.as_str(), "main");
        assert_eq!(r.source.dockerfile.as_str(), "Dockerfile");
        assert_eq!(r.source.context.as_str(), ".");
        assert_eq!(r.run.port, 80);
        assert_eq!(r.run.millicpu, 1000);
        assert_eq!(r.run.memory_mb, 512);
        assert!(!r.run.read_only);
        assert!(r.repo_token.is_none());
    }

    #[test]
    fn the_monorepo_layout_is_accepted() {
        let r = parse(serde_json::json!({
            "name": "api", "repo": "https://github.com/acme/monorepo",
            "dockerfile": "services/api/Dockerfile", "context": "services/api",
            "port": 8080, "cpu": 0.5, "memory": 256, "domain": "api.acme.dev", "readOnly": true,
            "repoToken": "ghp_x", "env": {"RUST_LOG": "info"}, "secrets": {"DATABASE_URL": "postgres://x"}
        }))
        .unwrap();
        assert_eq!(r.source.context.as_str(), "services/api");
        assert_eq!(r.run.millicpu, 500);
        assert!(r.run.read_only);
        assert_eq!(r.secrets["DATABASE_URL"], "postgres://x");
    }

    #[test]
    fn each_bad_field_is_named() {
        let base = |k: &str, v: serde_json::Value| {
            let mut m = serde_json::json!({"name": "api", "repo": "https://github.com/acme/api"});
            m[k] = v;
            m
        };
        assert_eq!(
            field_of(base("dockerfile", "../Dockerfile".into())),
            "dockerfile"
        );
        assert_eq!(field_of(base("context", "..".into())), "context");
        assert_eq!(field_of(base("port", 0.into())), "port");
        assert_eq!(field_of(base("port", 70000.into())), "port");
        assert_eq!(field_of(base("port", "80".into())), "port");
        assert_eq!(field_of(base("cpu", 9.into())), "cpu");
        assert_eq!(field_of(base("readOnly", "yes".into())), "readOnly");
        assert_eq!(field_of(base("memory", 10.into())), "memory");
        assert_eq!(field_of(base("name", "My App".into())), "name");
        assert_eq!(field_of(base("branch", "-x".into())), "branch");
        assert_eq!(field_of(base("repoToken", "".into())), "repoToken");
        assert_eq!(field_of(base("colour", "red".into())), "colour");
        assert_eq!(
            field_of(base("watchPaths", serde_json::json!(["/etc/**"]))),
            "watchPaths[0]"
        );
        assert_eq!(
            field_of(serde_json::json!({"repo": "https://github.com/a/b"})),
            "name"
        );
        assert_eq!(field_of(serde_json::json!({"name": "a"})), "repo");
        assert_eq!(
            field_of(
                base("secrets", serde_json::json!({"A": "1"}))
                    .as_object()
                    .cloned()
                    .map(|mut m| {
                        m.insert("env".into(), serde_json::json!({"A": "2"}));
                        serde_json::Value::Object(m)
                    })
                    .unwrap()
            ),
            "secrets.A"
        );
    }

    #[test]
    fn an_upload_app_takes_no_repo_fields() {
        let r = UploadAppRequest::parse(
            br#"{"name":"site","port":8080,"secrets":{"K":"v"}}"#,
            &Rules::for_tests(),
        )
        .unwrap();
        assert_eq!(r.name.as_str(), "site");
        assert_eq!(r.dockerfile.as_str(), "Dockerfile");
        assert_eq!(r.run.port, 8080);
        assert_eq!(r.secrets["K"], "v");
        for (body, field) in [
            (
                &br#"{"name":"site","repo":"https://github.com/a/b"}"#[..],
                "repo",
            ),
            (br#"{"name":"site","branch":"main"}"#, "branch"),
            (br#"{"name":"site","context":"../x"}"#, "context"),
            (br#"{"port":80}"#, "name"),
        ] {
            match UploadAppRequest::parse(body, &Rules::for_tests()) {
                Err(RequestError::Field(e)) => assert_eq!(e.field, field),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn non_json_and_huge_bodies_are_refused() {
        assert!(matches!(
            DeployRequest::parse(b"name=api", &Rules::for_tests()),
            Err(RequestError::NotJson(_))
        ));
        assert!(matches!(
            DeployRequest::parse(b"[1]", &Rules::for_tests()),
            Err(RequestError::NotJson(_))
        ));
        assert_eq!(MAX_BODY_BYTES, 1_048_576);
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert!(matches!(
            DeployRequest::parse(&big, &Rules::for_tests()),
            Err(RequestError::TooLarge(_))
        ));
        assert!(
            matches!(
                DeployRequest::parse(&big[1..], &Rules::for_tests()),
                Err(RequestError::NotJson(_))
            ),
            "a body of the largest size is read"
        );
    }
}
