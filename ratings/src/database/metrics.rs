//! Database metrics, named after OpenTelemetry's database client conventions
//! (`db.client.operation.duration`, `db.system.name`, `error.type`) in Prometheus form.

use std::time::Duration;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SystemLabels {
    db_system_name: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    db_system_name: &'static str,
    error_type: &'static str,
}

type DurationFamily = Family<SystemLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    // 0.25 ms .. ~8 s, as the HTTP histograms.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// Reads of the ratings database: how many, how long, and how many failed and why.
#[derive(Clone)]
pub(super) struct DatabaseMetrics {
    system: &'static str,
    operations: Family<SystemLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    duration: DurationFamily,
}

impl DatabaseMetrics {
    /// Registers `db_client_operations_total`, `db_client_operation_errors_total` and
    /// `db_client_operation_duration_seconds` for the database `system` (`mysql`, `mongodb`).
    pub(super) fn register(system: &'static str, registry: &mut Registry) -> Self {
        let metrics = Self {
            system,
            operations: Family::default(),
            errors: Family::default(),
            duration: DurationFamily::new_with_constructor(duration_histogram),
        };
        registry.register(
            "db_client_operations",
            "Reads of the ratings database, by database system",
            metrics.operations.clone(),
        );
        registry.register(
            "db_client_operation_errors",
            "Failed reads of the ratings database, by database system and error type \
             (unreachable, timeout, query, data)",
            metrics.errors.clone(),
        );
        registry.register(
            "db_client_operation_duration_seconds",
            "Time of a read of the ratings database, connecting included",
            metrics.duration.clone(),
        );
        metrics
    }

    /// The `db.system.name` these metrics are for.
    pub(super) fn system(&self) -> &'static str {
        self.system
    }

    /// One read that took `elapsed` and failed with `error_type`, if it failed.
    pub(super) fn record(&self, elapsed: Duration, error_type: Option<&'static str>) {
        let labels = SystemLabels {
            db_system_name: self.system,
        };
        self.operations.get_or_create(&labels).inc();
        self.duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        if let Some(error_type) = error_type {
            self.errors
                .get_or_create(&ErrorLabels {
                    db_system_name: self.system,
                    error_type,
                })
                .inc();
        }
    }
}
