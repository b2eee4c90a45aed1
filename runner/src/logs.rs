//! A deployment's build log: lines are redacted as they arrive, gathered,
//! and written to S3 as numbered chunks about once a second, so a user can
//! follow a build while it runs.

use std::time::Duration;

use slipway_core::error_chain::Chain;
use slipway_core::redact::Redactor;
use slipway_core::s3_keys;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

const FLUSH_EVERY: Duration = Duration::from_secs(1);
const MAX_CHUNK: usize = 256 * 1024;

enum Msg {
    Text(String),
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
    /// Continues after the chunks an earlier attempt wrote.
    pub async fn start(
        s3: aws_sdk_s3::Client,
        bucket: String,
        deployment_id: String,
        redactor: Redactor,
    ) -> Self {
        let next_seq = last_seq(&s3, &bucket, &deployment_id)
            .await
            .map_or(0, |s| s + 1);
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(write_chunks(
            s3,
            bucket,
            deployment_id,
            redactor,
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

async fn write_chunks(
    s3: aws_sdk_s3::Client,
    bucket: String,
    deployment_id: String,
    mut redactor: Redactor,
    mut seq: u64,
    mut rx: mpsc::UnboundedReceiver<Msg>,
) {
    let mut buf = String::new();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        let mut ended = false;
        let mut close = None;
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Text(t)) => {
                    buf.push_str(&redactor.push(&t));
                    if buf.len() < MAX_CHUNK {
                        continue;
                    }
                }
                Some(Msg::Close(done)) => {
                    ended = true;
                    close = Some(done);
                }
                None => ended = true,
            },
            _ = tick.tick() => {}
        }
        if ended {
            buf.push_str(&redactor.finish());
        }
        if !buf.is_empty() {
            put(
                &s3,
                &bucket,
                &s3_keys::log_chunk(&deployment_id, seq),
                std::mem::take(&mut buf),
            )
            .await;
            seq += 1;
        }
        if ended {
            if let Some(done) = close {
                let _ = done.send(());
            }
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
