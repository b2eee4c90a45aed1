//! The build context is what `docker build` would send: for each tree of a
//! table of `.dockerignore` cases, the files a Slipway build sees equal the
//! files the Docker CLI's own build sees on the same engine (the test runs
//! both, a `COPY . /ctx` listing them). Through a Git repo and through
//! `slipway up`. And a repository with a submodule fails saying so.

use std::path::Path;

use slipway_e2e::*;

struct Case {
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
    dockerignore: Option<&'static str>,
    /// Relative to the tree's root, as the app's settings give them.
    dockerfile: &'static str,
    context: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "exception-under-excluded",
        files: &[
            ("node_modules/keep", "k"),
            ("node_modules/drop", "d"),
            ("node_modules/deep/keep", "k"),
            ("main.js", "m"),
        ],
        dockerignore: Some("node_modules\n!node_modules/keep\n"),
        dockerfile: "Dockerfile",
        context: ".",
    },
    Case {
        name: "allow-list",
        files: &[
            ("src/app/main.js", "m"),
            ("src/other.js", "o"),
            ("README.md", "r"),
        ],
        dockerignore: Some("*\n!src/app\n"),
        dockerfile: "Dockerfile",
        context: ".",
    },
    Case {
        name: "wildcard-exception-quirk",
        files: &[("node_modules/keep", "k"), ("lib/keep", "k"), ("a", "a")],
        dockerignore: Some("node_modules\n!**/keep\n"),
        dockerfile: "Dockerfile",
        context: ".",
    },
    Case {
        name: "syntax",
        files: &[
            ("a.tmp", "t"),
            ("deep/down/b.tmp", "t"),
            ("cat", "c"),
            ("bat", "b"),
            ("*", "star"),
            ("x", "x"),
            ("dir/dir2/file", "f"),
            ("dir/dir3/file", "f"),
            ("ace", "a"),
            ("aze", "a"),
        ],
        dockerignore: Some("**.tmp\n[^b]at\n\\*\n**/dir2/*\na[b-d]e\n"),
        dockerfile: "Dockerfile",
        context: ".",
    },
    Case {
        name: "file-format",
        files: &[
            ("debug.log", "l"),
            ("keep.txt", "k"),
            ("# spaced", "s"),
            ("abs/x", "x"),
            ("notes.md", "n"),
        ],
        dockerignore: Some(
            "\u{feff}*.log\n  # spaced\n# a comment\n/abs/\n../keep.txt\n!  notes.md\n",
        ),
        dockerfile: "Dockerfile",
        context: ".",
    },
    Case {
        name: "dockerfile-in-ignored-folder",
        files: &[("docker/entry.sh", "e"), ("app.js", "a")],
        dockerignore: Some("docker\n.dockerignore\n"),
        dockerfile: "docker/Dockerfile",
        context: ".",
    },
    Case {
        name: "dockerfile-outside-context",
        files: &[
            ("app/main.js", "m"),
            ("app/secret.txt", "s"),
            ("other.txt", "o"),
        ],
        dockerignore: None,
        dockerfile: "Dockerfile",
        context: "app",
    },
    Case {
        name: "no-dockerignore",
        files: &[("a/b/c", "c"), ("d", "d")],
        dockerignore: None,
        dockerfile: "Dockerfile",
        context: ".",
    },
];

/// Lists the context the engine received, then serves it.
fn listing_dockerfile() -> String {
    format!(
        "FROM {}\nCOPY . /ctx\nRUN echo BEGIN && cd /ctx && find . -mindepth 1 | sort && echo END\n\
         CMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/ctx\"]\n",
        env("SLIPWAY_BASE_IMAGE")
    )
}

/// The case's files, its Dockerfile and `.dockerignore` (in the context).
fn files_of(case: &Case, dockerfile: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = case
        .files
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect();
    files.push((case.dockerfile.to_owned(), dockerfile.to_owned()));
    if let Some(ignore) = case.dockerignore {
        let at = match case.context {
            "." => ".dockerignore".to_owned(),
            dir => format!("{dir}/.dockerignore"),
        };
        files.push((at, ignore.to_owned()));
    }
    files
}

