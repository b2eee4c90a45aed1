//! Where apps are served: the stack's apps domain, each app's default
//! hostname under it, the URL of a hostname, and the custom domains an app
//! may claim (never one that would route somewhere it must not).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::fields::{is_dns_label, FieldError};
use crate::ids::AppId;

/// How many characters of the app id end its default hostname's label.
const SUFFIX_LEN: usize = 6;

/// The longest apps domain under which every default hostname (a label of
/// up to 63 characters and a dot) still fits a hostname's 253.
const MAX_APPS_DOMAIN: usize = 253 - 64;

/// The stack's apps domain (`SLIPWAY_APPS_DOMAIN`) and how its edge is
/// reached from outside: every app's default hostname lies under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppsDomain {
    domain: String,
    scheme: &'static str,
    port: Option<u16>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AppsDomainError(String);

impl AppsDomain {
    /// `domain` such as `apps.example.com` (or `localhost` locally), the
    /// scheme users reach the edge with, and its port when not the scheme's.
    pub fn parse(domain: &str, scheme: &str, port: Option<u16>) -> Result<Self, AppsDomainError> {
        let domain = domain.to_ascii_lowercase();
        if !domain.split('.').all(is_dns_label) {
            return Err(AppsDomainError(format!(
                "the apps domain {domain:?} is not a hostname"
            )));
        }
        if domain.len() > MAX_APPS_DOMAIN {
            return Err(AppsDomainError(format!(
                "the apps domain {domain:?} leaves no room for an app's label under it: give at most {MAX_APPS_DOMAIN} characters"
            )));
        }
        let scheme = match scheme {
            "http" => "http",
            "https" => "https",
            other => {
                return Err(AppsDomainError(format!(
                    "the apps URL scheme {other:?} is neither http nor https"
                )))
            }
        };
        Ok(Self {
            domain,
            scheme,
            port,
        })
    }

    /// The app's own hostname: its name (cut to fit one DNS label) and the
    /// end of its id, which no other app shares, under the apps domain.
    pub fn hostname_for(&self, name: &str, id: &AppId) -> String {
        let id = id.as_str();
        let suffix = &id[id.len() - SUFFIX_LEN..];
        let cut = &name[..name.len().min(63 - SUFFIX_LEN - 1)];
        format!("{}-{suffix}.{}", cut.trim_end_matches('-'), self.domain)
    }

    /// The URL users reach `hostname` at.
    pub fn url(&self, hostname: &str) -> String {
        match self.port {
            Some(port) => format!("{}://{hostname}:{port}", self.scheme),
            None => format!("{}://{hostname}", self.scheme),
        }
    }

    /// Whether `host` is the apps domain or lies under it.
    fn covers(&self, host: &str) -> bool {
        host == self.domain
            || host
                .strip_suffix(&self.domain)
                .is_some_and(|rest| rest.ends_with('.'))
    }
}

/// A hostname the user owns and wants the app served on: a name the edge
/// may route and ask a certificate for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Domain(String);

impl Domain {
    pub fn parse(field: &str, value: &str, apps: &AppsDomain) -> Result<Self, FieldError> {
        let refuse = |why: String| {
            FieldError::new(
                field,
                format!("{value:?} {why}; give a hostname you own, such as \"shop.example.com\""),
            )
        };
        if !value.is_ascii() {
            return Err(refuse(
                "is not ASCII; give an internationalised name in its punycode form (xn--…)".into(),
            ));
        }
        let host = value.to_ascii_lowercase();
        if host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok() {
            return Err(refuse("is an IP address, not a hostname".into()));
        }
        if host.contains('*') {
            return Err(refuse("is a wildcard; give one hostname".into()));
        }
        if host.len() > 253 {
            return Err(refuse(format!(
                "is {} characters long; a hostname has at most 253",
                host.len()
            )));
        }
        let labels: Vec<&str> = host.split('.').collect();
        if let Some(long) = labels.iter().find(|l| l.len() > 63) {
            return Err(refuse(format!(
                "has a label of {} characters ({}…); a label has at most 63",
                long.len(),
                &long[..16]
            )));
        }
        if !labels.iter().all(|l| is_dns_label(l)) {
            return Err(refuse(
                "is not a hostname: each dot-separated label takes letters, digits and '-', not at its ends".into(),
            ));
        }
        if labels.len() < 2
            || labels
                .last()
                .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(refuse("is not a fully qualified hostname".into()));
        }
        if host == "localhost" || host.ends_with(".localhost") {
            return Err(refuse("names this machine".into()));
        }
        if apps.covers(&host) {
            return Err(refuse(format!(
                "lies in the apps domain {}, whose names Slipway gives out itself",
                apps.domain
            )));
        }
        Ok(Self(host))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apps() -> AppsDomain {
        AppsDomain::parse("Apps.Example.com", "https", None).unwrap()
    }

