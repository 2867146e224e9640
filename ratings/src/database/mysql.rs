//! ratings v2 on MySQL (or MariaDB): table `test.ratings(ReviewID, Rating)`, ReviewID 1 for
//! `Reviewer1` and 2 for `Reviewer2`.

use std::time::Duration;

use sqlx::{
    MySqlPool, Row,
    mysql::{MySqlConnectOptions, MySqlPoolOptions, MySqlRow, MySqlSslMode},
};
use tokio::time::Instant;

use super::{
    DatabaseConfig, DatabaseError, MySqlSettings, RawNumber, ReadFailure, ReviewerStars,
    data_failure, stars_from, whole_number,
};

/// Upstream reads every row in table order; we ask for the two by key, so extra rows or a
/// different order cannot shift the stars.
const SELECT: &str = "SELECT ReviewID, Rating FROM ratings WHERE ReviewID IN (1, 2)";

/// Upstream's words for a failed query.
const QUERY_FAILED: &str = "could not perform select";

/// Pooled connections idle this long are closed, so a database restart leaves few stale ones.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

pub(super) struct MySqlRatings {
    pool: MySqlPool,
}

impl MySqlRatings {
    pub(super) fn new(settings: &MySqlSettings, config: &DatabaseConfig) -> Self {
        let mut options = MySqlConnectOptions::new()
            .host(&settings.host)
            .port(settings.port)
            .username(&settings.user)
            .database("test")
            // The mesh encrypts (Istio mTLS), as upstream assumes.
            .ssl_mode(MySqlSslMode::Disabled);
        // An empty password is no password: sqlx would otherwise sign in with a scrambled
        // empty one, which MySQL refuses for an account that has none.
        if !settings.password.expose().is_empty() {
            options = options.password(settings.password.expose());
        }
        let pool = MySqlPoolOptions::new()
            .max_connections(config.pool_max_connections)
            .min_connections(0)
            .acquire_timeout(config.timeout)
            .idle_timeout(POOL_IDLE_TIMEOUT)
            // A pooled connection is pinged before use, so one the database dropped (a
            // restart) is replaced instead of failing a request.
            .test_before_acquire(true)
            .connect_lazy_with(options);
        Self { pool }
    }

    /// The two ratings, by `deadline`: no connection by then is [`DatabaseError::Unreachable`],
    /// no answer to the query [`timed_out`]'s error.
    pub(super) async fn read(
        &self,
        deadline: Instant,
        timed_out: impl Fn() -> ReadFailure,
    ) -> Result<ReviewerStars, ReadFailure> {
        let mut connection = match tokio::time::timeout_at(deadline, self.pool.acquire()).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(sqlx::Error::PoolTimedOut)) | Err(_) => {
                // sqlx retries a refused connection until the deadline (a server starting).
                return Err(ReadFailure::new(
                    DatabaseError::Unreachable,
                    "no connection in time: refused, unreachable, or no answer to the handshake",
                ));
            }
            Ok(Err(err)) => return Err(ReadFailure::new(DatabaseError::Unreachable, err)),
        };
        let rows = match tokio::time::timeout_at(
            deadline,
            sqlx::query(SELECT).fetch_all(&mut *connection),
        )
        .await
        {
            Err(_) => return Err(timed_out()),
            Ok(Err(err @ sqlx::Error::Database(_))) => {
                return Err(ReadFailure::new(DatabaseError::Query(QUERY_FAILED), err));
            }
            Ok(Err(err)) => return Err(ReadFailure::new(DatabaseError::Unreachable, err)),
            Ok(Ok(rows)) => rows,
        };
        let mut ratings: [Option<RawNumber>; 2] = [None, None];
        for row in &rows {
            let review_id = number(row, "ReviewID")
                .map_err(|shown| data_failure(format!("ReviewID {shown} is not a whole number")))?;
            let Some(slot) = usize::try_from(review_id - 1)
                .ok()
                .and_then(|index| ratings.get_mut(index))
            else {
                continue;
            };
            if slot.is_some() {
                // Without a primary key, a second row would make the stars depend on order.
                return Err(data_failure(format!(
                    "the ratings table has more than one row with ReviewID {review_id}"
                )));
            }
            *slot = Some(number(row, "Rating"));
        }
        let [Some(first), Some(second)] = ratings else {
            return Err(data_failure(
                "the ratings table needs rows with ReviewID 1 and 2".to_owned(),
            ));
        };
        stars_from([
            ("ReviewID 1's Rating", first),
            ("ReviewID 2's Rating", second),
        ])
    }
}

/// A column as a whole number, whatever integer or floating type holds it (signed or
/// unsigned, DOUBLE, a numeric string); otherwise how to show it (`NULL`, `4.5`).
fn number(row: &MySqlRow, column: &str) -> RawNumber {
    if let Ok(value) = row.try_get::<Option<i64>, _>(column) {
        return value.ok_or_else(|| "NULL".to_owned());
    }
    if let Ok(Some(value)) = row.try_get::<Option<u64>, _>(column) {
        return i64::try_from(value).map_err(|_| value.to_string());
    }
    if let Ok(Some(value)) = row.try_get::<Option<f64>, _>(column) {
        return whole_number(value);
    }
    match row.try_get::<Option<String>, _>(column) {
        Ok(Some(text)) => match text.trim().parse::<f64>() {
            Ok(value) => whole_number(value),
            Err(_) => Err(format!("{text:?}")),
        },
        _ => Err("not a number".to_owned()),
    }
}
