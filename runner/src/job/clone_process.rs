//! The clone runs in a process of its own: the runner started again as
//! `slipway-runner clone`, told what to clone on its stdin (so the repo
//! token is in no argument or environment), held to the stack's clone
//! memory by `RLIMIT_DATA`. gix holds a whole object in memory while it
//! receives, indexes and checks it out, so a repository with one huge file
//! would otherwise take that much of the host's memory; now it fails alone,
//! saying so, and whatever the clone used is given back when it exits.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::source::{shallow_clone, CloneError};
use crate::config::CloneLimits;

/// The first argument that makes `slipway-runner` a clone process.
pub const CHILD_ARG: &str = "clone";

/// What the runner asks of a clone process.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    repo: String,
    branch: String,
    token: Option<String>,
    dir: PathBuf,
    max_bytes: u64,
    stall_seconds: u64,
    memory_bytes: u64,
}

/// What a clone process answers on its stdout.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Answer {
    Commit(String),
    Failed(CloneError),
}

/// The running binary, on Linux.
const SELF_EXE: &str = "/proc/self/exe";

/// How often the runner looks whether the clone must stop.
const INTERRUPT_POLL: Duration = Duration::from_millis(50);

/// The most of a clone process's stdout (its answer) and of its stderr (a
/// panic's message) the runner keeps; the rest is read and dropped, so a
/// clone process never blocks on a full pipe.
const OUTPUT_KEPT: u64 = 64 << 10;

/// Reads `from` to its end and returns its first `keep` bytes.
async fn read_capped(from: &mut (impl AsyncRead + Unpin), keep: u64) -> std::io::Result<Vec<u8>> {
    let mut kept = Vec::new();
    (&mut *from).take(keep).read_to_end(&mut kept).await?;
    tokio::io::copy(from, &mut tokio::io::sink()).await?;
    Ok(kept)
}

/// Clones `branch` of `repo` into `dir` in a clone process and returns the
/// commit checked out. A clone process that dies is our failure
/// ([`CloneError::Crashed`]), unless it ran out of the memory a clone may
/// use: then the repository is too large for it.
pub async fn clone(
    repo: &str,
    branch: &str,
    token: Option<&str>,
    dir: &Path,
    limits: CloneLimits,
    interrupt: Arc<AtomicBool>,
) -> Result<String, CloneError> {
    let request = Request {
        repo: repo.to_owned(),
        branch: branch.to_owned(),
        token: token.map(str::to_owned),
        dir: dir.to_owned(),
        max_bytes: limits.max_bytes,
        stall_seconds: limits.stall.as_secs(),
        memory_bytes: limits.memory_bytes,
    };
    let crashed = |why: String| CloneError::Crashed(why);
    // The running binary itself, even when an upgrade replaced its file (the
    // path would then name the new one, or nothing): the same version of
    // the request and answer on both sides.
    let exe = Path::new(SELF_EXE);
    let mut command = tokio::process::Command::new(exe);
    command
        .arg(CHILD_ARG)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| crashed(format!("starting the clone process: {e}")))?;
    let body = serde_json::to_vec(&request).expect("a request is JSON");
    let mut stdin = child.stdin.take().expect("piped");
    let (mut stdout, mut stderr) = (
        child.stdout.take().expect("piped"),
        child.stderr.take().expect("piped"),
    );
    let talk = async {
        stdin.write_all(&body).await?;
        drop(stdin);
        tokio::try_join!(
            read_capped(&mut stdout, OUTPUT_KEPT),
            read_capped(&mut stderr, OUTPUT_KEPT)
        )
    };
    let watch = async {
        while !interrupt.load(Ordering::Relaxed) {
            tokio::time::sleep(INTERRUPT_POLL).await;
        }
    };
    let (out, err) = tokio::select! {
        talked = talk => talked.map_err(|e| crashed(format!("talking to the clone process: {e}")))?,
        _ = watch => {
            let _ = child.kill().await;
            return Err(CloneError::Interrupted);
        }
    };
    let status = child
        .wait()
        .await
        .map_err(|e| crashed(format!("waiting for the clone process: {e}")))?;
    match serde_json::from_slice::<Answer>(&out) {
        Ok(Answer::Commit(sha)) if status.success() => Ok(sha),
        Ok(Answer::Failed(e)) => Err(e),
        _ => {
            let _ = tokio::fs::remove_dir_all(dir).await;
            let err = String::from_utf8_lossy(&err);
            if err.contains("memory allocation of") {
                Err(CloneError::OutOfMemory {
                    max: limits.memory_bytes,
                })
            } else {
                // Its first lines say why (a panic's message); not a backtrace.
                let why: Vec<&str> = err.lines().take(2).collect();
                Err(crashed(format!(
                    "the clone process ended ({status}): {}",
                    why.join(" ")
                )))
            }
        }
    }
}

/// The clone process: reads its [`Request`], clones, answers, exits.
pub fn run_child() -> anyhow::Result<()> {
    let mut body = Vec::new();
    std::io::stdin().read_to_end(&mut body)?;
    let request: Request = serde_json::from_slice(&body)?;
    let limit = libc::rlimit {
        rlim_cur: request.memory_bytes,
        rlim_max: request.memory_bytes,
    };
    // SAFETY: setrlimit only reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_DATA, &limit) } != 0 {
        anyhow::bail!(
            "could not limit the clone's memory: {}",
            std::io::Error::last_os_error()
        );
    }
    let answer = match shallow_clone(
        &request.repo,
        &request.branch,
        request.token.as_deref(),
        &request.dir,
        request.max_bytes,
        Duration::from_secs(request.stall_seconds),
        Arc::new(AtomicBool::new(false)),
    ) {
        Ok(sha) => Answer::Commit(sha),
        Err(e) => Answer::Failed(e),
    };
    std::io::stdout().write_all(&serde_json::to_vec(&answer)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_first_bytes_of_a_clone_process_output_are_kept_and_all_is_read() {
        let output = vec![b'x'; 100];
        let mut from = output.as_slice();
        assert_eq!(read_capped(&mut from, 10).await.unwrap(), vec![b'x'; 10]);
        assert!(from.is_empty(), "the rest was read too");
        let mut short: &[u8] = b"{}";
        assert_eq!(read_capped(&mut short, 10).await.unwrap(), b"{}");
    }
}
