//! Placements: which runner's host runs an app's live container, so that
//! runner brings it back when it disappears.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::error::{dynamo, malformed_request, StoreError};
use super::item::{from_item, s, with_keys, Key, PlacementItem};
use super::table::Store;
use crate::ids::AppId;

impl Store {
    /// The placement of `app_id` on `runner_id`, as one item of a transaction.
    pub(super) fn placement(
        &self,
        runner_id: &str,
        app_id: &AppId,
    ) -> Result<TransactWriteItem, StoreError> {
        let item = PlacementItem {
            app_id: app_id.clone(),
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(with_keys(
                &item,
                Key::placement(runner_id, app_id),
                None,
            )?))
            .build()
            .map_err(malformed_request)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The apps whose live container a runner placed on its host.
    pub async fn placements(&self, runner_id: &str) -> Result<Vec<AppId>, StoreError> {
        let mut apps = Vec::new();
        let mut pages = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(Key::runner(runner_id)))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let placement: PlacementItem = from_item(item.map_err(dynamo)?)?;
            apps.push(placement.app_id);
        }
        Ok(apps)
    }

    pub async fn drop_placement(&self, runner_id: &str, app_id: &str) -> Result<(), StoreError> {
        self.delete(Key::placement(runner_id, app_id)).await
    }
}
