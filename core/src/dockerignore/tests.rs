//! The rules checked against moby's own test vectors and walks of real trees.

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
    let r =
        rules("\u{feff}*.log\n  # not a comment here\n# a comment\n!  keep.log\n/abs/\n../up\n");
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
