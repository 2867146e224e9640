//! ratings v2: the two reviewers' stars read from MySQL or MongoDB on every GET, so an edit in
//! the database shows on the next request (docs/behaviour.md#ratings-v2).

mod metrics;
mod mongo;
mod mysql;
mod settings;

use std::{
    panic::AssertUnwindSafe,
    time::{Duration, Instant},
};

use axum::http::StatusCode;
use futures::FutureExt;
use prometheus_client::registry::Registry;
use service_runtime::config::ConfigError;

pub use settings::{DatabaseArgs, DatabaseConfig, DatabaseKind, MySqlSettings, Secret};

use metrics::DatabaseMetrics;

/// Upstream's answer when the database cannot be reached (there with status 500, or 200 for
/// MySQL; ours is 503 so reviews and the mesh see a failure).
const UNREACHABLE: &str = "could not connect to ratings database";

/// The stars of `Reviewer1` and `Reviewer2`, each a whole number from 0 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewerStars(pub [u8; 2]);

/// Why a database read gave no stars. The text is the JSON error's; none holds a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseError {
    /// No connection within `DB_TIMEOUT_MS`: refused, unreachable, the sign-in refused, or a
    /// server that accepts and never finishes the handshake; or the connection broke.
    #[error("{UNREACHABLE}")]
    Unreachable,
    /// Connected, but the query had no answer within `DB_TIMEOUT_MS` (a locked table, say).
    #[error("the ratings database did not answer within {0} ms")]
    Timeout(u128),
    /// The database answered the query with an error (a missing table, say); upstream's
    /// words for each database.
    #[error("{0}")]
    Query(&'static str),
    /// The rows or documents are not two ratings of 0 to 5 stars.
    #[error("{0}")]
    Data(String),
}

impl DatabaseError {
    /// 503 while the database is away or slow (reviews shows "Ratings service is currently
    /// unavailable", and retries elsewhere); 500 when it answers with something unusable.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unreachable | Self::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Query(_) | Self::Data(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `error_type` metric label.
    fn error_type(&self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::Timeout(_) => "timeout",
            Self::Query(_) => "query",
            Self::Data(_) => "data",
        }
    }
}

/// A failed read from a driver: what the client is told, and the driver's own words for the
/// log (drivers do not put passwords in their errors; we never log connection settings).
struct ReadFailure {
    error: DatabaseError,
    cause: String,
}

impl ReadFailure {
    fn new(error: DatabaseError, cause: impl ToString) -> Self {
        Self {
            error,
            cause: cause.to_string(),
        }
    }
}

/// A value as the database holds it: a whole number, or how to show what it is instead
/// (`NULL`, `4.5`, `"five"`).
type RawNumber = Result<i64, String>;

/// A floating-point value as a whole number, if it is one (MongoDB doubles, MySQL DOUBLE).
fn whole_number(value: f64) -> RawNumber {
    // Beyond 2^53 a double no longer holds every integer.
    if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
        Ok(value as i64)
    } else {
        Err(value.to_string())
    }
}

/// A data error: the JSON error's text is also the log's cause.
fn data_failure(message: String) -> ReadFailure {
    ReadFailure::new(DatabaseError::Data(message.clone()), message)
}

/// Stars from two raw values, as found in the database: `which` names them in errors.
fn stars_from(values: [(&str, RawNumber); 2]) -> Result<ReviewerStars, ReadFailure> {
    let mut stars = [0u8; 2];
    for (slot, (which, value)) in stars.iter_mut().zip(values) {
        let shown = match value {
            Ok(n) => match u8::try_from(n) {
                Ok(n) if n <= 5 => {
                    *slot = n;
                    continue;
                }
                _ => n.to_string(),
            },
            Err(shown) => shown,
        };
        return Err(data_failure(format!(
            "{which} is {shown}; ratings must be whole stars from 0 to 5"
        )));
    }
    Ok(ReviewerStars(stars))
}

enum Backend {
    MySql(mysql::MySqlRatings),
    MongoDb(mongo::MongoRatings),
}

/// ratings v2's database: a connection pool opened on demand, so the service starts and
/// answers `/health` while the database is still down.
pub struct RatingsDatabase {
    backend: Backend,
    timeout: Duration,
    metrics: DatabaseMetrics,
}

