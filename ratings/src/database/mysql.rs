//! ratings v2 on MySQL (or MariaDB): table `test.ratings(ReviewID, Rating)`, ReviewID 1 for
//! `Reviewer1` and 2 for `Reviewer2`.

use std::time::Duration;

use sqlx::{
    MySqlPool, Row,
    mysql::{MySqlConnectOptions, MySqlPoolOptions, MySqlSslMode},
};

use super::{DatabaseConfig, DatabaseError, MySqlSettings, ReadFailure, ReviewerStars, stars_from};

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

    pub(super) async fn read(&self) -> Result<ReviewerStars, ReadFailure> {
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(|err| ReadFailure::new(DatabaseError::Unreachable, err))?;
        let rows = sqlx::query(SELECT)
            .fetch_all(&mut *connection)
            .await
            .map_err(|err| match err {
                sqlx::Error::Database(_) => {
                    ReadFailure::new(DatabaseError::Query(QUERY_FAILED), err)
                }
                _ => ReadFailure::new(DatabaseError::Unreachable, err),
            })?;
        let mut ratings = [None, None];
        for row in &rows {
            let review_id: i64 = row.try_get("ReviewID").map_err(data_error)?;
            let rating: Option<i64> = row.try_get("Rating").map_err(data_error)?;
            if let Some(slot) = usize::try_from(review_id - 1)
                .ok()
                .and_then(|index| ratings.get_mut(index))
            {
                *slot = Some(rating);
            }
        }
        let [first, second] = ratings;
        let (Some(first), Some(second)) = (first, second) else {
            let message = "the ratings table needs rows with ReviewID 1 and 2".to_owned();
            return Err(ReadFailure::new(
                DatabaseError::Data(message.clone()),
                message,
            ));
        };
        stars_from([
            ("ReviewID 1's Rating", first),
            ("ReviewID 2's Rating", second),
        ])
    }
}

fn data_error(err: sqlx::Error) -> ReadFailure {
    ReadFailure::new(
        DatabaseError::Data("ReviewID and Rating must be whole numbers".into()),
        err,
    )
}
