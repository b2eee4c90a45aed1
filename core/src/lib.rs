//! Slipway's domain: request validation, the deployment status machine, the
//! SQS job message, `.dockerignore` and the other rules; with the `aws`
//! feature (on by default) also the DynamoDB store and KMS envelope
//! encryption.

pub mod api;
pub mod api_token;
pub mod archive;
#[cfg(feature = "aws")]
pub mod aws_clients;
pub mod base_images;
pub mod build_share;
pub mod config_patch;
pub mod deploy_request;
pub mod dockerignore;
#[cfg(feature = "aws")]
pub mod envelope;
pub mod error_chain;
pub mod fields;
pub mod fleet;
pub mod github;
pub mod hostnames;
pub mod ids;
pub mod job;
pub mod model;
pub mod redact;
pub mod registry_login;
pub mod s3_keys;
pub mod status;
#[cfg(feature = "aws")]
pub mod store;
pub mod upload;
pub mod watch_paths;
