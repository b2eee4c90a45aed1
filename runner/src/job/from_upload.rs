//! An upload app's image: fetch the archive through a presigned GET, store
//! a `.zip` back as `.tar.gz`, check and unpack every entry, then build it
//! in full (an upload never builds from cache).

use std::path::Path;
use std::time::Instant;

use slipway_core::error_chain::Chain;
use slipway_core::ids;
use slipway_core::model::{Archive, Source};
use slipway_core::store::StoreError;
use slipway_core::upload::ArchiveFormat;

use super::archive::{self, UnpackError};
use super::image::{Image, Tree};
use super::outcome::Failure;
use super::Job;

/// How long the presigned GET an archive is fetched through stays valid.
const FETCH_URL_LIFETIME: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// A refused archive is the user's; a disk that failed us is ours.
fn refused(e: UnpackError) -> Failure {
    match e {
        UnpackError::Refused(reason) => Failure::User(reason),
        UnpackError::Io(reason) => Failure::Infra(anyhow::anyhow!(reason)),
    }
}

impl Job<'_> {
    #[tracing::instrument(name = "from_upload", skip_all)]
    pub(super) async fn build_from_archive(&self) -> Result<Image, Failure> {
        let Source::Upload {
            dockerfile,
            context,
        } = &self.app.config.source
        else {
            return Err(Failure::Infra(anyhow::anyhow!("not an upload app")));
        };
        let stored = self.d.archive.as_ref().ok_or_else(|| {
            Failure::User("the deployment names no archive; deploy the app again".into())
        })?;
        let format = ArchiveFormat::of_key(&stored.path)
            .ok_or_else(|| Failure::User(format!("{} is neither .tar.gz nor .zip", stored.path)))?;
        self.fresh_dir("src").await?;

        let clock = self.clock("fetch");
        let fetched = self.fetch(stored, format).await?;
        let tar_gz = match format {
            ArchiveFormat::TarGz => fetched,
            ArchiveFormat::Zip => self.convert(stored, &fetched).await?,
        };
        let tree = self.dir.join("src");
        let step = Instant::now();
        {
            let (tar_gz, tree, limit) = (
                tar_gz.clone(),
                tree.clone(),
                self.rt.config.max_source_bytes,
            );
            tokio::task::spawn_blocking(move || archive::unpack_tar_gz(&tar_gz, &tree, limit))
                .await
                .map_err(Failure::infra("unpacking the archive"))?
                .map_err(refused)?;
        }
        let _ = tokio::fs::remove_file(&tar_gz).await;
        clock.done().await?;
        self.log.line(format!(
            "Checked every entry and unpacked in {:.1} s; building without cache (an upload is always built in full)",
            step.elapsed().as_secs_f64()
        ));
        self.build_image(
            Tree {
                root: &tree,
                context,
                dockerfile,
            },
            &self.d.id,
            None,
        )
        .await
    }

    /// Downloads the stored archive and checks it is what its name says.
    async fn fetch(
        &self,
        stored: &Archive,
        format: ArchiveFormat,
    ) -> Result<std::path::PathBuf, Failure> {
        self.log
            .line(format!("Fetching {} ({} bytes)", stored.path, stored.size));
        let url = self
            .rt
            .s3
            .get_object()
            .bucket(&self.rt.config.bucket)
            .key(&stored.path)
            .presigned(
                aws_sdk_s3::presigning::PresigningConfig::expires_in(FETCH_URL_LIFETIME)
                    .map_err(Failure::infra("presigning the archive"))?,
            )
            .await
            .map_err(Failure::infra("presigning the archive"))?;
        let fetched = self.dir.join(format!("archive.{}", format.extension()));
        let step = Instant::now();
        archive::fetch(url.uri(), stored.size, &fetched)
            .await
            .map_err(refused)?;
        self.log
            .line(format!("Fetched in {:.1} s", step.elapsed().as_secs_f64()));
        let name = stored.path.rsplit('/').next().unwrap_or_default();
        archive::check_format(&fetched, format, name).map_err(refused)?;
        Ok(fetched)
    }

    /// Converts the fetched `.zip` to `.tar.gz` and stores that back.
    async fn convert(&self, stored: &Archive, zip: &Path) -> Result<std::path::PathBuf, Failure> {
        self.log.line("Converting the .zip to .tar.gz");
        let step = Instant::now();
        let out = self.dir.join("archive.tar.gz");
        let size = {
            let (zip, out, limit) = (zip.to_owned(), out.clone(), self.rt.config.max_source_bytes);
            tokio::task::spawn_blocking(move || archive::zip_to_tar_gz(&zip, &out, limit))
                .await
                .map_err(Failure::infra("converting the archive"))?
                .map_err(refused)?
        };
        self.log.line(format!(
            "Converted in {:.1} s",
            step.elapsed().as_secs_f64()
        ));
        let _ = tokio::fs::remove_file(zip).await;
        self.store_converted(stored, &out, size).await?;
        Ok(out)
    }

    /// Stores a converted `.zip` back as the app's `.tar.gz` archive (and as
    /// what the deployment builds, should another runner take it over) and
    /// drops the `.zip`, unless a newer upload has replaced it meanwhile.
    async fn store_converted(
        &self,
        zip: &Archive,
        tar_gz: &Path,
        size: u64,
    ) -> Result<(), Failure> {
        let (rt, app_id) = (self.rt, &self.app.id);
        let key =
            slipway_core::upload::archive_key(app_id, ids::epoch_millis(), ArchiveFormat::TarGz);
        let body = aws_sdk_s3::primitives::ByteStream::from_path(tar_gz)
            .await
            .map_err(Failure::infra("reading the converted archive"))?;
        rt.s3
            .put_object()
            .bucket(&rt.config.bucket)
            .key(&key)
            .content_length(size as i64)
            .body(body)
            .send()
            .await
            .map_err(Failure::infra("storing the converted archive"))?;
        let converted = Archive {
            path: key.clone(),
            size,
            uploaded_at: ids::now_rfc3339(),
        };
        let drop_key = match rt
            .store
            .replace_archive(app_id, &zip.path, &converted)
            .await
        {
            Ok(()) => {
                rt.store.record_archive(&self.claim, &converted).await?;
                self.log.line(format!(
                    "Stored as {key} ({size} bytes); the .zip is removed"
                ));
                &zip.path
            }
            Err(StoreError::Conflict) => &key,
            Err(e) => return Err(e.into()),
        };
        if let Err(e) = rt
            .s3
            .delete_object()
            .bucket(&rt.config.bucket)
            .key(drop_key)
            .send()
            .await
        {
            tracing::warn!(error = %Chain(&e), "could not delete {drop_key}");
        }
        Ok(())
    }
}
