//! Runners' records: every record sits in one partition, so the operator
//! lists the fleet with one query.

use super::error::{dynamo, StoreError};
use super::item::{from_item, s, with_keys, Key, RUNNERS};
use super::table::Store;
use crate::fleet::RunnerRecord;

impl Store {
    /// Writes what a runner says about itself, over what it said before.
    pub async fn announce_runner(&self, record: &RunnerRecord) -> Result<(), StoreError> {
        self.db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(with_keys(
                record,
                Key::runner_record(&record.id),
                None,
            )?))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    /// Every runner's last record, by id.
    pub async fn runners(&self) -> Result<Vec<RunnerRecord>, StoreError> {
        let mut runners = Vec::new();
        let mut pages = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(RUNNERS))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            runners.push(from_item(item.map_err(dynamo)?)?);
        }
        Ok(runners)
    }
}
