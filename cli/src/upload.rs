//! PUTs an archive to its presigned URL, streamed from disk with a progress bar.

use std::path::Path;

use futures_util::TryStreamExt;
use serde_json::Value;

pub async fn put(url: &Value, archive: &Path, size: u64) -> anyhow::Result<()> {
    let target = url["uploadUrl"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("the API gave no upload URL"))?;
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
        .put(target)
        .header(reqwest::header::CONTENT_LENGTH, size)
        .body(reqwest::Body::wrap_stream(stream));
    for (name, value) in url["headers"].as_object().into_iter().flatten() {
        if !name.eq_ignore_ascii_case("content-length") {
            if let Some(value) = value.as_str() {
                req = req.header(name.as_str(), value);
            }
        }
    }
    let resp = req.send().await?;
    bar.finish_and_clear();
    if !resp.status().is_success() {
        anyhow::bail!(
            "the upload was refused ({}): {}",
            resp.status(),
            resp.text().await.unwrap_or_default()
        );
    }
    Ok(())
}
