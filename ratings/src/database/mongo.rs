//! ratings v2 on MongoDB: database `test`, collection `ratings`, the first two documents'
//! `rating` for `Reviewer1` and `Reviewer2`, in document order as upstream reads them.

use std::future::IntoFuture;

use futures::TryStreamExt;
use mongodb::{
    Client,
    bson::{Bson, Document, doc},
    options::{ClientOptions, Tls},
};
use tokio::time::Instant;

use super::{
    DatabaseConfig, DatabaseError, RawNumber, ReadFailure, ReviewerStars, Secret, data_failure,
    settings::BAD_URL, stars_from, whole_number,
};

/// Upstream's words for a failed query.
const QUERY_FAILED: &str = "could not load ratings from database";

/// With TLS on (`tls=true` or `ssl=true`) and no `tlsCAFile` in the URL, the driver would
/// trust only the roots compiled into it, unlike every other client here: it is given the CA
/// file the others trust ([`service_runtime::tls::ca_file`]). It takes one PEM file in place of
/// its own roots, so `SSL_CERT_DIR` does not apply to it.
fn trust_what_every_client_trusts(options: &mut ClientOptions) {
    if let Some(Tls::Enabled(tls)) = &mut options.tls
        && tls.ca_file_path.is_none()
    {
        tls.ca_file_path = Some(service_runtime::tls::ca_file());
    }
}

pub(super) struct MongoRatings {
    client: Client,
}

impl MongoRatings {
    /// A client for `url`; it connects on demand and keeps its own pool. Needs the Tokio
    /// runtime (the driver starts its monitors).
    ///
    /// # Errors
    /// [`BAD_URL`] when the driver refuses the string or its options.
    pub(super) fn new(url: &Secret, config: &DatabaseConfig) -> Result<Self, &'static str> {
        // Parsing a mongodb:// string does no I/O (mongodb+srv://, which would, is refused
        // with the settings).
        let mut options =
            futures::executor::block_on(ClientOptions::parse(url.expose()).into_future())
                .map_err(|_| BAD_URL)?;
        options.app_name = Some("ratings".into());
        // A little under the request's bound, so that a server nobody can reach reads as
        // unreachable rather than as a query without an answer.
        options.server_selection_timeout = Some(config.timeout.mul_f64(0.9));
        options.connect_timeout = Some(config.timeout.mul_f64(0.9));
        options.max_pool_size = Some(config.pool_max_connections);
        trust_what_every_client_trusts(&mut options);
        let client = Client::with_options(options).map_err(|_| BAD_URL)?;
        Ok(Self { client })
    }

    /// The first two documents, by `deadline`: no server by then is
    /// [`DatabaseError::Unreachable`], a selected server without an answer `timed_out`'s.
    pub(super) async fn read(
        &self,
        deadline: Instant,
        timed_out: impl Fn() -> ReadFailure,
    ) -> Result<ReviewerStars, ReadFailure> {
        let ratings = self
            .client
            .database("test")
            .collection::<Document>("ratings");
        let query = async {
            ratings
                .find(doc! {})
                .limit(2)
                .await?
                .try_collect::<Vec<Document>>()
                .await
        };
        let documents = match tokio::time::timeout_at(deadline, query).await {
            Err(_) => return Err(timed_out()),
            Ok(Err(err)) => return Err(classify(err)),
            Ok(Ok(documents)) => documents,
        };
        let [first, second] = <[Document; 2]>::try_from(documents).map_err(|found| {
            data_failure(format!(
                "the ratings collection holds {} documents; it needs two",
                found.len()
            ))
        })?;
        stars_from([
            ("the first document's rating", rating(&first)),
            ("the second document's rating", rating(&second)),
        ])
    }
}

/// `rating` as a whole number: mongoimport stores `5` as a 32-bit integer, while mongosh
/// stores a typed `5` as a double, so a double without a fraction counts too.
fn rating(document: &Document) -> RawNumber {
    match document.get("rating") {
        Some(Bson::Int32(n)) => Ok(i64::from(*n)),
        Some(Bson::Int64(n)) => Ok(*n),
        Some(Bson::Double(x)) => whole_number(*x),
        Some(Bson::Null) => Err("null".to_owned()),
        Some(other) => Err(format!("{other}")),
        None => Err("missing".to_owned()),
    }
}

/// An error the server returned for the query is a failed query; anything else (no server
/// selected in time, a refused sign-in, a broken connection) is the database being away.
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
        let value = |value: Bson| rating(&doc! { "rating": value });
        assert_eq!(value(Bson::Int32(5)), Ok(5));
        assert_eq!(value(Bson::Int64(4)), Ok(4));
        assert_eq!(value(Bson::Double(1.0)), Ok(1));
        assert_eq!(
            value(Bson::Double(6.0)),
            Ok(6),
            "then refused as 6, not as a fraction"
        );
        assert_eq!(value(Bson::Double(4.5)), Err("4.5".into()));
        assert!(value(Bson::Double(f64::NAN)).is_err());
        assert_eq!(value(Bson::String("5".into())), Err("\"5\"".into()));
        assert_eq!(rating(&doc! { "stars": 5 }), Err("missing".into()));
    }
}
