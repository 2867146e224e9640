//! ratings: `GET`/`POST /ratings/{id}` (spec §6), in memory, with the fault modes that the
//! Istio docs use to demonstrate resilience.

mod faults;
mod routes;
mod store;

pub use faults::{FaultMode, Faults};
pub use routes::app;
pub use store::{RatingsStore, validate_ratings};

use service_runtime::{ConfigError, Env, TraceConfig};

#[derive(Debug, Clone)]
pub struct Config {
    pub faults: Faults,
    pub tracing: TraceConfig,
}

impl Config {
    /// `SERVICE_VERSION`: `v1` (default and any unlisted value, as upstream), `v-faulty`,
    /// `v-delayed`, `v-unavailable`, `v-unhealthy`. `v2` (database) is not built yet and stops
    /// start-up rather than silently serving in-memory data. Our additions tune the faults:
    /// `FAULT_PROBABILITY` (0.5), `FAULT_DELAY_MS` (7000), `UNAVAILABLE_PERIOD_MS` (60000),
    /// `UNHEALTHY_PERIOD_MS` (900000).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let version = env.string_or("SERVICE_VERSION", "v1");
        let mode = match version.as_str() {
            "v2" => {
                return Err(ConfigError::new(
                    "SERVICE_VERSION",
                    &version,
                    "database-backed ratings (v2) are not implemented yet; use v1, v-faulty, \
                     v-delayed, v-unavailable or v-unhealthy",
                ));
            }
            "v-faulty" => FaultMode::Faulty,
            "v-delayed" => FaultMode::Delayed,
            "v-unavailable" => FaultMode::Unavailable,
            "v-unhealthy" => FaultMode::Unhealthy,
            _ => FaultMode::None,
        };
        let defaults = Faults::new(mode);
        let faults = Faults {
            probability: env.parse_or("FAULT_PROBABILITY", defaults.probability)?,
            delay: env.millis_or("FAULT_DELAY_MS", defaults.delay)?,
            unavailable_period: env
                .millis_or("UNAVAILABLE_PERIOD_MS", defaults.unavailable_period)?,
            unhealthy_period: env.millis_or("UNHEALTHY_PERIOD_MS", defaults.unhealthy_period)?,
            ..defaults
        };
        if !(0.0..=1.0).contains(&faults.probability) {
            return Err(ConfigError::new(
                "FAULT_PROBABILITY",
                &faults.probability.to_string(),
                "must be between 0 and 1",
            ));
        }
        Ok(Self {
            faults,
            tracing: TraceConfig::from_env(env, "ratings", &version)?,
        })
    }
}
