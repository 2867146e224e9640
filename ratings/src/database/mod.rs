//! ratings v2: the two reviewers' stars read from MySQL or MongoDB on every GET, so an edit in
//! the database shows on the next request (docs/behaviour.md#ratings-v2).

mod metrics;
mod mongo;
mod mysql;
mod settings;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use prometheus_client::registry::Registry;

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
    /// Could not connect, sign in, or keep the connection.
    #[error("{UNREACHABLE}")]
    Unreachable,
    /// No answer within `DB_TIMEOUT_MS`.
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

/// Stars from two raw values, as found in the database: `which` names them in errors.
fn stars_from(values: [(&str, Option<i64>); 2]) -> Result<ReviewerStars, ReadFailure> {
    let mut stars = [0u8; 2];
    for (slot, (which, value)) in stars.iter_mut().zip(values) {
        *slot = value
            .and_then(|n| u8::try_from(n).ok())
            .filter(|n| *n <= 5)
            .ok_or_else(|| {
                let shown =
                    value.map_or_else(|| "not a whole number".to_owned(), |n| n.to_string());
                let message =
                    format!("{which} is {shown}; ratings must be whole stars from 0 to 5");
                ReadFailure::new(DatabaseError::Data(message.clone()), message)
            })?;
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
    /// Sets up the pool (no connection yet) and registers the database metrics.
    pub fn new(config: &DatabaseConfig, registry: &mut Registry) -> Self {
        let metrics = DatabaseMetrics::register(config.kind.system_name(), registry);
        let backend = match &config.kind {
            DatabaseKind::MySql(settings) => {
                Backend::MySql(mysql::MySqlRatings::new(settings, config))
            }
            DatabaseKind::MongoDb(url) => Backend::MongoDb(mongo::MongoRatings::new(url, config)),
        };
        Self {
            backend,
            timeout: config.timeout,
            metrics,
        }
    }

    /// The current stars, read now.
    ///
    /// # Errors
    /// [`DatabaseError`]: unreachable or slower than `DB_TIMEOUT_MS` (503), or an unusable
    /// answer (500). Each is logged with the driver's reason and counted.
    pub async fn read(&self) -> Result<ReviewerStars, DatabaseError> {
        let started = Instant::now();
        let read = async {
            match &self.backend {
                Backend::MySql(db) => db.read().await,
                Backend::MongoDb(db) => db.read().await,
            }
        };
        let result = match tokio::time::timeout(self.timeout, read).await {
            Ok(result) => result,
            Err(_) => Err(ReadFailure::new(
                DatabaseError::Timeout(self.timeout.as_millis()),
                "timed out",
            )),
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
            stars_from([("a", Some(5)), ("b", Some(0))]).ok(),
            Some(ReviewerStars([5, 0]))
        );
        for bad in [None, Some(-1), Some(6), Some(i64::MAX)] {
            let failure = stars_from([("ReviewID 1", Some(4)), ("ReviewID 2", bad)]).err();
            let Some(ReadFailure {
                error: DatabaseError::Data(message),
                ..
            }) = failure
            else {
                panic!("{bad:?} passed");
            };
            assert!(message.starts_with("ReviewID 2 is "), "{message}");
        }
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
