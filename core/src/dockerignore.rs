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
mod tests {
    use super::*;

    fn rules(text: &str) -> IgnoreRules {
        IgnoreRules::parse(text).unwrap()
    }

    #[test]
    fn go_clean_keeps_leading_parents_and_drops_the_rest() {
        for (path, cleaned) in [
            ("", "."),
            ("./a/b/", "a/b"),
            ("a//b/./c/..", "a/b"),
            ("../a", "../a"),
            ("a/../../b", "../b"),
            ("/../a", "/a"),
            ("/", "/"),
            ("..", ".."),
            ("../..", "../.."),
            ("a/../..", ".."),
        ] {
            assert_eq!(go_clean(path), cleaned, "{path}");
        }
    }

    /// moby/patternmatcher's TestMatches table (pattern, path, match).
    #[test]
    fn patternmatcher_test_vectors() {
        let cases: &[(&str, &str, bool)] = &[
            ("**", "file", true),
            ("**", "file/", true),
            ("**/", "file", true),
            ("**/", "file/", true),
            ("**", "/", true),
            ("**/", "/", true),
            ("**", "dir/file", true),
            ("**/", "dir/file", true),
            ("**", "dir/file/", true),
            ("**/", "dir/file/", true),
            ("**/**", "dir/file", true),
            ("**/**", "dir/file/", true),
            ("dir/**", "dir/file", true),
            ("dir/**", "dir/file/", true),
            ("dir/**", "dir/dir2/file", true),
            ("dir/**", "dir/dir2/file/", true),
            ("**/dir", "dir", true),
            ("**/dir", "dir/file", true),
            ("**/dir2/*", "dir/dir2/file", true),
            ("**/dir2/*", "dir/dir2/file/", true),
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**/dir2/**", "dir/dir2/dir3/file/", true),
            ("**file", "file", true),
            ("**file", "dir/file", true),
            ("**/file", "dir/file", true),
            ("**file", "dir/dir/file", true),
            ("**/file", "dir/dir/file", true),
            ("**/file*", "dir/dir/file", true),
            ("**/file*", "dir/dir/file.txt", true),
            ("**/file*txt", "dir/dir/file.txt", true),
            ("**/file*.txt", "dir/dir/file.txt", true),
            ("**/file*.txt*", "dir/dir/file.txt", true),
            ("**/**/*.txt", "dir/dir/file.txt", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("**/*.txt", "file.txt", true),
            ("**/**/*.txt", "file.txt", true),
            ("a**/*.txt", "a/file.txt", true),
            ("a**/*.txt", "a/dir/file.txt", true),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a/*.txt", "a/dir/file.txt", false),
            ("a/*.txt", "a/file.txt", true),
            ("a/*.txt**", "a/file.txt", true),
            ("a[b-d]e", "ae", false),
            ("a[b-d]e", "ace", true),
            ("a[b-d]e", "aae", false),
            ("a[^b-d]e", "aze", true),
            (".*", ".foo", true),
            (".*", "foo", false),
            ("abc.def", "abcdef", false),
            ("abc.def", "abc.def", true),
            ("abc.def", "abcZdef", false),
            ("abc?def", "abcZdef", true),
            ("abc?def", "abcdef", false),
            ("a\\\\", "a\\", true),
            ("**/foo/bar", "foo/bar", true),
            ("**/foo/bar", "dir/foo/bar", true),
            ("**/foo/bar", "dir/dir2/foo/bar", true),
            ("abc/**", "abc", false),
            ("abc/**", "abc/def", true),
            ("abc/**", "abc/def/ghi", true),
            ("**/.foo", ".foo", true),
            ("**/.foo", "bar.foo", false),
            ("a(b)c/def", "a(b)c/def", true),
            ("a(b)c/def", "a(b)c/xyz", false),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
            (
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            (
                "dist/*.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            ("a\\*b", "a*b", true),
        ];
        for (pattern, path, want) in cases {
            let r = IgnoreRules::parse(pattern).unwrap();
            assert_eq!(walked(&r, path), *want, "{pattern} on {path}");
        }
        let several: &[(&[&str], &str, bool)] = &[
            (&["**", "!util/docker/web"], "util/docker/web/foo", false),
            (
                &["**", "!util/docker/web", "util/docker/web/foo"],
                "util/docker/web/foo",
                true,
            ),
            (
                &["**", "!dist/*.whl"],
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                false,
            ),
        ];
        for (patterns, path, want) in several {
            let r = IgnoreRules::parse(&patterns.join("\n")).unwrap();
            assert_eq!(walked(&r, path), *want, "{patterns:?} on {path}");
        }
        // patternmatcher's Matches tests: a folder's exception, `.`.
        for (patterns, path, want) in [
            (&["*"][..], "fileutils.go", true),
            (&["!fileutils.go", "*.go"], "fileutils.go", true),
            (&["docs", "!docs/README.md"], "docs/README.md", false),
            (&["docs/", "!docs/README.md"], "docs/README.md", false),
            (&["docs/*", "!docs/README.md"], "docs/README.md", false),
            (&["*.go", "!fileutils.go"], "fileutils.go", false),
            (&["*.go"], ".", false),
        ] {
            let r = IgnoreRules::parse(&patterns.join("\n")).unwrap();
            assert_eq!(r.matches(path), want, "{patterns:?} on {path}");
        }
    }

    /// What the walk decides for `path`: its folders' results handed down
    /// as patternmatcher's own test does (the path taken as written).
    fn walked(r: &IgnoreRules, path: &str) -> bool {
        let parent = match path.rfind('/') {
            Some(i) => go_clean(&path[..i]),
            None => ".".into(),
        };
        let mut inherited: Option<Inherited> = None;
        if parent != "." {
            let parts: Vec<&str> = parent.split('/').collect();
            for i in 1..=parts.len() {
                inherited = Some(r.matches_under(&parts[..i].join("/"), inherited.as_ref()).1);
            }
        }
        r.matches_under(path, inherited.as_ref()).0
    }

    #[test]
    fn each_pattern_is_compared_the_way_patternmatcher_compiles_it() {
        for (pattern, kind) in [
            ("*", "regex"),
            ("**", "suffix"),
            ("**/**", "regex"),
            ("dir/**", "prefix"),
            ("**/dir", "suffix"),
            ("**/dir2/*", "regex"),
            ("**file", "suffix"),
            ("a[b-d]e", "regex"),
            ("abc.def", "exact"),
            ("**/foo/bar", "suffix"),
            ("a(b)c/def", "exact"),
            ("a\\*b", "regex"),
        ] {
            let found = match compile(pattern).unwrap() {
                Kind::Exact => "exact",
                Kind::Prefix(_) => "prefix",
                Kind::Suffix(_) => "suffix",
                Kind::Regex(_) => "regex",
            };
            assert_eq!(found, kind, "{pattern}");
        }
    }

    /// The cases patternmatcher refuses, and the ones it takes.
    #[test]
    fn malformed_patterns_are_refused_naming_the_line() {
        for bad in ["[", "a[", "[]", "[^]", "[a-]", "[-a]", "a\\", "[a", "!"] {
            let e = IgnoreRules::parse(&format!("ok\n{bad}\n")).unwrap_err();
            assert_eq!(e.line, bad);
        }
        for good in ["[a-c]", "[\\]]", "**.tmp", "\\*", "[^b]"] {
            assert!(IgnoreRules::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn the_syntax_check_says_what_is_wrong() {
        for (pattern, want) in [
            ("a[b-d]e", Ok(())),
            ("[^b]", Ok(())),
            ("[\\]]", Ok(())),
            ("[\\[]", Ok(())),
            ("[a-c][x]", Ok(())),
            ("a]b", Ok(())),
            ("\\*", Ok(())),
            ("a\\", Err(LONE_ESCAPE)),
            ("[^]", Err(MALFORMED_CLASS)),
            ("[]a]", Err(MALFORMED_CLASS)),
            ("[-a]", Err(MALFORMED_CLASS)),
            ("[a-]", Err(MALFORMED_CLASS)),
            ("[\\", Err(MALFORMED_CLASS)),
            ("[", Err(MALFORMED_CLASS)),
            ("[\\]", Err(OPEN_CLASS)),
            ("[a", Err(OPEN_CLASS)),
            ("[a-b", Err(OPEN_CLASS)),
            ("[ab", Err(OPEN_CLASS)),
        ] {
            assert_eq!(check_syntax(pattern), want, "{pattern}");
        }
    }

    #[test]
    fn the_file_is_read_as_ignorefile_reads_it() {
        let r = rules(
            "\u{feff}*.log\n  # not a comment here\n# a comment\n!  keep.log\n/abs/\n../up\n",
        );
        assert!(r.matches("a.log"), "the BOM is dropped");
        assert!(!r.matches("keep.log"), "spaces after ! are trimmed");
        assert!(r.matches("# not a comment here"));
        assert!(!r.matches("# a comment"));
        assert!(r.matches("abs/x"), "a leading / is dropped");
        assert!(
            !r.matches("up"),
            "a leading ../ stays and matches nothing inside"
        );
    }

    #[test]
    fn escapes_classes_and_double_stars_follow_docker() {
        let r = rules("\\*\n[^b]at\n**.tmp\n");
        assert!(r.matches("*"));
        assert!(!r.matches("x"), "\\* is a literal star");
        assert!(r.matches("cat"));
        assert!(!r.matches("bat"), "^ negates a class");
        assert!(r.matches("a.tmp") && r.matches("deep/down/b.tmp"));
    }

    #[test]
    fn the_last_matching_rule_wins_and_parents_count() {
        let r = rules("node_modules\n*.log\n!keep.log\n");
        assert!(r.matches("node_modules/a/b.js"));
        assert!(r.matches("debug.log"));
        assert!(!r.matches("keep.log"));
        assert!(!r.matches("sub/debug.log"), "* does not cross /");
    }

    #[test]
    fn kept_files_get_an_exception_only_when_excluded() {
        let r = rules("docker\n*.md\n").keeping(&["docker/Dockerfile", ".dockerignore"]);
        assert!(!r.matches("docker/Dockerfile"));
        assert!(r.matches("docker/other"));
        assert_eq!(r.patterns.len(), 3, "no exception for .dockerignore");
    }

    fn tree(files: &[&str]) -> std::path::PathBuf {
        let root = std::env::temp_dir().join(format!(
            "dockerignore-{}-{}",
            std::process::id(),
            crate::ids::random_hex(4)
        ));
        for f in files {
            let path = root.join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        root
    }

    fn sent(root: &Path, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        walk::<std::io::Error>(root, &rules(text), |e| {
            if !e.meta.is_dir() {
                out.push(e.rel.to_owned());
            }
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn exceptions_under_excluded_folders_are_sent() {
        let root = tree(&[
            "node_modules/keep",
            "node_modules/drop",
            "src/app/main.js",
            "src/other.js",
            "README.md",
            ".git/config",
        ]);
        assert_eq!(
            sent(&root, "node_modules\n!node_modules/keep\n"),
            [
                "README.md",
                "node_modules/keep",
                "src/app/main.js",
                "src/other.js"
            ]
        );
        assert_eq!(sent(&root, "*\n!src/app\n"), ["src/app/main.js"]);
        // An exception by wildcard does not open the folder: Docker's quirk.
        assert_eq!(
            sent(&root, "node_modules\n!**/keep\n"),
            ["README.md", "src/app/main.js", "src/other.js"]
        );
        std::fs::remove_dir_all(root).unwrap();
    }
}
