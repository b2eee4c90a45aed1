//! What tests build and send: a site served by busybox httpd, GitHub's
//! push payload and its signature.

use std::process::Stdio;

use crate::{env, json, Value};

/// A Dockerfile serving `www/` on 8080 with busybox httpd, after `steps`.
pub fn web_dockerfile(steps: &str) -> String {
    format!(
        "FROM {}\n{steps}\nCOPY www/ /www/\nEXPOSE 8080\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
        env("SLIPWAY_BASE_IMAGE")
    )
}

/// GitHub's `X-Hub-Signature-256` of `body`, computed by `openssl` the way
/// the README shows, independent of Slipway's own code.
pub fn github_signature(secret: &str, body: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", secret, "-r"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl runs");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    format!("sha256={}", text.split_whitespace().next().unwrap())
}

/// A `push` payload shaped like the one GitHub sends (integer timestamps on
/// the repository, ISO ones on commits), its one commit changing `changed`.
pub fn push_payload(repo_url: &str, git_ref: &str, after: &str, changed: &[&str]) -> Vec<u8> {
    let deleted = after.bytes().all(|b| b == b'0');
    let commit = json!({
        "id": after, "tree_id": "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "distinct": true,
        "message": "Change things", "timestamp": "2026-11-22T06:30:00+00:00",
        "url": format!("{repo_url}/commit/{after}"),
        "author": {"name": "Dev", "email": "dev@example.com", "username": "dev"},
        "committer": {"name": "Dev", "email": "dev@example.com", "username": "dev"},
        "added": [], "removed": [], "modified": changed,
    });
    json!({
        "ref": git_ref,
        "before": "9049f1265b7d61be4a8904a9a27120d2064dab3b",
        "after": after,
        "created": false, "deleted": deleted, "forced": false, "base_ref": null,
        "compare": format!("{repo_url}/compare/9049f1265b7d...{}", &after[..12]),
        "commits": if deleted { json!([]) } else { json!([commit]) },
        "head_commit": if deleted { Value::Null } else { commit },
        "repository": {
            "id": 186853002, "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=",
            "name": "app", "full_name": "acme/app", "private": false,
            "owner": {"name": "acme", "login": "acme", "id": 21031067, "type": "Organization"},
            "html_url": repo_url, "clone_url": repo_url, "default_branch": "main",
            "created_at": 1_557_933_565, "updated_at": "2026-11-22T06:29:58Z", "pushed_at": 1_795_000_000,
            "size": 0, "stargazers_count": 0, "fork": false, "archived": false,
        },
        "pusher": {"name": "dev", "email": "dev@example.com"},
        "sender": {"login": "dev", "id": 21031067, "type": "User", "site_admin": false},
    })
    .to_string()
    .into_bytes()
}

/// A site served by [`web_dockerfile`]: its files, `text` as the page.
pub fn site(text: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Dockerfile", web_dockerfile("")),
        ("www/index.html", text.to_owned()),
    ]
}

/// [`site`]'s files as [`GitServer::commit`] takes them.
pub fn files<'a>(list: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    list.iter().map(|(p, c)| (*p, c.as_str())).collect()
}

/// An archive of `kind` (`site.zip`, `site.tar.gz`, or one of the hostile
/// kinds) made by tests/fixtures/archives.py: `page` served by `dockerfile`,
/// `marker` the file a hostile one tries to write outside.
pub fn archive_with(kind: &str, marker: &str, page: &str, dockerfile: &str) -> Vec<u8> {
    let out = crate::temp_dir("archive").join("archive");
    let status = std::process::Command::new(env("SLIPWAY_PYTHON"))
        .arg(format!(
            "{}/tests/fixtures/archives.py",
            env("SLIPWAY_ROOT")
        ))
        .args([kind, out.to_str().unwrap(), marker])
        .env("DOCKERFILE", dockerfile)
        .env("PAGE", page)
        .status()
        .unwrap();
    assert!(status.success(), "archives.py {kind}");
    std::fs::read(out).unwrap()
}
