//! Deployments: read one, some or an app's history; move a status forward
//! (only forward, conditioned on where it may come from); cancel; supersede
//! the one a newer deployment replaced.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};

use super::error::{dynamo, malformed_request, StoreError};
use super::item::{app_deployments, attr, from_item, n, s, Key, GSI1};
use super::table::Store;
use super::update::Update;
use crate::ids::DeploymentId;
use crate::model::Deployment;
use crate::status::DeploymentStatus;

/// The outcome of `POST /deployments/{id}/cancel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It was still queued: now `cancelled`.
    Cancelled,
    /// A runner holds it: the flag is set and the runner stops it.
    Requested,
    /// It had already finished in this status.
    AlreadyFinished(DeploymentStatus),
}

impl Store {
    pub async fn get_deployment(
        &self,
        id: &DeploymentId,
    ) -> Result<Option<Deployment>, StoreError> {
        self.get(Key::deployment(id)).await
    }

    /// The app's deployments, newest first.
    pub async fn list_deployments(
        &self,
        app_id: &str,
        limit: Option<i32>,
    ) -> Result<Vec<Deployment>, StoreError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", s(app_deployments(app_id)))
            .scan_index_forward(false)
            .set_limit(limit)
            .send()
            .await
            .map_err(dynamo)?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect()
    }

    /// The deployments with these ids that exist, in no particular order.
    pub async fn get_deployments(&self, ids: &[&str]) -> Result<Vec<Deployment>, StoreError> {
        let mut found = Vec::new();
        for chunk in ids.chunks(100) {
            let keys = chunk
                .iter()
                .map(|id| Key::deployment(id).attributes())
                .collect();
            let keys = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .build()
                .map_err(malformed_request)?;
            let mut request = HashMap::from([(self.table.clone(), keys)]);
            while !request.is_empty() {
                let out = self
                    .db
                    .batch_get_item()
                    .set_request_items(Some(request))
                    .send()
                    .await
                    .map_err(dynamo)?;
                for item in out
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    found.push(from_item(item)?);
                }
                request = out.unprocessed_keys.unwrap_or_default();
            }
        }
        Ok(found)
    }

    /// Moves a deployment to `to` when its current status allows it,
    /// recording why when `error` is given. A runner's own writes go through
    /// its [`super::Claim`].
    pub async fn set_status(
        &self,
        id: &str,
        to: DeploymentStatus,
        error: Option<&str>,
    ) -> Result<Deployment, StoreError> {
        self.transition(id, to.predecessors(), to, None, error)
            .await
    }

    /// Moves a deployment to `to` from one of `from` (all of them `to`'s
    /// predecessors) and, for a runner, only while it holds the claim
    /// `attempt`.
    pub(super) async fn transition(
        &self,
        id: &str,
        from: &[DeploymentStatus],
        to: DeploymentStatus,
        attempt: Option<u32>,
        error: Option<&str>,
    ) -> Result<Deployment, StoreError> {
        use attr::*;
        debug_assert!(from.iter().all(|f| to.predecessors().contains(f)));
        if from.is_empty() {
            // Nothing moves back to the first status.
            return Err(StoreError::Conflict);
        }
        let placeholders: Vec<String> = (0..from.len()).map(|i| format!(":from{i}")).collect();
        let mut condition = format!("#{STATUS} IN ({})", placeholders.join(", "));
        let mut update = Update::new(Key::deployment(id))
            .set(STATUS, s(to.as_str()))
            .returning(ReturnValue::AllNew);
        for (p, st) in placeholders.iter().zip(from) {
            update = update.value(p, s(st.as_str()));
        }
        if let Some(attempt) = attempt {
            // A runner's step may run twice (at-least-once): reaching the
            // status it is already in, under its own claim, is no conflict.
            condition = format!("({condition} OR #{STATUS} = :{STATUS}) AND #{ATTEMPT} = :attempt");
            update = update.value(":attempt", n(attempt));
        }
        if let Some(error) = error {
            update = update.set(ERROR, s(error));
        }
        let out = update.when(condition).send(self).await?;
        from_item(out.unwrap_or_default())
    }

    /// Marks the deployment `newest` replaced (the app's newest as read
    /// before `newest` was added) superseded if it is still queued or
    /// building. Each deployment does this for its predecessor, so no
    /// history needs reading; one that is missed (a crash in between) is
    /// superseded by the runner, which builds only an app's newest.
    pub async fn supersede_previous(
        &self,
        previous: Option<&DeploymentId>,
        newest: &DeploymentId,
    ) -> Result<bool, StoreError> {
        let Some(previous) = previous.filter(|p| *p < newest) else {
            return Ok(false);
        };
        // One that is deploying goes on: it is replaced when `newest` goes live.
        match self
            .transition(
                previous,
                &[DeploymentStatus::Queued, DeploymentStatus::Building],
                DeploymentStatus::Superseded,
                None,
                Some(&format!("a newer deployment ({newest}) replaced it")),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A queued deployment is cancelled at once; one a runner holds gets the
    /// flag its runner watches.
    pub async fn request_cancel(&self, d: &Deployment) -> Result<CancelOutcome, StoreError> {
        use attr::*;
        if d.status == DeploymentStatus::Queued {
            match self
                .set_status(
                    &d.id,
                    DeploymentStatus::Cancelled,
                    Some("cancelled before a runner took it"),
                )
                .await
            {
                Ok(_) => return Ok(CancelOutcome::Cancelled),
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        let flagged = Update::new(Key::deployment(&d.id))
            .set(CANCEL_REQUESTED, AttributeValue::Bool(true))
            .when(format!("#{STATUS} IN (:b, :d)"))
            .value(":b", s(DeploymentStatus::Building.as_str()))
            .value(":d", s(DeploymentStatus::Deploying.as_str()))
            .send(self)
            .await;
        match flagged {
            Ok(_) => Ok(CancelOutcome::Requested),
            Err(StoreError::Conflict) => {
                let now = self
                    .get_deployment(&d.id)
                    .await?
                    .ok_or(StoreError::Conflict)?;
                Ok(CancelOutcome::AlreadyFinished(now.status))
            }
            Err(e) => Err(e),
        }
    }

    /// Removes a deployment that never became an app's newest nor got a job.
    pub(super) async fn delete_unlinked(&self, id: &str) -> Result<(), StoreError> {
        self.delete(Key::deployment(id)).await
    }
}
