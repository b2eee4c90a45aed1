//! API tokens: stored as their SHA-256, each speaking for one owner.

use super::error::{conditional, StoreError};
use super::item::{with_keys, Key, TokenItem};
use super::table::Store;
use crate::ids::Owner;

impl Store {
    pub async fn put_token(&self, owner: &Owner, token: &str) -> Result<(), StoreError> {
        let item = TokenItem {
            owner: owner.clone(),
            created_at: crate::ids::now_rfc3339(),
        };
        self.db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(with_keys(&item, token_key(token), None)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(conditional)?;
        Ok(())
    }

    /// The owner a token speaks for. An eventually consistent read: a token
    /// is read far more often than it is minted.
    pub async fn owner_for_token(&self, token: &str) -> Result<Option<Owner>, StoreError> {
        let out = self
            .db
            .get_item()
            .table_name(&self.table)
            .set_key(Some(token_key(token).attributes()))
            .send()
            .await
            .map_err(super::error::dynamo)?;
        Ok(out
            .item
            .map(super::item::from_item::<TokenItem>)
            .transpose()?
            .map(|t| t.owner))
    }
}

fn token_key(token: &str) -> Key {
    Key::token(&crate::api_token::digest(token))
}
