//! Source phase: a shallow clone of one branch with gix. The repo token is
//! handed to gix through a credentials callback, so it lives in memory only:
//! never in the URL, `.git/config`, a log line or the build context.

use std::any::Any;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use gix::bstr::ByteSlice;
use gix::credentials::helper::Action;
use gix::credentials::protocol::Outcome;
use gix::remote::Direction;
use gix::sec::identity::Account;
use gix_transport::client::blocking_io::http::{self, reqwest};
use serde::{Deserialize, Serialize};
use slipway_core::error_chain::Chain;

/// GitHub accepts any user name with a token as password; so do most hosts.
const TOKEN_USER: &str = "x-access-token";

#[derive(Debug, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CloneError {
    #[error("could not clone {repo} (branch {branch:?}): {reason}")]
    Failed {
        repo: String,
        branch: String,
        reason: String,
    },
    #[error("the repository's server sent nothing for {secs} s, the longest a clone waits; deploy again once it answers")]
    Stalled { secs: u64 },
    #[error("the repository holds a file too large to clone within the {max} bytes of memory a clone may use; keep large files out of Git (GitHub refuses files over 100 MB) or upload an archive instead")]
    OutOfMemory { max: u64 },
    /// Ours: the clone process could not be run or died.
    #[error("the clone failed on the build host: {0}")]
    Crashed(String),
    #[error("the clone was interrupted")]
    Interrupted,
    #[error("the repository is larger than {max} bytes, the most this Slipway clones; make it smaller (large files belong outside Git) or upload an archive instead")]
    TooLarge { max: u64 },
}

/// How often the clone's size on disk is looked at while it is received.
const SIZE_POLL: Duration = Duration::from_millis(50);

/// Bytes of the files under `dir`, however deep (what cannot be read
/// counts nothing: it is being written or removed).
fn size_on_disk(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => size_on_disk(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// Stops the clone into `dir` when `interrupt` is set or once what it
/// received passes `max` bytes (then `too_large` is set). Ends as soon as
/// `received` says so, or its sender is gone.
fn watch_size(
    dir: &Path,
    max: u64,
    interrupt: &AtomicBool,
    stop: &AtomicBool,
    too_large: &AtomicBool,
    received: &mpsc::Receiver<()>,
) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = received.recv_timeout(SIZE_POLL) {
        if interrupt.load(Ordering::Relaxed) {
            stop.store(true, Ordering::Relaxed);
        } else if size_on_disk(dir) > max {
            too_large.store(true, Ordering::Relaxed);
            stop.store(true, Ordering::Relaxed);
            return;
        }
    }
}

/// Clones `branch` of `repo` into `dir` (which must not exist) and returns
/// the commit checked out. What is received may be at most `max_bytes`:
/// past it the clone stops and `dir` is removed.
pub fn shallow_clone(
    repo: &str,
    branch: &str,
    token: Option<&str>,
    dir: &Path,
    max_bytes: u64,
    stall: Duration,
    interrupt: Arc<AtomicBool>,
) -> Result<String, CloneError> {
    let (stop, too_large) = (AtomicBool::new(false), AtomicBool::new(false));
    let (received, watching) = mpsc::channel();
    let fetched = std::thread::scope(|scope| {
        let (interrupt, stop, too_large) = (&interrupt, &stop, &too_large);
        scope.spawn(move || watch_size(dir, max_bytes, interrupt, stop, too_large, &watching));
        let fetched = fetch(repo, branch, token, dir, stall, stop);
        drop(received);
        fetched
    });
    if too_large.load(Ordering::Relaxed) {
        // Nothing of it stays on disk.
        let _ = std::fs::remove_dir_all(dir);
        return Err(CloneError::TooLarge { max: max_bytes });
    }
    if interrupt.load(Ordering::Relaxed) {
        return Err(CloneError::Interrupted);
    }
    let mut checkout = fetched?;
    let (repo_handle, _) = checkout
        .main_worktree(gix::progress::Discard, &interrupt)
        .map_err(|e| failure(repo, branch, token.is_some(), Chain(&e).to_string()))?;
    let head = repo_handle
        .head_id()
        .map_err(|e| failure(repo, branch, token.is_some(), Chain(&e).to_string()))?;
    Ok(head.to_string())
}

fn failure(repo: &str, branch: &str, had_token: bool, reason: String) -> CloneError {
    CloneError::Failed {
        repo: repo.to_owned(),
        branch: branch.to_owned(),
        reason: explain(&reason, had_token),
    }
}

/// Receives `branch`'s last commit into `dir`, stopping when `stop` is set.
fn fetch(
    repo: &str,
    branch: &str,
    token: Option<&str>,
    dir: &Path,
    stall: Duration,
    stop: &AtomicBool,
) -> Result<gix::clone::PrepareCheckout, CloneError> {
    let failed = |reason: String| failure(repo, branch, token.is_some(), reason);
    let token = token.map(str::to_owned);
    let prepare = gix::prepare_clone(repo, dir)
        .map_err(|e| failed(Chain(&e).to_string()))?
        .with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(NonZeroU32::MIN));
    // The branch's head only, on a detached HEAD: what a build needs, in one
    // connection. Naming the branch instead (`with_ref_name`) makes gix
    // connect twice: once to resolve the name, then to fetch. gix takes no
    // revision holding a glob character, which a branch may (`]`): such a
    // branch is named.
    let prepare = if branch.contains(']') {
        prepare
            .with_ref_name(Some(branch))
            .map_err(|e| failed(Chain(&e).to_string()))?
    } else {
        prepare
            .with_revision(Some(format!("refs/heads/{branch}")))
            .map_err(|e| failed(Chain(&e).to_string()))?
    };
    let mut prepare = prepare.configure_connection(move |conn| {
        let url = conn.remote().url(Direction::Fetch).map(|u| u.to_bstring());
        if let Some(options) = url.and_then(|url| {
            conn.remote()
                .repo()
                .transport_options(url.as_bstr(), None)
                .transpose()
        }) {
            conn.set_transport_options(with_stall_limit(options?, stall));
        }
        let token = token.clone();
        conn.set_credentials(move |action| match action {
            Action::Get(ctx) => Ok(Some(Outcome {
                identity: Account {
                    username: TOKEN_USER.into(),
                    password: token.clone().unwrap_or_default(),
                    oauth_refresh_token: None,
                },
                next: ctx.into(),
            })),
            Action::Store(_) | Action::Erase(_) => Ok(None),
        });
        Ok(())
    });
    let (checkout, _) = prepare
        .fetch_then_checkout(gix::progress::Discard, stop)
        .map_err(|e| {
            let reason = Chain(&e).to_string();
            if stop.load(Ordering::Relaxed) {
                CloneError::Interrupted
            } else if reason.contains("operation timed out") {
                CloneError::Stalled {
                    secs: stall.as_secs(),
                }
            } else {
                failed(reason)
            }
        })?;
    Ok(checkout)
}