impl RatingsDatabase {
    /// Sets up the pool (no connection yet) and registers the database metrics. Needs the
    /// Tokio runtime.
    ///
    /// # Errors
    /// A `MONGO_DB_URL` whose options the driver refuses (a pool size of 0, a write concern
    /// that contradicts itself, a TLS file that does not exist, …); the message names the
    /// variable and never its value.
    pub fn new(config: &DatabaseConfig, registry: &mut Registry) -> Result<Self, ConfigError> {
        let metrics = DatabaseMetrics::register(config.kind.system_name(), registry);
        let backend = match &config.kind {
            DatabaseKind::MySql(settings) => {
                Backend::MySql(mysql::MySqlRatings::new(settings, config))
            }
            DatabaseKind::MongoDb(url) => Backend::MongoDb(
                mongo::MongoRatings::new(url, config)
                    .map_err(|why| ConfigError::new("MONGO_DB_URL", "(not shown)", why))?,
            ),
        };
        Ok(Self {
            backend,
            timeout: config.timeout,
            metrics,
        })
    }

    /// The current stars, read now.
    ///
    /// # Errors
    /// [`DatabaseError`]: unreachable or slower than `DB_TIMEOUT_MS` (503), or an unusable
    /// answer (500). Each is logged with the driver's reason and counted. A driver that
    /// panics on what the server sent counts as the database being unreachable: the request
    /// still gets its answer.
    pub async fn read(&self) -> Result<ReviewerStars, DatabaseError> {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.timeout;
        let timed_out = || {
            ReadFailure::new(
                DatabaseError::Timeout(self.timeout.as_millis()),
                "no answer to the query in time",
            )
        };
        let read = async {
            match &self.backend {
                Backend::MySql(db) => db.read(deadline, timed_out).await,
                Backend::MongoDb(db) => db.read(deadline, timed_out).await,
            }
        };
        // The backends keep the deadline themselves; this is the safety net.
        let bounded = tokio::time::timeout_at(
            deadline + Duration::from_millis(100),
            AssertUnwindSafe(read).catch_unwind(),
        );
        let result = match bounded.await {
            Ok(Ok(result)) => result,
            Ok(Err(_panic)) => Err(ReadFailure::new(
                DatabaseError::Unreachable,
                "the driver panicked on what the server sent",
            )),
            Err(_) => Err(timed_out()),
        };
        let elapsed = started.elapsed();
        self.metrics
            .record(elapsed, result.as_ref().err().map(|f| f.error.error_type()));
        result.map_err(|failure| {
            tracing::warn!(
                db.system.name = self.metrics.system(),
                error.type = failure.error.error_type(),
                cause = %failure.cause,
                "ratings database read failed"
            );
            failure.error
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_stars_from_0_to_5_pass() {
        assert_eq!(
            stars_from([("a", Ok(5)), ("b", Ok(0))]).ok(),
            Some(ReviewerStars([5, 0]))
        );
        for (bad, shown) in [
            (Err("NULL".to_owned()), "NULL"),
            (Ok(-1), "-1"),
            (Ok(6), "6"),
            (Ok(i64::MAX), "9223372036854775807"),
            (whole_number(4.5), "4.5"),
        ] {
            let failure = stars_from([("ReviewID 1", Ok(4)), ("ReviewID 2", bad)]).err();
            let Some(ReadFailure {
                error: DatabaseError::Data(message),
                ..
            }) = failure
            else {
                panic!("{shown} passed");
            };
            assert!(
                message.starts_with(&format!("ReviewID 2 is {shown};")),
                "{message}"
            );
        }
        assert_eq!(whole_number(6.0), Ok(6));
        assert!(whole_number(f64::NAN).is_err() && whole_number(1e300).is_err());
    }

    #[test]
    fn only_an_absent_or_slow_database_is_unavailable() {
        assert_eq!(DatabaseError::Unreachable.status(), 503);
        assert_eq!(DatabaseError::Timeout(2000).status(), 503);
        assert_eq!(DatabaseError::Query("q").status(), 500);
        assert_eq!(DatabaseError::Data("d".into()).status(), 500);
        assert_eq!(
            DatabaseError::Timeout(2000).to_string(),
            "the ratings database did not answer within 2000 ms"
        );
    }
}
