//! `.dockerignore` exactly as Docker reads and applies it, and the walk of a
//! build context that the Docker CLI makes with it. Used by the runner for
//! the context it sends the engine and by the CLI for the archive it
//! uploads, so both send what `docker build` would.
//!
//! The reference is moby's code: `ignorefile.ReadAll` (a UTF-8 BOM dropped,
//! `#` comments only at the start of a line, each pattern cleaned as Go's
//! `filepath.Clean` does and a leading `/` dropped), `patternmatcher` (Go's
//! `filepath.Match` syntax plus `**`; a path matches when it or one of its
//! parents does; the last matching rule wins; `!` re-includes), the CLI's
//! `TrimBuildFilesFromExcludes` (the Dockerfile and `.dockerignore` are
//! always sent; the engine drops them after reading them when they are
//! excluded) and go-archive's walk (an excluded folder is still entered
//! when an exception's text starts with it, though the folder entry itself
//! is not sent).

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(".dockerignore line {line:?} is not a valid pattern: {reason}")]
pub struct BadPattern {
    pub line: String,
    pub reason: String,
}

/// How a pattern is compared, as patternmatcher decides from its text.
#[derive(Debug, Clone)]
enum Kind {
    Exact,
    /// `foo/**`: everything under `foo/`.
    Prefix(String),
    /// `**/foo`: any path ending so, or `foo` itself.
    Suffix(String),
    Regex(regex_lite::Regex),
}

#[derive(Debug, Clone)]
struct Pattern {
    cleaned: String,
    /// How many `/`-separated parts the pattern has.
    parts: usize,
    exclusion: bool,
    kind: Kind,
}

impl Pattern {
    fn new(line: &str, text: &str) -> Result<Self, BadPattern> {
        let bad = |reason: &str| BadPattern {
            line: line.to_owned(),
            reason: reason.to_owned(),
        };
        let cleaned = go_clean(text.trim());
        let (exclusion, cleaned) = match cleaned.strip_prefix('!') {
            Some("") => return Err(bad("a lone \"!\" excludes nothing")),
            Some(rest) => (true, rest.to_owned()),
            None => (false, cleaned),
        };
        check_syntax(&cleaned).map_err(bad)?;
        let kind = compile(&cleaned).map_err(|e| bad(&e))?;
        Ok(Self {
            parts: cleaned.split('/').count(),
            cleaned,
            exclusion,
            kind,
        })
    }

    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.cleaned,
            Kind::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Kind::Suffix(suffix) => {
                path.ends_with(suffix.as_str())
                    || suffix.strip_prefix('/').is_some_and(|bare| path == bare)
            }
            Kind::Regex(re) => re.is_match(path),
        }
    }
}

/// patternmatcher's `compile`: a pattern becomes an exact, prefix or suffix
/// comparison when it can, a regular expression otherwise.
fn compile(pattern: &str) -> Result<Kind, String> {
    #[derive(PartialEq)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut detected = Detected::Exact;
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut at = 0;
    while at < chars.len() {
        let start = at;
        let ch = chars[at];
        at += 1;
        match ch {
            '*' if chars.get(at) == Some(&'*') => {
                at += 1;
                if chars.get(at) == Some(&'/') {
                    at += 1;
                }
                if at == chars.len() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        re.push_str(".*");
                        detected = Detected::Regex;
                    }
                } else {
                    re.push_str("(.*/)?");
                    detected = Detected::Regex;
                }
                if start == 0 {
                    detected = Detected::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                detected = Detected::Regex;
            }
            '?' => {
                re.push_str("[^/]");
                detected = Detected::Regex;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                re.push('\\');
                re.push(ch);
            }
            '\\' => match chars.get(at) {
                Some(next) => {
                    at += 1;
                    // Go's regexp takes `\` before any punctuation as the
                    // character itself; the regex here only before its own
                    // metacharacters, so punctuation is escaped its way.
                    if next.is_ascii_alphanumeric() {
                        re.push('\\');
                        re.push(*next);
                    } else {
                        re.push_str(&regex_lite::escape(&next.to_string()));
                    }
                    detected = Detected::Regex;
                }
                None => re.push_str("\\\\"),
            },
            '[' | ']' => {
                re.push(ch);
                detected = Detected::Regex;
            }
            // As Go writes it: `^` and `-` keep their meaning in a class.
            _ => re.push(ch),
        }
    }
    Ok(match detected {
        Detected::Exact => Kind::Exact,
        Detected::Prefix => Kind::Prefix(pattern[..pattern.len() - 2].to_owned()),
        Detected::Suffix => Kind::Suffix(pattern[2..].to_owned()),
        Detected::Regex => {
            re.push('$');
            Kind::Regex(regex_lite::Regex::new(&re).map_err(|e| e.to_string())?)
        }
    })
}