/// The lines between `BEGIN` and `END` of a build's output.
fn listed(output: &str) -> Vec<String> {
    let lines: Vec<&str> = output.lines().map(str::trim).collect();
    let begin = lines.iter().rposition(|l| *l == "BEGIN").expect("BEGIN");
    let end = lines.iter().rposition(|l| *l == "END").expect("END");
    lines[begin + 1..end]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

/// What the Docker CLI's classic build sends for the tree at `root`.
fn docker_sees(root: &Path, case: &Case) -> Vec<String> {
    let tag = format!("slipway-e2e-context:{}", case.name);
    let out = std::process::Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "--no-cache", "-t", &tag, "-f"])
        .arg(root.join(case.dockerfile))
        .arg(root.join(case.context))
        .output()
        .expect("docker runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "docker build of {}: {text}{}",
        case.name,
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &tag])
        .output();
    listed(&text)
}

fn write_tree(root: &Path, files: &[(String, String)]) {
    for (path, content) in files {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }
}

#[tokio::test]
async fn a_git_apps_context_is_what_docker_build_sends() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let _runner = Runner::start(&api.res, &[("SLIPWAY_SLOTS", "2")]);
    let dockerfile = listing_dockerfile();
    let mut deployments = Vec::new();
    for case in CASES {
        let files = files_of(case, &dockerfile);
        let borrowed: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        git.commit(case.name, &borrowed);
        let (_, dep) = api
            .deploy(json!({
                "name": case.name,
                "repo": git.url(case.name),
                "port": 8080,
                "dockerfile": case.dockerfile,
                "context": case.context,
            }))
            .await;
        deployments.push(dep);
    }
    for (case, dep) in CASES.iter().zip(&deployments) {
        let d = api.settle(dep).await;
        assert_eq!(d.status, DeploymentStatus::Running, "{}: {d:?}", case.name);
        let slipway = listed(&api.logs(dep).await);
        let root = temp_dir(&format!("context-{}", case.name));
        write_tree(&root, &files_of(case, &dockerfile));
        let docker = docker_sees(&root, case);
        assert_eq!(slipway, docker, "{}: Slipway's context differs", case.name);
    }
}

#[tokio::test]
async fn slipway_up_sends_what_docker_build_sends() {
    let api = Api::start().await;
    let _runner = Runner::start(&api.res, &[]);
    let dockerfile = listing_dockerfile();
    for case in CASES.iter().filter(|c| c.context == ".").take(3) {
        let dir = temp_dir(&format!("context-up-{}", case.name));
        write_tree(&dir, &files_of(case, &dockerfile));
        let out = api
            .cli(
                &dir,
                &[
                    "up",
                    ".",
                    "--app",
                    case.name,
                    "--create",
                    "--port",
                    "8080",
                    "--dockerfile",
                    case.dockerfile,
                ],
            )
            .await;
        assert!(
            out.status.success(),
            "{}: {}{}",
            case.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let apps: AppList = api.expect(200, "GET", "/apps", None).await;
        let app = apps.apps.into_iter().find(|a| a.name == case.name).unwrap();
        let dep = app.latest_deployment_id.unwrap();
        let slipway = listed(&api.logs(&dep).await);
        let docker = docker_sees(&dir, case);
        assert_eq!(
            slipway, docker,
            "{}: slipway up's context differs",
            case.name
        );
    }
}

#[tokio::test]
async fn a_repository_with_a_submodule_fails_naming_it() {
    let api = Api::start().await;
    let git = GitServer::start(None).await;
    let _runner = Runner::start(&api.res, &[]);
    git.commit("library", &[("lib.txt", "shared")]);
    git.commit("with-sub", &files(&site("main")));
    let work = git.root.join("work/with-sub");
    let library = git.root.join("srv/library.git");
    assert!(library.exists(), "{}", library.display());
    sh(
        &work,
        "git",
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            library.to_str().unwrap(),
            "vendor/library",
        ],
    );
    sh(&work, "git", &["commit", "-q", "-m", "add a submodule"]);
    let sha = sh(&work, "git", &["rev-parse", "HEAD"]);
    git.push("with-sub", sha.trim());

    let (_, dep) = api
        .deploy(json!({"name": "with-sub", "repo": git.url("with-sub"), "port": 8080}))
        .await;
    let d = api.settle(&dep).await;
    assert_eq!(d.status, DeploymentStatus::Failed, "{d:?}");
    assert_eq!(d.attempt, 1, "not retried: {d:?}");
    let error = d.error.as_deref().unwrap();
    assert!(
        error.contains("submodules") && error.contains("vendor/library"),
        "{error}"
    );
}
