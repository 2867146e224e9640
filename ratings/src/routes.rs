//! The ratings router.

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State, rejection::BytesRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Serialize;
use serde_json::{Map, Value};
use service_runtime::{
    App, Observability, PathParam,
    config::ConfigError,
    json::{error_response, json_response, not_found, raw_json},
};

use crate::{
    config::Config,
    database::{DatabaseError, RatingsDatabase, ReviewerStars},
    faults::GetFault,
    store::{MAX_BODY_BYTES, RatingsStore, StoreError, validate_ratings},
};

const HEALTHY: &str = r#"{"status":"Ratings is healthy"}"#;
const NOT_HEALTHY: &str = r#"{"status":"Ratings is not healthy"}"#;
const BAD_ID: &str = "please provide numeric product ID";
const BAD_JSON: &str = "please provide valid ratings JSON";
const UNAVAILABLE: &str = "Service unavailable";
const POST_ON_DATABASE: &str = "Post not implemented for database backed ratings";

struct AppState {
    config: Config,
    store: RatingsStore,
    /// v2's database; `None` serves [`AppState::store`].
    database: Option<RatingsDatabase>,
}

enum RatingsError {
    BadId,
    BadJson,
    BadShape(&'static str),
    Store(StoreError),
    /// The body could not be read: too large (413), or the client stalled or went away.
    Body(StatusCode),
    Unavailable,
    Database(DatabaseError),
    /// v2 takes no POST, as upstream.
    PostOnDatabase,
}

impl IntoResponse for RatingsError {
    fn into_response(self) -> Response {
        match self {
            Self::BadId => error_response(StatusCode::BAD_REQUEST, BAD_ID),
            Self::BadJson => error_response(StatusCode::BAD_REQUEST, BAD_JSON),
            Self::BadShape(why) => error_response(StatusCode::BAD_REQUEST, why),
            Self::Store(full) => error_response(StatusCode::CONFLICT, &full.to_string()),
            Self::Body(StatusCode::PAYLOAD_TOO_LARGE) => error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("ratings bodies are at most {MAX_BODY_BYTES} bytes"),
            ),
            Self::Body(status) => error_response(status, "the request body could not be read"),
            Self::Unavailable => error_response(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
            Self::Database(err) => error_response(err.status(), &err.to_string()),
            Self::PostOnDatabase => error_response(StatusCode::NOT_IMPLEMENTED, POST_ON_DATABASE),
        }
    }
}

#[derive(Serialize)]
struct ProductRatings {
    id: i64,
    ratings: Map<String, Value>,
}

/// The ratings service with `/health` and `/metrics`. v2 sets up its connection pool here
/// but connects only on the first GET, so it starts while the database is down. Needs the
/// Tokio runtime.
///
/// # Errors
/// v2 with a `MONGO_DB_URL` whose options the MongoDB driver refuses.
pub fn app(config: Config) -> Result<App, ConfigError> {
    let mut observability = Observability::new(&config.tracing);
    let database = config
        .database
        .as_ref()
        .map(|database| RatingsDatabase::new(database, observability.metrics.registry_mut()))
        .transpose()?;
    let state = Arc::new(AppState {
        config,
        store: RatingsStore::default(),
        database,
    });
    let router = Router::new()
        .route("/health", get(health))
        .route(
            "/ratings/{id}",
            get(get_ratings)
                .post(post_ratings)
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .fallback(not_found)
        .with_state(state);
    Ok(App::observed(router, observability))
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    if state.config.faults.healthy() {
        raw_json(StatusCode::OK, HEALTHY)
    } else {
        raw_json(StatusCode::INTERNAL_SERVER_ERROR, NOT_HEALTHY)
    }
}

/// Plain decimal ids; upstream's unanchored regex also took `12abc` as 12.
fn parse_id(text: &str) -> Result<i64, RatingsError> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RatingsError::BadId);
    }
    text.parse().map_err(|_| RatingsError::BadId)
}

async fn get_ratings(
    State(state): State<Arc<AppState>>,
    PathParam(id): PathParam,
) -> Result<Response, RatingsError> {
    let id = parse_id(&id)?;
    match state.config.faults.on_get() {
        GetFault::Unavailable => return Err(RatingsError::Unavailable),
        GetFault::Delay(delay) => {
            tracing::info!(delay_ms = delay.as_millis() as u64, "injecting a delay");
            tokio::time::sleep(delay).await;
        }
        GetFault::None => {}
    }
    let ratings = match &state.database {
        Some(database) => {
            let ReviewerStars([first, second]) =
                database.read().await.map_err(RatingsError::Database)?;
            let mut ratings = Map::new();
            ratings.insert("Reviewer1".into(), first.into());
            ratings.insert("Reviewer2".into(), second.into());
            ratings
        }
        None => state.store.get(id),
    };
    Ok(json_response(
        StatusCode::OK,
        &ProductRatings { id, ratings },
    ))
}

async fn post_ratings(
    State(state): State<Arc<AppState>>,
    PathParam(id): PathParam,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, RatingsError> {
    let id = parse_id(&id)?;
    if state.database.is_some() {
        return Err(RatingsError::PostOnDatabase);
    }
    let body = body.map_err(|rejection| RatingsError::Body(rejection.status()))?;
    let body: Value = serde_json::from_slice(&body).map_err(|_| RatingsError::BadJson)?;
    let ratings = validate_ratings(body).map_err(RatingsError::BadShape)?;
    state
        .store
        .put(id, ratings.clone())
        .map_err(RatingsError::Store)?;
    Ok(json_response(
        StatusCode::OK,
        &ProductRatings { id, ratings },
    ))
}
