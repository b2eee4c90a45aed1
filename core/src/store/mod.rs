//! The DynamoDB store: one table (its layout is in [`item`]), read and
//! written by aggregate — [`tokens`], [`apps`], [`deployments`], webhook
//! [`pushes`], runners' [`claims`] and [`placements`]. Every state change
//! is a conditional write.

mod apps;
mod claims;
mod deployments;
mod item;
mod placements;
mod pushes;
mod tokens;
mod update;

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;

pub use claims::Claim;
pub use deployments::CancelOutcome;
pub use item::GSI1;
pub use pushes::{Delivery, PushLink, PushRecord};

use item::{from_item, Key};

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

    /// The store of `table`, with a client of the shared AWS configuration.
    pub fn connect(aws: &aws_types::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(aws), table)
    }

    /// One item, read consistently.
    async fn get<T: DeserializeOwned>(&self, key: Key) -> Result<Option<T>, StoreError> {
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
    fn put_new(
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
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        self.db
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(conditional)?;
        Ok(())
    }

    async fn delete(&self, key: Key) -> Result<(), StoreError> {
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
