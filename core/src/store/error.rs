//! What a store call can fail with, and how an SDK error becomes one.

use aws_sdk_dynamodb::error::SdkError;

use crate::error_chain::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB failed")]
    Dynamo(#[source] BoxError),
    #[error("the item changed meanwhile")]
    Conflict,
    #[error("an item does not match its type")]
    Malformed(#[from] serde_dynamo::Error),
}

pub(super) fn dynamo<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Dynamo(e.into())
}

/// A conditional write that did not hold is a conflict, anything else an error.
pub(super) fn conditional<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match e.as_service_error().and_then(|se| se.code()) {
        Some("ConditionalCheckFailedException") | Some("TransactionCanceledException") => {
            StoreError::Conflict
        }
        _ => dynamo(e),
    }
}

/// A request the SDK's builder refused: a bug of ours, not of the caller.
pub(super) fn malformed_request(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Dynamo(e.into())
}
