//! ratings: `GET`/`POST /ratings/{id}` (docs/behaviour.md#ratings), in memory, with the fault
//! modes that the Istio docs use to demonstrate resilience.

mod config;
mod faults;
mod routes;
mod store;

pub use config::{Config, RatingsArgs};
pub use faults::{FaultMode, Faults};
pub use routes::app;
pub use store::{RatingsStore, validate_ratings};
