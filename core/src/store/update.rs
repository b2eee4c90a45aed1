//! One builder for conditional `UpdateItem`s, alone or in a transaction.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem};

use super::error::{conditional, malformed_request, StoreError};
use super::item::{attr, s, Key};
use super::table::Store;

/// One conditional `UpdateItem`. Expressions name attributes as `#name`
/// (so reserved words such as `status` and `url` need no care); every such
/// name is declared from the expressions themselves. `updatedAt` is set by
/// every update.
pub(crate) struct Update {
    key: Key,
    set: Vec<String>,
    remove: Vec<String>,
    condition: Vec<String>,
    values: HashMap<String, AttributeValue>,
    returns: Option<ReturnValue>,
}

impl Update {
    pub fn new(key: Key) -> Self {
        Self {
            key,
            set: vec![format!("#{} = :updatedAt", attr::UPDATED_AT)],
            remove: Vec::new(),
            condition: Vec::new(),
            values: HashMap::from([(":updatedAt".to_owned(), s(crate::ids::now_rfc3339()))]),
            returns: None,
        }
    }

    /// Sets `name` to `value`.
    pub fn set(mut self, name: &str, value: AttributeValue) -> Self {
        self.set.push(format!("#{name} = :{name}"));
        self.value(format!(":{name}"), value)
    }

    /// A `SET` clause written out (`#version = #version + :one`).
    pub fn set_expr(mut self, clause: impl Into<String>) -> Self {
        self.set.push(clause.into());
        self
    }

    pub fn remove(mut self, name: &str) -> Self {
        self.remove.push(format!("#{name}"));
        self
    }

    /// Adds a condition; all of them must hold.
    pub fn when(mut self, condition: impl Into<String>) -> Self {
        self.condition.push(format!("({})", condition.into()));
        self
    }

    /// A value an expression names (`:name`).
    /// Each placeholder is given once: a second value would silently
    /// replace the first (a condition's `:attempt` overwriting the
    /// attempt being set, say).
    pub fn value(mut self, placeholder: impl Into<String>, value: AttributeValue) -> Self {
        let placeholder = placeholder.into();
        let replaced = self.values.insert(placeholder.clone(), value);
        assert!(replaced.is_none(), "{placeholder} is given twice");
        self
    }

    pub fn returning(mut self, returns: ReturnValue) -> Self {
        self.returns = Some(returns);
        self
    }

    fn update_expression(&self) -> String {
        let mut e = format!("SET {}", self.set.join(", "));
        if !self.remove.is_empty() {
            e.push_str(&format!(" REMOVE {}", self.remove.join(", ")));
        }
        e
    }

    fn condition_expression(&self) -> Option<String> {
        (!self.condition.is_empty()).then(|| self.condition.join(" AND "))
    }

    /// `#name` → `name` for every name the expressions use.
    fn names(&self) -> HashMap<String, String> {
        let exprs = self.set.iter().chain(&self.remove).chain(&self.condition);
        let mut names = BTreeSet::new();
        for e in exprs {
            names.extend(placeholders(e));
        }
        names
            .into_iter()
            .map(|n| (format!("#{n}"), n.to_owned()))
            .collect()
    }

    /// Sends it; a condition that did not hold is [`StoreError::Conflict`].
    pub async fn send(
        self,
        store: &Store,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = store
            .db
            .update_item()
            .table_name(&store.table)
            .set_key(Some(self.key.attributes()))
            .update_expression(self.update_expression())
            .set_condition_expression(self.condition_expression())
            .set_expression_attribute_names(Some(self.names()))
            .set_expression_attribute_values(Some(self.values.clone()))
            .set_return_values(self.returns.clone())
            .send()
            .await
            .map_err(conditional)?;
        Ok(out.attributes)
    }

    /// The same update as one item of a transaction.
    pub fn in_transaction(self, table: &str) -> Result<TransactWriteItem, StoreError> {
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(table)
            .set_key(Some(self.key.attributes()))
            .update_expression(self.update_expression())
            .set_condition_expression(self.condition_expression())
            .set_expression_attribute_names(Some(self.names()))
            .set_expression_attribute_values(Some(self.values))
            .build()
            .map_err(malformed_request)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

/// The `#name`s an expression uses.
fn placeholders(expression: &str) -> impl Iterator<Item = &str> {
    expression.split('#').skip(1).map(|rest| {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        &rest[..end]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_declares_the_names_its_expressions_use() {
        let u = Update::new(Key::deployment("d"))
            .set(attr::STATUS, s("running"))
            .set_expr(format!("#{}.#start = :start", attr::PHASES))
            .remove(attr::UPLOAD)
            .when(format!("#{} = :attempt", attr::ATTEMPT));
        assert_eq!(
            u.update_expression(),
            "SET #updatedAt = :updatedAt, #status = :status, #phases.#start = :start REMOVE #upload"
        );
        assert_eq!(
            u.condition_expression().as_deref(),
            Some("(#attempt = :attempt)")
        );
        let names = u.names();
        for n in [
            "updatedAt",
            "status",
            "phases",
            "start",
            "upload",
            "attempt",
        ] {
            assert_eq!(names[&format!("#{n}")], n);
        }
        assert_eq!(names.len(), 6);
    }

    #[test]
    #[should_panic(expected = ":attempt is given twice")]
    fn a_placeholder_given_twice_is_refused() {
        let _ = Update::new(Key::deployment("d"))
            .set(attr::ATTEMPT, s("2"))
            .value(":attempt", s("1"));
    }
}
