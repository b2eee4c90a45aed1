//! The image a deployment runs: a source tree packed as a context and built
//! by the engine, or for a redeploy the image its commit already has.

use std::path::Path;

use slipway_core::base_images;
use slipway_core::fields::RelativePath;

use super::outcome::Failure;
use super::{context, Job};
use crate::engine::images::{self, BuildError};

/// The biggest build context sent to the engine.
const MAX_CONTEXT_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// The image a deployment runs, and the tags to push when it is new.
pub(super) struct Image {
    pub name: String,
    pub publish: Option<(String, String)>,
}

/// A source tree on disk and where in it the build happens.
pub(super) struct Tree<'a> {
    pub root: &'a Path,
    pub context: &'a RelativePath,
    pub dockerfile: &'a RelativePath,
}

/// The engine's verdict: a failed build is the user's, a failed engine
/// ours, a refused registry login the operator's.
pub(super) fn build_failure(e: BuildError) -> Failure {
    match e {
        BuildError::Failed(reason) => Failure::User(reason),
        BuildError::Engine(reason) => Failure::Infra(anyhow::anyhow!(reason)),
        refused @ BuildError::RegistryLogin(_) => Failure::Operator(refused.to_string()),
    }
}

impl Job<'_> {
    /// The app's image repository in the registry.
    pub(super) fn repository(&self) -> String {
        images::repository(&self.rt.config.registry, &self.app.id)
    }

    /// Packs the context of `tree` and builds `repository:tag` from it, with
    /// the layers of `cache` when given.
    #[tracing::instrument(name = "build", skip_all, fields(%tag))]
    pub(super) async fn build_image(
        &self,
        tree: Tree<'_>,
        tag: &str,
        cache: Option<&str>,
    ) -> Result<Image, Failure> {
        let clock = self.clock("build");
        let repository = self.repository();
        let packed = {
            let (root, context, dockerfile, out) = (
                tree.root.to_owned(),
                tree.context.as_str().to_owned(),
                tree.dockerfile.as_str().to_owned(),
                self.dir.join("context.tar"),
            );
            tokio::task::spawn_blocking(move || {
                context::pack(&root, &context, &dockerfile, MAX_CONTEXT_BYTES, &out)
            })
            .await
            .map_err(Failure::infra("packing the context"))?
            .map_err(|e| Failure::User(e.to_string()))?
        };
        base_images::check(&packed.dockerfile_text, &self.app.id)
            .map_err(|e| Failure::User(e.to_string()))?;
        self.log.line(format!(
            "Building {repository}:{tag} ({} bytes of context)",
            packed.bytes
        ));
        let limits = &self.rt.config.build_limits;
        let cgroup = self
            .rt
            .build_cgroups
            .make(
                &format!("{}-{}", self.d.id, slipway_core::ids::random_hex(4)),
                limits.pids,
            )
            .map_err(Failure::infra("making the build's cgroup"))?;
        let parent = cgroup.as_ref().map(|c| c.parent());
        let built = images::build(
            &self.rt.docker,
            &packed.tar,
            &packed.dockerfile,
            &format!("{repository}:{tag}"),
            cache,
            &images::Limits {
                stack: limits,
                cgroup_parent: parent.as_deref(),
            },
            &self.log,
        )
        .await
        .map_err(|e| match e {
            BuildError::Failed(reason) => Failure::User(format!("the build failed: {reason}")),
            other => build_failure(other),
        })?;
        self.rt
            .store
            .record_cache_hit(&self.claim, built.cache_hit)
            .await?;
        clock.done().await?;
        Ok(Image {
            name: built.image,
            publish: Some((repository, tag.to_owned())),
        })
    }

    /// A redeploy, a rollback or a failover runs the image it names
    /// (recorded when it was queued) with the app's current configuration;
    /// nothing is built.
    #[tracing::instrument(name = "reuse", skip_all)]
    pub(super) async fn reuse_image(&self) -> Result<Image, Failure> {
        let tag = self.d.reused_image_tag().ok_or_else(|| {
            Failure::User("the redeploy names no commit; deploy the app instead".into())
        })?;
        let repository = self.repository();
        self.log.line(match (&self.d.failover, &self.d.rolled_back_from) {
            (Some(f), _) => format!(
                "Moving the app off build host {} (lost or retiring): starting the image of deployment {} here with the current configuration; nothing is built.",
                f.from_runner_id, f.of_deployment_id
            ),
            (None, Some(from)) => format!(
                "Rolling back to commit {tag} (deployment {from}) with the current configuration; nothing is built."
            ),
            (None, None) => format!(
                "Redeploying commit {tag} with the current configuration; nothing is built."
            ),
        });
        let clock = self.clock("pull");
        images::ensure_image(
            &self.rt.docker,
            &repository,
            tag,
            self.rt.config.registry_credentials(),
            &self.log,
        )
        .await
        .map_err(build_failure)?;
        clock.done().await?;
        Ok(Image {
            name: format!("{repository}:{tag}"),
            publish: None,
        })
    }
}
