//! A deployment's build log: lines are redacted as they arrive, gathered,
//! and written to S3 as numbered chunks of at most 128 KiB about once a
//! second, so a user can follow a build while it runs. A log that reaches
//! its cap says so and keeps nothing more; the build goes on.

use std::time::Duration;

use slipway_core::error_chain::Chain;
use slipway_core::redact::Redactor;
use slipway_core::s3_keys;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Small enough that a page of the logs route (about 1 MB of JSON) holds
/// at least one chunk, however much escaping its text needs.
const MAX_CHUNK: usize = 128 * 1024;

enum Msg {
    Text(String),
    /// Store what has come so far, then answer.
    Flush(oneshot::Sender<()>),
    Close(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct BuildLog {
    tx: mpsc::UnboundedSender<Msg>,
}

pub struct LogWriter {
    log: BuildLog,
    task: JoinHandle<()>,
}

impl LogWriter {
    /// Continues after the chunks an earlier attempt wrote; keeps at most
    /// `max_bytes` of text.
    pub async fn start(
        s3: aws_sdk_s3::Client,
        bucket: String,
        deployment_id: String,
        redactor: Redactor,
        max_bytes: usize,
    ) -> Self {
        let next_seq = last_seq(&s3, &bucket, &deployment_id)
            .await
            .map_or(0, |s| s + 1);
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(write_chunks(
            Store {
                s3,
                bucket,
                deployment_id,
            },
            redactor,
            Cap::new(max_bytes),
            next_seq,
            rx,
        ));
        Self {
            log: BuildLog { tx },
            task,
        }
    }

    pub fn log(&self) -> BuildLog {
        self.log.clone()
    }

    /// Writes what is left and waits until it is stored.
    pub async fn close(self) {
        let (done, wait) = oneshot::channel();
        if self.log.tx.send(Msg::Close(done)).is_ok() {
            let _ = wait.await;
        }
        let _ = self.task.await;
    }
}

impl BuildLog {
    /// Raw output, as it comes (it may hold partial lines).
    pub fn text(&self, text: impl Into<String>) {
        let _ = self.tx.send(Msg::Text(text.into()));
    }

    /// One line of Slipway's own narration.
    pub fn line(&self, line: impl AsRef<str>) {
        self.text(format!("{}\n", line.as_ref()));
    }

    /// Waits until every line sent so far is stored: before a status a
    /// follower stops at, so its last read of the log is whole.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

async fn last_seq(s3: &aws_sdk_s3::Client, bucket: &str, deployment_id: &str) -> Option<u64> {
    let mut last = None;
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(s3_keys::log_prefix(deployment_id))
        .into_paginator()
        .send();
    while let Some(Ok(page)) = pages.next().await {
        for o in page.contents() {
            last = last.max(o.key().and_then(s3_keys::log_seq));
        }
    }
    last
}

/// Where a log's chunks go.
struct Store {
    s3: aws_sdk_s3::Client,
    bucket: String,
    deployment_id: String,
}

/// How much more text a log keeps.
struct Cap {
    max: usize,
    kept: usize,
    reached: bool,
}

impl Cap {
    fn new(max: usize) -> Self {
        Self {
            max,
            kept: 0,
            reached: false,
        }
    }

    /// The part of `text` the log keeps: all of it while there is room;
    /// then what fits, cut at a character, and a line saying so; then none.
    fn take(&mut self, text: String) -> String {
        if self.reached {
            return String::new();
        }
        let room = self.max - self.kept;
        if text.len() <= room {
            self.kept += text.len();
            return text;
        }
        self.reached = true;
        let mut cut = room;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        self.kept = self.max;
        format!(
            "{}\n[slipway] The log reached its limit of {} bytes: what follows is not kept. The build goes on.\n",
            &text[..cut],
            self.max
        )
    }
}

/// `text` in pieces of at most `max` bytes, cut at characters.
fn pieces(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, tail) = rest.split_at(cut);
        out.push(piece);
        rest = tail;
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

async fn write_chunks(
    store: Store,
    mut redactor: Redactor,
    mut cap: Cap,
    mut seq: u64,
    mut rx: mpsc::UnboundedReceiver<Msg>,
) {
    let mut buf = String::new();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        let mut ended = false;
        let mut answer = None;
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Text(t)) => {
                    buf.push_str(&cap.take(redactor.push(&t)));
                    if buf.len() < MAX_CHUNK {
                        continue;
                    }
                }
                Some(Msg::Flush(done)) => answer = Some(done),
                Some(Msg::Close(done)) => {
                    ended = true;
                    answer = Some(done);
                }
                None => ended = true,
            },
            _ = tick.tick() => {}
        }
        if ended {
            buf.push_str(&cap.take(redactor.finish()));
        }
        for piece in pieces(&buf, MAX_CHUNK) {
            let key = s3_keys::log_chunk(&store.deployment_id, seq);
            put(&store.s3, &store.bucket, &key, piece.to_owned()).await;
            seq += 1;
        }
        buf.clear();
        if let Some(done) = answer {
            let _ = done.send(());
        }
        if ended {
            return;
        }
    }
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, text: String) {
    for attempt in 0..3 {
        let sent = s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("text/plain; charset=utf-8")
            .body(text.clone().into_bytes().into())
            .send()
            .await;
        match sent {
            Ok(_) => return,
            Err(e) if attempt == 2 => {
                tracing::warn!(key, error = %Chain(&e), "a log chunk was lost");
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200 * (attempt + 1))).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_keeps_its_cap_then_says_so_once_and_keeps_nothing_more() {
        let mut cap = Cap::new(10);
        assert_eq!(cap.take("12345".into()), "12345");
        assert_eq!(cap.take("67890".into()), "67890");
        let said = cap.take("x".into());
        assert!(
            said.starts_with("\n[slipway] The log reached its limit of 10 bytes"),
            "{said}"
        );
        assert_eq!(cap.take("more".into()), "");
        assert_eq!(cap.take(String::new()), "");
    }

    #[test]
    fn a_cap_cuts_at_a_character() {
        let mut cap = Cap::new(4);
        let said = cap.take("abcé".into());
        assert!(said.starts_with("abc\n[slipway]"), "{said}");
        let mut cap = Cap::new(5);
        assert_eq!(cap.take("abcé".into()), "abcé");
    }

    #[test]
    fn chunks_are_pieces_of_at_most_max_bytes_cut_at_characters() {
        assert!(pieces("", 4).is_empty());
        assert_eq!(pieces("abcd", 4), vec!["abcd"]);
        assert_eq!(pieces("abcdefghi", 4), vec!["abcd", "efgh", "i"]);
        assert_eq!(pieces("abcéfg", 4), vec!["abc", "éfg"]);
        let long = "é".repeat(1000);
        let cut = pieces(&long, 7);
        assert!(cut.iter().all(|p| p.len() <= 7 && !p.is_empty()));
        assert_eq!(cut.concat(), long);
    }
}
