//! Slipway's HTTP API: the handlers, the bearer authorizer, and what the
//! Lambda binaries and `local-api` share.

pub mod auth;
pub mod authorizer;
pub mod config;
pub mod dashboard;
pub mod domains;
pub mod error;
pub mod openapi;
pub mod path_ids;
pub mod pushes;
pub mod queue;
pub mod registry;
pub mod router;
pub mod routes;
pub mod sources;
pub mod state;
pub mod telemetry;
pub mod views;
pub mod webhook_secrets;
