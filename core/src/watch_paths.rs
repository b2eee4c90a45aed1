//! `watchPaths`: the globs a push must touch to redeploy an app (a monorepo
//! service that should not rebuild when only the docs change).

use glob::{MatchOptions, Pattern};
use serde::{Deserialize, Serialize};

use crate::fields::FieldError;

pub const MAX_WATCH_PATHS: usize = 50;
const MAX_PATTERN_BYTES: usize = 256;

/// `*` stays inside one directory, `**` crosses them, as in `.gitignore`.
const OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// Globs over repository paths. Empty means every push deploys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WatchPaths(Vec<String>);

impl WatchPaths {
    pub fn parse(field: &str, value: &serde_json::Value) -> Result<Self, FieldError> {
        let items = value.as_array().ok_or_else(|| {
            FieldError::new(
                field,
                "must be an array of globs such as [\"services/api/**\"]",
            )
        })?;
        if items.len() > MAX_WATCH_PATHS {
            return Err(FieldError::new(
                field,
                format!(
                    "has {} globs; at most {MAX_WATCH_PATHS} are allowed",
                    items.len()
                ),
            ));
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = format!("{field}[{i}]");
            let glob = item
                .as_str()
                .ok_or_else(|| FieldError::new(&at, "must be a string"))?;
            let bad = |why: String| {
                FieldError::new(
                    &at,
                    format!("{glob:?} {why}; give a glob of repository paths such as \"services/api/**\""),
                )
            };
            if glob.is_empty() || glob.len() > MAX_PATTERN_BYTES {
                return Err(bad(format!("must be 1 to {MAX_PATTERN_BYTES} bytes")));
            }
            if glob.starts_with('/') || glob.split('/').any(|p| p == "..") {
                return Err(bad("must be relative to the repository root".into()));
            }
            if glob.chars().any(char::is_control) || glob.contains('\\') {
                return Err(bad("contains a control character or a backslash".into()));
            }
            Pattern::new(glob).map_err(|e| bad(format!("is not a valid glob ({})", e.msg)))?;
            out.push(glob.trim_end_matches('/').to_owned());
        }
        Ok(Self(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn globs(&self) -> &[String] {
        &self.0
    }

    /// Whether a changed file is watched: it matches a glob, or lies inside
    /// a directory a glob names (`services/api` watches `services/api/x`).
    pub fn matches(&self, path: &str) -> bool {
        self.0.iter().any(|glob| {
            Pattern::new(glob).is_ok_and(|p| {
                p.matches_with(path, OPTIONS)
                    || path
                        .match_indices('/')
                        .any(|(i, _)| p.matches_with(&path[..i], OPTIONS))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(v: serde_json::Value) -> WatchPaths {
        WatchPaths::parse("watchPaths", &v).unwrap()
    }

    #[test]
    fn globs_match_like_gitignore() {
        let w = paths(json!(["services/api/**", "*.toml", "libs/shared"]));
        assert!(w.matches("services/api/x"));
        assert!(w.matches("services/api/src/deep/main.rs"));
        assert!(!w.matches("services/apix/y"));
        assert!(!w.matches("docs/readme.md"));
        assert!(w.matches("Cargo.toml"));
        assert!(
            !w.matches("crates/a/Cargo.toml"),
            "* stays in one directory"
        );
        assert!(
            w.matches("libs/shared/util.rs"),
            "a directory watches its files"
        );
        assert!(!w.matches("libs/sharedx.rs"));
    }

    #[test]
    fn bad_globs_are_named() {
        for (v, field) in [
            (json!("services/**"), "watchPaths"),
            (json!([1]), "watchPaths[0]"),
            (json!(["ok/**", "/abs"]), "watchPaths[1]"),
            (json!(["../up"]), "watchPaths[0]"),
            (json!(["a/[b"]), "watchPaths[0]"),
            (json!([""]), "watchPaths[0]"),
        ] {
            let e = WatchPaths::parse("watchPaths", &v).unwrap_err();
            assert_eq!(e.field, field, "{v}");
        }
        let many: Vec<String> = (0..=MAX_WATCH_PATHS).map(|i| format!("d{i}/**")).collect();
        assert!(WatchPaths::parse("watchPaths", &json!(many)).is_err());
        assert!(
            WatchPaths::parse("watchPaths", &json!(many[1..])).is_ok(),
            "{MAX_WATCH_PATHS} may be given"
        );
        let longest = "a".repeat(MAX_PATTERN_BYTES);
        assert!(WatchPaths::parse("watchPaths", &json!([longest])).is_ok());
        assert!(WatchPaths::parse("watchPaths", &json!([format!("{longest}b")])).is_err());
        for odd in ["a\u{7}b", "a\\b"] {
            let e = WatchPaths::parse("watchPaths", &json!([odd])).unwrap_err();
            assert!(
                e.message.contains("control character or a backslash"),
                "{odd:?}: {e:?}"
            );
        }
    }
}
