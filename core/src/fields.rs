//! Newtypes for every field a user sends: a value that exists has been checked.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// A request field that failed its rule; the message says what to send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An app name: a DNS label, so it can become a hostname or a container name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AppName(String);

impl AppName {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        if !is_dns_label(value) {
            return Err(FieldError::new(
                field,
                format!(
                    "{value:?} is not a valid app name; use 1-63 lowercase letters, digits or '-', \
                     not starting or ending with '-' (for example \"my-app\")"
                ),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub(crate) fn is_dns_label(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-')
}

/// Whether `http://` repos on loopback hosts are admitted. Production refuses
/// them; only the local stack turns this on so a repo served on the same
/// machine can be deployed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RepoPolicy {
    pub allow_loopback: bool,
}

/// A Git repository URL that a runner may clone: https, no credentials, no
/// fragment, not an internal address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RepoUrl(String);

impl RepoUrl {
    pub fn parse(field: &str, value: &str, policy: RepoPolicy) -> Result<Self, FieldError> {
        let err = |why: &str| {
            FieldError::new(
                field,
                format!(
                    "{why}; give an https:// Git URL such as \"https://github.com/acme/api.git\""
                ),
            )
        };
        let url = url::Url::parse(value).map_err(|_| err("is not a URL"))?;
        let host = url.host();
        let loopback = match &host {
            Some(url::Host::Domain(d)) => *d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        match url.scheme() {
            "https" => {}
            "http" if policy.allow_loopback && loopback => {}
            "http" => return Err(err("plain http:// is refused")),
            other => return Err(err(&format!("scheme {other}:// is refused"))),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(err(
                "must not hold a user or password; send the credential as repoToken",
            ));
        }
        if url.fragment().is_some() {
            return Err(err("must not hold a #fragment"));
        }
        let ip = match host {
            None => return Err(err("has no host")),
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
        };
        if loopback && !policy.allow_loopback {
            return Err(err("points at this machine"));
        }
        if let Some(ip) = ip.filter(|ip| !ip.is_loopback() && is_internal(*ip)) {
            return Err(err(&format!("points at the internal address {ip}")));
        }
        Ok(Self(url.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_internal(IpAddr::V4(v4)))
        }
    }
}

/// A branch name as `git check-ref-format --branch` would accept it, and
/// never one that a command line could read as an option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BranchName(String);

impl BranchName {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let bad = |why: &str| {
            FieldError::new(
                field,
                format!("{value:?} is not a valid branch name: {why}"),
            )
        };
        if value.is_empty() {
            return Err(bad("it is empty"));
        }
        if value.len() > 255 {
            return Err(bad("it is longer than 255 bytes"));
        }
        if value.starts_with('-') {
            return Err(bad("it starts with '-'"));
        }
        if value == "@" || value.contains("@{") {
            return Err(bad("it contains '@{' or is '@'"));
        }
        if value.contains("..") || value.contains("//") {
            return Err(bad("it contains '..' or '//'"));
        }
        if value.starts_with('/') || value.ends_with('/') || value.ends_with('.') {
            return Err(bad("it starts or ends with '/' or ends with '.'"));
        }
        if value
            .chars()
            .any(|c| c.is_ascii_control() || " ~^:?*[\\".contains(c))
        {
            return Err(bad(
                "it contains a space, control character or one of ~^:?*[\\",
            ));
        }
        if value
            .split('/')
            .any(|part| part.starts_with('.') || part.ends_with(".lock"))
        {
            return Err(bad("a component starts with '.' or ends with '.lock'"));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A path inside the repository (Dockerfile, build context): relative, no
/// `..`, no backslash or NUL. Symlinks are checked by the runner on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RelativePath(String);

impl RelativePath {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let bad = |why: &str| {
            FieldError::new(
                field,
                format!(
                    "{value:?} {why}; give a path inside the repository such as \"services/api\""
                ),
            )
        };
        if value.is_empty() {
            return Err(bad("is empty"));
        }
        if value.len() > 1024 {
            return Err(bad("is longer than 1024 bytes"));
        }
        if value.contains('\0') || value.contains('\\') {
            return Err(bad("contains a NUL or a backslash"));
        }
        if value.starts_with('/') {
            return Err(bad("is absolute"));
        }
        if value.split('/').any(|part| part == "..") {
            return Err(bad("leaves the repository through '..'"));
        }
        let normal: Vec<&str> = value
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        Ok(Self(if normal.is_empty() {
            ".".to_owned()
        } else {
            normal.join("/")
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const MAX_VARS: usize = 100;
pub const MAX_VAR_VALUE_BYTES: usize = 32 * 1024;
pub const MAX_VARS_TOTAL_BYTES: usize = 128 * 1024;

/// Environment variables or secrets: names a shell accepts, string values,
/// bounded in count and size.
pub fn parse_vars(
    field: &str,
    value: &serde_json::Value,
) -> Result<BTreeMap<String, String>, FieldError> {
    let obj = value
        .as_object()
        .ok_or_else(|| FieldError::new(field, "must be an object of NAME: \"value\" strings"))?;
    if obj.len() > MAX_VARS {
        return Err(FieldError::new(
            field,
            format!("has {} entries; at most {MAX_VARS} are allowed", obj.len()),
        ));
    }
    let mut out = BTreeMap::new();
    let mut total = 0;
    for (name, v) in obj {
        let valid_name = name.len() <= 256
            && name
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid_name {
            return Err(FieldError::new(
                format!("{field}.{name}"),
                "is not a valid variable name; use letters, digits and '_', not starting with a digit",
            ));
        }
        let s = v
            .as_str()
            .ok_or_else(|| FieldError::new(format!("{field}.{name}"), "must be a string"))?;
        if s.len() > MAX_VAR_VALUE_BYTES {
            return Err(FieldError::new(
                format!("{field}.{name}"),
                format!("is longer than {MAX_VAR_VALUE_BYTES} bytes"),
            ));
        }
        if s.contains('\0') {
            return Err(FieldError::new(
                format!("{field}.{name}"),
                "contains a NUL byte",
            ));
        }
        total += name.len() + s.len();
        out.insert(name.clone(), s.to_owned());
    }
    if total > MAX_VARS_TOTAL_BYTES {
        return Err(FieldError::new(
            field,
            format!("holds more than {MAX_VARS_TOTAL_BYTES} bytes in all"),
        ));
    }
    Ok(out)
}

/// The field types show as the text they hold.
macro_rules! shown_as_text {
    ($($name:ident),*) => {$(
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

shown_as_text!(AppName, RepoUrl, BranchName, RelativePath);

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: RepoPolicy = RepoPolicy {
        allow_loopback: true,
    };

    #[test]
    fn app_names_are_dns_labels() {
        assert!(AppName::parse("name", "my-app-2").is_ok());
        for bad in ["My App", "", "-a", "a-", "a_b", &"a".repeat(64)] {
            let e = AppName::parse("name", bad).unwrap_err();
            assert_eq!(e.field, "name");
        }
    }

    #[test]
    fn repo_must_be_https_without_credentials_or_internal_hosts() {
        let ok = RepoUrl::parse(
            "repo",
            "https://github.com/acme/api.git",
            RepoPolicy::default(),
        );
        assert_eq!(ok.unwrap().as_str(), "https://github.com/acme/api.git");
        for bad in [
            "http://github.com/acme/api",
            "ssh://git@github.com/acme/api",
            "file:///etc",
            "git@github.com:a/b",
            "https://user:pw@host/r",
            "https://token@host/r",
            "https://host/r#frag",
            "https://169.254.169.254/x",
            "https://10.0.0.1/x",
            "https://192.168.1.1/x",
            "https://127.0.0.1/x",
            "https://[::1]/x",
            "https://[fe80::1]/x",
            "https://[::ffff:10.0.0.1]/x",
            "https://localhost/x",
            "http://127.0.0.1:9000/x",
            "not a url",
        ] {
            let e = RepoUrl::parse("repo", bad, RepoPolicy::default()).unwrap_err();
            assert_eq!(e.field, "repo", "{bad}");
        }
    }

    #[test]
    fn the_local_stack_admits_loopback_over_http_only() {
        assert!(RepoUrl::parse("repo", "http://127.0.0.1:9000/x.git", LOCAL).is_ok());
        assert!(RepoUrl::parse("repo", "http://localhost:9000/x.git", LOCAL).is_ok());
        assert!(RepoUrl::parse("repo", "http://10.0.0.1/x", LOCAL).is_err());
        assert!(RepoUrl::parse("repo", "https://169.254.169.254/x", LOCAL).is_err());
        assert!(RepoUrl::parse("repo", "http://github.com/x", LOCAL).is_err());
    }

    #[test]
    fn branch_names_follow_git_rules() {
        for ok in ["main", "feature/x-1", "release-2.0"] {
            assert!(BranchName::parse("branch", ok).is_ok(), "{ok}");
        }
        for bad in [
            "-x", "", "a..b", "a b", "a:b", "a/", "/a", ".a", "a.lock", "@", "a@{b", "x.",
        ] {
            assert!(BranchName::parse("branch", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_stay_inside_the_repository() {
        assert_eq!(
            RelativePath::parse("dockerfile", "services/api/Dockerfile")
                .unwrap()
                .as_str(),
            "services/api/Dockerfile"
        );
        assert_eq!(RelativePath::parse("context", ".").unwrap().as_str(), ".");
        assert_eq!(
            RelativePath::parse("context", "./a//b/").unwrap().as_str(),
            "a/b"
        );
        for bad in [
            "../Dockerfile",
            "/etc/passwd",
            "a/../../b",
            "..",
            "a\\b",
            "a\0b",
            "",
        ] {
            assert!(RelativePath::parse("dockerfile", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn vars_need_shell_names_and_string_values() {
        let ok = parse_vars("env", &serde_json::json!({"A_1": "x", "_b": ""})).unwrap();
        assert_eq!(ok.len(), 2);
        let e = parse_vars("env", &serde_json::json!({"1A": "x"})).unwrap_err();
        assert_eq!(e.field, "env.1A");
        let e = parse_vars("secrets", &serde_json::json!({"A": 1})).unwrap_err();
        assert_eq!(e.field, "secrets.A");
        assert!(parse_vars("env", &serde_json::json!(["A"])).is_err());
        let many: serde_json::Map<_, _> = (0..=MAX_VARS)
            .map(|i| (format!("V{i}"), serde_json::json!("x")))
            .collect();
        assert!(parse_vars("env", &serde_json::Value::Object(many)).is_err());
    }

    #[test]
    fn each_internal_range_is_refused_and_its_neighbours_are_not() {
        let refused = [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.0",
            "100.127.255.255",
            "[::]",
            "[fc00::1]",
            "[fd00:ec2::254]",
            "[fdff:ffff::1]",
            "[fe80::1]",
            "[febf::1]",
            "[::ffff:169.254.169.254]",
        ];
        for host in refused {
            let e = RepoUrl::parse("repo", &format!("https://{host}/x"), RepoPolicy::default())
                .unwrap_err();
            assert!(e.message.contains("internal address"), "{host}: {e:?}");
        }
        let public = [
            "9.255.255.255",
            "11.0.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "169.253.255.255",
            "100.63.255.255",
            "100.128.0.0",
            "255.255.255.254",
            "1.1.1.1",
            "[fbff::1]",
            "[fe00::1]",
            "[fec0::1]",
            "[2606:4700::1111]",
            "[::ffff:1.1.1.1]",
        ];
        for host in public {
            assert!(
                RepoUrl::parse("repo", &format!("https://{host}/x"), RepoPolicy::default()).is_ok(),
                "{host}"
            );
        }
    }

    #[test]
    fn each_value_and_all_values_together_are_capped() {
        let value = |n: usize| serde_json::json!("x".repeat(n));
        let one = |n: usize| parse_vars("env", &serde_json::json!({ "A": value(n) }));
        assert!(one(MAX_VAR_VALUE_BYTES).is_ok());
        let e = one(MAX_VAR_VALUE_BYTES + 1).unwrap_err();
        assert_eq!(e.field, "env.A");
        assert!(e.message.contains("32768"), "{e:?}");

        // Four names of one byte and values that fill the total exactly.
        let filled = |last: usize| {
            let mut vars = serde_json::Map::new();
            for name in ["A", "B", "C"] {
                vars.insert(name.into(), value(MAX_VAR_VALUE_BYTES - 1));
            }
            vars.insert("D".into(), value(last));
            parse_vars("secrets", &serde_json::Value::Object(vars))
        };
        let exact = MAX_VARS_TOTAL_BYTES - 3 * MAX_VAR_VALUE_BYTES - 1;
        assert!(filled(exact).is_ok());
        let e = filled(exact + 1).unwrap_err();
        assert_eq!(e.field, "secrets");
        assert!(e.message.contains("131072"), "{e:?}");
        assert_eq!(
            (MAX_VAR_VALUE_BYTES, MAX_VARS_TOTAL_BYTES),
            (32 * 1024, 128 * 1024)
        );

        let e = parse_vars("env", &serde_json::json!({"A": "a\u{0}b"})).unwrap_err();
        assert_eq!(e.field, "env.A");
        let at_most: serde_json::Map<_, _> = (0..MAX_VARS)
            .map(|i| (format!("V{i}"), serde_json::json!("x")))
            .collect();
        assert!(parse_vars("env", &serde_json::Value::Object(at_most)).is_ok());
    }

    #[test]
    fn branch_names_and_paths_are_capped_at_their_length() {
        assert!(BranchName::parse("branch", &"b".repeat(255)).is_ok());
        let e = BranchName::parse("branch", &"b".repeat(256)).unwrap_err();
        assert!(e.message.contains("255"), "{e:?}");
        assert!(RelativePath::parse("context", &"p".repeat(1024)).is_ok());
        let e = RelativePath::parse("context", &"p".repeat(1025)).unwrap_err();
        assert!(e.message.contains("1024"), "{e:?}");
    }
}