/// The syntax Go's `filepath.Match` accepts (patternmatcher refuses any
/// other): a `\` must escape something, and a `[...]` class must close,
/// be non-empty and hold no bare `-` or `]` where a character is due.
fn check_syntax(pattern: &str) -> Result<(), &'static str> {
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.next().is_none() => return Err(LONE_ESCAPE),
            '[' => {
                chars.next_if_eq(&'^');
                let mut ranges = 0;
                loop {
                    if ranges > 0 && chars.next_if_eq(&']').is_some() {
                        break;
                    }
                    class_char(&mut chars)?;
                    if chars.next_if_eq(&'-').is_some() {
                        class_char(&mut chars)?;
                    }
                    ranges += 1;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

const LONE_ESCAPE: &str = "it ends with a lone \\";
const MALFORMED_CLASS: &str = "a character class is malformed";
const OPEN_CLASS: &str = "a character class is not closed";

/// One character of a class (`\` escaping the next), which more must follow.
fn class_char(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<(), &'static str> {
    match chars.next() {
        None | Some('-') | Some(']') => return Err(MALFORMED_CLASS),
        Some('\\') if chars.next().is_none() => return Err(MALFORMED_CLASS),
        Some(_) => {}
    }
    match chars.peek() {
        None => Err(OPEN_CLASS),
        Some(_) => Ok(()),
    }
}

/// Go's `filepath.Clean` for `/`-separated paths.
fn go_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// `.dockerignore` rules, in order.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    patterns: Vec<Pattern>,
}

/// Which patterns matched a folder, handed to what it holds.
#[derive(Debug, Clone, Default)]
struct Inherited(Vec<bool>);

impl IgnoreRules {
    /// Reads a `.dockerignore` as `ignorefile.ReadAll` and
    /// `patternmatcher.New` do.
    pub fn parse(text: &str) -> Result<Self, BadPattern> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for raw in text.lines() {
            if raw.starts_with('#') {
                continue;
            }
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let (invert, rest) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let mut pattern = if rest.is_empty() {
                String::new()
            } else {
                go_clean(rest)
            };
            // A leading `/` goes; a lone `/` stays (and matches nothing).
            if let Some(relative) = pattern.strip_prefix('/').filter(|r| !r.is_empty()) {
                pattern = relative.to_owned();
            }
            if invert {
                pattern.insert(0, '!');
            }
            if pattern.trim().is_empty() {
                continue;
            }
            patterns.push(Pattern::new(raw, &pattern)?);
        }
        Ok(Self { patterns })
    }

    /// The rules with `files` (the Dockerfile, `.dockerignore`) sent
    /// whatever they say, as the Docker CLI adds an exception for each one
    /// they exclude.
    pub fn keeping(mut self, files: &[&str]) -> Self {
        for file in files {
            if self.matches(file) {
                let exception =
                    Pattern::new(file, &format!("!{file}")).expect("a path is a valid exception");
                self.patterns.push(exception);
            }
        }
        self
    }

    /// patternmatcher's `Matches`: whether `path` is excluded, a parent
    /// folder matching with as many parts as the pattern has.
    pub fn matches(&self, path: &str) -> bool {
        let path = go_clean(path);
        if path == "." {
            return false;
        }
        let parent: Vec<&str> = match path.rfind('/') {
            Some(i) => path[..i].split('/').collect(),
            None => Vec::new(),
        };
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let mut hit = p.matches(&path);
            if !hit && !parent.is_empty() && p.parts <= parent.len() {
                hit = p.matches(&parent[..p.parts].join("/"));
            }
            if hit {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// patternmatcher's `MatchesUsingParentResults`: whether `path` is
    /// excluded, knowing which patterns matched its folder.
    fn matches_under(&self, path: &str, parent: Option<&Inherited>) -> (bool, Inherited) {
        let mut matched = false;
        let mut hits = vec![false; self.patterns.len()];
        for (i, p) in self.patterns.iter().enumerate() {
            let mut hit = parent.is_some_and(|inherited| inherited.0[i]);
            if !hit {
                if p.exclusion != matched {
                    continue;
                }
                hit = p.matches(path);
                if !hit && parent.is_none() {
                    hit = path
                        .match_indices('/')
                        .any(|(at, _)| p.matches(&path[..at]));
                }
            }
            hits[i] = hit;
            if hit {
                matched = !p.exclusion;
            }
        }
        (matched, Inherited(hits))
    }

    /// Whether an excluded folder must still be entered: an exception's
    /// text starts with it.
    fn may_hold_exceptions(&self, dir: &str) -> bool {
        let dir = format!("{dir}/");
        self.patterns
            .iter()
            .any(|p| p.exclusion && format!("{}/", p.cleaned).starts_with(&dir))
    }
}

/// One entry of a context walk.
pub struct Entry<'a> {
    /// Relative to the walk's root, `/`-separated.
    pub rel: &'a str,
    pub path: &'a Path,
    pub meta: &'a std::fs::Metadata,
}

/// Walks `root` as the Docker CLI walks a build context: names in byte
/// order, a folder before what it holds, symlinks not followed, whatever
/// `rules` exclude left out. `.git` at the root is always left out (it may
/// hold a repository's credentials). Calls `visit` for each entry sent.
pub fn walk<E: From<std::io::Error>>(
    root: &Path,
    rules: &IgnoreRules,
    mut visit: impl FnMut(Entry<'_>) -> Result<(), E>,
) -> Result<(), E> {
    walk_folder(root, "", None, rules, &mut visit)
}

fn walk_folder<E: From<std::io::Error>>(
    dir: &Path,
    prefix: &str,
    inherited: Option<&Inherited>,
    rules: &IgnoreRules,
    visit: &mut impl FnMut(Entry<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let mut names: Vec<_> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        let name = name.to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        if rel == ".git" {
            continue;
        }
        let path = dir.join(&name);
        let meta = path.symlink_metadata()?;
        let (excluded, hits) = rules.matches_under(&rel, inherited);
        if excluded && !(meta.is_dir() && rules.may_hold_exceptions(&rel)) {
            continue;
        }
        if !excluded {
            visit(Entry {
                rel: &rel,
                path: &path,
                meta: &meta,
            })?;
        }
        if meta.is_dir() {
            walk_folder(&path, &format!("{rel}/"), Some(&hits), rules, visit)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