/// gix's HTTP client keeps reqwest's default limit of 30 s on each wait
/// (for an answer, for each read). It becomes `stall`: a repository's
/// server may take a while to make a large pack, but not fall silent.
fn with_stall_limit(options: Box<dyn Any>, stall: Duration) -> Box<dyn Any> {
    let mut options = match options.downcast::<http::Options>() {
        Ok(options) => options,
        Err(other) => return other,
    };
    let client = reqwest::Options {
        configure_client: Some(Box::new(move |builder| Ok(builder.timeout(stall)))),
        configure_request: None,
    };
    options.backend = Some(Arc::new(Mutex::new(client)));
    options
}

/// Turns gix's wording into what the user should do.
fn explain(reason: &str, had_token: bool) -> String {
    let lower = reason.to_ascii_lowercase();
    if lower.contains("401")
        || lower.contains("403")
        || lower.contains("authenticat")
        || lower.contains("/dev/tty")
    {
        if had_token {
            "the repository refused the repoToken; check that it is valid and can read this repository".into()
        } else {
            "the repository needs credentials; send a repoToken that can read it".into()
        }
    } else if lower.contains("404") || lower.contains("not found") && lower.contains("repositor") {
        "the repository was not found; check the repo URL (and the repoToken if it is private)"
            .into()
    } else if lower.contains("didn't have any ref")
        || lower.contains("requested revision")
        || lower.contains("ref")
            && (lower.contains("not found") || lower.contains("could not be found"))
    {
        "the branch does not exist in the repository".into()
    } else {
        reason.to_owned()
    }
}

/// The submodule paths a checkout's `.gitmodules` names. Slipway does not
/// fetch submodules, so a build from such a repository fails saying so
/// rather than silently missing their files.
pub fn submodules(gitmodules: &str) -> Vec<String> {
    gitmodules
        .lines()
        .filter_map(|l| {
            let (key, value) = l.split_once('=')?;
            (key.trim() == "path").then(|| value.trim().to_owned())
        })
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn submodule_paths_come_from_gitmodules() {
        let text = "[submodule \"lib\"]\n\tpath = vendor/lib\n\turl = ../lib.git\n[submodule \"b\"]\n  path=b\n";
        assert_eq!(submodules(text), ["vendor/lib", "b"]);
        assert!(submodules("[core]\n\tbare = false\n").is_empty());
    }
    use super::*;

    #[test]
    fn clone_failures_say_what_to_do() {
        let auth = "Failed to open terminal at /dev/tty: credentials needed";
        assert!(explain(auth, true).contains("refused the repoToken"));
        assert!(explain(auth, false).contains("send a repoToken"));
        assert!(explain("HTTP 403 Forbidden", true).contains("repoToken"));
        assert_eq!(
            explain(
                "The remote didn't have the requested revision \"refs/heads/nope\"",
                false
            ),
            "the branch does not exist in the repository"
        );
        assert_eq!(
            explain("something else broke", false),
            "something else broke"
        );
    }
}
