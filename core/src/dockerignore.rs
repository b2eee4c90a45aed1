//! `.dockerignore`: which paths of a build context are left out, by the
//! rules Docker applies. Used by the runner for the context it sends the
//! engine and by the CLI for the archive it uploads.

use std::path::{Component, Path};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(".dockerignore line {line:?} is not a valid pattern: {reason}")]
pub struct BadPattern {
    pub line: String,
    pub reason: String,
}

/// `.dockerignore` rules as Docker applies them: a pattern matches a path or
/// any of its parents; the last matching rule wins; `!` re-includes.
pub struct IgnoreRules {
    rules: Vec<(glob::Pattern, bool)>,
}

impl IgnoreRules {
    pub fn parse(text: &str) -> Result<Self, BadPattern> {
        let mut rules = Vec::new();
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negated, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let cleaned = clean(pattern);
            if cleaned.is_empty() {
                continue;
            }
            let compiled = glob::Pattern::new(&cleaned).map_err(|e| BadPattern {
                line: raw.to_owned(),
                reason: e.to_string(),
            })?;
            rules.push((compiled, negated));
        }
        Ok(Self { rules })
    }

    pub fn excludes(&self, path: &str) -> bool {
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        let mut excluded = false;
        for (pattern, negated) in &self.rules {
            let hit = ancestors(path).any(|p| pattern.matches_with(p, options));
            if hit {
                excluded = !negated;
            }
        }
        excluded
    }
}

/// `a/b/c` → `a/b/c`, `a/b`, `a`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(path);
    std::iter::from_fn(move || {
        let current = next?;
        next = current.rfind('/').map(|i| &current[..i]);
        Some(current)
    })
}

/// Like Go's filepath.Clean, and no leading `/`.
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(pattern).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str().unwrap_or_default()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_follows_docker_rules() {
        let r = IgnoreRules::parse(
            "# comment\nnode_modules\n*.log\n!keep.log\n/secret/\ndocs/**/*.md\n",
        )
        .unwrap();
        assert!(r.excludes("node_modules"));
        assert!(r.excludes("node_modules/a/b.js"));
        assert!(r.excludes("debug.log"));
        assert!(!r.excludes("keep.log"));
        assert!(!r.excludes("sub/debug.log"), "* does not cross /");
        assert!(r.excludes("secret/key"));
        assert!(r.excludes("docs/a/b/c.md"));
        assert!(!r.excludes("src/main.rs"));
    }
}
