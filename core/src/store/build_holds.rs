//! Each owner's places in the fleet's builds (see [`crate::build_share`]):
//! one item per owner holding who builds and until when, changed by
//! optimistic writes on its version.

use serde::{Deserialize, Serialize};

use super::error::{conditional, StoreError};
use super::item::{attr, n, with_keys, Key};
use super::table::Store;
use crate::build_share::{admit, Holders, Verdict};
use crate::ids::{DeploymentId, Owner};

const HOLDERS: &str = "holders";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Places {
    #[serde(default)]
    holders: Holders,
    version: u64,
}

/// The answer to a build asking for a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildPlace {
    /// Taken now (`fresh`) or already this build's.
    Held { fresh: bool },
    /// All `running` of the owner's places are taken.
    Full { running: usize },
}

impl Store {
    /// Takes one of `owner`'s `cap` places for `deployment` until `until`
    /// (Unix milliseconds), `now` being the time.
    pub async fn hold_build(
        &self,
        owner: &Owner,
        deployment: &DeploymentId,
        cap: usize,
        now: u64,
        until: u64,
    ) -> Result<BuildPlace, StoreError> {
        loop {
            let places: Places = self.get(Key::builds(owner)).await?.unwrap_or_default();
            let (holders, fresh) =
                match admit(&places.holders, deployment.as_str(), cap, now, until) {
                    Verdict::Full { running } => return Ok(BuildPlace::Full { running }),
                    Verdict::Hold { holders, fresh } => (holders, fresh),
                };
            let next = Places {
                holders,
                version: places.version + 1,
            };
            let written = self
                .db
                .put_item()
                .table_name(&self.table)
                .set_item(Some(with_keys(&next, Key::builds(owner), None)?))
                .condition_expression("attribute_not_exists(PK) OR #v = :v")
                .expression_attribute_names("#v", attr::VERSION)
                .expression_attribute_values(":v", n(places.version))
                .send()
                .await
                .map_err(conditional);
            match written {
                Ok(_) => return Ok(BuildPlace::Held { fresh }),
                // Another build of the owner took or gave a place meanwhile.
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Extends the place `deployment` holds; `Conflict` when it holds none
    /// (its lease ran out and another build took it).
    pub async fn renew_build(
        &self,
        owner: &Owner,
        deployment: &DeploymentId,
        until: u64,
    ) -> Result<(), StoreError> {
        self.change_places(
            owner,
            deployment,
            "SET #h.#d = :until ADD #v :one",
            Some(until),
        )
        .await
    }

    /// Gives the place `deployment` holds back (nothing if it holds none).
    pub async fn release_build(
        &self,
        owner: &Owner,
        deployment: &DeploymentId,
    ) -> Result<(), StoreError> {
        match self
            .change_places(owner, deployment, "REMOVE #h.#d ADD #v :one", None)
            .await
        {
            Err(StoreError::Conflict) => Ok(()),
            other => other,
        }
    }

    /// Every change bumps the version, so a place taken from a stale read
    /// never overwrites it.
    async fn change_places(
        &self,
        owner: &Owner,
        deployment: &DeploymentId,
        update: &str,
        until: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut request = self
            .db
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Key::builds(owner).attributes()))
            .update_expression(update)
            .condition_expression("attribute_exists(#h.#d)")
            .expression_attribute_names("#h", HOLDERS)
            .expression_attribute_names("#d", deployment.as_str())
            .expression_attribute_names("#v", attr::VERSION)
            .expression_attribute_values(":one", n(1u64));
        if let Some(until) = until {
            request = request.expression_attribute_values(":until", n(until));
        }
        request.send().await.map_err(conditional)?;
        Ok(())
    }
}
