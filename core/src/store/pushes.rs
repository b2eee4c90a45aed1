//! Webhook pushes: a deployment recorded once per delivery (a redelivery
//! queues nothing), then linked as its app's newest unless a newer one was.

use aws_sdk_dynamodb::types::ReturnValue;

use super::error::{conditional, StoreError};
use super::item::{attr, deployment_item, n, s, with_keys, DeliveryItem, Key};
use super::table::Store;
use super::update::Update;
use crate::ids::{AppId, DeploymentId};
use crate::model::Deployment;
use crate::status::DeploymentStatus;

/// How long after it was recorded a delivery naming a deployment that was
/// never written may be taken over by a redelivery: longer than any write
/// of the first copy may still be under way.
const ABANDONED_DELIVERY_SECONDS: u64 = 300;

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
    Duplicate(DeploymentId),
}

/// What [`Store::link_push`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushLink {
    /// The deployment is the app's newest; `previous` was, before it.
    Newest { previous: Option<DeploymentId> },
    /// It was already the app's newest: the push was handled before.
    AlreadyNewest,
    /// A newer deployment was recorded first: this one is superseded.
    Outdated,
    /// The app was deleted meanwhile: this one is cancelled.
    AppGone,
}

impl Store {
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
        app_id: &AppId,
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
        app_id: &AppId,
        delivery: &Delivery<'_>,
        deployment_id: &DeploymentId,
        replacing: Option<&DeploymentId>,
    ) -> Result<(), StoreError> {
        let record = DeliveryItem {
            deployment_id: deployment_id.clone(),
            recorded_at: crate::ids::epoch_millis() / 1000,
            expires_at: delivery.expires_at,
        };
        let put = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(with_keys(
                &record,
                Key::delivery(app_id, delivery.id),
                None,
            )?));
        let put = match replacing {
            None => put.condition_expression("attribute_not_exists(PK)"),
            Some(earlier) => put
                .condition_expression(format!(
                    "attribute_not_exists(PK) OR #{0} = :earlier",
                    attr::DEPLOYMENT_ID
                ))
                .expression_attribute_names(
                    format!("#{}", attr::DEPLOYMENT_ID),
                    attr::DEPLOYMENT_ID,
                )
                .expression_attribute_values(":earlier", s(earlier)),
        };
        put.send().await.map_err(conditional)?;
        Ok(())
    }

    /// `deployment` was written for a delivery already on record: it goes,
    /// unless the record is an abandoned one it takes over.
    async fn record_redelivery(
        &self,
        app_id: &AppId,
        deployment: &Deployment,
        delivery: &Delivery<'_>,
    ) -> Result<PushRecord, StoreError> {
        let key = Key::delivery(app_id, delivery.id);
        let earlier: Option<DeliveryItem> = self.get(key.clone()).await?;
        // A record gone since (its TTL passed) holds nothing to duplicate.
        let abandoned = match &earlier {
            None => true,
            Some(e) => {
                crate::ids::epoch_millis() / 1000 > e.recorded_at + ABANDONED_DELIVERY_SECONDS
                    && self.get_deployment(&e.deployment_id).await?.is_none()
            }
        };
        let mut recorded = earlier.map(|e| e.deployment_id);
        if abandoned {
            match self
                .claim_delivery(app_id, delivery, &deployment.id, recorded.as_ref())
                .await
            {
                Ok(()) => return Ok(PushRecord::Recorded),
                // Another copy took it over first: this is a duplicate of that.
                Err(StoreError::Conflict) => {
                    recorded = self
                        .get::<DeliveryItem>(key)
                        .await?
                        .map(|now| now.deployment_id);
                }
                Err(e) => return Err(e),
            }
        }
        self.delete_unlinked(&deployment.id).await?;
        // Only a record taken over and then gone again names nothing: the
        // caller answers as for any conflict, and GitHub redelivers.
        recorded
            .map(PushRecord::Duplicate)
            .ok_or(StoreError::Conflict)
    }

    /// Forgets a delivery whose push could not be queued, so that GitHub's
    /// redelivery of it is not taken for a duplicate.
    pub async fn forget_delivery(
        &self,
        app_id: &AppId,
        delivery_id: &str,
    ) -> Result<(), StoreError> {
        self.delete(Key::delivery(app_id, delivery_id)).await
    }

    /// Makes a recorded push's deployment the app's newest, unless a newer
    /// one was linked meanwhile (then it is superseded) or the app is gone
    /// (then it is cancelled). Safe to repeat.
    pub async fn link_push(
        &self,
        app_id: &AppId,
        deployment_id: &DeploymentId,
    ) -> Result<PushLink, StoreError> {
        use attr::*;
        let linked = Update::new(Key::app(app_id))
            .set(LATEST_DEPLOYMENT_ID, s(deployment_id))
            .set_expr(format!("#{VERSION} = #{VERSION} + :one"))
            .value(":one", n(1))
            .when(format!(
                "attribute_exists(#{PK}) AND attribute_not_exists(#{DELETED_AT}) \
                 AND (attribute_not_exists(#{LATEST_DEPLOYMENT_ID}) OR #{LATEST_DEPLOYMENT_ID} < :{LATEST_DEPLOYMENT_ID})"
            ))
            .returning(ReturnValue::UpdatedOld)
            .send(self)
            .await;
        match linked {
            Ok(old) => Ok(PushLink::Newest {
                previous: old
                    .and_then(|mut a| a.remove(LATEST_DEPLOYMENT_ID))
                    .and_then(|v| v.as_s().ok().and_then(|id| DeploymentId::parse(id))),
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
                match self.set_status(deployment_id, to, Some(why)).await {
                    Ok(_) | Err(StoreError::Conflict) => Ok(link),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}
