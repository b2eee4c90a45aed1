//! The end-to-end harness: each test gets its own copy of template.yaml's
//! resources (a unique prefix) in the AWS emulator and its own `local-api`
//! process, and drives them from outside over HTTP like a user.
//!
//! `make test` starts the emulator, the Docker engine and the registry and
//! sets `SLIPWAY_ROOT`, `SLIPWAY_PYTHON`, `SLIPWAY_BIN_DIR` and the AWS
//! variables these tests read.
//!
//! | module           | what                                                    |
//! |------------------|---------------------------------------------------------|
//! | `stack`          | the test's resources, a runner, the engine, the registry, output files |
//! | `api`            | a `local-api` process and the calls tests make to it    |
//! | `git`            | real Git over HTTP                                      |
//! | `lambda_runtime` | a Lambda binary run against a stand-in Runtime API      |
//! | `fixtures`       | sites, Dockerfiles, GitHub payloads and signatures      |

mod api;
mod fixtures;
mod git;
mod lambda_runtime;
mod stack;

pub use api::*;
pub use fixtures::*;
pub use git::*;
pub use lambda_runtime::*;
pub use stack::*;

pub use serde_json::{json, Value};
pub use slipway_core::api::{
    AppList, AppStatus, AppView, DeploymentList, DeploymentView, ErrorDetail, HookAnswer,
    HookResult, LogPage, Queued, SourceView, UploadTicket,
};
pub use slipway_core::model::Trigger;
pub use slipway_core::status::DeploymentStatus;
