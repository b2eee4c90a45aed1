//! Identifiers and timestamps.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A time-ordered id (UUID v7): ids of one app's deployments sort by creation,
/// which is what "newer" means everywhere in Slipway.
fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Its order is the order of creation: UUID v7s in lowercase hex
        /// sort as their timestamps do, and one process never issues two
        /// in the wrong order.
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new id, later than every id this process made before.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(new_id())
            }

            /// `s` if it is an id this service could have issued; anything
            /// else names nothing (a 404 without a read).
            pub fn parse(s: &str) -> Option<Self> {
                is_id(s).then(|| Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        // Hash and Eq are those of the string, so maps keyed by the id
        // may be read with a `&str`.
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&$name> for String {
            fn from(id: &$name) -> String {
                id.0.clone()
            }
        }
    };
}

id_type!(
    /// An app's id.
    AppId
);
id_type!(
    /// A deployment's id.
    DeploymentId
);

/// Who an API token speaks for: every app and deployment belongs to one
/// owner, and one owner's token never reads or changes another's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Owner(String);

impl Owner {
    /// An owner named by an operator: the app name rules (a DNS label), so
    /// it can appear in keys and hostnames.
    pub fn parse(field: &str, value: &str) -> Result<Self, crate::fields::FieldError> {
        crate::fields::AppName::parse(field, value).map(|n| Self(n.as_str().to_owned()))
    }

    /// An owner as recorded by Slipway itself (a token's item, the
    /// authorizer's verdict).
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `s` is an id this service could have issued; anything else is a
/// 404 without a read.
fn is_id(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok_and(|u| u.get_version_num() == 7)
        && s.len() == 36
        && s == s.to_ascii_lowercase()
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random source is available");
    hex::encode(buf)
}

/// A random number below `n` (which must not be 0).
pub fn random_below(n: u64) -> u64 {
    let mut buf = [0u8; 8];
    getrandom::fill(&mut buf).expect("the OS random source is available");
    u64::from_le_bytes(buf) % n
}

/// Now as RFC 3339 in UTC with milliseconds.
pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

pub fn rfc3339(t: SystemTime) -> String {
    aws_smithy_types::DateTime::from(t)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .expect("times after 1970 format")
}

/// The time an [`rfc3339`] string names.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let t = aws_smithy_types::DateTime::from_str(s, aws_smithy_types::date_time::Format::DateTime)
        .ok()?;
    SystemTime::try_from(t).ok()
}

pub fn epoch_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_read_back() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_796_300_650_841);
        assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn ids_sort_by_creation() {
        let a = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id();
        assert!(a < b);
        assert!(is_id(&a));
        assert!(!is_id("../etc"));
        assert!(!is_id(&a.to_uppercase()));
    }

    #[test]
    fn deployment_ids_order_by_creation() {
        let made: Vec<DeploymentId> = (0..2000).map(|_| DeploymentId::new()).collect();
        assert!(
            made.windows(2).all(|w| w[0] < w[1]),
            "even ids made in the same millisecond keep their order"
        );
        let earlier = DeploymentId::parse("01a23b7e-4d9e-7593-846c-3ac83d15f31f").unwrap();
        let later_ms = DeploymentId::parse("01a23b7e-4d9f-7000-8000-000000000000").unwrap();
        let much_later = DeploymentId::parse("01a23c00-0000-7000-8000-000000000000").unwrap();
        assert!(earlier < later_ms && later_ms < much_later);
        assert!(
            earlier < made[0],
            "an id made now is newer than one from 2026"
        );
    }

    #[test]
    fn only_issued_ids_parse() {
        let id = AppId::new();
        assert_eq!(AppId::parse(&id).as_ref(), Some(&id));
        assert_eq!(AppId::parse("../etc"), None);
        assert_eq!(AppId::parse(&id.to_uppercase()), None);
        let v4 = "0d6f6ac2-3c2b-4b6f-8a7e-3c9d7b1e2f40";
        assert_eq!(AppId::parse(v4), None, "not a v7");
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            format!("\"{id}\""),
            "stored and shown as the bare string"
        );
    }

    #[test]
    fn an_operator_names_an_owner_by_the_app_name_rules() {
        assert_eq!(Owner::parse("owner", "acme").unwrap().as_str(), "acme");
        for bad in ["", "Acme", "a b", "../x", "-acme"] {
            let e = Owner::parse("owner", bad).unwrap_err();
            assert_eq!(e.field, "owner", "{bad:?}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let s = rfc3339(UNIX_EPOCH + std::time::Duration::from_millis(1500));
        assert_eq!(s, "1970-01-01T00:00:01.5Z");
    }
}
