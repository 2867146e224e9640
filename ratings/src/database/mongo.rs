//! ratings v2 on MongoDB: database `test`, collection `ratings`, the first two documents'
//! `rating` for `Reviewer1` and `Reviewer2`, in document order as upstream reads them.

use futures::TryStreamExt;
use mongodb::{
    Client,
    bson::{Bson, Document, doc},
    options::ClientOptions,
};
use tokio::sync::OnceCell;

use super::{DatabaseConfig, DatabaseError, ReadFailure, ReviewerStars, Secret, stars_from};

/// Upstream's words for a failed query.
const QUERY_FAILED: &str = "could not load ratings from database";

pub(super) struct MongoRatings {
    url: Secret,
    config: DatabaseConfig,
    /// Built on the first GET: the driver parses options asynchronously, and the client
    /// connects on demand and keeps its own pool.
    client: OnceCell<Client>,
}

impl MongoRatings {
    pub(super) fn new(url: &Secret, config: &DatabaseConfig) -> Self {
        Self {
            url: url.clone(),
            config: config.clone(),
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> Result<&Client, ReadFailure> {
        self.client
            .get_or_try_init(|| async {
                let mut options = ClientOptions::parse(self.url.expose()).await?;
                options.app_name = Some("ratings".into());
                options.server_selection_timeout = Some(self.config.timeout);
                options.connect_timeout = Some(self.config.timeout);
                options.max_pool_size = Some(self.config.pool_max_connections);
                Client::with_options(options)
            })
            .await
            .map_err(|err| ReadFailure::new(DatabaseError::Unreachable, err.kind))
    }

    pub(super) async fn read(&self) -> Result<ReviewerStars, ReadFailure> {
        let ratings = self
            .client()
            .await?
            .database("test")
            .collection::<Document>("ratings");
        let documents: Vec<Document> = ratings
            .find(doc! {})
            .limit(2)
            .await
            .map_err(classify)?
            .try_collect()
            .await
            .map_err(classify)?;
        let [first, second] = <[Document; 2]>::try_from(documents).map_err(|found| {
            let message = format!(
                "the ratings collection holds {} documents; it needs two",
                found.len()
            );
            ReadFailure::new(DatabaseError::Data(message.clone()), message)
        })?;
        stars_from([
            ("the first document's rating", whole_number(&first)),
            ("the second document's rating", whole_number(&second)),
        ])
    }
}

/// `rating` as a whole number: mongoimport stores `5` as a 32-bit integer, while mongosh
/// stores a typed `5` as a double, so a double without a fraction counts too.
fn whole_number(document: &Document) -> Option<i64> {
    match document.get("rating")? {
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Int64(n) => Some(*n),
        Bson::Double(x) if x.fract() == 0.0 && (0.0..=5.0).contains(x) => Some(*x as i64),
        _ => None,
    }
}

/// Server selection failing (nothing reachable within the timeout) is the database being
/// away; an error the server returned is a failed query.
fn classify(err: mongodb::error::Error) -> ReadFailure {
    use mongodb::error::ErrorKind;
    let error = match *err.kind {
        ErrorKind::Command(_) | ErrorKind::Write(_) | ErrorKind::InvalidResponse { .. } => {
            DatabaseError::Query(QUERY_FAILED)
        }
        _ => DatabaseError::Unreachable,
    };
    ReadFailure::new(error, err.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_are_whole_numbers_of_any_bson_integer_or_double_type() {
        let rating = |value: Bson| whole_number(&doc! { "rating": value });
        assert_eq!(rating(Bson::Int32(5)), Some(5));
        assert_eq!(rating(Bson::Int64(4)), Some(4));
        assert_eq!(rating(Bson::Double(1.0)), Some(1));
        assert_eq!(rating(Bson::Double(4.5)), None);
        assert_eq!(rating(Bson::Double(f64::NAN)), None);
        assert_eq!(rating(Bson::String("5".into())), None);
        assert_eq!(whole_number(&doc! { "stars": 5 }), None);
    }
}
