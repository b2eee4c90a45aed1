//! The DynamoDB store: one table (its layout is in [`item`]), read and
//! written by aggregate — [`tokens`], [`apps`], [`deployments`], webhook
//! [`pushes`], runners' [`claims`], [`placements`] and [`runners`] records, and the edges'
//! [`routes`]. Every state change is a conditional write.

mod apps;
mod build_holds;
mod claims;
mod deployments;
mod error;
mod item;
mod placements;
mod pushes;
pub(crate) mod routes;
mod runners;
mod table;
mod tokens;
mod update;

pub use build_holds::BuildPlace;
pub use claims::Claim;
pub use deployments::CancelOutcome;
pub use error::StoreError;
pub use item::GSI1;
pub use pushes::{Delivery, PushLink, PushRecord};
pub use routes::Route;
pub use table::Store;
