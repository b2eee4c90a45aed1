//! The DynamoDB store: one table, `PK`/`SK`, and `GSI1` (an owner's apps by
//! name; an app's deployments by id, which sorts by creation).
//!
//! | item       | PK                  | SK      | GSI1PK             | GSI1SK        |
//! |------------|---------------------|---------|--------------------|---------------|
//! | app        | `APP#<id>`          | `APP`   | `OWNER#<owner>`    | `APP#<name>`  |
//! | name guard | `NAME#<owner>#<n>`  | `NAME`  |                    |               |
//! | deployment | `DEP#<id>`          | `DEP`   | `APPDEPS#<appId>`  | `DEP#<id>`    |
//! | API token  | `TOKEN#<sha256>`    | `TOKEN` |                    |               |
//! | delivery   | `DELIVERY#<app>#<id>` | `DELIVERY` |                 |               |
//! | placement  | `RUNNER#<runnerId>` | `APP#<appId>` |                 |               |
//!
//! Webhook deliveries carry `expiresAt` (epoch seconds), the table's TTL.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, ReturnValue, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::model::{App, AppConfig, Archive, Deployment, PendingUpload, Phase};
use crate::status::DeploymentStatus;

pub const GSI1: &str = "GSI1";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB: {0}")]
    Dynamo(String),
    #[error("the item changed meanwhile")]
    Conflict,
    #[error("stored item is malformed: {0}")]
    Malformed(String),
}

fn dynamo<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Dynamo(DisplayErrorContext(e).to_string())
}

/// A conditional write that did not hold is a conflict, anything else an error.
fn conditional<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error().and_then(|se| se.code()) {
        Some("ConditionalCheckFailedException") | Some("TransactionCanceledException") => {
            StoreError::Conflict
        }
        _ => dynamo(e),
    }
}

/// A request the SDK's builder refused: a bug of ours, not of the caller.
fn malformed_request(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Dynamo(e.to_string())
}

fn attribute<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(|e| StoreError::Malformed(e.to_string()))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn app_pk(id: &str) -> String {
    format!("APP#{id}")
}
fn dep_pk(id: &str) -> String {
    format!("DEP#{id}")
}
fn guard_pk(owner: &str, name: &str) -> String {
    format!("NAME#{owner}#{name}")
}

fn to_item<T: Serialize>(
    value: &T,
    keys: [(&str, String); 4],
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let mut item: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(value).map_err(|e| StoreError::Malformed(e.to_string()))?;
    for (k, v) in keys {
        item.insert(k.to_owned(), s(v));
    }
    Ok(item)
}

fn from_item<T: DeserializeOwned>(item: HashMap<String, AttributeValue>) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Malformed(e.to_string()))
}

fn app_item(app: &App) -> Result<HashMap<String, AttributeValue>, StoreError> {
    to_item(
        app,
        [
            ("PK", app_pk(&app.id)),
            ("SK", "APP".into()),
            ("GSI1PK", format!("OWNER#{}", app.owner)),
            ("GSI1SK", format!("APP#{}", app.name)),
        ],
    )
}

fn deployment_item(d: &Deployment) -> Result<HashMap<String, AttributeValue>, StoreError> {
    to_item(
        d,
        [
            ("PK", dep_pk(&d.id)),
            ("SK", "DEP".into()),
            ("GSI1PK", format!("APPDEPS#{}", d.app_id)),
            ("GSI1SK", format!("DEP#{}", d.id)),
        ],
    )
}

fn runner_pk(runner_id: &str) -> String {
    format!("RUNNER#{runner_id}")
}

fn placement_key(runner_id: &str, app_id: &str) -> (String, String) {
    (runner_pk(runner_id), format!("APP#{app_id}"))
}

fn delivery_pk(app_id: &str, delivery_id: &str) -> String {
    format!("DELIVERY#{app_id}#{delivery_id}")
}

/// How long after it was recorded a delivery naming a deployment that was
/// never written may be taken over by a redelivery: longer than any write
/// of the first copy may still be under way.
const ABANDONED_DELIVERY_SECONDS: u64 = 300;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryRecord {
    deployment_id: String,
    #[serde(default)]
    recorded_at: u64,
}

/// A webhook delivery, recorded with the deployment it queued so that a
/// redelivery of it queues nothing.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub id: &'a str,
    /// Epoch seconds after which the record may go (DynamoDB TTL).
    pub expires_at: u64,
}

