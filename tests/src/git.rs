//! Real Git over HTTP (`git http-backend` behind `infra/git_http.py`),
//! and commits made with the git CLI.

use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{env, sh, temp_dir};

/// Real Git over HTTP (`git http-backend`), optionally behind Basic auth.
pub struct GitServer {
    pub root: PathBuf,
    pub base: String,
    _child: Child,
}

impl GitServer {
    pub async fn start(token: Option<&str>) -> Self {
        Self::start_with(token, &[]).await
    }

    /// A server with more of `git_http.py`'s options, such as `--hold` or
    /// `--trickle`.
    pub async fn start_with(token: Option<&str>, options: &[&str]) -> Self {
        let root = temp_dir("git");
        let mut cmd = Command::new(env("SLIPWAY_PYTHON"));
        cmd.arg(PathBuf::from(env("SLIPWAY_ROOT")).join("infra/git_http.py"))
            .arg("--root")
            .arg(root.join("srv"))
            .args(options)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if let Some(token) = token {
            cmd.arg("--token").arg(token);
        }
        std::fs::create_dir_all(root.join("srv")).unwrap();
        let mut child = cmd.spawn().expect("git_http.py starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines
            .next_line()
            .await
            .unwrap()
            .expect("the git server prints its address");
        let base = first.strip_prefix("listening on ").unwrap().to_owned();
        Self {
            root,
            base,
            _child: child,
        }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("{}/{repo}.git", self.base)
    }

    /// Commits `files` (path, content; content `->target` makes a symlink)
    /// onto `main` of `repo`, creating it, pushes it and returns the commit.
    pub fn commit(&self, repo: &str, files: &[(&str, &str)]) -> String {
        let sha = self.commit_unpushed(repo, files);
        self.push(repo, &sha);
        sha
    }

    /// Commits in the working copy only; [`GitServer::push`] publishes it.
    pub fn commit_unpushed(&self, repo: &str, files: &[(&str, &str)]) -> String {
        let bare = self.bare(repo);
        let work = self.root.join("work").join(repo);
        if !bare.exists() {
            std::fs::create_dir_all(&work).unwrap();
            sh(
                &self.root,
                "git",
                &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
            );
            sh(&work, "git", &["init", "-q", "-b", "main"]);
        }
        for (path, content) in files {
            let file = work.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            let _ = std::fs::remove_file(&file);
            match content.strip_prefix("->") {
                Some(target) => std::os::unix::fs::symlink(target, &file).unwrap(),
                None => std::fs::write(&file, content).unwrap(),
            }
        }
        sh(&work, "git", &["add", "-A"]);
        sh(
            &work,
            "git",
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.com",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "change",
            ],
        );
        sh(&work, "git", &["rev-parse", "HEAD"]).trim().to_owned()
    }

    /// Moves `main` of the served repo to `sha`.
    pub fn push(&self, repo: &str, sha: &str) {
        self.push_branch(repo, sha, "main");
    }

    /// Moves (or creates) `branch` of the served repo at `sha`.
    pub fn push_branch(&self, repo: &str, sha: &str, branch: &str) {
        let work = self.root.join("work").join(repo);
        sh(
            &work,
            "git",
            &[
                "push",
                "-q",
                "-f",
                self.bare(repo).to_str().unwrap(),
                &format!("{sha}:refs/heads/{branch}"),
            ],
        );
    }

    fn bare(&self, repo: &str) -> PathBuf {
        self.root.join("srv").join(format!("{repo}.git"))
    }
}
