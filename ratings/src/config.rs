//! ratings' settings: `SERVICE_VERSION` selects the fault mode or (v2) the database, as the
//! original images do; our additions tune the faults so tests and demos need not wait minutes.

use std::time::Duration;

use clap::Args;
use service_runtime::{
    TelemetryArgs, TraceConfig,
    config::{ConfigError, millis, positive_millis},
};

use crate::{
    database::{DatabaseArgs, DatabaseConfig},
    faults::{FaultMode, Faults},
};

/// ratings' command line and environment.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "ratings")]
pub struct RatingsArgs {
    /// v1 (in memory), v2 (MySQL or MongoDB, see DB_TYPE), v-faulty, v-delayed,
    /// v-unavailable or v-unhealthy; any other label is v1, as in the original.
    #[arg(long, env, default_value = "v1")]
    pub service_version: String,
    /// Share of GETs that v-faulty and v-delayed hit, from 0 to 1.
    #[arg(long, env, value_parser = probability, default_value = "0.5")]
    pub fault_probability: f64,
    /// v-delayed's delay, in milliseconds.
    #[arg(long, env, value_parser = millis, default_value = "7000")]
    pub fault_delay_ms: Duration,
    /// v-unavailable's period of availability and unavailability, in milliseconds.
    #[arg(long, env, value_parser = positive_millis, default_value = "60000")]
    pub unavailable_period_ms: Duration,
    /// v-unhealthy's period of health and ill health, in milliseconds.
    #[arg(long, env, value_parser = positive_millis, default_value = "900000")]
    pub unhealthy_period_ms: Duration,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

fn probability(value: &str) -> Result<f64, String> {
    let share: f64 = value.trim().parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&share) {
        Ok(share)
    } else {
        Err("must be between 0 and 1".to_owned())
    }
}

/// ratings' configuration, parsed and checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub faults: Faults,
    /// v2: where the stars are read; `None` keeps them in memory.
    pub database: Option<DatabaseConfig>,
    pub tracing: TraceConfig,
}

impl Config {
    /// No faults, no span export: what tests and the launcher start from.
    pub fn new(mode: FaultMode) -> Self {
        Self {
            faults: Faults::new(mode),
            database: None,
            tracing: TraceConfig::disabled("ratings"),
        }
    }

    /// ratings v2 reading `database`.
    pub fn v2(database: DatabaseConfig) -> Self {
        Self {
            database: Some(database),
            ..Self::new(FaultMode::None)
        }
    }
}

impl TryFrom<RatingsArgs> for Config {
    type Error = ConfigError;

    fn try_from(args: RatingsArgs) -> Result<Self, ConfigError> {
        let config = Self::for_version(&args.service_version, args.database)?;
        Ok(Self {
            faults: Faults {
                probability: args.fault_probability,
                delay: args.fault_delay_ms,
                unavailable_period: args.unavailable_period_ms,
                unhealthy_period: args.unhealthy_period_ms,
                ..config.faults
            },
            tracing: args
                .telemetry
                .trace_config("ratings", &args.service_version),
            ..config
        })
    }
}

impl Config {
    /// The configuration `SERVICE_VERSION=version` selects, with the default fault tuning:
    /// `v2` reads the database `database` describes; the fault labels pick their mode; any
    /// other label is v1, as in the original.
    ///
    /// # Errors
    /// v2 with database settings that cannot work (see [`DatabaseConfig`]).
    pub fn for_version(version: &str, database: DatabaseArgs) -> Result<Self, ConfigError> {
        let mode = match version {
            "v2" => return Ok(Self::v2(DatabaseConfig::try_from(database)?)),
            "v-faulty" => FaultMode::Faulty,
            "v-delayed" => FaultMode::Delayed,
            "v-unavailable" => FaultMode::Unavailable,
            "v-unhealthy" => FaultMode::Unhealthy,
            _ => FaultMode::None,
        };
        Ok(Self::new(mode))
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new(FaultMode::None)
    }
}