/// What [`Store::record_push`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushRecord {
    /// The deployment and its delivery are recorded; linking it as the
    /// app's newest is [`Store::link_push`]'s, once the push is queued.
    Recorded,
    /// The delivery was received before and recorded this deployment.
    Duplicate(String),
}

/// What [`Store::link_push`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushLink {
    /// The deployment is the app's newest; `previous` was, before it.
    Newest { previous: Option<String> },
    /// It was already the app's newest: the push was handled before.
    AlreadyNewest,
    /// A newer deployment was recorded first: this one is superseded.
    Outdated,
    /// The app was deleted meanwhile: this one is cancelled.
    AppGone,
}

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

#[derive(Clone)]
pub struct Store {
    db: Client,
    table: String,
}

impl Store {
    pub fn new(db: Client, table: impl Into<String>) -> Self {
        Self {
            db,
            table: table.into(),
        }
    }

    async fn get<T: DeserializeOwned>(
        &self,
        pk: String,
        sk: &str,
    ) -> Result<Option<T>, StoreError> {
        let out = self
            .db
            .get_item()
            .table_name(&self.table)
            .key("PK", s(pk))
            .key("SK", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        out.item.map(from_item).transpose()
    }

    pub async fn put_token(&self, owner: &str, token: &str) -> Result<(), StoreError> {
        self.db
            .put_item()
            .table_name(&self.table)
            .item(
                "PK",
                s(format!("TOKEN#{}", crate::api_token::digest(token))),
            )
            .item("SK", s("TOKEN"))
            .item("owner", s(owner))
            .item("createdAt", s(crate::ids::now_rfc3339()))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(conditional)?;
        Ok(())
    }

    pub async fn owner_for_token(&self, token: &str) -> Result<Option<String>, StoreError> {
        let out = self
            .db
            .get_item()
            .table_name(&self.table)
            .key(
                "PK",
                s(format!("TOKEN#{}", crate::api_token::digest(token))),
            )
            .key("SK", s("TOKEN"))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(out
            .item
            .and_then(|i| i.get("owner").and_then(|o| o.as_s().ok()).cloned()))
    }

    pub async fn app_id_for_name(
        &self,
        owner: &str,
        name: &str,
    ) -> Result<Option<String>, StoreError> {
        self.get_string(guard_pk(owner, name), "NAME", "appId")
            .await
    }

    /// One string attribute of an item, read consistently.
    async fn get_string(
        &self,
        pk: String,
        sk: &str,
        attribute: &str,
    ) -> Result<Option<String>, StoreError> {
        let out = self
            .db
            .get_item()
            .table_name(&self.table)
            .key("PK", s(pk))
            .key("SK", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        Ok(out
            .item
            .and_then(|i| i.get(attribute).and_then(|v| v.as_s().ok()).cloned()))
    }

    pub async fn get_app(&self, id: &str) -> Result<Option<App>, StoreError> {
        self.get(app_pk(id), "APP").await
    }

    /// The app if it exists, is not deleted and belongs to `owner`. Another
    /// owner's app is indistinguishable from a missing one.
    pub async fn get_owned_app(&self, owner: &str, id: &str) -> Result<Option<App>, StoreError> {
        if !crate::ids::is_id(id) {
            return Ok(None);
        }
        Ok(self
            .get_app(id)
            .await?
            .filter(|a| a.owner == owner && a.deleted_at.is_none()))
    }

    pub async fn list_apps(&self, owner: &str) -> Result<Vec<App>, StoreError> {
        let mut apps = Vec::new();
        let mut pages = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("GSI1PK = :pk AND begins_with(GSI1SK, :app)")
            .expression_attribute_values(":pk", s(format!("OWNER#{owner}")))
            .expression_attribute_values(":app", s("APP#"))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let app: App = from_item(item.map_err(dynamo)?)?;
            if app.deleted_at.is_none() {
                apps.push(app);
            }
        }
        Ok(apps)
    }

    /// Creates the app, its name guard and its first deployment (if any) at
    /// once. `Conflict` when the name was taken meanwhile.
    pub async fn create_app(
        &self,
        app: &App,
        first: Option<&Deployment>,
    ) -> Result<(), StoreError> {
        let guard = Put::builder()
            .table_name(&self.table)
            .item("PK", s(guard_pk(&app.owner, &app.name)))
            .item("SK", s("NAME"))
            .item("appId", s(&app.id))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(malformed_request)?;
        let app_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(app_item(app)?))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(malformed_request)?;
        let mut write = self
            .db
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(guard).build())
            .transact_items(TransactWriteItem::builder().put(app_put).build());
        if let Some(first) = first {
            write = write.transact_items(self.put_deployment_op(first)?);
        }
        write.send().await.map_err(conditional)?;
        Ok(())
    }

    fn put_deployment_op(&self, d: &Deployment) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(deployment_item(d)?))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(malformed_request)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Records a new deployment as the app's newest, replacing its config when
    /// one is given. Conditioned on the version read, so two concurrent
    /// deploys of one app cannot interleave and the newest deployment read
    /// is exactly the one the new one replaces. `Conflict` asks the caller
    /// to read again.
    pub async fn add_deployment(
        &self,
        app: &App,
        config: Option<&AppConfig>,
        deployment: &Deployment,
    ) -> Result<(), StoreError> {
        self.add_deployment_of(app, config, None, deployment).await
    }

    /// [`Store::add_deployment`] of an upload app, making `archive` its
    /// current archive (and forgetting the pending upload it came from).
    pub async fn add_archive_deployment(
        &self,
        app: &App,
        archive: &Archive,
        deployment: &Deployment,
    ) -> Result<(), StoreError> {
        self.add_deployment_of(app, None, Some(archive), deployment)
            .await
    }

    async fn add_deployment_of(
        &self,
        app: &App,
        config: Option<&AppConfig>,
        archive: Option<&Archive>,
        deployment: &Deployment,
    ) -> Result<(), StoreError> {
        let mut set = vec![
            "latestDeploymentId = :dep",
            "updatedAt = :now",
            "version = version + :one",
        ];
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("PK", s(app_pk(&app.id)))
            .key("SK", s("APP"))
            .expression_attribute_values(":dep", s(&deployment.id))
            .expression_attribute_values(":now", s(&deployment.created_at))
            .expression_attribute_values(":one", n(1))
            .condition_expression("version = :v AND attribute_not_exists(deletedAt)")
            .expression_attribute_values(":v", n(app.version));
        if let Some(config) = config {
            set.push("config = :config");
            update = update.expression_attribute_values(":config", attribute(config)?);
        }
        let mut remove = "";
        if let Some(archive) = archive {
            // Both are DynamoDB reserved words.
            set.push("#archive = :archive");
            update = update
                .expression_attribute_names("#archive", "archive")
                .expression_attribute_values(":archive", attribute(archive)?);
            if app.upload.as_ref().is_some_and(|u| u.path == archive.path) {
                remove = " REMOVE #upload";
                update = update.expression_attribute_names("#upload", "upload");
            }
        }
        let update = update
            .update_expression(format!("SET {}{remove}", set.join(", ")))
            .build()
            .map_err(malformed_request)?;
        self.db
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(self.put_deployment_op(deployment)?)
            .send()
            .await
            .map_err(conditional)?;
        Ok(())
    }

    /// Records a deployment a webhook push asked for, once per delivery.
    /// GitHub waits on this, so the deployment and the delivery naming it
    /// are written at once: a delivery may name its deployment a moment
    /// before that exists, or name one whose write failed. A redelivery that
    /// finds such a record older than [`ABANDONED_DELIVERY_SECONDS`] takes it
    /// over; a younger one is answered as a duplicate (the first copy is
    /// still being recorded, or has answered GitHub with its failure). The
    /// deployment stays `queued` and unlinked until [`Store::link_push`].
    pub async fn record_push(
        &self,
        app_id: &str,
        deployment: &Deployment,
        delivery: Option<Delivery<'_>>,
    ) -> Result<PushRecord, StoreError> {
        let written = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(deployment_item(deployment)?))
            .condition_expression("attribute_not_exists(PK)")
            .send();
        let Some(delivery) = delivery else {
            written.await.map_err(conditional)?;
            return Ok(PushRecord::Recorded);
        };
        let claimed = self.claim_delivery(app_id, &delivery, &deployment.id, None);
        let (written, claimed) = futures_util::future::join(written, claimed).await;
        match (written.map_err(conditional), claimed) {
            (Ok(_), Ok(())) => Ok(PushRecord::Recorded),
            (Ok(_), Err(StoreError::Conflict)) => {
                self.record_redelivery(app_id, deployment, &delivery).await
            }
            (Ok(_), Err(e)) => {
                self.delete_unlinked(&deployment.id).await?;
                Err(e)
            }
            (Err(e), Ok(())) => {
                // Left in place if this fails too: a redelivery takes it over.
                let _ = self.forget_delivery(app_id, delivery.id).await;
                Err(e)
            }
            (Err(e), Err(_)) => Err(e),
        }
    }

    /// Writes the delivery record naming `deployment_id`, if there is none
    /// (or, with `replacing`, if it still names that one).
    async fn claim_delivery(
        &self,
        app_id: &str,
        delivery: &Delivery<'_>,
        deployment_id: &str,
        replacing: Option<&str>,
    ) -> Result<(), StoreError> {
        let put = self
            .db
            .put_item()
            .table_name(&self.table)
            .item("PK", s(delivery_pk(app_id, delivery.id)))
            .item("SK", s("DELIVERY"))
            .item("deploymentId", s(deployment_id))
            .item("recordedAt", n(crate::ids::epoch_millis() / 1000))
            .item("expiresAt", n(delivery.expires_at));
        let put = match replacing {
            None => put.condition_expression("attribute_not_exists(PK)"),
            Some(earlier) => put
                .condition_expression("attribute_not_exists(PK) OR deploymentId = :earlier")
                .expression_attribute_values(":earlier", s(earlier)),
        };
        put.send().await.map_err(conditional)?;
        Ok(())
    }

    /// `deployment` was written for a delivery already on record: it goes,
    /// unless the record is an abandoned one it takes over.
    async fn record_redelivery(
        &self,
        app_id: &str,
        deployment: &Deployment,
        delivery: &Delivery<'_>,
    ) -> Result<PushRecord, StoreError> {
        let earlier = self
            .get(delivery_pk(app_id, delivery.id), "DELIVERY")
            .await?
            .unwrap_or(DeliveryRecord {
                deployment_id: String::new(),
                recorded_at: 0,
            });
        let abandoned = crate::ids::epoch_millis() / 1000
            > earlier.recorded_at + ABANDONED_DELIVERY_SECONDS
            && self.get_deployment(&earlier.deployment_id).await?.is_none();
        let mut recorded = earlier.deployment_id;
        if abandoned {
            let replacing = Some(recorded.as_str()).filter(|id| !id.is_empty());
            match self
                .claim_delivery(app_id, delivery, &deployment.id, replacing)
                .await
            {
                Ok(()) => return Ok(PushRecord::Recorded),
                // Another copy took it over first: this is a duplicate of that.
                Err(StoreError::Conflict) => {
                    if let Some(now) = self
                        .get_string(delivery_pk(app_id, delivery.id), "DELIVERY", "deploymentId")
                        .await?
                    {
                        recorded = now;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        self.delete_unlinked(&deployment.id).await?;
        Ok(PushRecord::Duplicate(recorded))
    }

    /// Forgets a delivery whose push could not be queued, so that GitHub's
    /// redelivery of it is not taken for a duplicate.
    pub async fn forget_delivery(&self, app_id: &str, delivery_id: &str) -> Result<(), StoreError> {
        self.db
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(delivery_pk(app_id, delivery_id)))
            .key("SK", s("DELIVERY"))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    /// Makes a recorded push's deployment the app's newest, unless a newer
    /// one was linked meanwhile (then it is superseded) or the app is gone
    /// (then it is cancelled). Safe to repeat.
    pub async fn link_push(
        &self,
        app_id: &str,
        deployment_id: &str,
    ) -> Result<PushLink, StoreError> {
        let linked = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("PK", s(app_pk(app_id)))
            .key("SK", s("APP"))
            .update_expression(
                "SET latestDeploymentId = :dep, updatedAt = :now, version = version + :one",
            )
            .condition_expression(
                "attribute_exists(PK) AND attribute_not_exists(deletedAt) \
                 AND (attribute_not_exists(latestDeploymentId) OR latestDeploymentId < :dep)",
            )
            .expression_attribute_values(":dep", s(deployment_id))
            .expression_attribute_values(":now", s(crate::ids::now_rfc3339()))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await;
        match linked.map_err(conditional) {
            Ok(out) => Ok(PushLink::Newest {
                previous: out
                    .attributes
                    .and_then(|a| a.get("latestDeploymentId").cloned())
                    .and_then(|v| v.as_s().ok().cloned()),
            }),
            Err(StoreError::Conflict) => {
                let app = self
                    .get_app(app_id)
                    .await?
                    .filter(|a| a.deleted_at.is_none());
                let (to, why, link) = match app {
                    None => (
                        DeploymentStatus::Cancelled,
                        crate::status::APP_DELETED,
                        PushLink::AppGone,
                    ),
                    Some(a) if a.latest_deployment_id.as_deref() == Some(deployment_id) => {
                        return Ok(PushLink::AlreadyNewest)
                    }
                    Some(_) => (
                        DeploymentStatus::Superseded,
                        "a newer deployment was recorded first",
                        PushLink::Outdated,
                    ),
                };
                match self.set_status(deployment_id, to, None, Some(why)).await {
                    Ok(_) | Err(StoreError::Conflict) => Ok(link),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Removes a deployment that never became an app's newest nor got a job.
    async fn delete_unlinked(&self, id: &str) -> Result<(), StoreError> {
        self.db
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(dep_pk(id)))
            .key("SK", s("DEP"))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    /// Marks the deployment `newest` replaced (the app's newest as read
    /// before `newest` was added) superseded if it is still queued or
    /// building. Each deployment does this for its predecessor, so no
    /// history needs reading; one that is missed (a crash in between) is
    /// superseded by the runner, which builds only an app's newest.
    pub async fn supersede_previous(
        &self,
        previous: Option<&str>,
        newest: &str,
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

    /// Records the upload URL just handed out; returns the one it replaces.
    pub async fn set_pending_upload(
        &self,
        app_id: &str,
        upload: &PendingUpload,
    ) -> Result<Option<PendingUpload>, StoreError> {
        let out = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("PK", s(app_pk(app_id)))
            .key("SK", s("APP"))
            .update_expression("SET #upload = :u, updatedAt = :now")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(deletedAt)")
            .expression_attribute_names("#upload", "upload")
            .expression_attribute_values(":u", attribute(upload)?)
            .expression_attribute_values(":now", s(crate::ids::now_rfc3339()))
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await
            .map_err(conditional)?;
        out.attributes
            .and_then(|mut a| a.remove("upload"))
            .map(serde_dynamo::from_attribute_value)
            .transpose()
            .map_err(|e: serde_dynamo::Error| StoreError::Malformed(e.to_string()))
    }

    /// Replaces the app's archive `old_path` by `new` (a `.zip` stored back
    /// as `.tar.gz`); `Conflict` when the app has moved on to another one.
    pub async fn replace_archive(
        &self,
        app_id: &str,
        old_path: &str,
        new: &Archive,
    ) -> Result<(), StoreError> {
        self.db
            .update_item()
            .table_name(&self.table)
            .key("PK", s(app_pk(app_id)))
            .key("SK", s("APP"))
            .update_expression("SET #archive = :new")
            .condition_expression("#archive.#path = :old AND attribute_not_exists(deletedAt)")
            .expression_attribute_names("#archive", "archive")
            .expression_attribute_names("#path", "path")
            .expression_attribute_values(":new", attribute(new)?)
            .expression_attribute_values(":old", s(old_path))
            .send()
            .await
            .map_err(conditional)?;
        Ok(())
    }

    /// Moves a deployment to `to` when its current status allows it (and,
    /// for a runner, when it still holds the claim `attempt`), recording why
    /// when `error` is given.
    pub async fn set_status(
        &self,
        id: &str,
        to: DeploymentStatus,
        attempt: Option<u32>,
        error: Option<&str>,
    ) -> Result<Deployment, StoreError> {
        self.transition(id, to.predecessors(), to, attempt, error)
            .await
    }

    /// [`Store::set_status`] from only some of `to`'s predecessors.
    async fn transition(
        &self,
        id: &str,
        from: &[DeploymentStatus],
        to: DeploymentStatus,
        attempt: Option<u32>,
        error: Option<&str>,
    ) -> Result<Deployment, StoreError> {
        debug_assert!(from.iter().all(|f| to.predecessors().contains(f)));
        if from.is_empty() {
            // Nothing moves back to the first status.
            return Err(StoreError::Conflict);
        }
        let placeholders: Vec<String> = (0..from.len()).map(|i| format!(":from{i}")).collect();
        let mut condition = format!("#status IN ({})", placeholders.join(", "));
        let mut set = "SET #status = :to, updatedAt = :now".to_owned();
        let mut req = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("PK", s(dep_pk(id)))
            .key("SK", s("DEP"))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":now", s(crate::ids::now_rfc3339()))
            .return_values(ReturnValue::AllNew);
        for (p, st) in placeholders.iter().zip(from) {
            req = req.expression_attribute_values(p, s(st.as_str()));
        }
        if let Some(attempt) = attempt {
            // A runner's step may run twice (at-least-once): reaching the
            // status it is already in, under its own claim, is no conflict.
            condition = format!("({condition} OR #status = :to) AND attempt = :attempt");
            req = req.expression_attribute_values(":attempt", n(attempt));
        }
        if let Some(error) = error {
            set.push_str(", #error = :error");
            req = req
                .expression_attribute_names("#error", "error")
                .expression_attribute_values(":error", s(error));
        }
        let out = req
            .update_expression(set)
            .condition_expression(condition)
            .send()
            .await
            .map_err(conditional)?;
        from_item(out.attributes.unwrap_or_default())
    }

    pub async fn get_deployment(&self, id: &str) -> Result<Option<Deployment>, StoreError> {
        if !crate::ids::is_id(id) {
            return Ok(None);
        }
        self.get(dep_pk(id), "DEP").await
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
            .expression_attribute_values(":pk", s(format!("APPDEPS#{app_id}")))
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
            let mut keys = KeysAndAttributes::builder();
            for id in chunk {
                keys = keys.keys(HashMap::from([
                    ("PK".to_owned(), s(dep_pk(id))),
                    ("SK".to_owned(), s("DEP")),
                ]));
            }
            let mut request =
                HashMap::from([(self.table.clone(), keys.build().map_err(malformed_request)?)]);
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

    /// A queued deployment is cancelled at once; one a runner holds gets the
    /// flag its runner watches.
    pub async fn request_cancel(&self, d: &Deployment) -> Result<CancelOutcome, StoreError> {
        if d.status == DeploymentStatus::Queued {
            match self
                .set_status(
                    &d.id,
                    DeploymentStatus::Cancelled,
                    None,
                    Some("cancelled before a runner took it"),
                )
                .await
            {
                Ok(_) => return Ok(CancelOutcome::Cancelled),
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        let out = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("PK", s(dep_pk(&d.id)))
            .key("SK", s("DEP"))
            .update_expression("SET cancelRequested = :t, updatedAt = :now")
            .condition_expression("#status IN (:b, :d)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .expression_attribute_values(":now", s(crate::ids::now_rfc3339()))
            .expression_attribute_values(":b", s(DeploymentStatus::Building.as_str()))
            .expression_attribute_values(":d", s(DeploymentStatus::Deploying.as_str()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(CancelOutcome::Requested),
            Err(e) => match conditional(e) {
                StoreError::Conflict => {
                    let now = self
                        .get_deployment(&d.id)
                        .await?
                        .ok_or(StoreError::Conflict)?;
                    Ok(CancelOutcome::AlreadyFinished(now.status))
                }
                other => Err(other),
            },
        }
    }

    /// Marks the app deleted and frees its name at once; runners remove its
    /// container on their next reconcile.
    pub async fn delete_app(&self, app: &App) -> Result<(), StoreError> {
        let mark = Update::builder()
            .table_name(&self.table)
            .key("PK", s(app_pk(&app.id)))
            .key("SK", s("APP"))
            .update_expression("SET deletedAt = :now, updatedAt = :now REMOVE GSI1PK, GSI1SK")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(deletedAt)")
            .expression_attribute_values(":now", s(crate::ids::now_rfc3339()))
            .build()
            .map_err(malformed_request)?;
        let free = Delete::builder()
            .table_name(&self.table)
            .key("PK", s(guard_pk(&app.owner, &app.name)))
            .key("SK", s("NAME"))
            .condition_expression("appId = :id")
            .expression_attribute_values(":id", s(&app.id))
            .build()
            .map_err(malformed_request)?;
        self.db
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(mark).build())
            .transact_items(TransactWriteItem::builder().delete(free).build())
            .send()
            .await
            .map_err(conditional)?;
        Ok(())
    }

    /// Takes a deployment for a runner: raises `attempt`, the fencing token
    /// every later write of this runner is conditioned on, so a runner that
    /// lost its claim (it was presumed dead) cannot write over its successor.
    /// A queued deployment becomes `building`; one taken over from a dead
    /// runner keeps its status and is done again from the start.
    ///
    /// The claim holds a lease until `lease_until` (epoch ms), which the
    /// runner renews while it works; a claim held under a live lease is not
    /// taken (a duplicate delivery of the job must not steal a build that is
    /// going well).
    pub async fn claim(
        &self,
        d: &Deployment,
        runner_id: &str,
        lease_until: u64,
    ) -> Result<Deployment, StoreError> {
        let to = if d.status == DeploymentStatus::Queued {
            DeploymentStatus::Building
        } else {
            d.status
        };
        let out = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("PK", s(dep_pk(&d.id)))
            .key("SK", s("DEP"))
            .update_expression("SET #status = :to, attempt = :next, runnerId = :runner, leaseUntil = :lease, updatedAt = :now, #error = :none")
            .condition_expression(
                "#status = :seen AND attempt = :attempt AND cancelRequested = :f AND (attribute_not_exists(leaseUntil) OR leaseUntil < :nowms)",
            )
            .expression_attribute_values(":lease", n(lease_until))
            .expression_attribute_values(":nowms", n(crate::ids::epoch_millis()))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#error", "error")
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":seen", s(d.status.as_str()))
            .expression_attribute_values(":attempt", n(d.attempt))
            .expression_attribute_values(":next", n(d.attempt + 1))
            .expression_attribute_values(":runner", s(runner_id))
            .expression_attribute_values(":now", s(crate::ids::now_rfc3339()))
            .expression_attribute_values(":none", AttributeValue::Null(true))
            .expression_attribute_values(":f", AttributeValue::Bool(false))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(conditional)?;
        from_item(out.attributes.unwrap_or_default())
    }

    /// Records facts about a deployment in progress (commit, cacheHit, …)
    /// under the runner's claim.
    pub async fn record(
        &self,
        id: &str,
        attempt: u32,
        fields: &[(&str, AttributeValue)],
    ) -> Result<(), StoreError> {
        let mut req = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("PK", s(dep_pk(id)))
            .key("SK", s("DEP"))
            .condition_expression("attempt = :attempt")
            .expression_attribute_values(":attempt", n(attempt))
            .expression_attribute_values(":now", s(crate::ids::now_rfc3339()));
        let mut set = vec!["updatedAt = :now".to_owned()];
        for (i, (name, value)) in fields.iter().enumerate() {
            set.push(format!("#f{i} = :f{i}"));
            req = req
                .expression_attribute_names(format!("#f{i}"), *name)
                .expression_attribute_values(format!(":f{i}"), value.clone());
        }
        req.update_expression(format!("SET {}", set.join(", ")))
            .send()
            .await
            .map_err(conditional)?;
        Ok(())
    }

    /// Records that the deployment builds `archive` now (its `.zip` stored
    /// back as `.tar.gz`), so a runner taking over fetches that one.
    pub async fn record_archive(
        &self,
        id: &str,
        attempt: u32,
        archive: &Archive,
    ) -> Result<(), StoreError> {
        self.record(id, attempt, &[("archive", attribute(archive)?)])
            .await
    }

    /// Records how long one phase took.
    pub async fn record_phase(
        &self,
        id: &str,
        attempt: u32,
        name: &str,
        phase: &Phase,
    ) -> Result<(), StoreError> {
        self.db
            .update_item()
            .table_name(&self.table)
            .key("PK", s(dep_pk(id)))
            .key("SK", s("DEP"))
            .update_expression("SET phases.#p = :phase, updatedAt = :now")
            .condition_expression("attempt = :attempt")
            .expression_attribute_names("#p", name)
            .expression_attribute_values(":phase", attribute(phase)?)
            .expression_attribute_values(":attempt", n(attempt))
            .expression_attribute_values(":now", s(crate::ids::now_rfc3339()))
            .send()
            .await
            .map_err(conditional)?;
        Ok(())
    }

    /// Makes a deployment the app's live one, in one transaction with its
    /// `running` status. Refused (`Conflict`) when a newer deployment is
    /// already live, the app was deleted, or the claim was lost: an older
    /// commit never goes live after a newer one.
    pub async fn go_live(
        &self,
        d: &Deployment,
        runner_id: &str,
        url: &str,
        start: &Phase,
    ) -> Result<(), StoreError> {
        let app = Update::builder()
            .table_name(&self.table)
            .key("PK", s(app_pk(&d.app_id)))
            .key("SK", s("APP"))
            .update_expression("SET liveDeploymentId = :dep, liveRunnerId = :runner, #url = :url, stopped = :f, updatedAt = :now")
            .condition_expression(
                "attribute_exists(PK) AND attribute_not_exists(deletedAt) AND (attribute_not_exists(liveDeploymentId) OR liveDeploymentId <= :dep)",
            )
            .expression_attribute_names("#url", "url")
            .expression_attribute_values(":dep", s(&d.id))
            .expression_attribute_values(":runner", s(runner_id))
            .expression_attribute_values(":url", s(url))
            .expression_attribute_values(":f", AttributeValue::Bool(false))
            .expression_attribute_values(":now", s(crate::ids::now_rfc3339()))
            .build()
            .map_err(malformed_request)?;
        let dep = Update::builder()
            .table_name(&self.table)
            .key("PK", s(dep_pk(&d.id)))
            .key("SK", s("DEP"))
            .update_expression(
                "SET #status = :running, #url = :url, phases.#start = :start, updatedAt = :now",
            )
            .expression_attribute_names("#start", "start")
            .expression_attribute_values(":start", attribute(start)?)
            .condition_expression("#status IN (:deploying, :running) AND attempt = :attempt")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#url", "url")
            .expression_attribute_values(":running", s(DeploymentStatus::Running.as_str()))
            .expression_attribute_values(":deploying", s(DeploymentStatus::Deploying.as_str()))
            .expression_attribute_values(":attempt", n(d.attempt))
            .expression_attribute_values(":url", s(url))
            .expression_attribute_values(":now", s(crate::ids::now_rfc3339()))
            .build()
            .map_err(malformed_request)?;
        self.db
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(app).build())
            .transact_items(TransactWriteItem::builder().update(dep).build())
            .transact_items(
                TransactWriteItem::builder()
                    .put(self.placement(runner_id, &d.app_id)?)
                    .build(),
            )
            .send()
            .await
            .map_err(conditional)?;
        Ok(())
    }

    /// "This runner's host runs the app's live container": what a runner
    /// checks to bring back a container that disappeared.
    fn placement(&self, runner_id: &str, app_id: &str) -> Result<Put, StoreError> {
        let (pk, sk) = placement_key(runner_id, app_id);
        Put::builder()
            .table_name(&self.table)
            .item("PK", s(pk))
            .item("SK", s(sk))
            .item("appId", s(app_id))
            .build()
            .map_err(malformed_request)
    }

    /// The apps whose live container a runner placed on its host.
    pub async fn placements(&self, runner_id: &str) -> Result<Vec<String>, StoreError> {
        let mut apps = Vec::new();
        let mut pages = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(runner_pk(runner_id)))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            if let Some(id) = item
                .map_err(dynamo)?
                .get("appId")
                .and_then(|v| v.as_s().ok())
            {
                apps.push(id.clone());
            }
        }
        Ok(apps)
    }

    pub async fn drop_placement(&self, runner_id: &str, app_id: &str) -> Result<(), StoreError> {
        let (pk, sk) = placement_key(runner_id, app_id);
        self.db
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(pk))
            .key("SK", s(sk))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    /// A live container brought back on another port changes the app's URL.
    pub async fn set_url(&self, app_id: &str, live: &str, url: &str) -> Result<(), StoreError> {
        self.db
            .update_item()
            .table_name(&self.table)
            .key("PK", s(app_pk(app_id)))
            .key("SK", s("APP"))
            .update_expression("SET #url = :url, updatedAt = :now")
            .condition_expression("liveDeploymentId = :live")
            .expression_attribute_names("#url", "url")
            .expression_attribute_values(":url", s(url))
            .expression_attribute_values(":live", s(live))
            .expression_attribute_values(":now", s(crate::ids::now_rfc3339()))
            .send()
            .await
            .map_err(conditional)?;
        Ok(())
    }

    /// Whether the app's live container is down and could not be restarted.
    pub async fn set_stopped(
        &self,
        app_id: &str,
        live: &str,
        stopped: bool,
    ) -> Result<(), StoreError> {
        self.db
            .update_item()
            .table_name(&self.table)
            .key("PK", s(app_pk(app_id)))
            .key("SK", s("APP"))
            .update_expression("SET stopped = :s, updatedAt = :now")
            .condition_expression("liveDeploymentId = :live")
            .expression_attribute_values(":s", AttributeValue::Bool(stopped))
            .expression_attribute_values(":live", s(live))
            .expression_attribute_values(":now", s(crate::ids::now_rfc3339()))
            .send()
            .await
            .map_err(conditional)?;
        Ok(())
    }
}
