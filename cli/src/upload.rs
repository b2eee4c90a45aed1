//! PUTs an archive to its presigned URL, streamed from disk with a progress bar.

use std::path::Path;

use futures_util::TryStreamExt;
use slipway_core::api::UploadTicket;

pub async fn put(ticket: &UploadTicket, archive: &Path, size: u64) -> anyhow::Result<()> {
    let bar =
        indicatif::ProgressBar::new(size).with_style(indicatif::ProgressStyle::with_template(
            "uploading {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
        )?);
    let file = tokio::fs::File::open(archive).await?;
    let counted = bar.clone();
    let stream = tokio_util::io::ReaderStream::new(file).inspect_ok(move |chunk| {
        counted.inc(chunk.len() as u64);
    });
    let mut req = reqwest::Client::new()
        .put(&ticket.upload_url)
        .header(reqwest::header::CONTENT_LENGTH, size)
        .body(reqwest::Body::wrap_stream(stream));
    for (name, value) in &ticket.headers {
        if !name.eq_ignore_ascii_case("content-length") {
            req = req.header(name.as_str(), value.as_str());
        }
    }
    // The URL carries a signature and credentials: never in an error (or a CI log).
    let resp = req.send().await.map_err(|e| e.without_url())?;
    bar.finish_and_clear();
    if !resp.status().is_success() {
        // S3's error body can quote the signed request: show its code only.
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        let code = body
            .split_once("<Code>")
            .and_then(|(_, rest)| rest.split_once("</Code>"))
            .map_or("no error code", |(code, _)| code);
        anyhow::bail!(
            "the upload was refused ({status}, {code}); ask for a new upload URL and try again"
        );
    }
    Ok(())
}
