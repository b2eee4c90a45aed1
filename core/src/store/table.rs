//! The table and its client: [`Store`], and the reads and writes every
//! aggregate shares.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;

use super::error::{conditional, dynamo, malformed_request, StoreError};
use super::item::{from_item, Key};

#[derive(Clone)]
pub struct Store {
    pub(super) db: Client,
    pub(super) table: String,
}

impl Store {
    pub fn new(db: Client, table: impl Into<String>) -> Self {
        Self {
            db,
            table: table.into(),
        }
    }

    /// The store of `table`, with a client of the shared AWS configuration.
    pub fn connect(aws: &aws_types::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(aws), table)
    }

    /// One item, read consistently.
    pub(super) async fn get<T: DeserializeOwned>(&self, key: Key) -> Result<Option<T>, StoreError> {
        let out = self
            .db
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.attributes()))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        out.item.map(from_item).transpose()
    }

    /// A put of a new item, as one item of a transaction.
    pub(super) fn put_new(
        &self,
        item: HashMap<String, AttributeValue>,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(malformed_request)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Writes the items of a transaction at once; `Conflict` when one of
    /// their conditions did not hold.
    pub(super) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        self.db
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(conditional)?;
        Ok(())
    }

    pub(super) async fn delete(&self, key: Key) -> Result<(), StoreError> {
        self.db
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key.attributes()))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }
}
