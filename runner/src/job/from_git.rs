//! A Git app's image: a shallow clone of its branch (the registry's cache
//! fetched meanwhile), then a build with that cache.

use slipway_core::model::Source;

use super::image::{Image, Tree};
use super::outcome::Failure;
use super::source::{self, CloneError};
use super::{clone_process, Job};
use crate::engine::images;

impl Job<'_> {
    /// Clone and build with the registry's cache; returns the image to push.
    #[tracing::instrument(name = "from_git", skip_all)]
    pub(super) async fn build_from_source(&self) -> Result<Image, Failure> {
        let Source::Git {
            repo,
            branch,
            dockerfile,
            context,
            ..
        } = &self.app.config.source
        else {
            return Err(Failure::Infra(anyhow::anyhow!("not a Git app")));
        };

        self.log.line(format!("Cloning {repo} (branch {branch})"));
        let clock = self.clock("clone");
        let checkout = self.dir.join("src");
        self.fresh_dir("").await?;
        let repository = self.repository();
        let clone = clone_process::clone(
            repo.as_str(),
            branch.as_str(),
            self.credentials.repo_token.as_deref(),
            &checkout,
            self.rt.config.clone_limits,
            self.interrupt.clone(),
        );
        // The clone phase ends with the clone; the registry's cache, fetched
        // meanwhile, may go on into the build phase.
        let clone = async {
            let cloned = clone.await;
            if cloned.is_ok() {
                clock.done().await?;
            }
            Ok::<_, Failure>(cloned)
        };
        let (cloned, cache) = tokio::join!(
            clone,
            images::prepare_cache(
                &self.rt.docker,
                &repository,
                self.rt.config.registry_credentials(),
                &self.log
            )
        );
        let cache = cache.map_err(super::image::build_failure)?;
        let sha = cloned?.map_err(|e| match e {
            CloneError::Crashed(_) => Failure::Infra(e.into()),
            e => Failure::User(e.to_string()),
        })?;
        match &self.d.pushed_commit {
            Some(pushed) if *pushed != sha => self.log.line(format!(
                "Branch {branch} has moved on since the push of {pushed}: building its head, {sha}"
            )),
            _ => self.log.line(format!("Checked out commit {sha}")),
        }
        self.rt.store.record_commit(&self.claim, &sha).await?;
        if let Ok(text) = tokio::fs::read_to_string(checkout.join(".gitmodules")).await {
            let paths = source::submodules(&text);
            if !paths.is_empty() {
                return Err(Failure::User(format!(
                    "the repository uses Git submodules ({}), which Slipway does not fetch; \
                     commit their files into the repository instead",
                    paths.join(", ")
                )));
            }
        }

        self.build_image(
            Tree {
                root: &checkout,
                context,
                dockerfile,
            },
            &sha,
            cache.as_deref(),
        )
        .await
    }
}