    #[test]
    fn default_hostnames_fit_one_label_and_end_with_the_id() {
        let id = AppId::parse("01a23bd8-7071-71aa-8546-f716acb8b137").unwrap();
        assert_eq!(
            apps().hostname_for("api", &id),
            "api-b8b137.apps.example.com"
        );
        let long = format!("{}-x", "a".repeat(55));
        let host = apps().hostname_for(&long, &id);
        let label = host.split('.').next().unwrap();
        assert_eq!(label, format!("{}-b8b137", "a".repeat(55)));
        assert!(label.len() <= 63);
        let longest = "b".repeat(63);
        assert_eq!(
            apps()
                .hostname_for(&longest, &id)
                .split('.')
                .next()
                .unwrap()
                .len(),
            63
        );
    }

    #[test]
    fn urls_carry_the_scheme_and_a_port_only_when_given() {
        assert_eq!(
            apps().url("a.apps.example.com"),
            "https://a.apps.example.com"
        );
        let local = AppsDomain::parse("localhost", "http", Some(8088)).unwrap();
        assert_eq!(local.url("a-1.localhost"), "http://a-1.localhost:8088");
        assert!(AppsDomain::parse("localhost", "ftp", None).is_err());
        assert!(AppsDomain::parse("a..b", "https", None).is_err());
        let longest = format!(
            "{}.{}.{}.com",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(57)
        );
        assert_eq!(longest.len(), MAX_APPS_DOMAIN);
        let apps = AppsDomain::parse(&longest, "https", None).unwrap();
        let id = AppId::new();
        assert_eq!(apps.hostname_for(&"c".repeat(63), &id).len(), 253);
        assert!(AppsDomain::parse(&format!("x{longest}"), "https", None).is_err());
    }

    #[test]
    fn domains_are_lowercased_hostnames() {
        let d = Domain::parse("domain", "Shop.Example.TEST", &apps()).unwrap();
        assert_eq!(d.as_str(), "shop.example.test");
        assert_eq!(d.to_string(), "shop.example.test");
        let label63 = format!("{}.example.com", "a".repeat(63));
        assert!(Domain::parse("domain", &label63, &apps()).is_ok());
        let total253 = format!(
            "{}.{}.com",
            "a".repeat(63),
            vec!["a".repeat(61); 3].join(".")
        );
        assert_eq!(total253.len(), 253);
        assert!(Domain::parse("domain", &total253, &apps()).is_ok());
        assert!(Domain::parse("domain", "xn--bcher-kva.example", &apps()).is_ok());
        assert!(Domain::parse("domain", "example.com", &apps()).is_ok());
        assert!(Domain::parse("domain", "myapps.example.com", &apps()).is_ok());
    }

    #[test]
    fn domains_that_must_never_route_are_refused_naming_the_field() {
        let label64 = format!("{}.example.com", "a".repeat(64));
        let total254 = format!(
            "{}.{}.comm",
            "a".repeat(63),
            vec!["a".repeat(61); 3].join(".")
        );
        for (bad, why) in [
            ("10.0.0.1", "IP address"),
            ("169.254.169.254", "IP address"),
            ("[::1]", "IP address"),
            ("fd00:ec2::254", "IP address"),
            ("1.2.3.4.5", "fully qualified"),
            ("localhost", "fully qualified"),
            ("app.localhost", "this machine"),
            ("*.example.com", "wildcard"),
            ("apps.example.com", "apps domain"),
            ("x.apps.example.com", "apps domain"),
            ("APPS.example.com", "apps domain"),
            (label64.as_str(), "at most 63"),
            (total254.as_str(), "at most 253"),
            ("bücher.example", "punycode"),
            ("a_b.example.com", "label"),
            ("-a.example.com", "label"),
            ("a..example.com", "label"),
            ("example.com.", "label"),
            ("http://a.com", "label"),
            ("com", "fully qualified"),
        ] {
            let e = Domain::parse("domain", bad, &apps()).unwrap_err();
            assert_eq!(e.field, "domain", "{bad}");
            assert!(e.message.contains(why), "{bad}: {}", e.message);
        }
    }
}
